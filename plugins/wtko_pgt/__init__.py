"""First-party pyGenomeTracks track types (attribution sequence logo)."""

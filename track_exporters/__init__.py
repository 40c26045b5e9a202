"""Writers of attribution tracks and motif files: bigWig, bedGraph, BED, MEME/HOMER/JASPAR, IGV sessions, pyGenomeTracks ini."""

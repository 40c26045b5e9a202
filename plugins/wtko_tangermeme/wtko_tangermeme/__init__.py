"""First-party tangermeme adapters (ISM, DeepLIFT-SHAP backend, motif insertion), registered through entry points."""

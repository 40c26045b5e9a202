"""Variant effects: score every allele of a VCF with a model, explain the strongest."""

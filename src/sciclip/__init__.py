"""sciclip: scientific papers to clean, decontaminated image-text shards for CLIP training."""

__version__ = "0.1.0"

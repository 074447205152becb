"""StyleInV networks, CUDA ops, generation, metrics and training."""

__version__ = "0.1.0"

"""StyleInV dataset toolkit: raw videos -> cropped clips -> manifests -> batches."""

__version__ = "0.1.0"

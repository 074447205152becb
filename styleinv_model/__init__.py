"""StyleInV networks, CUDA ops, generation, metrics and training."""

__version__ = "0.1.0"


def __getattr__(name: str):
    """``from styleinv_model import load_video_generator`` (imported on first use: importing the
    package stays cheap)."""
    if name in ("load_video_generator", "VideoGenerator"):
        from styleinv_model import api

        return getattr(api, name)
    raise AttributeError(f"module 'styleinv_model' has no attribute {name!r}")

"""StyleInV networks: temporal style (FFA-APE), modulated inversion encoder, video discriminator, generator."""

from styleinv_model.styleinv.encoder import EncoderConfig, ModulatedInversionEncoder
from styleinv_model.styleinv.generator import StyleInVConfig, StyleInVGenerator, VideoContext
from styleinv_model.styleinv.motion_noise import SeededMotionNoise
from styleinv_model.styleinv.temporal_style import AlignedTimeEncoder, TemporalStyle, TemporalStyleConfig
from styleinv_model.styleinv.video_discriminator import VideoDiscriminator, VideoDiscriminatorConfig

__all__ = [
    "AlignedTimeEncoder",
    "EncoderConfig",
    "ModulatedInversionEncoder",
    "SeededMotionNoise",
    "StyleInVConfig",
    "StyleInVGenerator",
    "TemporalStyle",
    "TemporalStyleConfig",
    "VideoContext",
    "VideoDiscriminator",
    "VideoDiscriminatorConfig",
]

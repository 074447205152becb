"""Training building blocks: ADA augmentation (`augment`), its alias-suppressed affine resampler
(`affine_resample`) and the GAN / StyleInV losses (`losses`). The training loops of issue 8 build
on these."""

from styleinv_model.train.augment import (AdaptiveConfig, AdaptiveProbability, AugmentConfig,
                                          AugmentParams, AugmentPipeline, parse_pipeline)
from styleinv_model.train.losses import (LazyRegularization, StyleInVLossWeights, discriminator_ns_loss,
                                         discriminator_step_losses, generator_ns_loss, r1_loss, r1_penalty,
                                         styleinv_generator_losses)

__all__ = [
    "AdaptiveConfig", "AdaptiveProbability", "AugmentConfig", "AugmentParams", "AugmentPipeline",
    "LazyRegularization", "StyleInVLossWeights", "discriminator_ns_loss", "discriminator_step_losses",
    "generator_ns_loss", "parse_pipeline", "r1_loss", "r1_penalty", "styleinv_generator_losses",
]

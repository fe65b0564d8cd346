"""Speech encoders (front-ends, Transformer/Conformer bodies, size presets) and checkpoint import."""

from .encoder import (
    Encoder,
    EncoderConfig,
    EncoderOutput,
    build_encoder,
    count_parameters,
    encoder_config,
)
from .pretrained import PretrainedCheckpointError, load_encoder, load_pretrained_encoder

__all__ = [
    "Encoder",
    "EncoderConfig",
    "EncoderOutput",
    "PretrainedCheckpointError",
    "build_encoder",
    "count_parameters",
    "encoder_config",
    "load_encoder",
    "load_pretrained_encoder",
]

"""data2vec for speech (Baevski et al., 2022): regress an EMA teacher's averaged top-K layers at masked frames.

The student encodes the input with spans of frames replaced by the learned mask embedding (wav2vec 2.0
masking: p = 0.065 of the frames start a span of 10, i.e. ``mask_prob=0.65`` in wav2vec 2.0's
convention, ~49 % masked). The teacher, an EMA of the student, encodes the *unmasked* input; the
target of each frame is the average of the teacher's top K = 8 block outputs (the feed-forward output
before the block's last residual connection), each instance-normalised over time first. A linear head
maps the student's final output to the target, and the loss is the squared error (the speech model's
``β = 0``) at the masked frames only.

Teacher and student share the CNN feature encoder and the convolutional positional encoder ("we found it
more efficient and slightly more accurate to share the parameters of the feature encoder and the
positional encoder between the teacher and student networks"): the front-end runs once, on the student,
and the teacher's copies of the projection and positional convolution are refreshed from the student at
every update instead of being averaged. The transformer blocks (and BASE's pre-block layer norm) are
the EMA. τ rises linearly from 0.999 to 0.9999 over the first 30 000 updates.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from asr.data.dataset import Batch
from asr.models import Encoder
from asr.objectives.base import LossOutput, config_from
from asr.objectives.ema import EMATeacherObjective, frame_variance, regression_loss, teacher_targets
from asr.objectives.masking import check_span_settings, span_mask

# Encoder parts shared with the teacher (copied at each update, not averaged); see the module docstring.
SHARED = ("feature_extractor", "feature_projection", "pos_conv_embed")


@dataclass
class Data2VecConfig:
    """data2vec speech hyper-parameters; defaults are the paper's BASE LibriSpeech settings."""

    mask_prob: float = 0.65  # wav2vec 2.0 convention: mask_prob * T / mask_length span starts
    mask_length: int = 10
    min_masks: int = 2
    top_k: int = 8  # averaged teacher layers; min(top_k, encoder layers) is used
    layer_output: str = "ffn"  # "ffn" (FFN output before the last residual, the paper's) | "block"
    loss_beta: float = 0.0  # 0: squared error (speech); > 0: Smooth L1 with this β
    loss_scale: float | None = None  # per-frame loss scale; None: 1/sqrt(D)
    ema_start: float = 0.999
    ema_end: float = 0.9999
    ema_anneal_steps: int = 30_000

    def __post_init__(self) -> None:
        if self.top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {self.top_k}")
        check_span_settings(self.mask_prob, self.mask_length, self.min_masks)


class Data2VecObjective(EMATeacherObjective):
    """data2vec: student on masked input predicts the EMA teacher's contextualised targets."""

    name = "data2vec"

    def __init__(self, encoder: Encoder, cfg: Data2VecConfig | None = None) -> None:
        super().__init__()
        self.encoder = encoder
        self.cfg = cfg or Data2VecConfig()
        self.head = nn.Linear(encoder.dim, encoder.dim)  # the regression head
        nn.init.normal_(self.head.weight, 0.0, 0.02)  # BERT init, as the encoder's linears
        nn.init.zeros_(self.head.bias)
        self.init_teacher(SHARED)

    def forward(self, batch: Batch) -> LossOutput:
        enc, cfg = self.encoder, self.cfg
        features, frames = enc.frontend(batch.audio, batch.audio_lengths)
        x = enc.project(features)
        mask = span_mask(tuple(x.shape[:2]), frames, cfg.mask_prob, cfg.mask_length, cfg.min_masks)
        x = torch.where(mask[..., None], enc.mask_embedding.to(x.dtype), x)
        out = enc.body(enc.add_positions(x, frames), frames)
        pred = self.head(out.output[mask])
        target = teacher_targets(self.teacher.model, features.detach(), frames, cfg.top_k, cfg.layer_output)
        target = target[mask]
        loss = regression_loss(pred, target, cfg.loss_beta, cfg.loss_scale)
        metrics = {
            "ema_decay": self.decay(),
            "target_var": frame_variance(target),
            "pred_var": frame_variance(pred),
            "masked_frac": mask.sum().item() / max(int(frames.sum()), 1),
        }
        num = int(mask.sum())
        return LossOutput(loss=loss.sum() / max(num, 1), num_targets=num, metrics=metrics)


def build(encoder: Encoder, **overrides) -> Data2VecObjective:
    """A data2vec objective around ``encoder``; ``overrides`` set :class:`Data2VecConfig` fields."""
    return Data2VecObjective(encoder, config_from(Data2VecConfig, overrides))

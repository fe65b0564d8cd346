"""data2vec 2.0 for speech (Baevski et al., 2023): data2vec's targets, learned much faster.

Three changes make data2vec efficient, and this module has all three:

* **The student does not encode masked frames.** The front-end, projection and positional convolution run
  once on the full sequence; then only the visible frames are gathered (packed, MAE style) and the
  Transformer/Conformer blocks run on them alone, so the expensive part sees about half the frames.
* **A light convolutional decoder** puts the visible encodings back at their positions, fills the masked
  ones with Gaussian noise, and predicts the teacher's targets at every masked frame: a few blocks of
  grouped 1-D convolution (kernel 7) → layer norm → GELU with residual connections, then a linear map
  to the target width (speech BASE: 4 blocks of 384 channels in 16 groups).
* **Multiple masks amortise the teacher.** Each utterance is masked M = 8 times (8 "copies"); the teacher
  encodes the unmasked utterance *once* and its targets serve all copies.

Targets are data2vec's (the instance-normalised feed-forward outputs of the teacher's top K = 8 blocks,
averaged) and the loss is the squared error at masked frames, averaged over all copies. The teacher is
an EMA of the student's positional convolution and blocks, τ going from 0.999 to 0.99999 over 75 000
updates; the CNN feature encoder and its projection are the student's (the released speech model does not
average them: its teacher reads the student's local features).

Masking: the released speech model masks blocks of 5 frames with probability 0.5, with the *same number of
masked frames in every row*, which is what lets visible frames be packed densely. This module masks
exactly ``round(mask_prob * length)`` frames of each row, laid out as non-overlapping blocks of
``mask_length`` frames placed uniformly at random; ``inverse_mask=True`` gives the paper's inverse block
masking (the blocks are the frames to *keep*, everything else is masked; the paper's choice for images)
with the same exact count. Rows of different length keep different numbers of frames; the packed visible
sequence is then padded and the blocks are told each row's visible length, so padding is never masked,
never visible and never a target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from asr.data.dataset import Batch
from asr.models import Encoder
from asr.objectives.base import LossOutput, config_from
from asr.objectives.ema import EMATeacherObjective, frame_variance, regression_loss, teacher_targets

# Encoder parts the teacher takes from the student (copied at each update; the teacher never runs them).
SHARED = ("feature_extractor", "feature_projection")


@dataclass
class Data2Vec2Config:
    """data2vec 2.0 speech hyper-parameters; defaults are the released BASE LibriSpeech model's."""

    mask_prob: float = 0.5  # fraction of each row's valid frames that is masked (exactly, after rounding)
    mask_length: int = 5  # frames per block
    inverse_mask: bool = False  # True: blocks mark frames to keep (inverse block masking)
    num_copies: int = 8  # M masked versions of each utterance sharing one teacher pass
    top_k: int = 8  # averaged teacher layers; min(top_k, encoder layers) is used
    layer_output: str = "ffn"  # "ffn" (FFN output before the last residual) | "block"
    loss_beta: float = 0.0  # 0: squared error; > 0: Smooth L1 with this β
    loss_scale: float | None = None  # per-frame loss scale; None: 1/sqrt(D)
    ema_start: float = 0.999
    ema_end: float = 0.99999
    ema_anneal_steps: int = 75_000
    decoder_dim: int | None = None  # None: encoder dim // 2 (384 for BASE's 768)
    decoder_layers: int = 4
    decoder_kernel: int = 7
    decoder_groups: int = 16  # reduced to a common divisor of the channel counts if needed
    decoder_dropout: float = 0.1  # on the decoder input
    mask_noise_std: float = 0.01  # the decoder's input at masked frames: N(0, std²)

    def __post_init__(self) -> None:
        if not 0.0 < self.mask_prob < 1.0:
            raise ValueError(f"mask_prob must be in (0, 1), got {self.mask_prob}")
        if self.mask_length < 1 or self.num_copies < 1 or self.top_k < 1 or self.decoder_layers < 1:
            raise ValueError("mask_length, num_copies, top_k and decoder_layers must be >= 1")


def block_mask(
    lengths: Tensor,
    max_len: int,
    mask_prob: float = 0.5,
    block: int = 5,
    inverse: bool = False,
    generator: torch.Generator | None = None,
) -> Tensor:
    """[B, max_len] bool mask with exactly ``round(mask_prob * lengths[b])`` masked frames in row ``b``.

    The frames covered by blocks (the masked ones, or with ``inverse`` the kept ones) form non-overlapping
    blocks of ``block`` frames (one shorter block takes the remainder), in a uniformly random arrangement:
    the blocks and the single uncovered frames are shuffled as items and laid end to end. Adjacent blocks
    may touch. Rows with at least two frames keep at least one visible and one masked frame; padding is
    never masked. Randomness comes from ``generator`` (default: torch's global CPU RNG).
    """
    device = lengths.device  # drawn on the CPU, so a seed gives the same mask on every device
    lengths = lengths.detach().to("cpu", torch.long)
    valid = torch.arange(max_len)[None, :] < lengths[:, None]
    n_mask = torch.floor(mask_prob * lengths.double() + 0.5).long()
    n_mask = torch.where(lengths >= 2, n_mask.clamp(min=1), torch.zeros_like(n_mask))
    n_mask = torch.minimum(n_mask, (lengths - 1).clamp(min=0))
    covered = lengths - n_mask if inverse else n_mask  # frames inside blocks
    n_blocks = torch.div(covered + block - 1, block, rounding_mode="floor")
    n_items = n_blocks + (lengths - covered)  # blocks + single uncovered frames
    width = max(int(n_items.max()), 1) if len(lengths) else 1
    item = torch.arange(width)[None, :]
    scores = torch.rand(len(lengths), width, generator=generator)
    scores = scores.masked_fill(item >= n_items[:, None], 2.0)  # unused item slots sort last
    rank = scores.argsort(1).argsort(1)
    is_block = rank < n_blocks[:, None]
    size = torch.where(is_block, block, 1)
    short = covered - (n_blocks - 1) * block  # the block with rank 0 (a random one) takes the remainder
    size = torch.where(is_block & (rank == 0), short[:, None], size)
    size = size.masked_fill(item >= n_items[:, None], 0)
    ends = size.cumsum(1)
    frame = torch.arange(max_len).expand(len(lengths), -1).contiguous()
    index = torch.searchsorted(ends, frame, right=True).clamp(max=width - 1)
    in_block = is_block.gather(1, index) & valid
    return (valid & ~in_block if inverse else in_block).to(device)


class ConvDecoder(nn.Module):
    """data2vec 2.0's decoder: ``layers`` × (grouped Conv1d → LayerNorm → GELU, residual) → Linear."""

    def __init__(
        self,
        dim: int,
        decoder_dim: int,
        layers: int = 4,
        kernel: int = 7,
        groups: int = 16,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()
        in_dim = dim
        for _ in range(layers):
            g = math.gcd(groups, math.gcd(in_dim, decoder_dim))
            self.convs.append(nn.Conv1d(in_dim, decoder_dim, kernel, padding=kernel // 2, groups=g))
            self.norms.append(nn.LayerNorm(decoder_dim, elementwise_affine=False))
            in_dim = decoder_dim
        self.proj = nn.Linear(decoder_dim, dim)
        nn.init.normal_(self.proj.weight, 0.0, 0.02)  # BERT init, as the encoder's linears
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        """[B, T, D] (visible encodings + noise at masked frames) -> [B, T, D] predictions."""
        valid = (torch.arange(x.shape[1], device=x.device)[None, :] < lengths[:, None])[..., None]
        x = self.dropout(x)
        for conv, norm in zip(self.convs, self.norms, strict=True):
            x = x.masked_fill(~valid, 0.0)  # padding must look like the convolution's zero padding
            y = conv(x.transpose(1, 2))[..., : x.shape[1]].transpose(1, 2)
            y = nn.functional.gelu(norm(y))
            x = x + y if y.shape == x.shape else y  # the first block changes the width: no residual
        return self.proj(x)


class Data2Vec2Objective(EMATeacherObjective):
    """data2vec 2.0: M masked copies, visible-frame-only student, conv decoder, one shared teacher pass."""

    name = "data2vec2"

    def __init__(self, encoder: Encoder, cfg: Data2Vec2Config | None = None) -> None:
        super().__init__()
        self.encoder = encoder
        self.cfg = cfg = cfg or Data2Vec2Config()
        # The student never sees a masked frame, so the mask embedding is unused: freeze it, or DDP would
        # wait for its gradient (it stays in the encoder's state dict for fine-tuning).
        encoder.mask_embedding.requires_grad_(False)
        self.decoder = ConvDecoder(
            encoder.dim,
            cfg.decoder_dim or encoder.dim // 2,
            cfg.decoder_layers,
            cfg.decoder_kernel,
            cfg.decoder_groups,
            cfg.decoder_dropout,
        )
        self.init_teacher(SHARED)

    def forward(self, batch: Batch) -> LossOutput:
        enc, cfg = self.encoder, self.cfg
        features, frames = enc.frontend(batch.audio, batch.audio_lengths)
        x = enc.add_positions(enc.project(features), frames)  # [B, T, D], once for all copies
        B, T, D = x.shape
        copies = cfg.num_copies
        lengths = frames.repeat(copies)  # copy m of utterance b is row m * B + b
        mask = block_mask(lengths, T, cfg.mask_prob, cfg.mask_length, cfg.inverse_mask)
        valid = torch.arange(T, device=x.device)[None, :] < lengths[:, None]
        visible = valid & ~mask

        # student: pack each row's visible frames (in time order) and run the blocks on them only
        n_visible = visible.sum(1)
        packed_valid = torch.arange(int(n_visible.max()), device=x.device)[None, :] < n_visible[:, None]
        rows, times = visible.nonzero(as_tuple=True)
        seen = x[rows % B, times]
        packed = x.new_zeros(B * copies, packed_valid.shape[1], D).masked_scatter(
            packed_valid[..., None], seen
        )
        encoded = enc.body(packed, n_visible).output

        # decoder: visible encodings back in place, noise at masked frames, zeros at padding
        noise = torch.randn(B * copies, T, D, device=x.device, dtype=encoded.dtype) * cfg.mask_noise_std
        full = noise.masked_fill(~mask[..., None], 0.0).masked_scatter(
            visible[..., None], encoded[packed_valid]
        )
        pred = self.decoder(full, lengths)[mask]

        # one teacher pass on the unmasked utterances serves all copies
        target = teacher_targets(self.teacher.model, features.detach(), frames, cfg.top_k, cfg.layer_output)
        rows, times = mask.nonzero(as_tuple=True)
        target = target[rows % B, times]
        loss = regression_loss(pred, target, cfg.loss_beta, cfg.loss_scale)
        num = int(mask.sum())
        metrics = {
            "ema_decay": self.decay(),
            "target_var": frame_variance(target),
            "pred_var": frame_variance(pred),
            "masked_frac": num / max(int(lengths.sum()), 1),
            "visible_frac": float(packed_valid.shape[1]) / max(T, 1),
        }
        return LossOutput(loss=loss.sum() / max(num, 1), num_targets=num, metrics=metrics)


def build(encoder: Encoder, **overrides) -> Data2Vec2Objective:
    """A data2vec 2.0 objective around ``encoder``; ``overrides`` set :class:`Data2Vec2Config` fields."""
    return Data2Vec2Objective(encoder, config_from(Data2Vec2Config, overrides))

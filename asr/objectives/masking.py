"""Span masking of encoder frames, as wav2vec 2.0, HuBERT and data2vec pretrain with it.

wav2vec 2.0 (Baevski et al., 2020, §3.1): "we randomly sample without replacement a certain proportion p of
all time steps to be starting indices and then mask the subsequent M consecutive time steps from every
sampled index; spans may overlap" (p = 0.065, M = 10). As in the reference implementation the proportion is
given as ``mask_prob = p * M`` (0.65), the share of frames that would be masked if spans never overlapped.

Per utterance of L valid frames this module draws

    n = max(min_masks, floor(mask_prob * L / M + u)),  u ~ U[0, 1)     (unbiased rounding of p * L)

distinct start frames uniformly among the ``L - M + 1`` starts whose span fits inside the valid frames
(all L when M >= L, with spans cut at L), and masks ``[s, s + M)`` from each start ``s``. n never exceeds
the number of possible starts. Padding is never masked. With overlaps, the expected masked share of a long
utterance is about ``1 - (1 - mask_prob / M) ** M``: 49 % for wav2vec 2.0, 57 % for HuBERT (mask_prob 0.8).

All randomness comes from ``generator`` (default: torch's global CPU generator); the mask is drawn on the CPU
and then moved to ``lengths.device``, so the same seed gives the same mask on every device.
"""

from __future__ import annotations

import torch
from torch import Tensor


def check_span_settings(mask_prob: float, span: int, min_masks: int = 0) -> None:
    """Raise ``ValueError`` naming the setting unless ``0 <= mask_prob <= 1``, ``span >= 1``, ``min_masks >= 0``.

    Configs call it when built, so a bad setting fails before training rather than at the first batch.
    """
    if span < 1:
        raise ValueError(f"mask span must be >= 1, got {span}")
    if not 0.0 <= mask_prob <= 1.0:
        raise ValueError(f"mask_prob must be in [0, 1], got {mask_prob}")
    if min_masks < 0:
        raise ValueError(f"min_masks must be >= 0, got {min_masks}")


def span_mask(
    shape: tuple[int, int],
    lengths: Tensor,
    mask_prob: float = 0.65,
    span: int = 10,
    min_masks: int = 2,
    generator: torch.Generator | None = None,
) -> Tensor:
    """[B, T] bool mask, True at masked frames: spans of ``span`` frames from sampled start frames.

    ``shape`` is (batch, frames) of the encoder output, ``lengths`` [B] the valid frames per utterance.
    See the module docstring for the sampling scheme.
    """
    batch, frames = shape
    check_span_settings(mask_prob, span)
    device = lengths.device
    lengths = lengths.detach().to("cpu", torch.long).clamp(0, frames)
    if lengths.shape != (batch,):
        raise ValueError(f"lengths has shape {list(lengths.shape)}, expected [{batch}]")
    # number of spans per utterance, with unbiased (stochastic) rounding of mask_prob * L / span
    starts_possible = torch.where(lengths > 0, (lengths - span).clamp_min(0) + 1, 0)
    u = torch.rand(batch, generator=generator)
    num_spans = torch.floor(mask_prob * lengths / span + u).long().clamp_min(min_masks)
    num_spans = torch.minimum(num_spans, starts_possible)
    # k distinct starts among the first starts_possible[b] positions: the k smallest of i.i.d. uniform keys
    keys = torch.rand(batch, max(frames, 1), generator=generator)[:, :frames]
    keys = keys.masked_fill(torch.arange(frames)[None, :] >= starts_possible[:, None], 2.0)
    rank = keys.argsort(dim=1).argsort(dim=1)
    starts = rank < num_spans[:, None]
    # frame t is masked when a span starts at one of t - span + 1 .. t: a running window sum over starts
    cum = torch.cumsum(starts.long(), dim=1)
    shifted = torch.nn.functional.pad(cum, (span, 0))[:, :frames]
    mask = (cum - shifted) > 0
    mask &= torch.arange(frames)[None, :] < lengths[:, None]
    return mask.to(device)

"""Dropout whose mask is cheap to draw on a CPU.

torch's CPU ``bernoulli_`` (behind ``nn.Dropout``) draws one random number per element, serially: about
10 ns an element here, a quarter of an xs Conformer's training step (the attention weights alone are
``heads x frames^2`` per utterance). :class:`Dropout` draws 63 random bits per *four* elements and compares
15 of them with a threshold for each: the same inverted dropout (kept elements scaled by ``1 / (1 - p)``),
with ``p`` rounded to a multiple of 1/32768, from torch's generator (so ``torch.manual_seed`` still makes
runs repeat), in a third to a half of the time. On other devices it is ``nn.functional.dropout``.

This module knows nothing of torchaudio: :func:`asr.models.torchaudio_fast.use_fast_dropout` puts
:class:`Dropout` into torchaudio's blocks.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

_LEVELS = 1 << 15


def keep_mask(shape: torch.Size, p: float, device: torch.device | None = None) -> Tensor:
    """Bool tensor of ``shape``, each element True with probability ``1 - p`` (p rounded to 1/32768).

    ``random_`` fills an int64 with 63 random bits; each of its four 16-bit halves, top bit cleared, is a
    uniform 15-bit number: four elements per draw.
    """
    count = shape.numel()
    bits = torch.empty((count + 3) // 4, dtype=torch.int64, device=device).random_()
    uniform = bits.view(torch.int16)[:count].bitwise_and_(_LEVELS - 1)
    return (uniform >= round(p * _LEVELS)).view(shape)


def dropout(x: Tensor, p: float, training: bool = True) -> Tensor:
    """Inverted dropout of ``x``; :func:`keep_mask` on the CPU, ``nn.functional.dropout`` elsewhere."""
    if not training or p == 0.0:
        return x
    if x.device.type != "cpu" or p >= 1.0:
        return nn.functional.dropout(x, p, training)
    return x * keep_mask(x.shape, p).to(x.dtype).mul_(1.0 / (1.0 - p))


class Dropout(nn.Dropout):
    """``nn.Dropout`` with :func:`dropout`'s mask; same state (none), so checkpoints do not change."""

    def forward(self, x: Tensor) -> Tensor:
        return dropout(x, self.p, self.training)

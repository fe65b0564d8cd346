"""CTC forced alignment: where in the audio each token of a known transcript was said.

The one place the project calls ``torchaudio.functional.forced_align`` (Viterbi over the CTC trellis), so
that it can be replaced locally when torchaudio drops it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor


class AlignmentError(ValueError):
    """The transcript cannot be aligned to the emissions (too many tokens for the frames)."""


@dataclass(frozen=True)
class TokenSpan:
    """Token ``index`` of the transcript (``token`` its id) holds frames ``[start, end)``; ``log_prob`` is
    the sum of its frames' log-probabilities on the best path."""

    index: int
    token: int
    start: int
    end: int
    log_prob: float


def frames_needed(targets: Sequence[int]) -> int:
    """The fewest CTC frames that can emit ``targets``: one per token, plus a blank between repeats."""
    return len(targets) + sum(a == b for a, b in zip(targets, targets[1:], strict=False))


def forced_align(log_probs: Tensor, targets: Sequence[int], blank: int = 0) -> tuple[list[TokenSpan], float]:
    """Best CTC path of ``targets`` through ``log_probs`` [T, V]: each token's frames, and the path's total
    log-probability (to compare transcripts of the same audio, e.g. pronunciation variants)."""
    if not targets:
        raise AlignmentError("nothing to align: the transcript is empty")
    if frames_needed(targets) > log_probs.shape[0]:
        raise AlignmentError(
            f"{len(targets)} tokens need at least {frames_needed(targets)} frames; the audio gives {log_probs.shape[0]}"
        )
    import torchaudio.functional as F

    emissions = log_probs.float().cpu()[None]
    path, scores = F.forced_align(emissions, torch.tensor([list(targets)], dtype=torch.int32), blank=blank)
    path, scores = path[0], scores[0]
    spans: list[TokenSpan] = []
    previous = blank
    for t, token in enumerate(path.tolist()):
        if token != blank and token != previous:
            spans.append(TokenSpan(len(spans), token, t, t + 1, float(scores[t])))
        elif token != blank:  # the same token held for another frame
            last = spans[-1]
            spans[-1] = TokenSpan(last.index, token, last.start, t + 1, last.log_prob + float(scores[t]))
        previous = token
    if len(spans) != len(targets):  # forced_align guarantees this; a mismatch would misplace every time
        raise AlignmentError(f"alignment found {len(spans)} tokens for {len(targets)} targets")
    return spans, float(scores.sum())

"""CTC forced alignment: where in the audio each token of a known transcript was said.

A Viterbi search over the CTC trellis (blank, token 1, blank, token 2, …, blank) in numpy. torchaudio's
``functional.forced_align`` does the same search but is in maintenance mode upstream and returns a worse
path when two predecessor states tie exactly (pytorch/audio#4221, fix unmerged), which peaky posteriors
make likely. The project keeps its own, checked against exhaustive search with and without ties in
``tests/test_forced_align.py``; ties go to staying, then to the previous state, and the best path is
always returned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
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


def viterbi_path(log_probs: np.ndarray, targets: Sequence[int], blank: int = 0) -> tuple[list[int], float]:
    """The most likely CTC frame labelling ``[T]`` (blank or token id) that collapses to ``targets``, and its
    log-probability. ``log_probs`` is ``[T, V]``."""
    n_frames = log_probs.shape[0]
    states = np.full(2 * len(targets) + 1, blank, dtype=np.int64)
    states[1::2] = targets
    n_states = len(states)
    # a state may be entered from itself, the previous state, or (tokens only) two back when that token
    # differs from this one (skipping the blank between different tokens)
    can_skip = np.zeros(n_states, dtype=bool)
    can_skip[3::2] = states[3::2] != states[1:-2:2]
    emit = log_probs[:, states]  # [T, S]
    score = np.full(n_states, -np.inf)
    score[:2] = emit[0, :2]
    back = np.zeros((n_frames, n_states), dtype=np.int8)  # 0 stay, 1 from s-1, 2 from s-2
    from_prev = np.full(n_states, -np.inf)
    from_skip = np.full(n_states, -np.inf)
    skip_rows = np.flatnonzero(can_skip)
    for t in range(1, n_frames):
        from_prev[1:] = score[:-1]
        from_skip[skip_rows] = score[skip_rows - 2]
        # ties go to staying, then to the previous state (strict comparisons, in that order)
        best, pointer = score.copy(), back[t]
        better = from_prev > best
        best[better], pointer[better] = from_prev[better], 1
        better = from_skip > best
        best[better], pointer[better] = from_skip[better], 2
        score = best + emit[t]
    end = n_states - 1 if n_states == 1 or score[-1] >= score[-2] else n_states - 2
    total = float(score[end])
    if not np.isfinite(total):
        raise AlignmentError(f"{len(targets)} tokens cannot be aligned to {n_frames} frames")
    path = [0] * n_frames
    s = end
    for t in range(n_frames - 1, -1, -1):
        path[t] = int(states[s])
        s -= int(back[t, s])
    return path, total


def forced_align(log_probs: Tensor, targets: Sequence[int], blank: int = 0) -> tuple[list[TokenSpan], float]:
    """Best CTC path of ``targets`` through ``log_probs`` [T, V]: each token's frames, and the path's total
    log-probability (to compare transcripts of the same audio, e.g. pronunciation variants)."""
    if not targets:
        raise AlignmentError("nothing to align: the transcript is empty")
    if frames_needed(targets) > log_probs.shape[0]:
        raise AlignmentError(
            f"{len(targets)} tokens need at least {frames_needed(targets)} frames; the audio gives {log_probs.shape[0]}"
        )
    emissions = log_probs.detach().float().cpu().numpy().astype(np.float64)
    path, total = viterbi_path(emissions, targets, blank)
    spans: list[TokenSpan] = []
    previous = blank
    for t, token in enumerate(path):
        score = float(emissions[t, token])
        if token != blank and token != previous:
            spans.append(TokenSpan(len(spans), token, t, t + 1, score))
        elif token != blank:  # the same token held for another frame
            last = spans[-1]
            spans[-1] = TokenSpan(last.index, token, last.start, t + 1, last.log_prob + score)
        previous = token
    if len(spans) != len(targets):  # the trellis guarantees this; a mismatch would misplace every time
        raise AlignmentError(f"alignment found {len(spans)} tokens for {len(targets)} targets")
    return spans, total

"""CTC forced alignment against exhaustive search."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from asr.decoding.forced_align import AlignmentError, forced_align, frames_needed


def _collapse(path):
    out, previous = [], None
    for token in path:
        if token != previous and token != 0:
            out.append(token)
        previous = token
    return out


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("targets", [[1, 2, 3], [2, 2, 1], [1], [3, 3, 3]])
def test_finds_the_best_path(targets, ties):
    rng = np.random.default_rng(len(targets) + sum(targets))
    for _ in range(20):
        n_frames, vocab = 7, 4
        if ties:  # integer scores: predecessor states tie exactly (where torchaudio's kernel goes wrong)
            log_probs = torch.from_numpy(rng.integers(-3, 1, size=(n_frames, vocab)).astype(np.float64))
        else:
            log_probs = torch.from_numpy(rng.normal(size=(n_frames, vocab))).log_softmax(-1)
        best = max(
            sum(float(log_probs[t, p[t]]) for t in range(n_frames))
            for p in itertools.product(range(vocab), repeat=n_frames)
            if _collapse(p) == targets
        )
        spans, total = forced_align(log_probs, targets)
        assert total == pytest.approx(best, abs=1e-6)
        assert [s.token for s in spans] == targets
        assert all(a.end <= b.start for a, b in zip(spans, spans[1:], strict=False))
        assert sum(s.log_prob for s in spans) <= 1e-9


def test_peaky_posteriors():
    # blank everywhere but one spike per token; the transcript's first token was not said
    log_probs = torch.full((40, 5), -8.0)
    log_probs[:, 0] = 0.0
    for t, token in ((10, 4), (20, 2), (30, 3)):
        log_probs[t, token] = 8.0
    log_probs = log_probs.log_softmax(-1)
    spans, total = forced_align(log_probs, [1, 2, 3])
    assert [(s.token, s.start) for s in spans[1:]] == [(2, 20), (3, 30)]  # the said tokens keep their spikes
    assert total == pytest.approx(-16.0, abs=0.1)  # token 1 on a blank frame (-8), a blank on 4's spike (-8)


def test_too_few_frames():
    assert frames_needed([1, 1, 2]) == 4
    with pytest.raises(AlignmentError, match="need at least 4 frames"):
        forced_align(torch.zeros(3, 3).log_softmax(-1), [1, 1, 2])
    with pytest.raises(AlignmentError, match="empty"):
        forced_align(torch.zeros(3, 3), [])

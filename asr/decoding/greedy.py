"""Greedy (best-path) CTC decoding: the most likely token per frame, repeats merged, blanks removed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from lhotse import CutSet
from torch import Tensor

from asr.files import write_atomic

from .emissions import decode_cuts
from .hypothesis import Hypothesis, best_texts, greedy_hypothesis


class GreedyDecoder:
    """Best path with posterior confidences; a one-best list (no LM, no search)."""

    name = "greedy"

    def __init__(self, decode_ids: Callable[[Sequence[int]], str], blank: int = 0) -> None:
        self.decode_ids = decode_ids
        self.blank = blank

    def __call__(self, log_probs: Tensor) -> list[Hypothesis]:
        return [greedy_hypothesis(log_probs, self.decode_ids, self.blank)]


def transcribe(
    model, cuts: CutSet, decode_ids, max_duration: float = 120.0, progress: bool = True
) -> dict[str, str]:
    """Cut id -> greedy transcript (``decode_ids``: token ids -> text, e.g. a tokenizer's ``decode``).

    Cuts the dataset cannot use (unreadable, silent, too short) get an empty transcript, so every cut is
    accounted for in the output and scoring counts them as deletions.
    """
    return best_texts(decode_cuts(model, cuts, GreedyDecoder(decode_ids), max_duration, progress))


def write_kaldi_text(texts: dict[str, str], path: Path) -> Path:
    """``utt-id words...`` lines, sorted by id, written atomically."""
    lines = "".join(f"{k} {v}".rstrip() + "\n" for k, v in sorted(texts.items()))
    write_atomic(Path(path), lines.encode("utf-8"))
    return Path(path)

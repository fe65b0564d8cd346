"""What every decoder returns: n-best hypotheses with posterior-based confidences.

A :class:`Hypothesis` carries its token ids, the frame at which each token is emitted, the decoder's score
and confidences derived from the CTC posteriors along that path:

* ``token_confidence[i]``: the posterior probability of token ``i`` at its emission frame, maximised over
  the run of consecutive frames the path spends on it (a token the model is sure of anywhere in its span
  is confident, a token squeezed in against the frames' best guess is not);
* ``confidence``: the geometric mean of the token confidences (1.0 for an empty hypothesis whose frames
  are blank with certainty; the mean blank posterior otherwise), so one unsure token lowers it less than
  a product would but more than an arithmetic mean;
* ``posterior``: the hypothesis' share of its n-best list (softmax of the decoder scores), the usual
  n-best confidence of pseudo-labelling; 1.0 for a one-best list.

Noisy-student and dynamic pseudo-labelling filter on these numbers, so they are written with the
hypotheses (:func:`write_nbest`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from asr.files import write_atomic


@dataclass
class Hypothesis:
    """One decoding of one utterance (see the module docstring for the confidences)."""

    text: str
    tokens: list[int]
    frames: list[int]
    score: float
    token_confidence: list[float] = field(default_factory=list)
    confidence: float = 1.0
    posterior: float = 1.0


def path_confidences(
    log_probs: Tensor, tokens: Sequence[int], frames: Sequence[int], blank: int = 0
) -> tuple[list[float], float]:
    """Token and utterance confidences of a path through ``log_probs`` ([T, V], one utterance).

    ``frames[i]`` is a frame where token ``i`` is emitted; the token's span is extended over the
    neighbouring frames whose best label is that same token, and its confidence is its largest posterior
    there.
    """
    if len(tokens) != len(frames):
        raise ValueError(f"{len(tokens)} tokens but {len(frames)} frames")
    num_frames = log_probs.shape[0]
    if not tokens:
        if num_frames == 0:
            return [], 1.0
        return [], float(log_probs[:, blank].exp().mean())
    probs = log_probs.exp()
    best = probs.argmax(dim=-1)
    confidences = []
    for token, frame in zip(tokens, frames, strict=True):
        t = min(max(int(frame), 0), num_frames - 1)
        start, end = t, t + 1
        while start > 0 and int(best[start - 1]) == token:
            start -= 1
        while end < num_frames and int(best[end]) == token:
            end += 1
        confidences.append(float(probs[start:end, token].max()))
    mean_log = sum(math.log(max(c, 1e-30)) for c in confidences) / len(confidences)
    return confidences, math.exp(mean_log)


def collapse(labels: Sequence[int], blank: int = 0) -> tuple[list[int], list[int]]:
    """Per-frame labels -> (tokens, the frame each starts at): CTC's collapse (repeats merged, blanks dropped)."""
    tokens: list[int] = []
    frames: list[int] = []
    previous = blank
    for t, label in enumerate(labels):
        if label != blank and label != previous:
            tokens.append(label)
            frames.append(t)
        previous = label
    return tokens, frames


def greedy_hypothesis(log_probs: Tensor, decode_ids, blank: int = 0) -> Hypothesis:
    """The best path of ``log_probs`` ([T, V]) as a :class:`Hypothesis` (score: its log-probability)."""
    tokens, frames = collapse(log_probs.argmax(dim=-1).tolist(), blank)
    token_conf, conf = path_confidences(log_probs, tokens, frames, blank)
    score = float(log_probs.max(dim=-1).values.sum()) if log_probs.numel() else 0.0
    return Hypothesis(decode_ids(tokens), tokens, frames, score, token_conf, conf)


def set_posteriors(nbest: list[Hypothesis]) -> list[Hypothesis]:
    """Fill ``posterior`` of each hypothesis: softmax of the scores over the list."""
    if nbest:
        scores = torch.tensor([h.score for h in nbest], dtype=torch.float64)
        for h, p in zip(nbest, scores.softmax(dim=0).tolist(), strict=True):
            h.posterior = p
    return nbest


def write_nbest(nbest: dict[str, list[Hypothesis]], path: Path, tokens: Sequence[str] | None = None) -> Path:
    """One JSON object per utterance, sorted by id: ``{"id", "hyps": [hypothesis fields, best first]}``.

    With ``tokens`` (the tokenizer's symbol table) each hypothesis also gets ``"pieces"``, its tokens as
    text, so a reader needs no tokenizer to line confidences up with units.
    """
    lines = []
    for utt_id in sorted(nbest):
        hyps = []
        for h in nbest[utt_id]:
            d = asdict(h)
            d["token_confidence"] = [round(c, 6) for c in h.token_confidence]
            if tokens is not None:
                d["pieces"] = [tokens[i] for i in h.tokens]
            hyps.append(d)
        lines.append(json.dumps({"id": utt_id, "hyps": hyps}, ensure_ascii=False))
    write_atomic(Path(path), "".join(line + "\n" for line in lines).encode("utf-8"))
    return Path(path)


def read_nbest(path: Path) -> dict[str, list[Hypothesis]]:
    """Read :func:`write_nbest`'s file back (extra fields such as ``pieces`` are dropped)."""
    out: dict[str, list[Hypothesis]] = {}
    names = set(Hypothesis.__dataclass_fields__)
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                out[record["id"]] = [
                    Hypothesis(**{k: v for k, v in h.items() if k in names}) for h in record["hyps"]
                ]
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{number}: not an n-best line ({exc})") from None
    return out


def best_texts(nbest: dict[str, list[Hypothesis]]) -> dict[str, str]:
    """Utterance id -> the text of its best hypothesis ('' where the list is empty)."""
    return {k: (v[0].text if v else "") for k, v in nbest.items()}

"""Learning curves: a CTC model's greedy error rates and loss on held-out cuts, measured during training.

:class:`GreedyValidator` is the ``validate`` callback of :func:`asr.training.train` for CTC fine-tuning:
every ``valid_every`` updates the loop calls it with the model in eval mode, and the numbers it returns go
to TensorBoard under ``valid/`` (and into ``valid.jsonl`` beside the checkpoints). Text units give the
character error rate (letters, apostrophes and the spaces between words; what a character CTC model
predicts) and the word error rate of the greedy transcripts, phone units the phone error rate; both give
the dev CTC loss per token and the share of empty outputs (a model on CTC's blank plateau outputs
nothing). Edit distances here are plain Levenshtein counts (rapidfuzz); reported results come from
``asr score wer``, which aligns as sclite does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from lhotse import CutSet
from rapidfuzz.distance import Levenshtein

from asr.data.dataset import speaker_balanced
from asr.objectives.ctc import CTCModel, ctc_losses, transcript_ids

from .emissions import iter_emissions


@dataclass
class _Reference:
    tokens: list[int]
    text: str


class GreedyValidator:
    """``validator(model) -> {"loss", "cer", "wer" | "per", "empty"}`` on a fixed set of held-out cuts.

    ``cuts`` are labelled as for training (texts, or phone fields for a phone tokenizer). ``max_minutes``
    keeps that much audio, taken round-robin over the speakers (`speaker_balanced`), so a curve point
    costs seconds and still hears every dev voice.
    """

    def __init__(
        self, cuts: CutSet, tokenizer, max_minutes: float = 10.0, max_duration: float = 120.0
    ) -> None:
        self.cuts = speaker_balanced(cuts, minutes=max_minutes)
        if not len(self.cuts):
            raise ValueError("the validation cut set is empty")
        self.tokenizer = tokenizer
        self.max_duration = max_duration
        self.phones = tokenizer.kind == "phone"
        self.refs: dict[str, _Reference] = {}
        for cut in self.cuts:
            ids = transcript_ids(tokenizer, cut)
            self.refs[cut.id] = _Reference(ids, tokenizer.decode(ids))

    @torch.no_grad()
    def __call__(self, model: CTCModel) -> dict[str, float]:
        was_training = model.training
        errors = {"char": 0, "word": 0, "token": 0}
        lengths = {"char": 0, "word": 0, "token": 0}
        loss, empty = 0.0, 0
        try:
            for cut_id, log_probs in iter_emissions(model, self.cuts, self.max_duration, progress=False):
                ref = self.refs[cut_id]
                hyp_ids = _greedy(log_probs) if log_probs is not None else []
                empty += not hyp_ids
                if log_probs is None:
                    loss += math.inf
                else:
                    targets = torch.tensor([ref.tokens])
                    frames = torch.tensor([log_probs.shape[0]])
                    loss += float(ctc_losses(log_probs[None], frames, targets)[0])
                errors["token"] += Levenshtein.distance(ref.tokens, hyp_ids)
                lengths["token"] += len(ref.tokens)
                if not self.phones:
                    hyp = self.tokenizer.decode(hyp_ids)
                    errors["char"] += Levenshtein.distance(ref.text, hyp)
                    lengths["char"] += len(ref.text)
                    errors["word"] += Levenshtein.distance(ref.text.split(), hyp.split())
                    lengths["word"] += len(ref.text.split())
        finally:
            model.train(was_training)
        rate = {k: 100.0 * errors[k] / max(lengths[k], 1) for k in errors}
        out = {"loss": loss / max(lengths["token"], 1), "empty": 100.0 * empty / len(self.refs)}
        if self.phones:
            out["per"] = rate["token"]
        else:
            out |= {"cer": rate["char"], "wer": rate["word"]}
        return out


def _greedy(log_probs: torch.Tensor) -> list[int]:
    ids = torch.unique_consecutive(log_probs.argmax(dim=-1)).tolist()
    return [i for i in ids if i != 0]

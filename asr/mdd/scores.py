"""The assessor's scores in speechocean762's shape, so that ``asr score pronunciation`` can set them beside
the experts' (Pearson correlation and MSE per level, as GOPT reports them).

The heuristic scores of :mod:`asr.mdd.diagnosis` map onto the corpus's scales without fitting anything:

* phone: ``score`` (100 × the canonical phone's mean posterior over its frames) / 50 → 0-2;
* word: ``accuracy`` (the mean phone score, 0-100) / 10 → 0-10, for ``accuracy`` and ``total``;
* sentence: ``accuracy`` / 10 → 0-10 for ``accuracy`` and ``total``, ``completeness`` / 100 → 0-1.

The assessor judges no stress, fluency or prosody, so those aspects are left out (not guessed).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from asr.files import write_atomic

from .diagnosis import Diagnosis, DiagnosisError, PronunciationAssessor


def diagnosis_scores(d: Diagnosis) -> dict[str, Any]:
    """One diagnosis as speechocean762-shaped scores (see the module docstring for the scales)."""
    words = []
    for w in d.words:
        canonical = [p for p in w.phones if p.phone is not None]
        words.append(
            {
                "text": w.word.upper(),
                "accuracy": round(w.accuracy / 10, 4),
                "total": round(w.accuracy / 10, 4),
                "phone_accuracy": [None if p.score is None else round(p.score / 50, 4) for p in canonical],
            }
        )
    return {
        "source": "asr heuristic",
        "accuracy": round(d.accuracy / 10, 4),
        "total": round(d.accuracy / 10, 4),
        "completeness": round(d.completeness / 100, 4),
        "words": words,
    }


def predict_scores(
    assessor: PronunciationAssessor, cuts: Iterable, progress: bool = True
) -> tuple[dict[str, dict[str, Any]], list[tuple[str, str]]]:
    """Diagnose every cut (one supervision each, its text the prompt): ``({cut id: scores}, skipped)``,
    where ``skipped`` lists ``(cut id, why)`` for recordings the assessor could not judge."""
    out, skipped = {}, []
    for cut in tqdm(list(cuts), desc="score", disable=not progress):
        sup = cut.supervisions[0]
        try:
            d = assessor.diagnose_samples(cut.load_audio()[0], cut.sampling_rate, sup.text)
        except DiagnosisError as exc:
            skipped.append((cut.id, str(exc)))
            continue
        out[cut.id] = diagnosis_scores(d)
    return out, skipped


def write_scores(scores: dict[str, dict[str, Any]], path: Path) -> None:
    """``{utterance id: scores}`` as JSON (what ``asr score pronunciation --hyp`` reads), atomically."""
    write_atomic(Path(path), (json.dumps(scores, indent=1, ensure_ascii=False) + "\n").encode())

"""The assessor's scores in speechocean762's shape, so that ``asr score pronunciation`` can set them beside
the experts' (Pearson correlation and MSE per level, as GOPT reports them).

The heuristic scores of :mod:`asr.mdd.diagnosis` map onto the corpus's scales without fitting anything:

* phone: ``score`` (100 × the canonical phone's mean posterior over its frames) / 50 → 0-2;
* word: ``accuracy`` (the mean phone score, 0-100) / 10 → 0-10, for ``accuracy`` and ``total``;
* sentence: ``accuracy`` / 10 → 0-10 for ``accuracy`` and ``total``, ``completeness`` / 100 → 0-1;
* with an assessment (:mod:`asr.mdd.assessment`): sentence ``fluency`` = the fluency score / 10,
  ``prosodic`` = the intonation score / 10 (null, i.e. no judgement, where it is undefined), and word
  ``stress`` = 10, or 5 for a word whose detected stressed syllable is not the dictionary's (the experts
  give 10 to a word stressed right and to every one-syllable word; 5 is a chosen mid-scale mark).

The assessor may judge a word on another pronunciation than the corpus's canonical one (a CMUdict variant
with more or fewer phones). Given the corpus's phones, the scores are carried over by a phonetic alignment
of the two; a corpus phone with no counterpart gets the mean score of the word's phones.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from asr.data.audio import to_mono_16k
from asr.files import write_atomic
from asr.text.phones import strip_stress

from .align import align
from .assessment import Assessment, Assessor
from .diagnosis import Diagnosis, DiagnosisError


def counterparts(canonical: list[str], judged: list[str]) -> list[int | None]:
    """For each corpus phone, the index of the assessor's phone it aligns with (None: no counterpart)."""
    if canonical == judged:
        return list(range(len(judged)))
    out: list[int | None] = []
    k = 0
    for edit in align(canonical, judged, "phonetic"):
        if edit.ref is not None:
            out.append(k if edit.hyp is not None else None)
        k += edit.hyp is not None
    return out


def assessment_scores(a: Assessment, canonical_words: list[list[str]] | None = None) -> dict[str, Any]:
    """:func:`diagnosis_scores` of the assessment's diagnosis, with its fluency, intonation and stress."""
    out = diagnosis_scores(a.diagnosis, canonical_words)
    out["fluency"] = round(a.fluency.score / 10, 4)
    intonation = None if a.prosody is None else a.prosody.intonation_score
    out["prosodic"] = None if intonation is None else round(intonation / 10, 4)
    wrong = {s.index for s in a.stress if not s.correct}
    for i, word in enumerate(out["words"]):
        word["stress"] = 5.0 if i in wrong else 10.0
    return out


def diagnosis_scores(d: Diagnosis, canonical_words: list[list[str]] | None = None) -> dict[str, Any]:
    """One diagnosis as speechocean762-shaped scores (see the module docstring for the scales);
    ``canonical_words``: the corpus's phones per word, which the phone scores are carried over to."""
    if canonical_words is not None and len(canonical_words) != len(d.words):
        raise DiagnosisError(f"the prompt gives {len(d.words)} words, the corpus {len(canonical_words)}")
    words = []
    for i, w in enumerate(d.words):
        judged = [p for p in w.phones if p.phone is not None and p.score is not None]
        scores = [p.score / 50 for p in judged]
        if canonical_words is not None:
            mean = sum(scores) / len(scores) if scores else 0.0
            pairs = counterparts([strip_stress(p) for p in canonical_words[i]], [p.phone for p in judged])
            scores = [mean if k is None else scores[k] for k in pairs]
        words.append(
            {
                "text": w.word.upper(),
                "accuracy": round(w.accuracy / 10, 4),
                "total": round(w.accuracy / 10, 4),
                "phone_accuracy": [round(s, 4) for s in scores],
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
    judge: Assessor, cuts: Iterable, progress: bool = True
) -> tuple[dict[str, dict[str, Any]], list[tuple[str, str]]]:
    """Assess every cut (one supervision each, its text the prompt): ``({utterance id: scores}, skipped)``,
    keyed by the supervision id (the corpus's utterance id, what the experts' files use); ``skipped`` lists
    ``(utterance id, why)`` for recordings the assessor could not judge."""
    out, skipped = {}, []
    for cut in tqdm(list(cuts), desc="score", disable=not progress):
        sup = cut.supervisions[0]
        try:
            a = judge.assess(to_mono_16k(cut.load_audio()[0], cut.sampling_rate, sup.id), sup.text)
            out[sup.id] = assessment_scores(a, (sup.custom or {}).get("canonical_words"))
        except DiagnosisError as exc:
            skipped.append((sup.id, str(exc)))
    return out, skipped


def write_scores(scores: dict[str, dict[str, Any]], path: Path) -> None:
    """``{utterance id: scores}`` as JSON (what ``asr score pronunciation --hyp`` reads), atomically."""
    write_atomic(Path(path), (json.dumps(scores, indent=1, ensure_ascii=False) + "\n").encode())

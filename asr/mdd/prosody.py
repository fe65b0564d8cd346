"""Intonation and phrasing of a learner's recording against a reference speaker's (a TTS voice) of the prompt.

Both recordings are diagnosed by the same assessor (for the word times) and measured by
:func:`asr.mdd.acoustics.contours`.

* **Per-word pitch**: each word's mean F0 in semitones relative to the speaker's own median F0 over the
  sentence, so a low and a high voice compare; None for a word without a voiced frame.
* **Intonation score**: from the Pearson correlation ``r`` of the learner's and the reference's per-word
  pitch over the words voiced in both, ``score = 100 · max(r, 0)`` (one decimal): the same rises and falls
  score 100, unrelated or inverted ones 0. None with fewer than ``min_voiced_words`` (3) such words, or
  when either side is constant over them (the correlation is undefined).
* **Breaks**: pauses as :func:`asr.mdd.fluency.find_pauses` finds them, for both speakers.
  ``unexpected_breaks``: the learner's pauses at a word boundary where the reference has none (learner's
  times); ``missing_breaks``: the reference's pauses at a boundary where the learner has none (reference's
  times).
* **Monotone**: the learner's F0 range, the 5th to 95th percentile of the voiced frames of the sentence in
  semitones, below ``monotone_st`` (4 semitones, chosen: a voice that moves less sounds flat); None and not
  monotone with fewer than ``min_voiced_frames`` voiced frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from asr.scoring.pronunciation import pearson

from .acoustics import Contours, downsample, semitones, span_mean
from .diagnosis import Diagnosis
from .fluency import FluencyConfig, Pause, find_pauses


@dataclass(frozen=True)
class ProsodyConfig:
    """Thresholds of :func:`assess_prosody` (see the module docstring)."""

    #: an F0 range (5th-95th percentile, semitones) below this is monotone
    monotone_st: float = 4.0
    #: fewer voiced frames than this: no F0 range
    min_voiced_frames: int = 10
    #: fewer words voiced in both recordings than this: no intonation score
    min_voiced_words: int = 3
    #: frame step of the contours kept for plotting (s)
    plot_hop: float = 0.05


@dataclass
class Break:
    """A pause at the boundary after word ``after_word``, with its times in the recording that has it."""

    after_word: int
    start: float
    end: float


@dataclass
class Prosody:
    """The learner's intonation and phrasing against the reference's (see the module docstring)."""

    #: the learner's contours, downsampled for plotting
    learner: Contours
    #: the reference's contours, downsampled for plotting
    reference: Contours
    #: per word: mean F0 in semitones re the learner's median (None: no voiced frame)
    word_f0_st: list[float | None]
    #: the same for the reference, re its own median
    reference_word_f0_st: list[float | None]
    #: 0-100 from the correlation of the two per-word sequences; None when undefined
    intonation_score: float | None
    correlation: float | None
    unexpected_breaks: list[Break] = field(default_factory=list)
    missing_breaks: list[Break] = field(default_factory=list)
    #: the learner's F0 range (5th-95th percentile, semitones); None with too few voiced frames
    f0_range_st: float | None = None
    monotone: bool = False


def assess_prosody(
    d: Diagnosis,
    c: Contours,
    ref_d: Diagnosis,
    ref_c: Contours,
    fluency_cfg: FluencyConfig | None = None,
    cfg: ProsodyConfig = ProsodyConfig(),
) -> Prosody:
    """The learner's (``d``, ``c``) prosody against the reference's (``ref_d``, ``ref_c``), the same prompt;
    ``fluency_cfg`` finds the pauses of both (default :class:`FluencyConfig`). ValueError when the two
    diagnoses are of different words."""
    fluency_cfg = fluency_cfg or FluencyConfig()
    if [w.word for w in d.words] != [w.word for w in ref_d.words]:
        raise ValueError(
            f"the reference says {ref_d.normalized_text!r}, the learner's prompt is {d.normalized_text!r}"
        )
    learner_st, reference_st = _word_pitch(d, c), _word_pitch(ref_d, ref_c)
    both = [(a, b) for a, b in zip(learner_st, reference_st, strict=True) if a is not None and b is not None]
    r = None
    if len(both) >= cfg.min_voiced_words:
        r, _ = pearson([b for _, b in both], [a for a, _ in both], ("reference", "learner"))
    learner_pauses, reference_pauses = find_pauses(d, c, fluency_cfg), find_pauses(ref_d, ref_c, fluency_cfg)
    f0_range = _f0_range(d, c, cfg.min_voiced_frames)
    return Prosody(
        learner=downsample(c, cfg.plot_hop),
        reference=downsample(ref_c, cfg.plot_hop),
        word_f0_st=learner_st,
        reference_word_f0_st=reference_st,
        intonation_score=None if r is None else round(100 * max(r, 0.0), 1),
        correlation=None if r is None else round(r, 3),
        unexpected_breaks=_breaks_not_in(learner_pauses, reference_pauses),
        missing_breaks=_breaks_not_in(reference_pauses, learner_pauses),
        f0_range_st=f0_range,
        monotone=f0_range is not None and f0_range < cfg.monotone_st,
    )


def _sentence_f0(d: Diagnosis, c: Contours) -> np.ndarray:
    """The voiced F0 values (Hz) of the frames of the sentence."""
    f0 = c.f0[(c.times >= d.words[0].start) & (c.times < d.words[-1].end)]
    return f0[~np.isnan(f0)]


def _word_pitch(d: Diagnosis, c: Contours) -> list[float | None]:
    """Each word's mean F0 in semitones re the speaker's median over the sentence (None: unvoiced)."""
    voiced = _sentence_f0(d, c)
    if not len(voiced):
        return [None] * len(d.words)
    st = semitones(c.f0, float(np.median(voiced)))
    means = [span_mean(c, w.start, w.end, st) for w in d.words]
    return [None if np.isnan(m) else round(m, 3) for m in means]


def _f0_range(d: Diagnosis, c: Contours, min_frames: int) -> float | None:
    voiced = _sentence_f0(d, c)
    if len(voiced) < min_frames:
        return None
    low, high = np.percentile(semitones(voiced, float(np.median(voiced))), [5, 95])
    return round(float(high - low), 3)


def _breaks_not_in(pauses: list[Pause], others: list[Pause]) -> list[Break]:
    """The pauses at a word boundary where ``others`` has none."""
    elsewhere = {p.after_word for p in others}
    return [Break(p.after_word, p.start, p.end) for p in pauses if p.after_word not in elsewhere]


__all__ = ["Break", "Prosody", "ProsodyConfig", "assess_prosody"]

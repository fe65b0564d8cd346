"""Lexical stress of the words of one recording: which syllable was made the most prominent.

For every word of two or more syllables (vowels of the pronunciation judged):

* ``expected`` is the vowel (0-based among the word's vowels) with primary stress (digit 1) in the stressed
  pronunciation; a word without one takes its first secondary-stressed (2) vowel, and failing that its first.
* Each vowel is measured over its aligned span: duration, mean energy (dB) and mean F0 in semitones, the
  F0 after removing the sentence's declination (a least-squares line through its voiced frames, since
  pitch falls over a statement and would otherwise favour every word's first syllable).
  Each measure is turned into z-scores among the word's vowels (all 0 when the vowels are equal on it); a
  vowel without a voiced frame gets the lowest F0 z-score of the word's voiced vowels (0 when none is
  voiced). ``prominence`` = the sum of the three z-scores.
* ``detected`` is the vowel of the highest prominence (the first on a tie); ``correct``: detected ==
  expected.

Durations come from CTC alignment (a phone runs to the next phone's first frame), so a word-final vowel
may carry part of a following pause; the energy and F0 terms are means and do not grow with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from asr.text.lexicon import Lexicon
from asr.text.phones import VOWELS, stress_of, strip_stress

from .acoustics import Contours, semitones, span_mean
from .diagnosis import Diagnosis


@dataclass
class WordStress:
    """The stress judgement of word ``index`` (see the module docstring)."""

    index: int
    word: str
    syllables: int
    expected: int
    detected: int
    correct: bool
    #: per vowel, in order
    prominence: list[float]


def stressed_pronunciations(d: Diagnosis, lexicon: Lexicon) -> list[list[str]]:
    """For each word of ``d``, the lexicon's pronunciation with stress digits that was judged.

    ValueError when the lexicon has no pronunciation of a word with the judged phones (another lexicon).
    """
    out = []
    for i, w in enumerate(d.words):
        match = [p for p in lexicon.pronunciations(w.word) if [strip_stress(x) for x in p] == w.pronunciation]
        if not match:
            raise ValueError(
                f"word {i} ({w.word!r}): the lexicon has no pronunciation {' '.join(w.pronunciation)}"
            )
        out.append(list(match[0]))
    return out


def expected_stress(stressed: Sequence[str]) -> int:
    """Index among the vowels of the primary-stressed one (then the first secondary one, then 0)."""
    digits = [stress_of(p) for p in stressed if strip_stress(p) in VOWELS]
    for level in (1, 2):
        if level in digits:
            return digits.index(level)
    return 0


def assess_stress(d: Diagnosis, stressed: list[Sequence[str]], c: Contours) -> list[WordStress]:
    """The stress of every word of ``d`` with two or more syllables; ``stressed[i]``: word i's judged
    pronunciation with stress digits (ValueError if its phones are not the judged ones)."""
    if len(stressed) != len(d.words):
        raise ValueError(f"{len(stressed)} stressed pronunciations for {len(d.words)} words")
    f0_st = _without_declination(d, c)
    out = []
    for i, (w, pron) in enumerate(zip(d.words, stressed, strict=True)):
        if [strip_stress(p) for p in pron] != list(w.pronunciation):
            raise ValueError(
                f"word {i} ({w.word!r}): stressed pronunciation {' '.join(pron)} is not the judged "
                f"{' '.join(w.pronunciation)}"
            )
        canonical = [p for p in w.phones if p.phone is not None]
        vowels = [p for p in canonical if p.phone in VOWELS]
        if len(vowels) < 2:
            continue
        duration = np.array([p.end - p.start for p in vowels])
        energy = np.array([_span_value(c, p.start, p.end, c.energy_db) for p in vowels])
        pitch = np.array([span_mean(c, p.start, p.end, f0_st) for p in vowels])
        prominence = _z(duration) + _z(energy) + _f0_z(pitch)
        expected = expected_stress(pron)
        detected = int(np.argmax(prominence))
        out.append(
            WordStress(
                index=i,
                word=w.word,
                syllables=len(vowels),
                expected=expected,
                detected=detected,
                correct=detected == expected,
                prominence=[round(float(p), 3) for p in prominence],
            )
        )
    return out


def _without_declination(d: Diagnosis, c: Contours) -> np.ndarray:
    """F0 in semitones with the sentence's linear trend removed (a least-squares line through its voiced
    frames): pitch falls over a statement, which would otherwise make every first syllable the highest."""
    st = semitones(c.f0, 100.0)  # re an arbitrary reference: z-scores do not depend on it
    if not d.words:
        return st
    inside = (c.times >= d.words[0].start) & (c.times <= d.words[-1].end) & ~np.isnan(st)
    if inside.sum() < 3 or np.ptp(c.times[inside]) < 1e-6:
        return st
    slope, intercept = np.polyfit(c.times[inside], st[inside], 1)
    return st - (slope * c.times + intercept)


def _span_value(c: Contours, start: float, end: float, values: np.ndarray) -> float:
    """The span's mean, or the value of the frame nearest its middle when no frame is centred inside it."""
    mean = span_mean(c, start, end, values)
    if np.isnan(mean) and len(c.times):
        mean = float(values[int(np.argmin(np.abs(c.times - (start + end) / 2)))])
    return mean


def _z(x: np.ndarray) -> np.ndarray:
    std = x.std()
    return (x - x.mean()) / std if std > 1e-9 else np.zeros_like(x)


def _f0_z(st: np.ndarray) -> np.ndarray:
    voiced = ~np.isnan(st)
    z = np.zeros_like(st)
    if voiced.any():
        z[voiced] = _z(st[voiced])
        z[~voiced] = z[voiced].min()
    return z


__all__ = ["WordStress", "assess_stress", "expected_stress", "stressed_pronunciations"]

"""Fluency of one recording of a prompt: speech and articulation rate, silent pauses, a 0-100 score.

The sentence runs from the first word's start to the last word's end (the diagnosis's forced alignment).

**Pauses.** CTC alignment gives a word boundary frame, not silence: the silence between two words is given
to a phone (usually the last one of the word before). So pauses are found in the energy contour, not in the
word times. Silence is a frame whose energy is below

    threshold = min(level - min_snr_db, max(level - silence_db, noise + noise_margin_db))

where ``level`` is the ``speech_percentile`` (90th) percentile of the frame energies of the sentence (the
level of its vowels; a percentile, so one loud click does not set it) and ``noise`` the
``noise_percentile`` (5th) percentile over the whole recording (its background, when it has silence around
the sentence). So silence is 25 dB below the speech in a clean recording, just above the background in a
noisy one, and never within 10 dB of the speech (a recording without any silence has none). A pause is a
run of silent frames inside the sentence lasting at least ``min_pause`` (stop closures and the dips between
syllables are shorter); it reaches half an energy window beyond its outer frames (their windows are silent
too). Runs that touch the sentence's ends are not pauses (silence before or after the sentence, which the
aligner may give to the first or last phone). A pause belongs to the word boundary nearest to it:
``after_word`` is ``i`` for the boundary between words ``i`` and ``i + 1`` (0 for a one-word prompt).

**Rates.** Syllables are the vowels of the pronunciations judged. ``speech_rate`` = syllables / sentence
time; ``articulation_rate`` = syllables / (sentence time - pause time).

**Score** (0-100, clipped, one decimal)::

    score = 100 - rate_weight · distance of the articulation rate outside rate_band (syllables/s)
                - pause_weight · pause time / sentence time
                - long_pause_penalty · number of pauses of at least long_pause

With the defaults: 20 points per syllable/s outside 3.5-6.5 syllables/s, 1 point per percent of the
sentence spent in pauses, 10 more points per pause of 1 s or longer. The band and weights are chosen, not
fitted to human ratings, and tested on constructed speech only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from asr.text.phones import VOWELS, strip_stress

from .acoustics import Contours
from .diagnosis import Diagnosis


@dataclass(frozen=True)
class FluencyConfig:
    """How pauses are found and fluency scored (see the module docstring for how each is used)."""

    #: shortest silence counted as a pause (s)
    min_pause: float = 0.2
    #: silence is at least this far below the speech level (dB), in a clean recording
    silence_db: float = 25.0
    #: the speech level: this percentile of the sentence's frame energies
    speech_percentile: float = 90.0
    #: the background level: this percentile of the whole recording's frame energies
    noise_percentile: float = 5.0
    #: silence may reach this far above the background (dB), in a noisy recording
    noise_margin_db: float = 6.0
    #: silence is always at least this far below the speech level (dB)
    min_snr_db: float = 10.0
    #: articulation rates (syllables/s) that lose no points
    rate_band: tuple[float, float] = (3.5, 6.5)
    #: points lost per syllable/s outside ``rate_band``
    rate_weight: float = 20.0
    #: points lost for a sentence that is all pause (scaled by the pause share)
    pause_weight: float = 100.0
    #: a pause at least this long (s) costs ``long_pause_penalty`` more points
    long_pause: float = 1.0
    long_pause_penalty: float = 10.0


@dataclass
class Pause:
    """A silent stretch inside the sentence (s), nearest to the boundary after word ``after_word``."""

    start: float
    end: float
    after_word: int

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass
class Fluency:
    """Rates, pauses and the fluency score of one recording (see the module docstring)."""

    #: syllables per second of the sentence, pauses included
    speech_rate: float
    #: syllables per second of speaking (pauses excluded)
    articulation_rate: float
    pauses: list[Pause] = field(default_factory=list)
    pause_count: int = 0
    #: seconds in pauses
    pause_total: float = 0.0
    longest_pause: float = 0.0
    score: float = 100.0
    syllables: int = 0


def syllable_count(pronunciation: list[str]) -> int:
    """The vowels of a pronunciation (stress digits allowed)."""
    return sum(strip_stress(p) in VOWELS for p in pronunciation)


def silence_threshold(d: Diagnosis, c: Contours, cfg: FluencyConfig) -> float:
    """The energy (dB) below which a frame of this recording is silent (see the module docstring)."""
    start, end = d.words[0].start, d.words[-1].end
    sentence = c.energy_db[(c.times >= start) & (c.times < end)]
    if not len(sentence):
        return -np.inf
    level = float(np.percentile(sentence, cfg.speech_percentile))
    noise = float(np.percentile(c.energy_db, cfg.noise_percentile))
    return min(level - cfg.min_snr_db, max(level - cfg.silence_db, noise + cfg.noise_margin_db))


def find_pauses(d: Diagnosis, c: Contours, cfg: FluencyConfig = FluencyConfig()) -> list[Pause]:
    """The silent pauses inside the sentence of ``d``, in time order (see the module docstring)."""
    start, end = d.words[0].start, d.words[-1].end
    frames = np.flatnonzero((c.times >= start) & (c.times < end))
    if not len(frames):
        return []
    silent = c.energy_db[frames] < silence_threshold(d, c, cfg)
    # runs of silent frames: [first, last] indices into `frames`
    edges = np.diff(np.concatenate([[0], silent.astype(np.int8), [0]]))
    firsts, lasts = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    boundaries = [(a.end, b.start) for a, b in zip(d.words, d.words[1:], strict=False)]
    half = max(c.window, c.hop) / 2
    pauses = []
    for first, last in zip(firsts, lasts, strict=True):
        if first == 0 or last == len(frames) - 1:  # silence before or after the sentence
            continue
        p_start = max(start, float(c.times[frames[first]]) - half)
        p_end = min(end, float(c.times[frames[last]]) + half)
        if p_end - p_start >= cfg.min_pause - 1e-9:
            pauses.append(
                Pause(round(p_start, 3), round(p_end, 3), _nearest_boundary(p_start, p_end, boundaries))
            )
    return pauses


def _nearest_boundary(start: float, end: float, boundaries: list[tuple[float, float]]) -> int:
    """Index of the word boundary ``(end of word i, start of word i + 1)`` closest to ``[start, end]``."""
    if not boundaries:
        return 0
    gaps = [max(0.0, b_start - end, start - b_end) for b_start, b_end in boundaries]
    # among boundaries the pause overlaps, the one nearest its middle
    middle = (start + end) / 2
    return min(
        range(len(gaps)), key=lambda i: (gaps[i], abs((boundaries[i][0] + boundaries[i][1]) / 2 - middle))
    )


def assess_fluency(d: Diagnosis, c: Contours, cfg: FluencyConfig = FluencyConfig()) -> Fluency:
    """Rates, pauses and score of the recording ``c`` was measured on, diagnosed as ``d``."""
    syllables = sum(syllable_count(w.pronunciation) for w in d.words)
    span = d.words[-1].end - d.words[0].start
    pauses = find_pauses(d, c, cfg)
    paused = float(sum(p.duration for p in pauses))
    speaking = span - paused
    speech_rate = syllables / span if span > 0 else 0.0
    articulation_rate = syllables / speaking if speaking > 0 else 0.0
    low, high = cfg.rate_band
    score = (
        100
        - cfg.rate_weight * max(low - articulation_rate, articulation_rate - high, 0.0)
        - cfg.pause_weight * (paused / span if span > 0 else 0.0)
        - cfg.long_pause_penalty * sum(p.duration >= cfg.long_pause - 1e-9 for p in pauses)
    )
    return Fluency(
        speech_rate=round(speech_rate, 3),
        articulation_rate=round(articulation_rate, 3),
        pauses=pauses,
        pause_count=len(pauses),
        pause_total=round(paused, 3),
        longest_pause=round(max((p.duration for p in pauses), default=0.0), 3),
        score=round(float(np.clip(score, 0, 100)), 1),
        syllables=syllables,
    )


__all__ = ["Fluency", "FluencyConfig", "Pause", "assess_fluency", "find_pauses", "syllable_count"]

"""Word-level miscues of one reading: prompt words left out, words added, words said twice.

A :class:`~asr.mdd.diagnosis.Diagnosis` judges phones; :func:`find_miscues` reads from it what a teacher
marks on the words, by these rules (thresholds are :class:`MiscueConfig`'s defaults):

* **omitted**: a prompt word that was not said. At least ``omitted_share`` (2/3) of its canonical phones
  are *missing*: deleted, or with a GOP below ``missing_gop`` (1.0: the canonical phone not even e ≈ 2.7
  times likelier than the best other phone over its frames). GOP matters because the diagnosis calls a
  phone the recogniser did not hear ``correct`` while no other phone is likelier (``flag_below_gop``), and
  over frames where nothing was said no phone is (GOP ≈ 0). And its phones are crammed together: their
  onsets at most ``crammed_seconds`` (0.06 s) apart on average, as forced alignment squeezes phones with
  nothing to align to, where a word said, however badly, gives each phone its own duration. A one-phone
  word is judged on the first rule alone. Times: the word's span; ``phones``: its canonical phones.
* **repeated**: a run of at least ``min_inserted`` (2) consecutive inserted phones (the recogniser heard
  them, the prompt has none there) that sounds like the word before or after it (the word it lies in,
  when inside one): their phonetic edit distance (:func:`asr.mdd.align.align` with phonetic costs; a
  substitution counts its :func:`~asr.mdd.align.phone_distance`, 0-1, an insertion or deletion 1) is
  at most ``repeat_share`` (1/3) of that word's phone count. So "one" (W AH N) said again as W AH N, or
  cut short as W AH, is a repetition. When both neighbours match, the closer wins (ties: the one
  before). ``word_index``: that word; times and ``phones``: the run's.
* **inserted**: any other such run, a word the prompt does not have. ``word_index``: the word whose
  canonical phone comes before the run (-1 before the first word); ``word`` is empty.

A single inserted phone is left to the phone verdicts. Miscues come in the order they were said.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from .align import align, phone_distance
from .diagnosis import Diagnosis, PhoneResult, WordResult

MiscueKind = Literal["omitted", "inserted", "repeated"]


@dataclass(frozen=True)
class MiscueConfig:
    """The thresholds of :func:`find_miscues` (see the module docs)."""

    #: share of a word's canonical phones that must be missing for it to count as omitted
    omitted_share: float = 2 / 3
    #: a phone whose GOP is below this is missing (as is a deleted one)
    missing_gop: float = 1.0
    #: an omitted word's phone onsets are at most this far apart on average (s)
    crammed_seconds: float = 0.06
    #: fewest consecutive inserted phones that make an inserted or repeated word
    min_inserted: int = 2
    #: an inserted run repeats a word when their phonetic edit distance is at most this share of its phones
    repeat_share: float = 1 / 3


@dataclass
class Miscue:
    """One word-level miscue: ``word_index`` into the diagnosis's words (-1: before the first word)."""

    kind: MiscueKind
    word_index: int
    word: str
    start: float
    end: float
    phones: list[str]


def find_miscues(d: Diagnosis, cfg: MiscueConfig = MiscueConfig()) -> list[Miscue]:
    """The omitted, inserted and repeated words of ``d`` (see the module docs), in the order said."""
    out = [
        Miscue("omitted", i, w.word, w.start, w.end, [p.phone for p in w.phones if p.phone is not None])
        for i, w in enumerate(d.words)
        if _omitted(w, cfg)
    ]
    for before, run, after in _inserted_runs(d.words):
        if len(run) < cfg.min_inserted:
            continue
        said = [p.said or "" for p in run]
        start, end = min(p.start for p in run), max(p.end for p in run)
        repeated = _repeated_word(d.words, said, before, after, cfg)
        if repeated is None:
            out.append(Miscue("inserted", before, "", start, end, said))
        else:
            out.append(Miscue("repeated", repeated, d.words[repeated].word, start, end, said))
    return sorted(out, key=lambda m: (m.start, m.end))


def _omitted(word: WordResult, cfg: MiscueConfig) -> bool:
    canonical = [p for p in word.phones if p.phone is not None]
    missing = sum(p.status == "deleted" or (p.gop is not None and p.gop < cfg.missing_gop) for p in canonical)
    if not canonical or missing < cfg.omitted_share * len(canonical):
        return False
    onsets = sorted(p.start for p in canonical)
    return len(onsets) == 1 or (onsets[-1] - onsets[0]) / (len(onsets) - 1) <= cfg.crammed_seconds


def _inserted_runs(words: Sequence[WordResult]) -> list[tuple[int, list[PhoneResult], int | None]]:
    """Each maximal run of consecutive inserted phones, with the word of the canonical phone before it
    (-1: none) and after it (None: none)."""
    runs: list[tuple[int, list[PhoneResult], int | None]] = []
    before, run = -1, []
    for i, word in enumerate(words):
        for p in word.phones:
            if p.phone is None:
                run.append(p)
                continue
            if run:
                runs.append((before, run, i))
                run = []
            before = i
    if run:
        runs.append((before, run, None))
    return runs


def _repeated_word(
    words: Sequence[WordResult], said: list[str], before: int, after: int | None, cfg: MiscueConfig
) -> int | None:
    """The neighbouring word ``said`` sounds like (the closer of the two; the earlier on a tie), or None."""
    best: tuple[float, int] | None = None
    for i in dict.fromkeys(i for i in (before, after) if i is not None and i >= 0):
        pronunciation = words[i].pronunciation
        distance = phonetic_distance(pronunciation, said)
        if distance <= cfg.repeat_share * len(pronunciation) and (best is None or distance < best[0]):
            best = (distance, i)
    return None if best is None else best[1]


def phonetic_distance(a: Sequence[str], b: Sequence[str]) -> float:
    """Edit distance of two phone sequences along their phonetic alignment: a substitution costs its
    :func:`~asr.mdd.align.phone_distance` (0-1), an insertion or a deletion 1."""
    return sum(
        1.0 if e.ref is None or e.hyp is None else phone_distance(e.ref, e.hyp)
        for e in align(a, b, "phonetic")
    )

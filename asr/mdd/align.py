"""Edit-distance alignment of phone sequences: Kaldi's, and one that prefers pairing similar phones.

Both the MDD scorer (:mod:`asr.mdd.metrics`) and the diagnosis of one utterance
(:mod:`asr.mdd.diagnosis`) align through :func:`align`, so a phone the scorer counts as substituted is
the phone the learner is told about.

* ``costs="kaldi"`` is Kaldi's ``align-text`` (``LevenshteinAlignment``): unit costs, and on the trace
  back from the end a match/substitution wins ties, then a deletion, then an insertion. MDD papers on
  L2-ARCTIC score with it, and different tie-breaking changes their counts, so it is the scorer's
  default.
* ``costs="phonetic"`` makes a substitution cheaper the more articulatory features the two phones share
  (:func:`substitution_cost`), so ``TH`` read as ``S`` pairs with ``S`` rather than with a neighbouring
  vowel when the number of edits alone cannot decide.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Literal

from asr.text.phones import ERR

EPS = "<eps>"
Costs = Literal["kaldi", "phonetic"]


@dataclass(frozen=True)
class Edit:
    """One column of an alignment: ``op`` is ``C`` (correct), ``S``, ``D`` (ref only) or ``I`` (hyp only)."""

    ref: str | None
    hyp: str | None

    @property
    def op(self) -> str:
        if self.ref is None:
            return "I"
        if self.hyp is None:
            return "D"
        return "C" if self.ref == self.hyp else "S"


# Articulatory features of the 39 ARPAbet phones: vowels by (height, backness, rounded, diphthong, r-coloured),
# consonants by (place, manner, voiced). Heights/backness are ordinal so that neighbours are close.
_VOWELS: dict[str, tuple[float, float, int, int, int]] = {
    "IY": (3, 0, 0, 0, 0),
    "IH": (2.5, 0.3, 0, 0, 0),
    "EY": (2, 0, 0, 1, 0),
    "EH": (1.5, 0, 0, 0, 0),
    "AE": (0.5, 0, 0, 0, 0),
    "AA": (0, 2, 0, 0, 0),
    "AO": (1, 2, 1, 0, 0),
    "AH": (1, 1, 0, 0, 0),
    "UH": (2.5, 1.7, 1, 0, 0),
    "UW": (3, 2, 1, 0, 0),
    "OW": (1.5, 2, 1, 1, 0),
    "AW": (0.5, 1, 0, 1, 0),
    "AY": (0.5, 0.5, 0, 1, 0),
    "OY": (1, 2, 1, 1, 0),
    "ER": (1.5, 1, 0, 0, 1),
}
_PLACES = {
    "bilabial": 0,
    "labiodental": 1,
    "dental": 2,
    "alveolar": 3,
    "postalveolar": 4,
    "palatal": 5,
    "velar": 6,
    "glottal": 7,
}
_CONSONANTS: dict[str, tuple[str, str, int]] = {
    "P": ("bilabial", "stop", 0),
    "B": ("bilabial", "stop", 1),
    "M": ("bilabial", "nasal", 1),
    "W": ("bilabial", "approximant", 1),
    "F": ("labiodental", "fricative", 0),
    "V": ("labiodental", "fricative", 1),
    "TH": ("dental", "fricative", 0),
    "DH": ("dental", "fricative", 1),
    "T": ("alveolar", "stop", 0),
    "D": ("alveolar", "stop", 1),
    "N": ("alveolar", "nasal", 1),
    "S": ("alveolar", "fricative", 0),
    "Z": ("alveolar", "fricative", 1),
    "L": ("alveolar", "lateral", 1),
    "R": ("alveolar", "approximant", 1),
    "CH": ("postalveolar", "affricate", 0),
    "JH": ("postalveolar", "affricate", 1),
    "SH": ("postalveolar", "fricative", 0),
    "ZH": ("postalveolar", "fricative", 1),
    "Y": ("palatal", "approximant", 1),
    "K": ("velar", "stop", 0),
    "G": ("velar", "stop", 1),
    "NG": ("velar", "nasal", 1),
    "HH": ("glottal", "fricative", 0),
}
_MANNER_NEAR = {
    frozenset({"stop", "affricate"}),
    frozenset({"fricative", "affricate"}),
    frozenset({"approximant", "lateral"}),
}


@cache
def phone_distance(a: str, b: str) -> float:
    """How different two phones sound, in [0, 1]: 0 for the same phone, 1 for a vowel against a consonant
    (or anything against ``err``), in between by shared articulatory features."""
    a, b = a.upper(), b.upper()
    if a == b:
        return 0.0
    if ERR.upper() in (a, b):
        return 1.0
    if a in _VOWELS and b in _VOWELS:
        (h1, b1, r1, d1, c1), (h2, b2, r2, d2, c2) = _VOWELS[a], _VOWELS[b]
        score = abs(h1 - h2) / 3 * 0.4 + abs(b1 - b2) / 2 * 0.3 + (r1 != r2) * 0.1 + (d1 != d2) * 0.1
        return min(1.0, 0.15 + score + (c1 != c2) * 0.2)
    if a in _CONSONANTS and b in _CONSONANTS:
        (p1, m1, v1), (p2, m2, v2) = _CONSONANTS[a], _CONSONANTS[b]
        place = min(abs(_PLACES[p1] - _PLACES[p2]), 3) / 3
        manner = 0.0 if m1 == m2 else 0.5 if frozenset({m1, m2}) in _MANNER_NEAR else 1.0
        return min(1.0, 0.15 + 0.35 * place + 0.35 * manner + 0.15 * (v1 != v2))
    return 1.0


def substitution_cost(a: str, b: str) -> float:
    """Cost of aligning ``a`` with ``b`` under ``costs="phonetic"``: 0 for a match, 0.6-1.2 otherwise.

    Never above an insertion plus a deletion (2), so similar costs only choose *which* phones pair up;
    the alignment still uses substitutions where unit costs would."""
    return 0.0 if a == b else 0.6 + 0.6 * phone_distance(a, b)


def align(ref: Sequence[str], hyp: Sequence[str], costs: Costs = "kaldi") -> list[Edit]:
    """Minimum-cost alignment of ``hyp`` against ``ref`` (insertions and deletions cost 1).

    Ties are broken as Kaldi's ``align-text`` does: tracing back from the end, match/substitution first,
    then deletion, then insertion.

    >>> [e.op for e in align("a b c".split(), "a x c d".split())]
    ['C', 'S', 'C', 'I']
    """
    if costs == "kaldi":
        sub: Callable[[str, str], float] = lambda a, b: 0.0 if a == b else 1.0  # noqa: E731
    elif costs == "phonetic":
        sub = substitution_cost
    else:
        raise ValueError(f"unknown alignment costs {costs!r} (kaldi or phonetic)")
    m_len, n_len = len(ref), len(hyp)
    # e[m][n]: cost of aligning ref[:m] with hyp[:n]
    e = [[0.0] * (n_len + 1) for _ in range(m_len + 1)]
    for n in range(1, n_len + 1):
        e[0][n] = float(n)
    for m in range(1, m_len + 1):
        row, prev = e[m], e[m - 1]
        row[0] = prev[0] + 1
        r = ref[m - 1]
        for n in range(1, n_len + 1):
            row[n] = min(prev[n - 1] + sub(r, hyp[n - 1]), prev[n] + 1, row[n - 1] + 1)
    out: list[Edit] = []
    m, n = m_len, n_len
    while m or n:
        if m and n:
            diagonal = e[m - 1][n - 1] + sub(ref[m - 1], hyp[n - 1])
            deletion, insertion = e[m - 1][n] + 1, e[m][n - 1] + 1
            step = (
                "diag" if diagonal <= min(deletion, insertion) else "del" if deletion <= insertion else "ins"
            )
        else:
            step = "del" if m else "ins"
        if step == "diag":
            out.append(Edit(ref[m - 1], hyp[n - 1]))
            m, n = m - 1, n - 1
        elif step == "del":
            out.append(Edit(ref[m - 1], None))
            m -= 1
        else:
            out.append(Edit(None, hyp[n - 1]))
            n -= 1
    out.reverse()
    return out


def error_counts(edits: Sequence[Edit]) -> dict[str, int]:
    """``{"C": .., "S": .., "D": .., "I": ..}`` of an alignment."""
    counts = {"C": 0, "S": 0, "D": 0, "I": 0}
    for edit in edits:
        counts[edit.op] += 1
    return counts

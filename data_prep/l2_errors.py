"""Typical L2-English mispronunciations, applied to canonical ARPAbet with exact bookkeeping.

A pronunciation is edited into a list of :class:`Slot` per word: each slot pairs a canonical phone
with the phone actually spoken (either may be missing: a deletion has no spoken phone, an
addition no canonical one). The spoken phones go to espeak-ng, the slots become L2-ARCTIC labels
(``CPL,PPL,s`` / ``CPL,sil,d`` / ``sil,PPL,a``), so labels and audio agree by construction.

Patterns (each a *name* so that speakers can favour some by L1):

* consonant substitutions: TH→S/T/F, DH→D/Z, V→W/B, W→V, R↔L, Z→S, SH→S, P→B, F→P, Z→JH, N→L;
* vowel (tense/lax and neighbour) swaps: IH↔IY, UH↔UW, EH↔AE, AA↔AH, AO→AA, EY→EH, OW→AO;
* deletion of a word-final consonant;
* vowel epenthesis: AH inserted after a word-final consonant or inside a consonant cluster.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from asr.text.phones import CONSONANTS, VOWELS, stress_of, strip_stress

#: pattern name → (canonical phone, replacement phones)
SUBSTITUTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "th": ("TH", ("S", "T", "F")),
    "dh": ("DH", ("D", "Z")),
    "v": ("V", ("W", "B")),
    "w": ("W", ("V",)),
    "r": ("R", ("L",)),
    "l": ("L", ("R",)),
    "z": ("Z", ("S",)),
    "sh": ("SH", ("S",)),
    "p": ("P", ("B",)),
    "f": ("F", ("P",)),
    "zjh": ("Z", ("JH",)),
    "n": ("N", ("L",)),
    "ih": ("IH", ("IY",)),
    "iy": ("IY", ("IH",)),
    "uh": ("UH", ("UW",)),
    "uw": ("UW", ("UH",)),
    "eh": ("EH", ("AE",)),
    "ae": ("AE", ("EH",)),
    "aa": ("AA", ("AH",)),
    "ah": ("AH", ("AA",)),
    "ao": ("AO", ("AA",)),
    "ey": ("EY", ("EH",)),
    "ow": ("OW", ("AO",)),
}
FINAL_DELETION = "final_deletion"
EPENTHESIS = "epenthesis"
#: Patterns each L1 group is known for; they are drawn three times as often for its speakers.
L1_FAVOURITES: dict[str, frozenset[str]] = {
    "Arabic": frozenset({"p", "f", "ih", "eh", "dh", EPENTHESIS}),
    "Chinese": frozenset({"th", "r", "l", "n", "z", FINAL_DELETION, EPENTHESIS}),
    "Hindi": frozenset({"v", "w", "th", "dh", "zjh", "ae"}),
    "Korean": frozenset({"r", "l", "f", "zjh", "v", "ih", EPENTHESIS}),
    "Spanish": frozenset({"v", "z", "ih", "uh", "sh", "ae", EPENTHESIS}),
    "Vietnamese": frozenset({"th", "sh", "dh", FINAL_DELETION, "iy", "eh"}),
}
_FAVOURITE_WEIGHT = 3.0
_BY_PHONE: dict[str, list[str]] = {}
for _name, (_phone, _) in SUBSTITUTIONS.items():
    _BY_PHONE.setdefault(_phone, []).append(_name)


@dataclass(frozen=True)
class Slot:
    """One canonical/spoken phone pair; phones keep CMUdict stress (espeak needs it to speak them).

    ``kind`` is ``""`` (correct), ``"s"`` (substitution), ``"d"`` (deletion: ``spoken`` is None) or
    ``"a"`` (addition: ``canonical`` is None).
    """

    canonical: str | None
    spoken: str | None
    kind: str = ""

    def label(self, accent_mark: bool = False, stray_space: bool = False) -> str:
        """The L2-ARCTIC annotation label; the two flags add the real corpus's typographic quirks."""
        if not self.kind:
            text = self.canonical or ""
            return text + " " if stray_space else text
        cpl = self.canonical or "sil"
        ppl = strip_stress(self.spoken) if self.spoken else "sil"
        if accent_mark and self.spoken:
            ppl += "*"
        sep = ", " if stray_space else ","
        return f"{cpl}{sep}{ppl},{self.kind}"


def correct(pron: list[str]) -> list[Slot]:
    """Slots of a pronunciation spoken as written."""
    return [Slot(p, p) for p in pron]


def _options(pron: list[str], i: int) -> list[tuple[str, str, str | None]]:
    """(pattern, kind, spoken phone) edits that apply to ``pron[i]``."""
    base, last = strip_stress(pron[i]), i == len(pron) - 1
    stress = stress_of(pron[i])
    out: list[tuple[str, str, str | None]] = []
    for name in _BY_PHONE.get(base, []):
        if stress == 0 and base not in ("IH", "IY"):  # reduced vowels (schwa) are not swapped
            continue
        for target in SUBSTITUTIONS[name][1]:
            spoken = f"{target}{stress}" if target in VOWELS and stress is not None else target
            out.append((name, "s", spoken))
    if base in CONSONANTS:
        keeps_vowel = any(strip_stress(p) in VOWELS for p in pron[:i])
        if last and keeps_vowel:
            out.append((FINAL_DELETION, "d", None))
        if last or strip_stress(pron[i + 1]) in CONSONANTS:
            out.append((EPENTHESIS, "a", "AH0"))
    return out


def mispronounce(
    pron: list[str], rng: np.random.Generator, error_rate: float, favoured: frozenset[str] = frozenset()
) -> list[Slot]:
    """Edit one word's canonical pronunciation; each eligible phone errs with ``error_rate``."""
    slots: list[Slot] = []
    for i, phone in enumerate(pron):
        options = _options(pron, i)
        if not options or rng.random() >= error_rate:
            slots.append(Slot(phone, phone))
            continue
        weights = np.array([_FAVOURITE_WEIGHT if name in favoured else 1.0 for name, _, _ in options])
        name, kind, spoken = options[int(rng.choice(len(options), p=weights / weights.sum()))]
        if kind == "a":  # epenthesis: the consonant is kept, a schwa follows it
            slots += [Slot(phone, phone), Slot(None, spoken, "a")]
        else:
            slots.append(Slot(phone, spoken, kind))
    return slots


def spoken_phones(words: list[list[Slot]]) -> list[list[str]]:
    """What is actually said, word by word (ARPAbet with stress)."""
    return [[s.spoken for s in word if s.spoken] for word in words]


def canonical_phones(words: list[list[Slot]]) -> list[list[str]]:
    """The canonical pronunciation, word by word (ARPAbet with stress)."""
    return [[s.canonical for s in word if s.canonical] for word in words]

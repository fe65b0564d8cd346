"""The ARPAbet phone set and its conventions, in one place.

Every module that handles phones (lexicon, synthetic L2 speech, L2-ARCTIC preparation, the phone
recogniser, MDD scoring) uses these definitions:

* 39 ARPAbet phones without stress (CMUdict's set; AX is folded into AH).
* ``sil`` for silence and pauses, ``err`` for a perceived phone annotators could not identify
  (L2-ARCTIC's ``CPL,err,s``).
* L2-ARCTIC labels are normalised by :func:`normalize_phone`: stress digits, accent marks ``*`` and
  stray whitespace are stripped, case is upper-cased, AX becomes AH, silence marks become ``sil``.

ARPAbet is mapped to espeak-ng's phoneme mnemonics (the ``[[...]]`` input of espeak-ng, en-us
voice) by :data:`ARPABET_TO_ESPEAK`, which the synthetic corpora use to *speak* a phone string, and
back by :data:`ESPEAK_TO_ARPABET` (the en-us voice's phonemes, which the synthetic L2-ARCTIC annotations
read); the grapheme-to-phoneme fallback extends it to every phoneme of espeak-ng's English voices
(:data:`asr.text.lexicon.G2P_TABLE`).
"""

from __future__ import annotations

import re

#: The 39 ARPAbet phones of CMUdict without stress, in a fixed order.
ARPABET_PHONES: tuple[str, ...] = (
    "AA",
    "AE",
    "AH",
    "AO",
    "AW",
    "AY",
    "B",
    "CH",
    "D",
    "DH",
    "EH",
    "ER",
    "EY",
    "F",
    "G",
    "HH",
    "IH",
    "IY",
    "JH",
    "K",
    "L",
    "M",
    "N",
    "NG",
    "OW",
    "OY",
    "P",
    "R",
    "S",
    "SH",
    "T",
    "TH",
    "UH",
    "UW",
    "V",
    "W",
    "Y",
    "Z",
    "ZH",
)
VOWELS: frozenset[str] = frozenset(
    {"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"}
)
CONSONANTS: frozenset[str] = frozenset(ARPABET_PHONES) - VOWELS
SIL = "sil"
ERR = "err"
_PHONE_SET = frozenset(ARPABET_PHONES)
_SILENCE_LABELS = frozenset({"", "SIL", "SP", "SPN", "<SIL>", "PAU"})


def strip_stress(phone: str) -> str:
    """``"AH0"`` → ``"AH"``; phones without a stress digit are returned unchanged."""
    return phone.rstrip("012")


def stress_of(phone: str) -> int | None:
    """The stress digit of an ARPAbet vowel (``"IY1"`` → 1), or None if it has none."""
    return int(phone[-1]) if phone and phone[-1] in "012" else None


def is_phone(phone: str) -> bool:
    """True for one of the 39 stress-less ARPAbet phones."""
    return phone in _PHONE_SET


def normalize_phone(label: str) -> str:
    """Normalise one phone label the way L2-ARCTIC MDD work does.

    Strips whitespace, accent marks (``*``) and stress; maps AX→AH; silence marks→``sil``;
    ``err``→``err``. Raises ValueError for anything that is not then a known phone.
    """
    text = re.sub(r"\s+", "", label).replace("*", "").upper()
    if text in _SILENCE_LABELS:
        return SIL
    if text == "ERR":
        return ERR
    phone = strip_stress(text)
    if phone == "AX":
        phone = "AH"
    if phone not in _PHONE_SET:
        raise ValueError(f"unknown phone label {label!r}")
    return phone


# ARPAbet → espeak-ng (en-us) phoneme mnemonics. Vowels whose quality depends on stress in espeak
# (AH: /V/ stressed, /@/ reduced; ER: /3:/ stressed, /3/ reduced) are keyed with their stress.
ARPABET_TO_ESPEAK: dict[str, str] = {
    "AA": "A:",
    "AE": "a",
    "AH": "V",
    "AH0": "@",
    "AO": "O:",
    "AW": "aU",
    "AY": "aI",
    "EH": "E",
    "ER": "3:",
    "ER0": "3",
    "EY": "eI",
    "IH": "I",
    "IY": "i:",
    "OW": "oU",
    "OY": "OI",
    "UH": "U",
    "UW": "u:",
    "B": "b",
    "CH": "tS",
    "D": "d",
    "DH": "D",
    "F": "f",
    "G": "g",
    "HH": "h",
    "JH": "dZ",
    "K": "k",
    "L": "l",
    "M": "m",
    "N": "n",
    "NG": "N",
    "P": "p",
    "R": "r",
    "S": "s",
    "SH": "S",
    "T": "t",
    "TH": "T",
    "V": "v",
    "W": "w",
    "Y": "j",
    "Z": "z",
    "ZH": "Z",
}


def arpabet_to_espeak(phone: str) -> str:
    """One ARPAbet phone (stress digit optional) → espeak-ng mnemonic, stress mark included.

    ``"IY1"`` → ``"'i:"``, ``"AH0"`` → ``"@"``, ``"TH"`` → ``"T"``.
    """
    base = strip_stress(phone)
    if base not in _PHONE_SET:
        raise ValueError(f"not an ARPAbet phone: {phone!r}")
    stress = stress_of(phone)
    mnemonic = ARPABET_TO_ESPEAK.get(f"{base}{stress}", ARPABET_TO_ESPEAK[base])
    return {1: "'", 2: ","}.get(stress, "") + mnemonic


def phones_to_espeak(words: list[list[str]]) -> str:
    """ARPAbet phones grouped by word → an espeak-ng ``[[...]]`` phoneme string.

    Phones within a word are joined by espeak-ng's ``|`` separator: without it espeak-ng reads
    adjacent mnemonics greedily as one phoneme (``aI`` + ``@`` would become ``aI@``).
    """
    return "[[" + " ".join("|".join(arpabet_to_espeak(p) for p in word) for word in words if word) + "]]"


# espeak-ng (en-us) mnemonics → ARPAbet, for the G2P fallback. Multi-phone entries are r-coloured
# vowels and syllabic consonants that espeak writes as one symbol.
ESPEAK_TO_ARPABET: dict[str, tuple[str, ...]] = {
    "@": ("AH",),
    "@2": ("AH",),
    "@5": ("AH",),
    "@-": ("AH",),
    "V": ("AH",),
    "3": ("ER",),
    "3:": ("ER",),
    "@L": ("AH", "L"),
    "@r": ("ER",),
    "a": ("AE",),
    "a#": ("AE",),
    "aa": ("AE",),
    "A": ("AA",),
    "A:": ("AA",),
    "A@": ("AA", "R"),
    "0": ("AA",),
    "O": ("AO",),
    "O:": ("AO",),
    "O@": ("AO", "R"),
    "o@": ("AO", "R"),
    "aU": ("AW",),
    "aI": ("AY",),
    "aI@": ("AY", "ER"),
    "aI3": ("AY", "ER"),
    "aU@": ("AW", "ER"),
    "E": ("EH",),
    "e": ("EH",),
    "e@": ("EH", "R"),
    "eI": ("EY",),
    "I": ("IH",),
    "I2": ("IH",),
    "I#": ("IH",),
    "i": ("IY",),
    "i:": ("IY",),
    "i@": ("IH", "R"),
    "i@3": ("IH", "R"),
    "IR": ("IH", "R"),
    "oU": ("OW",),
    "o": ("OW",),
    "OI": ("OY",),
    "U": ("UH",),
    "U@": ("UH", "R"),
    "u": ("UW",),
    "u:": ("UW",),
    "b": ("B",),
    "tS": ("CH",),
    "d": ("D",),
    "D": ("DH",),
    "f": ("F",),
    "g": ("G",),
    "h": ("HH",),
    "dZ": ("JH",),
    "k": ("K",),
    "x": ("K",),
    "l": ("L",),
    "L": ("L",),
    "m": ("M",),
    "n": ("N",),
    "n-": ("N",),
    "N": ("NG",),
    "p": ("P",),
    "r": ("R",),
    "r-": ("R",),
    "s": ("S",),
    "S": ("SH",),
    "t": ("T",),
    "t#": ("T",),
    "*": ("T",),
    "?": ("T",),
    "T": ("TH",),
    "v": ("V",),
    "w": ("W",),
    "W": ("W",),
    "j": ("Y",),
    "z": ("Z",),
    "Z": ("ZH",),
    "l/": ("L",),
    "m-": ("M",),
}

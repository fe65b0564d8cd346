"""Text: normalisation, the ARPAbet phone set, the lexicon (CMUdict + G2P) and espeak-ng."""

from .lexicon import Lexicon, Pronunciation, without_stress
from .normalize import normalize_text, spell_number
from .phones import ARPABET_PHONES, ERR, SIL, normalize_phone, strip_stress

__all__ = [
    "ARPABET_PHONES",
    "ERR",
    "SIL",
    "Lexicon",
    "Pronunciation",
    "normalize_phone",
    "normalize_text",
    "spell_number",
    "strip_stress",
    "without_stress",
]

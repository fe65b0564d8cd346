"""espeak-ng IPA phonemes (the vocabularies of public phoneme CTC models) → our 39 ARPAbet phones.

Public phoneme recognisers such as ``facebook/wav2vec2-lv-60-espeak-cv-ft`` and
``facebook/wav2vec2-xlsr-53-espeak-cv-ft`` output the phonemes espeak-ng wrote for Common Voice in
dozens of languages: one token per espeak phoneme (``k``, ``ɑːɹ``, ``aɪɚ``, ``ts.h``, ``iou2``, ...).
:func:`ipa_to_arpabet` maps one such token to the English phones it stands for, or to nothing (an
*unmappable* token, with the reason). The decisions live in one table, :data:`SEGMENTS` (one espeak
segment → one ARPAbet phone), plus the rules below that take a token apart into segments:

* **Marks that do not change the English phone are dropped**: stress ``ˈ ˌ``, length ``ː ˑ``,
  nasalisation ``̃`` (French ``ɑ̃`` → AA), dental/apical/laminal/raised/lowered/voiceless/centralised
  diacritics, aspiration (``ʰ``, and the ``h`` espeak writes after a Chinese stop: ``th``, ``ts.h``),
  palatalisation/labialisation/pharyngealisation (``tʲ`` → T, ``dˤ`` → D), tie bars, and tone numbers
  (``i5``; Mandarin and Vietnamese tone 3 comes out as a final ``ɜ``: ``iɜ`` is *i*, tone 3).
  Geminates and doubled symbols (``pː``, ``ss``, ``ɔːɔː``) are one phone.
* **Diphthongs** that are one ARPAbet vowel map to it (``aɪ`` AY, ``aʊ`` AW, ``eɪ`` EY, ``oʊ``/``əʊ``
  OW, ``ɔɪ`` OY); other *closing* diphthongs (a vowel, then a high vowel) go to the English diphthong
  with the nearest start: AY from open/central starts, EY from front mid, OY from rounded ones, AW/OW
  for a back glide. *Rising* ones (a high vowel, then another vowel: Mandarin ``iɛ``, ``uo``, ``ja``)
  are a glide and a vowel: Y or W, then the vowel (two phones; the ü glide of Mandarin ``yæ`` is W,
  as English renders French ``ɥ``).
* **r-coloured vowels** are spelled as CMUdict spells the words: ``ɚ``, ``ɜː``, ``ɝ`` and a syllabic
  ``r̩`` are ER; a vowel + ``ɹ`` token (``ɑːɹ`` car, ``ɔːɹ``/``oːɹ`` four, ``ɛɹ`` air, ``ɪɹ`` ear,
  ``ʊɹ`` tour) is the vowel and R (two phones; ``oːɹ`` is AO R like ``ɔːɹ``); the non-rhotic centring
  diphthongs ``iə ɪə eə ɛə ʊə`` are the same vowel + R (CMUdict has ``N IH1 R`` for *near*);
  triphthongs ``aɪɚ``/``aɪə`` (*fire*) and ``aʊɚ``/``aʊə`` (*tower*) are AY ER and AW ER.
* **Plain vowels** by quality: ``i`` IY, ``ɪ``/``ᵻ``/``ɨ`` IH, ``e`` EY (a mid ``e`` is heard as the
  English diphthong: *café*), ``ɛ`` EH, ``æ`` AE, ``a``/``ɑ``/``ɒ`` AA (so British TRAP ``a`` is AA),
  ``ə``/``ɐ``/``ʌ`` AH, ``ɔ`` AO, ``o`` OW, ``ʊ`` UH, ``u``/``ɯ`` UW.
* **Syllabic consonants** are written as CMUdict writes them: ``əl``, ``l̩`` → AH L; ``n̩`` → AH N;
  ``m̩`` → AH M.
* **Affricates**: ``tʃ`` CH, ``dʒ`` JH; the alveolo-palatal and retroflex ones are the same English
  affricates (``tɕ``, ``ts.`` → CH; ``dʑ`` → JH); ``ts``, ``dz`` and ``pf``, which English has only as
  clusters (*cats*), are two phones (T S, D Z, P F).
* **Other languages' sounds** go to the nearest English phone by place and manner, as English speakers
  render them in loanwords: front rounded vowels to the rounded vowel of their height (``y`` UW,
  ``ʏ`` UH, ``ø``/``œ`` ER, as in *Goethe*), uvular and trilled r's to R, ``x``/``χ``/``ħ`` to HH
  (*José*), ``ç`` HH (*huge*), ``ɣ`` G, ``β`` B, ``ɸ`` F, ``ʋ`` V, palatal stops ``c``/``ɟ`` K/G,
  ``ɕ``/``ʂ`` SH, ``ʑ``/``ʐ`` ZH, retroflex stops and nasals to the alveolar ones, implosives to the
  plain stops, ``ɲ``/``ʎ`` N/L (English would add a Y: that palatal part is dropped like ``ʲ``).
  ``ɾ`` (the American flap of *butter*, *water*) is T, the sound CMUdict writes there most often.
* **Unmappable**: the glottal and pharyngeal ``ʔ ʕ`` (English ``ʔ`` is an allophone of several
  things, so it is neither T nor nothing; inside a longer token, Danish stød ``ʔe``, it is dropped),
  clicks, a lone modifier or tone (``ʲ``, ``1``), espeak's unknown ``??``, the special tokens
  ``<s> </s> <unk>``, and any token that would be three or more English phones. A model's unmappable
  outputs are ignored in scoring (their probability is given to the CTC blank) and counted by the
  caller; they never stop a diagnosis.

A token is at most two English phones. ``<pad>`` (the CTC blank of these models) is the caller's
business, not this table's.

**A written word** (:func:`ipa_word_to_arpabet`: the IPA a learner or teacher writes for a whole word,
``təˈmɑːtoʊ``) is read with the same segments, but not with the token rules above, which are about
espeak's tokens: inside a word ``iə`` is usually two syllables (*idea*) and ``kk`` two phones
(*bookkeeper*). Each written symbol is one phone, except the English diphthongs ``aɪ ai ʌɪ aʊ au eɪ ei oʊ
ou əʊ ɔɪ ɔi oɪ`` and the affricates ``tʃ dʒ ʧ ʤ`` (t͡ʃ: tie bars are dropped), which are one; a syllabic
consonant is AH + the consonant (``ɹ̩`` ER); ``ə ɜ ɝ ɚ`` followed by ``r``/``ɹ`` that no vowel follows is
one ER (*butter* ``ˈbʌtər``, *bird* ``bɜːrd``), as CMUdict writes it. Stress (``ˈ ˌ '``), syllable
breaks (``.``) and spaces separate symbols and are dropped; a length mark (``ː ˑ :``) ends the
segment before it (``ɔːɪ`` is AO IH, *drawing*, where ``ɔɪ`` is OY). Non-rhotic writing is read as
written: British ``nɪə`` is N IH AH, not CMUdict's N IH R. Anything else (``ʔ``, digits, brackets) is
refused, naming the symbols.

**ARPAbet → IPA** (:func:`arpabet_to_ipa`, :func:`ipa_sequence`; for display, and piper's input) is one
table, :data:`ARPABET_TO_IPA`, in espeak-ng's en-us symbols, so that :func:`ipa_to_arpabet` reads every
symbol back as its phone. A stress digit marks the vowel, not the syllable (where the syllable starts
needs a syllabifier): ``1`` puts ``ˈ`` and ``2`` ``ˌ`` right before the vowel (``T AH0 M EY1 T OW2`` →
``təmˈeɪtˌoʊ``), and ``0`` gives espeak-ng's reduced forms of the three vowels that have one (AH0 ``ə``,
ER0 ``ɚ``, IY0 ``i``). Without a digit (a diagnosis's phones) a vowel gets its full form (AH ``ʌ``).
``err`` (a sound annotators or a model could not identify) is shown as ``?``, the one symbol that does
not read back; ``sil`` is refused (a pause is no phone, and a diagnosis never holds one).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable

from .phones import ARPABET_PHONES, ERR, VOWELS, is_phone

#: One espeak-ng IPA segment (after the marks above are dropped) → one ARPAbet phone.
#: Multi-letter keys are matched before their first letter (longest match).
SEGMENTS: dict[str, str] = {
    # -- vowels
    "i": "IY",
    "ɪ": "IH",
    "ᵻ": "IH",
    "ɨ": "IH",
    "i.": "ER",
    "e": "EY",
    "ɛ": "EH",
    "ε": "EH",
    "æ": "AE",
    "a": "AA",
    "ä": "AA",
    "ɑ": "AA",
    "ɒ": "AA",
    "ɐ": "AH",
    "ə": "AH",
    "ʌ": "AH",
    "ɘ": "AH",
    "ɤ": "AH",
    "ɜ": "ER",
    "ɚ": "ER",
    "ɝ": "ER",
    "ɞ": "ER",
    "ø": "ER",
    "œ": "ER",
    "ɶ": "AA",
    "oe": "ER",
    "ɔ": "AO",
    "o": "OW",
    "ɵ": "OW",
    "ʊ": "UH",
    "ʏ": "UH",
    "u": "UW",
    "ʉ": "UW",
    "ɯ": "UW",
    "y": "UW",
    "A": "AA",  # espeak's ASCII for ɑ, left over in some Irish output
    # -- diphthongs that are one English vowel
    "aɪ": "AY",
    "ai": "AY",
    "ʌɪ": "AY",
    "əɪ": "AY",
    "ɐɪ": "AY",
    "ɑɪ": "AY",
    "ɑi": "AY",
    "aɨ": "AY",
    "ɑɨ": "AY",
    "eɪ": "EY",
    "ei": "EY",
    "ɛɪ": "EY",
    "ɛi": "EY",
    "ɔɪ": "OY",
    "oɪ": "OY",
    "oi": "OY",
    "ɔi": "OY",
    "ɔɨ": "OY",
    "øɪ": "OY",
    "øy": "OY",
    "œy": "OY",
    "ɔø": "OY",
    "ɔy": "OY",
    "uɪ": "OY",
    "aʊ": "AW",
    "au": "AW",
    "ɑu": "AW",
    "ɑʊ": "AW",
    "ʌʊ": "AW",
    "ɐʊ": "AW",
    "oʊ": "OW",
    "ou": "OW",
    "əʊ": "OW",
    "ɔʊ": "OW",
    "ɔu": "OW",
    "eʊ": "OW",
    "eu": "OW",
    "ɛʊ": "OW",
    "ɛu": "OW",
    "ɵʉ": "OW",
    "əu": "OW",
    # -- consonants
    "p": "P",
    "b": "B",
    "t": "T",
    "d": "D",
    "k": "K",
    "ɡ": "G",
    "g": "G",
    "q": "K",
    "ɢ": "G",
    "c": "K",
    "ɟ": "G",
    "ʈ": "T",
    "ɖ": "D",
    "ɓ": "B",
    "ɗ": "D",
    "ɠ": "G",
    "ʄ": "D",
    "t[": "T",
    "d[": "D",  # espeak's ASCII dental stops (Kyrgyz, Chinese)
    "f": "F",
    "v": "V",
    "ɸ": "F",
    "β": "B",
    "ʋ": "V",
    "θ": "TH",
    "ð": "DH",
    "s": "S",
    "z": "Z",
    "ʃ": "SH",
    "ʒ": "ZH",
    "ɕ": "SH",
    "ʑ": "ZH",
    "ʂ": "SH",
    "ʐ": "ZH",
    "s.": "SH",
    "z.": "ZH",
    "S": "SH",
    "Z": "ZH",
    "sx": "SH",
    "ɧ": "SH",
    "x": "HH",
    "χ": "HH",
    "ħ": "HH",
    "h": "HH",
    "ɦ": "HH",
    "ç": "HH",
    "ɣ": "G",
    "ʝ": "Y",
    "tʃ": "CH",
    "dʒ": "JH",
    "tɕ": "CH",
    "dʑ": "JH",
    "ts.": "CH",
    "dz.": "JH",
    "dZ": "JH",
    "tS": "CH",
    "ʈʂ": "CH",
    "ɖʐ": "JH",
    "cç": "CH",
    "ɟʝ": "JH",
    "m": "M",
    "ɱ": "M",
    "n": "N",
    "ɳ": "N",
    "ɲ": "N",
    "ŋ": "NG",
    "nɡ": "NG",
    "ɴ": "NG",
    "l": "L",
    "ɫ": "L",
    "ɭ": "L",
    "ʎ": "L",
    "ɬ": "L",
    "ɮ": "L",
    "ɺ": "L",
    "ʟ": "L",
    "ɹ": "R",
    "r": "R",
    "ɾ": "T",
    "ʁ": "R",
    "ʀ": "R",
    "ɻ": "R",
    "ɽ": "R",
    "j": "Y",
    "w": "W",
    "ʍ": "W",
    "ɥ": "W",
    "ɰ": "W",
}

#: Whole tokens decided apart from the segment rules (English r-colouring and syllabic consonants, the
#: affricates English has only as clusters).
TOKENS: dict[str, tuple[str, ...]] = {
    "iə": ("IH", "R"),
    "ɪə": ("IH", "R"),
    "eə": ("EH", "R"),
    "ɛə": ("EH", "R"),
    "ʊə": ("UH", "R"),
    "aɪɚ": ("AY", "ER"),
    "aɪə": ("AY", "ER"),
    "aʊɚ": ("AW", "ER"),
    "aʊə": ("AW", "ER"),
    "əl": ("AH", "L"),
    "l̩": ("AH", "L"),
    "n̩": ("AH", "N"),
    "m̩": ("AH", "M"),
    "r̩": ("ER",),
    "ɹ̩": ("ER",),
    "əɹ": ("ER",),
    "ər": ("ER",),
    "ɜɹ": ("ER",),
    "oɹ": ("AO", "R"),
    "ts": ("T", "S"),
    "dz": ("D", "Z"),
    "pf": ("P", "F"),
}

#: Segments with no English counterpart, and why.
UNMAPPABLE_SEGMENTS: dict[str, str] = {
    "ʔ": "glottal stop (in English an allophone of several phones)",
    "ʕ": "pharyngeal approximant",
    "ʡ": "epiglottal stop",
    "ʢ": "epiglottal fricative",
    "ʜ": "epiglottal fricative",
    "ʘ": "click",
    "ǀ": "click",
    "ǃ": "click",
    "ǂ": "click",
    "ǁ": "click",
}

#: Tokens that are no sound at all.
SPECIAL_TOKENS: dict[str, str] = {
    "<pad>": "padding (the CTC blank)",
    "<s>": "sentence start",
    "</s>": "sentence end",
    "<unk>": "unknown token",
    "??": "espeak-ng's unknown phoneme",
    "|": "word delimiter",
}

# marks dropped wherever they are: stress, length, tie bars, syllable breaks, espeak's odd ASCII marks
_DROPPED = set("ˈˌːˑ͜͡-_#+\"'") | {"\u0361", "\u035c"}
# combining and modifier marks dropped after a segment (not ̩, which makes a consonant syllabic)
_MODIFIERS = set("ʲʷˠˤʰʱʼ˞ᵝ") | {
    "\u0303",
    "\u032a",
    "\u033a",
    "\u033b",
    "\u031e",
    "\u031d",
    "\u0320",
    "\u031f",
    "\u0325",
    "\u030a",
    "\u032f",
    "\u0308",
    "\u0324",
    "\u0330",
    "\u031a",
    "\u0334",
    "\u0339",
    "\u031c",
    "\u0318",
    "\u0319",
}
_TONES = set("0123456789˥˦˧˨˩")
_STOPS = {"P", "B", "T", "D", "K", "G", "CH", "JH"}
_HIGH_FRONT, _HIGH_BACK = {"IY", "IH"}, {"UW", "UH"}


class UnmappableToken(ValueError):
    """A token (or written word) with no English phones; ``reason`` says why, ``symbols`` which ones."""

    def __init__(self, token: str, reason: str, symbols: tuple[str, ...] = ()) -> None:
        super().__init__(f"IPA token {token!r} has no ARPAbet phone: {reason}")
        self.token, self.reason, self.symbols = token, reason, symbols


def _strip(token: str) -> str:
    """The token without stress, length, tones and the modifiers that do not change the English phone."""
    text = unicodedata.normalize("NFD", token)
    text = "".join(ch for ch in text if ch not in _DROPPED)
    # Mandarin/Vietnamese tone 3 is written ɜ after the vowel (espeak's "3" through its IPA table)
    if len(text) > 1 and text.endswith("ɜ") and text[-2] not in _TONES:
        text = text[:-1]
    text = "".join(ch for ch in text if ch not in _TONES)
    if len(text) > 1:  # Danish stød (ʔe, ʔu): a voice quality of the vowel, not a segment of its own
        text = text.replace("ʔ", "")
    kept = "".join(ch for ch in text if ch not in _MODIFIERS)
    return unicodedata.normalize("NFC", kept)


def _segments(text: str, token: str) -> list[str]:
    """Longest-match split of a stripped token into :data:`SEGMENTS` keys (syllabic marks kept apart)."""
    out, i = [], 0
    keys = sorted(SEGMENTS, key=len, reverse=True)
    while i < len(text):
        if text[i] == "\u0329":  # syllabic mark: belongs to the consonant before it
            out.append("\u0329")
            i += 1
            continue
        if text[i] in UNMAPPABLE_SEGMENTS:
            raise UnmappableToken(token, UNMAPPABLE_SEGMENTS[text[i]])
        for key in keys:
            if text.startswith(key, i):
                out.append(key)
                i += len(key)
                break
        else:
            raise UnmappableToken(token, f"unknown symbol {text[i]!r} (U+{ord(text[i]):04X})")
    return out


def _combine(phones: list[str]) -> list[str]:
    """Aspiration dropped, doubles merged, vowel pairs made one diphthong or glide + vowel."""
    out: list[str] = []
    for phone in phones:
        if phone == "HH" and out and (out[-1] in _STOPS or out[-2:] == ["T", "S"]):  # aspiration: th, tsh
            continue
        if out and out[-1] == phone:  # geminate or doubled symbol
            continue
        if out and out[-1] in VOWELS and phone in VOWELS:
            first = out.pop()
            if first in _HIGH_FRONT | _HIGH_BACK:  # rising: a glide, then the vowel
                out += ["Y" if first in _HIGH_FRONT else "W", phone]
            elif phone in _HIGH_FRONT:  # closing towards i: the English diphthong with the nearest start
                out.append("EY" if first in {"EH", "EY"} else "OY" if first in {"AO", "OW", "OY"} else "AY")
            elif phone in _HIGH_BACK:
                out.append("OW" if first in {"AO", "OW", "ER"} else "AW")
            else:  # two non-high vowels: kept apart
                out += [first, phone]
            continue
        out.append(phone)
    return out


@functools.lru_cache(maxsize=4096)
def ipa_to_arpabet(token: str) -> tuple[str, ...]:
    """The one or two ARPAbet phones an espeak-ng IPA token stands for (see the module docs).

    Raises :class:`UnmappableToken` for a token with no English phone (or one that would need three or
    more); its ``reason`` says which rule decided.
    """
    if token in SPECIAL_TOKENS:
        raise UnmappableToken(token, SPECIAL_TOKENS[token])
    text = _strip(token)
    if not text:
        raise UnmappableToken(token, "a mark (stress, length, tone or modifier) without a sound")
    if text in TOKENS:
        return TOKENS[text]
    segments = _segments(text, token)
    phones: list[str] = []
    for k, seg in enumerate(segments):
        if seg == "\u0329":
            continue
        syllabic = k + 1 < len(segments) and segments[k + 1] == "\u0329"
        if syllabic:  # a syllabic consonant is written as CMUdict writes it (button: AH N; little: AH L)
            phones += ["ER"] if SEGMENTS[seg] == "R" else ["AH", SEGMENTS[seg]]
        else:  # (a vowel + ɹ token comes out as the vowel and R)
            phones.append(SEGMENTS[seg])
    phones = _combine(phones)
    if not phones:
        raise UnmappableToken(token, "no sound left")
    if len(phones) > 2:
        raise UnmappableToken(token, f"would be {len(phones)} English phones ({' '.join(phones)})")
    assert all(p in ARPABET_PHONES for p in phones), (token, phones)
    return tuple(phones)


def classify(token: str) -> tuple[str, ...] | str:
    """:func:`ipa_to_arpabet`'s phones, or the reason (a string) the token is unmappable."""
    try:
        return ipa_to_arpabet(token)
    except UnmappableToken as exc:
        return exc.reason


# -- a written word ---------------------------------------------------------------------------------------

_WORD_DIPHTHONGS = {"aɪ", "ai", "ʌɪ", "aʊ", "au", "eɪ", "ei", "oʊ", "ou", "əʊ", "ɔɪ", "ɔi", "oɪ"}
#: One written symbol → one phone: the single IPA letters of :data:`SEGMENTS` (not espeak's ASCII ones),
#: the English diphthongs and affricates.
WORD_SEGMENTS: dict[str, str] = {
    **{k: v for k, v in SEGMENTS.items() if len(k) == 1 and not (k.isascii() and k.isupper())},
    **{k: SEGMENTS[k] for k in _WORD_DIPHTHONGS | {"tʃ", "dʒ"}},
    "ʧ": "CH",
    "ʤ": "JH",
}
_WORD_KEYS = sorted(WORD_SEGMENTS, key=len, reverse=True)
_WORD_BREAKS = re.compile(r"[ˈˌ'.\s‿]+")
_LENGTH = set("ːˑ:")
_SYLLABIC = {"\u0329", "\u030d"}
_RHOTIC_VOWELS = {"ə", "ɜ", "ɝ", "ɚ"}


def ipa_word_to_arpabet(text: str) -> tuple[str, ...]:
    """The ARPAbet phones of one word written in IPA (``"təˈmɑːtoʊ"`` → T AH M AA T OW; see the module
    docs). Raises :class:`UnmappableToken` whose ``symbols`` are every symbol with no English phone."""
    phones: list[str] = []
    bad: list[str] = []
    for chunk in _WORD_BREAKS.split(unicodedata.normalize("NFD", text)):
        chunk = "".join(ch for ch in chunk if ch not in _MODIFIERS and ch not in "\u0361\u035c")
        phones += _read_chunk(unicodedata.normalize("NFC", chunk), bad)
    if bad:
        symbols = tuple(dict.fromkeys(bad))
        reasons = [f"{s} ({UNMAPPABLE_SEGMENTS[s]})" if s in UNMAPPABLE_SEGMENTS else s for s in symbols]
        raise UnmappableToken(text, f"no English phone for {', '.join(reasons)}", symbols)
    if not phones:
        raise UnmappableToken(text, "no sound")
    return tuple(phones)


def _read_chunk(chunk: str, bad: list[str]) -> list[str]:
    """The phones of one stretch between stress marks and syllable breaks; unknown symbols go to ``bad``."""
    segs: list[tuple[str, list[str]]] = []  # (written symbol, its phones)
    i = 0
    while i < len(chunk):
        ch = chunk[i]
        if ch in _LENGTH:
            i += 1
        elif ch in _SYLLABIC:  # the consonant before it is a syllable: CMUdict's AH L, AH N, ER
            if segs and segs[-1][1][-1] not in VOWELS:
                consonant = segs[-1][1][-1]
                segs[-1] = (segs[-1][0], ["ER"] if consonant == "R" else ["AH", consonant])
            i += 1
        else:
            key = next((k for k in _WORD_KEYS if chunk.startswith(k, i)), None)
            if key is None:
                bad.append(ch)
                i += 1
            else:
                segs.append((key, [WORD_SEGMENTS[key]]))
                i += len(key)
    out: list[str] = []
    for k, (key, phones) in enumerate(segs):
        coda_r = (
            key in _RHOTIC_VOWELS
            and k + 1 < len(segs)
            and segs[k + 1][1] == ["R"]
            and (k + 2 == len(segs) or segs[k + 2][1][0] not in VOWELS)
        )
        if coda_r:  # an r no vowel follows colours the vowel: one ER
            segs[k + 1] = (segs[k + 1][0], [])
            phones = ["ER"]
        out += phones
    return out


# -- ARPAbet → IPA ----------------------------------------------------------------------------------------

#: ARPAbet → espeak-ng en-us IPA, each symbol read back by :func:`ipa_to_arpabet` as its phone.
ARPABET_TO_IPA: dict[str, str] = {
    "AA": "ɑː",
    "AE": "æ",
    "AH": "ʌ",
    "AO": "ɔː",
    "AW": "aʊ",
    "AY": "aɪ",
    "EH": "ɛ",
    "ER": "ɜː",
    "EY": "eɪ",
    "IH": "ɪ",
    "IY": "iː",
    "OW": "oʊ",
    "OY": "ɔɪ",
    "UH": "ʊ",
    "UW": "uː",
    "B": "b",
    "CH": "tʃ",
    "D": "d",
    "DH": "ð",
    "F": "f",
    "G": "ɡ",
    "HH": "h",
    "JH": "dʒ",
    "K": "k",
    "L": "l",
    "M": "m",
    "N": "n",
    "NG": "ŋ",
    "P": "p",
    "R": "ɹ",
    "S": "s",
    "SH": "ʃ",
    "T": "t",
    "TH": "θ",
    "V": "v",
    "W": "w",
    "Y": "j",
    "Z": "z",
    "ZH": "ʒ",
}
#: espeak-ng's reduced forms of unstressed (stress 0) vowels
UNSTRESSED_IPA: dict[str, str] = {"AH": "ə", "ER": "ɚ", "IY": "i"}
#: how ``err`` is shown: a sound nobody could identify
ERR_IPA = "?"
_STRESS_MARK = {"1": "ˈ", "2": "ˌ"}
_ARPABET = re.compile(r"([A-Za-z]+)([012]?)")


def arpabet_to_ipa(phone: str) -> str:
    """One ARPAbet phone (any case, stress digit optional) in IPA, a stress mark before a stressed vowel
    (``"AH0"`` → ``ə``, ``"AH1"`` → ``ˈʌ``, ``"AH"`` → ``ʌ``); ``err`` → ``?``. ValueError for anything else,
    ``sil`` and a stress digit on a consonant included."""
    if phone.lower() == ERR:
        return ERR_IPA
    match = _ARPABET.fullmatch(phone)
    base, stress = (match.group(1).upper(), match.group(2)) if match else ("", "")
    if not is_phone(base):
        raise ValueError(f"not an ARPAbet phone: {phone!r}")
    if stress and base not in VOWELS:
        raise ValueError(f"a stress digit on a consonant: {phone!r}")
    if stress == "0":
        return UNSTRESSED_IPA.get(base, ARPABET_TO_IPA[base])
    return _STRESS_MARK.get(stress, "") + ARPABET_TO_IPA[base]


def ipa_sequence(phones: Iterable[str]) -> str:
    """ARPAbet phones as one IPA string (``["N", "AH", "T", "SH", "EH", "L"]`` → ``nʌt.ʃɛl``): the symbols
    of :func:`arpabet_to_ipa` joined, with a syllable break ``.`` where two would be read back as other
    phones (T SH is not ``tʃ``, CH), so that :func:`ipa_word_to_arpabet` returns the phones given."""
    out: list[str] = []
    for phone in phones:
        symbol = arpabet_to_ipa(phone)
        if out and _misread(out[-1], symbol):
            out.append(".")
        out.append(symbol)
    return "".join(out)


@functools.lru_cache(maxsize=4096)
def _misread(first: str, second: str) -> bool:
    """Whether two symbols written together read back as other phones than apart."""
    try:
        return ipa_word_to_arpabet(first + second) != ipa_word_to_arpabet(first) + ipa_word_to_arpabet(second)
    except UnmappableToken:  # err's "?": nothing to misread
        return False

"""Canonical pronunciation of a prompt: text → normalised words → ARPAbet phones.

Normalisation is :func:`asr.text.normalize.normalize_text` (numbers spelled out, hyphens split words,
other punctuation dropped, accents folded, lower case). Each word gets every pronunciation CMUdict lists
(stress removed, duplicates dropped, CMUdict's order: the first is the most common); a word CMUdict
lacks gets espeak-ng's (mapped to ARPAbet) and is flagged ``g2p``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from asr.errors import UserError
from asr.text.lexicon import Lexicon, without_stress
from asr.text.normalize import normalize_text


class PromptError(UserError):
    """A prompt that cannot be pronounced (no word, or a word without any pronunciation)."""


@dataclass(frozen=True)
class WordPronunciation:
    """One prompt word and its possible pronunciations (stress-less ARPAbet, most common first)."""

    word: str
    variants: tuple[tuple[str, ...], ...]
    g2p: bool = False

    @property
    def phones(self) -> tuple[str, ...]:
        return self.variants[0]


def prompt_words(text: str) -> list[str]:
    """The words of a prompt after normalisation (lower case); :class:`PromptError` if there are none, or
    if a word is not written in English letters (accents are folded first: "café" is fine)."""
    words = normalize_text(text, upper=False).split()
    if not words:
        raise PromptError(f"the text has no word to pronounce: {text[:80]!r}")
    foreign = [w for w in words if not _ENGLISH.fullmatch(w)]
    if foreign:
        raise PromptError(
            f"pronunciation is assessed in English: {foreign[0]!r} is not written in English letters"
        )
    return words


_ENGLISH = re.compile(r"[a-z']+")


def canonical_pronunciation(
    text: str, lexicon: Lexicon, max_words: int | None = None
) -> list[WordPronunciation]:
    """Every word of ``text`` with its pronunciations; raises :class:`PromptError` naming a word that has
    none (e.g. letters espeak-ng cannot map to ARPAbet) or when ``max_words`` is exceeded."""
    words = prompt_words(text)
    if max_words is not None and len(words) > max_words:
        raise PromptError(f"the text has {len(words)} words; the limit is {max_words}")
    try:
        lexicon.add_g2p(words)
    except ValueError as exc:
        raise PromptError(f"no ARPAbet pronunciation for the text {text[:80]!r}: {exc}") from None
    out = []
    for word in words:
        variants = tuple(dict.fromkeys(tuple(without_stress(p)) for p in lexicon.pronunciations(word) if p))
        if not variants:
            raise PromptError(f"no pronunciation for the word {word!r}")
        out.append(WordPronunciation(word, variants, g2p=word in lexicon.g2p_words))
    return out

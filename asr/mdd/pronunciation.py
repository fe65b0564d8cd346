"""Canonical pronunciation of a prompt: text → normalised words → ARPAbet phones.

Normalisation is :func:`asr.text.normalize.normalize_text` (numbers spelled out, hyphens split words,
other punctuation dropped, accents folded, lower case). Each word gets every pronunciation CMUdict lists
(stress removed, duplicates dropped, CMUdict's order: the first is the most common); a word CMUdict
lacks gets espeak-ng's (mapped to ARPAbet) and is flagged ``g2p``.

**Pronunciations in the prompt.** A word may carry the pronunciations expected of it in square brackets
right after it (no space), which replace the dictionary's (flagged ``custom``):

* ARPAbet, phones separated by spaces, stress digits allowed and ignored: ``tomato[T AH0 M AA1 T OW2]``;
* IPA between slashes, read by :func:`asr.text.ipa.ipa_word_to_arpabet`: ``tomato[/təˈmɑːtoʊ/]``;
* alternatives separated by ``|``, each accepted as correct (the assessor judges the one said best),
  in the order given: ``either[IY DH ER|/ˈaɪðɚ/]``.

Brackets are taken out before normalisation (which would drop them and read their phones as words). A
pronunciation belongs to one word: ``ice-cream[...]`` (two words once normalised) is refused, as are
unknown ARPAbet phones, IPA with no English phone, empty brackets or alternatives, a bracket left open
or closed without opening, brackets with no word right before them and text right after them; each
:class:`PromptError` names the word and the symbols.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from asr.errors import UserError
from asr.text.ipa import UnmappableToken, ipa_word_to_arpabet
from asr.text.lexicon import Lexicon, without_stress
from asr.text.normalize import normalize_text
from asr.text.phones import is_phone

#: the pronunciations of one word: stress-less ARPAbet, most common (or first given) first
Variants = tuple[tuple[str, ...], ...]


class PromptError(UserError):
    """A prompt that cannot be pronounced (no word, a word without any pronunciation, a bad inline one)."""


@dataclass(frozen=True)
class WordPronunciation:
    """One prompt word and its possible pronunciations (stress-less ARPAbet, most common first);
    ``custom`` when they were given in the prompt."""

    word: str
    variants: Variants
    g2p: bool = False
    custom: bool = False

    @property
    def phones(self) -> tuple[str, ...]:
        return self.variants[0]


def without_pronunciations(text: str) -> str:
    """``text`` as written, less the pronunciations given in brackets (what a reader would say aloud)."""
    return " ".join(re.sub(r"\[[^\]]*\]", "", text).split())


def parse_prompt(text: str) -> list[tuple[str, Variants | None]]:
    """Each normalised word of ``text`` with the pronunciations given for it in brackets (None if none);
    :class:`PromptError` for bad brackets (see the module docs), no word, or a word not written in English
    letters (accents are folded first: "café" is fine)."""
    text = text.replace("\0", " ")  # the placeholder of brackets below
    bodies: list[str] = []
    opened: int | None = None
    pieces: list[str] = []  # the text with each [...] replaced by \0
    last = 0
    for i, ch in enumerate(text):
        if ch == "[":
            if opened is not None:
                raise PromptError(f"unclosed bracket {_where(text, opened)}: close it with ']'")
            opened = i
        elif ch == "]":
            if opened is None:
                raise PromptError(f"a ']' without '[': {_flat(text[max(0, i - 30) : i + 1])!r}")
            pieces += [text[last:opened], "\0"]
            bodies.append(text[opened + 1 : i])
            opened, last = None, i + 1
    if opened is not None:
        raise PromptError(f"unclosed bracket {_where(text, opened)}: close it with ']'")
    pieces.append(text[last:])

    out: list[tuple[str, Variants | None]] = []
    groups = iter(bodies)
    # normalisation works within whitespace-separated chunks, so chunk by chunk gives the same words
    for chunk in "".join(pieces).split():
        segments = chunk.split("\0")  # text, [group], text, [group], ..., text
        for k, segment in enumerate(segments):
            words = _words(segment)
            if k > 0 and words and _glued(segment[0]):  # "tomato[...]es": which word is it?
                raise PromptError(
                    f"text right after the brackets of {out[-1][0]!r} ({segment!r}): a pronunciation ends "
                    "its word"
                )
            out += [(w, None) for w in words]
            if k == len(segments) - 1:
                break
            body = next(groups)
            if not words or not _glued(segment[-1]):
                raise PromptError(
                    f"brackets not attached to a word: [{_flat(body)}] (write them right after the word, "
                    "no space: tomato[T AH M EY T OW])"
                )
            if len(words) > 1:
                raise PromptError(
                    f"a pronunciation belongs to one word, but {segment!r} is {len(words)} words "
                    f"({' '.join(words)}): give each its own brackets"
                )
            out[-1] = (words[0], _variants(words[0], body))
    if not out:
        raise PromptError(f"the text has no word to pronounce: {text[:80]!r}")
    foreign = [w for w, _ in out if not _ENGLISH.fullmatch(w)]
    if foreign:
        raise PromptError(
            f"pronunciation is assessed in English: {foreign[0]!r} is not written in English letters"
        )
    return out


def _words(text: str) -> list[str]:
    return normalize_text(text, upper=False).split()


def _flat(text: str) -> str:
    return " ".join(text.split())


def _glued(ch: str) -> bool:
    """Whether ``ch`` belongs to a word (so brackets next to it are attached to that word)."""
    return ch.isalnum() or ch == "'"


def _where(text: str, i: int) -> str:
    """Where position ``i`` is, for a message: after the word right before it, or at the text there."""
    head = text[:i].split()
    words = _words(head[-1]) if head and _glued(text[i - 1]) else []
    return f"after {words[-1]!r}" if words else f"at {_flat(text[i : i + 20])!r}"


def _variants(word: str, body: str) -> Variants:
    """The pronunciations written in one pair of brackets after ``word``."""
    if not body.strip():
        raise PromptError(
            f"empty brackets after {word!r}: write its phones (ARPAbet: [T AH M EY T OW], IPA: [/təˈmeɪtoʊ/])"
        )
    variants = []
    for alternative in body.split("|"):
        alternative = alternative.strip()
        if not alternative:
            raise PromptError(f"an empty alternative in the pronunciation of {word!r}: [{_flat(body)}]")
        variants.append(
            _ipa(word, alternative) if alternative.startswith("/") else _arpabet(word, alternative)
        )
    return tuple(dict.fromkeys(variants))


_ARPABET = re.compile(r"([A-Za-z]+)[012]?")


def _arpabet(word: str, text: str) -> tuple[str, ...]:
    phones = [m.group(1).upper() if (m := _ARPABET.fullmatch(t)) else "" for t in text.split()]
    bad = [t for t, p in zip(text.split(), phones, strict=True) if not is_phone(p)]
    if bad:
        raise PromptError(
            f"unknown ARPAbet phone{'s' * (len(bad) > 1)} {' '.join(bad)} in the pronunciation of {word!r} "
            "(CMUdict's 39 phones, e.g. T AH M EY T OW; IPA goes between slashes: /təˈmeɪtoʊ/)"
        )
    return tuple(phones)


def _ipa(word: str, text: str) -> tuple[str, ...]:
    if len(text) < 2 or not text.endswith("/"):
        raise PromptError(f"the IPA pronunciation of {word!r} has no closing slash: {text!r}")
    try:
        return ipa_word_to_arpabet(text[1:-1])
    except UnmappableToken as exc:
        if not exc.symbols:
            raise PromptError(f"the IPA pronunciation of {word!r} has no sound: {text!r}") from None
        raise PromptError(
            f"no English phone for {' '.join(exc.symbols)} in the IPA pronunciation of {word!r} ({text})"
        ) from None


def prompt_words(text: str) -> list[str]:
    """The words of a prompt after normalisation (lower case), pronunciations in brackets left out; raises
    :class:`PromptError` as :func:`parse_prompt` does."""
    return [word for word, _ in parse_prompt(text)]


_ENGLISH = re.compile(r"[a-z']+")


def canonical_pronunciation(
    text: str, lexicon: Lexicon, max_words: int | None = None
) -> list[WordPronunciation]:
    """Every word of ``text`` with its pronunciations (those given in brackets, else the lexicon's); raises
    :class:`PromptError` naming a word that has none (e.g. letters espeak-ng cannot map to ARPAbet), for a
    bad pronunciation in brackets, or when ``max_words`` is exceeded."""
    parsed = parse_prompt(text)
    if max_words is not None and len(parsed) > max_words:
        raise PromptError(f"the text has {len(parsed)} words; the limit is {max_words}")
    looked_up = [word for word, given in parsed if given is None]
    try:
        if looked_up:
            lexicon.add_g2p(looked_up)
    except ValueError as exc:
        raise PromptError(f"no ARPAbet pronunciation for the text {text[:80]!r}: {exc}") from None
    out = []
    for word, given in parsed:
        if given is not None:
            out.append(WordPronunciation(word, given, custom=True))
            continue
        variants = tuple(dict.fromkeys(tuple(without_stress(p)) for p in lexicon.pronunciations(word) if p))
        if not variants:
            raise PromptError(f"no pronunciation for the word {word!r}")
        out.append(WordPronunciation(word, variants, g2p=word in lexicon.g2p_words))
    return out

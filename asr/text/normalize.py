"""Text normalisation shared by transcripts, language-model text and pronunciation prompts.

The target form is LibriSpeech's: words of letters and apostrophes, separated by single spaces.
Numbers are spelled out, hyphens split words, other punctuation is dropped. Case is chosen by the
caller (LibriSpeech transcripts are upper case; the lexicon is looked up in lower case).
"""

from __future__ import annotations

import re
import unicodedata

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**9, "billion"), (10**6, "million"), (1000, "thousand"), (100, "hundred"))


def spell_number(n: int) -> str:
    """Spell a non-negative integer in English words (``1984`` → ``one thousand nine hundred eighty four``)."""
    if n < 0:
        return "minus " + spell_number(-n)
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + (" " + _ONES[ones] if ones else "")
    for value, name in _SCALES:
        if n >= value:
            head, rest = divmod(n, value)
            return spell_number(head) + " " + name + (" " + spell_number(rest) if rest else "")
    raise AssertionError("unreachable")


def _drop_symbols(text: str) -> str:
    """Punctuation, symbols, separators and control characters become spaces; letters of any script stay."""
    return "".join(" " if c != "'" and unicodedata.category(c)[0] in "PSZC" else c for c in text)


def normalize_text(text: str, upper: bool = True) -> str:
    """Normalise free text to space-separated words of letters and apostrophes.

    Accents are folded (``café`` → ``cafe``); punctuation and symbols are dropped; letters of other
    scripts are kept, so that a tokenizer that cannot write them says so, naming the utterance, instead
    of the words vanishing from the transcript.

    >>> normalize_text("It's 42, isn't it?")
    "IT'S FORTY TWO ISN'T IT"
    >>> normalize_text("Café naïve")
    'CAFE NAIVE'
    """
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    text = re.sub(r"\d+", lambda m: " " + spell_number(int(m.group())) + " ", text)
    text = re.sub(r"[-\u2013\u2014/]", " ", text)
    text = _drop_symbols(text)
    words = [w.strip("'") for w in text.split()]
    joined = " ".join(w for w in words if w)
    return joined.upper() if upper else joined.lower()

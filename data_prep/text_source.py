"""Real English sentences available offline: Debian's fortune files, filtered to CMUdict words.

Sentences are split into three fixed pools by a hash of their text (train 90 %, dev 5 %, test 5 %),
so that dev and test transcripts never appear in training text, for any seed.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from asr.text import Lexicon, normalize_text

FORTUNE_DIRS = (Path("/usr/share/games/fortunes"), Path("/usr/share/fortunes"))
_SENTENCE = re.compile(r"[A-Z][A-Za-z' ,;-]+[.!?]")


@dataclass(frozen=True)
class Sentence:
    """A prompt as written (``text``) and its LibriSpeech-style normalised words (``words``)."""

    text: str
    words: tuple[str, ...]

    @property
    def transcript(self) -> str:
        return " ".join(self.words)


def _fortune_files() -> list[Path]:
    for d in FORTUNE_DIRS:
        files = sorted(p for p in d.glob("*") if p.is_file() and "." not in p.name)
        if files:
            return files
    raise FileNotFoundError(
        "no fortune files found in /usr/share/games/fortunes; install Debian's 'fortunes' package "
        "(scripts/setup.sh does)"
    )


@cache
def load_sentences(min_words: int = 4, max_words: int = 20) -> tuple[Sentence, ...]:
    """All usable sentences, sorted: every word is in CMUdict, so canonical phones are known."""
    lexicon = Lexicon.from_cmudict()
    found: set[Sentence] = set()
    for path in _fortune_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        for fortune in text.split("\n%\n"):
            fortune = re.split(r"\n\s*--", fortune)[0]  # drop attributions
            flat = " ".join(fortune.split())
            for candidate in re.split(r"(?<=[.!?])\s+", flat):
                candidate = candidate.strip()
                if not _SENTENCE.fullmatch(candidate):
                    continue
                words = tuple(normalize_text(candidate).split())
                if min_words <= len(words) <= max_words and all(w in lexicon for w in words):
                    found.add(Sentence(candidate, words))
    return tuple(sorted(found, key=lambda s: s.text))


def pool_of(sentence: Sentence) -> str:
    """``train``, ``dev`` or ``test``: a fixed function of the text, independent of any seed."""
    bucket = zlib.crc32(sentence.transcript.encode()) % 20
    return "dev" if bucket == 0 else "test" if bucket == 1 else "train"


@cache
def sentence_pools() -> dict[str, tuple[Sentence, ...]]:
    pools: dict[str, list[Sentence]] = {"train": [], "dev": [], "test": []}
    for s in load_sentences():
        pools[pool_of(s)].append(s)
    return {k: tuple(v) for k, v in pools.items()}

#!/usr/bin/env python3
"""Which voices spoke a synthetic corpus, in words: ``python voices.py CORPUS_DIR`` → "espeak-ng 18, piper 6 speakers".

Reads the ``<corpus>.synth.jsonl`` the synthesiser writes beside ``CORPUS_DIR`` (one line per utterance,
with its speaker and voice); a voice without a ``family`` field is espeak-ng's (older corpora).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path


def voice_families(corpus_dir: Path) -> Counter:
    """Speakers per voice family."""
    listing = corpus_dir.with_name(corpus_dir.name + ".synth.jsonl")
    if not listing.is_file():
        return Counter()
    family_of: dict[str, str] = {}
    for line in listing.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        voice = entry.get("voice") or {}
        family = entry.get("family") or voice.get("family") or "espeak-ng"
        family_of[str(entry.get("speaker", len(family_of)))] = family
    return Counter(family_of.values())


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    counts = voice_families(Path(argv[0]))
    print(
        ", ".join(f"{family} {n}" for family, n in counts.most_common()) + " speakers"
        if counts
        else "voices not recorded"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env python3
"""Which voices spoke a synthetic corpus, in words: ``python voices.py CORPUS_DIR`` → "espeak 18, piper 6 speakers".

Reads the ``<corpus>.voices.json`` the synthesiser writes beside ``CORPUS_DIR`` (data_prep/voices.py); a corpus
without one was made before voice families existed, by espeak-ng alone.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path


def voice_families(corpus_dir: Path) -> Counter:
    """Speakers per voice family (empty when the corpus records none)."""
    listing = corpus_dir.with_name(corpus_dir.name + ".voices.json")
    if listing.is_file():
        return Counter(json.loads(listing.read_text(encoding="utf-8"))["speakers_per_family"])
    synth = corpus_dir.with_name(corpus_dir.name + ".synth.jsonl")
    if not synth.is_file():
        return Counter()
    speakers = {json.loads(line).get("speaker") for line in synth.read_text(encoding="utf-8").splitlines()}
    return Counter({"espeak": len(speakers)})


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

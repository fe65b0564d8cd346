#!/usr/bin/env python3
"""Hold out some speakers of a training manifest as a dev set (recipe-local, like icefall's local/ scripts).

    split_dev.py --cuts l2arctic_cuts_train.jsonl.gz --speakers "ybaa ydck" --out-dir DIR

writes DIR/train.jsonl.gz (the other speakers) and DIR/dev.jsonl.gz; an unknown speaker is an error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lhotse import CutSet


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cuts", type=Path, required=True)
    parser.add_argument("--speakers", required=True, help="Space-separated speaker ids for the dev set.")
    parser.add_argument("--out-dir", type=Path, required=True)
    args = parser.parse_args()
    cuts = CutSet.from_file(args.cuts).to_eager()
    speakers = set(args.speakers.split())
    found = {s.speaker for c in cuts for s in c.supervisions}
    if not speakers <= found:
        print(
            f"{args.cuts}: no speaker(s) {sorted(speakers - found)}; it has {sorted(found)}", file=sys.stderr
        )
        return 2
    in_dev = lambda c: any(s.speaker in speakers for s in c.supervisions)  # noqa: E731
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for name, part in (("train", cuts.filter(lambda c: not in_dev(c))), ("dev", cuts.filter(in_dev))):
        tmp = args.out_dir / f".{name}.tmp.jsonl.gz"
        part.to_file(tmp)
        tmp.replace(args.out_dir / f"{name}.jsonl.gz")
    return 0


if __name__ == "__main__":
    sys.exit(main())

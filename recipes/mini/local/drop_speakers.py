#!/usr/bin/env python3
"""Cuts of one manifest without the speakers of others: ``drop_speakers.py --cuts IN --drop A [--drop B] --out OUT``.

The mini recipe keeps the learners it calibrates the app on (the scored sample's train-split speakers) out of
the real speech it trains on, so the calibration sees voices the model never heard.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lhotse import CutSet

from asr.data.common import save_manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cuts", type=Path, required=True)
    parser.add_argument(
        "--drop", type=Path, action="append", default=[], help="Cuts whose speakers to leave out."
    )
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    drop = {
        s.speaker
        for path in args.drop
        if path.is_file()
        for c in CutSet.from_file(path)
        for s in c.supervisions
    }
    kept = [c for c in CutSet.from_file(args.cuts) if not any(s.speaker in drop for s in c.supervisions)]
    if not kept:
        print(
            f"{args.cuts}: no cut is left once the speakers of {', '.join(map(str, args.drop))} are dropped",
            file=sys.stderr,
        )
        return 2
    save_manifest(CutSet.from_cuts(kept), args.out)
    print(f"{args.out}: {len(kept)} cuts, speakers {sorted(drop)} left out", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

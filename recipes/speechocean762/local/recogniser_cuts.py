#!/usr/bin/env python3
"""The cuts the recipe's own phone recogniser trains on: every learner of both splits except the test
speakers who have expert scores, so that no judged test learner was heard in training.

``recogniser_cuts.py --train TRAIN_CUTS --test TEST_CUTS --out OUT``. On the full corpus (every utterance
scored) this is the train split; on the shared sample, its 40 scored train-split utterances and the 320
unscored ones of the other 16 test speakers.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lhotse import CutSet

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
from asr.data.common import save_manifest  # noqa: E402


def scored(cut) -> bool:
    return any("scores" in (s.custom or {}) for s in cut.supervisions)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--train", type=Path, required=True, help="asr prepare speechocean762's train cuts")
    parser.add_argument("--test", type=Path, required=True, help="its test cuts")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    test = CutSet.from_file(args.test)
    judged = {s.speaker for c in test if scored(c) for s in c.supervisions}
    kept = [c for part in (CutSet.from_file(args.train), test) for c in part]
    kept = [c for c in kept if not any(s.speaker in judged for s in c.supervisions)]
    if not kept:
        print(
            f"{args.test}: every learner is a scored test speaker; nothing is left to train on",
            file=sys.stderr,
        )
        return 2
    save_manifest(CutSet.from_cuts(kept), args.out)
    hours = sum(c.duration for c in kept) / 3600
    print(
        f"{args.out}: {len(kept)} cuts ({hours:.2f} h); scored test speakers left out: {len(judged)}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Stage 2 of the Libri-light recipe: the unlabelled cuts as Lhotse Shar, the windows pretraining reads.

Each exported cut is one window as ``asr pretrain`` cuts it (:func:`asr.data.dataset.pretraining_cuts`:
speech only, at most ``--segment`` seconds), its audio re-encoded as FLAC into ``recording.NNNNNN.tar``
beside ``cuts.NNNNNN.jsonl.gz``. Exporting windows rather than recordings keeps silences out of the copy
and keeps a cut's audio small: Libri-light recordings run to tens of minutes, and a Shar cut carries its
whole recording in memory. Recordings pass through a seeded streaming shuffle first, so that a shard mixes
books and speakers (under DDP each rank reads its own shards).
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
from lhotse import CutSet  # noqa: E402

from asr.data.dataset import load_cuts, pretraining_cuts  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cuts", type=Path, nargs="+", required=True, help="Libri-light cut manifests.")
    parser.add_argument("--out", type=Path, required=True, help="The Shar folder (must not exist).")
    parser.add_argument("--segment", type=float, default=15.6, help="Longest window, s (asr pretrain's).")
    parser.add_argument("--shard-size", type=int, default=1000, help="Windows per shard.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-j", "--num-jobs", type=int, default=1, help="Shards encoded in parallel.")
    args = parser.parse_args()
    if args.out.exists():
        parser.error(f"{args.out} exists; remove it or export elsewhere")
    cuts = load_cuts(args.cuts[0])
    for path in args.cuts[1:]:
        cuts = cuts + load_cuts(path)
    cuts = cuts.shuffle(random.Random(args.seed), buffer_size=10_000)  # lazy: a buffer of recordings
    windows = pretraining_cuts(cuts, max_duration=args.segment)
    args.out.mkdir(parents=True)
    # fault_tolerant: a window whose audio cannot be read is left out (with lhotse's warning), not fatal
    windows.to_shar(
        args.out,
        fields={"recording": "flac"},
        shard_size=args.shard_size,
        num_jobs=args.num_jobs,
        fault_tolerant=True,
    )
    exported = CutSet.from_shar(fields={"cuts": sorted(args.out.glob("cuts.*.jsonl.gz"))})  # metadata only
    count, seconds = 0, 0.0
    for cut in exported:
        count += 1
        seconds += cut.duration
    shards = len(list(args.out.glob("cuts.*.jsonl.gz")))
    print(f"Lhotse Shar: {count} windows, {seconds / 3600:.2f} h of speech in {shards} shards -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

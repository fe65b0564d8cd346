#!/usr/bin/env python3
"""MDD scores of one phone recogniser per voice family of the held-out synthetic L2 speakers (T6's cross-voice
rows): ``mdd_by_voice.py --cuts TEST_CUTS --voices L2-ARCTIC.voices.json --hyp hyp.txt --out-dir OUT``.

The synthetic L2-ARCTIC records each speaker's voice family (``data_prep/voices.py``); scoring the test
speakers of each family apart shows how far a model trained without a family (espeak-ng only) carries to it.
Writes ``OUT/<family>/mdd.json`` (and the alignment and confusion files of ``asr score mdd``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from asr.mdd.metrics import read_phone_file, score_sequences, write_report
from asr.mdd.reference import reference_sequences


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--cuts", type=Path, required=True, help="Annotated test cuts (asr prepare l2arctic)."
    )
    parser.add_argument("--voices", type=Path, required=True, help="The corpus's L2-ARCTIC.voices.json.")
    parser.add_argument("--hyp", type=Path, required=True, help="The recogniser's phones (asr decode).")
    parser.add_argument("--out-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    from lhotse import CutSet

    family = {s.lower(): v["family"] for s, v in json.loads(args.voices.read_text())["speakers"].items()}
    speaker = {c.id: c.supervisions[0].speaker.lower() for c in CutSet.from_file(args.cuts)}
    canonical, perceived, _ = reference_sequences(args.cuts)
    hyp = read_phone_file(args.hyp)
    for name in sorted({family[speaker[i]] for i in canonical}):
        ids = [i for i in canonical if family[speaker[i]] == name]
        report = score_sequences(
            {i: canonical[i] for i in ids}, {i: perceived[i] for i in ids}, {i: hyp[i] for i in ids}
        )
        write_report(report, args.out_dir / name)
        speakers = sorted({speaker[i] for i in ids})
        print(
            f"{name}: {len(ids)} utterances of {', '.join(speakers)}: F1 {report.counts.f1:.3f}, "
            f"PER {100 * report.counts.per:.1f} %",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

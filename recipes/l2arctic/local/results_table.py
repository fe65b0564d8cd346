"""The L2-ARCTIC recipe's results table: PER and MDD scores of each scored system, into EXP/RESULTS.md.

Reads ``EXP/decode/<system>/test/{mdd/mdd.json,per/per.json}`` as stage 5 writes them.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
from asr.files import write_atomic  # noqa: E402

SYSTEMS = (("supervised", "stage 3: CTC (labels only)"), ("online_ensemble", "stage 4: + online ensemble"))


def rows(exp: Path) -> list[str]:
    out = []
    for system, label in SYSTEMS:
        folder = exp / "decode" / system / "test"
        if not (folder / "mdd" / "mdd.json").is_file() or not (folder / "per" / "per.json").is_file():
            continue
        m = json.loads((folder / "mdd" / "mdd.json").read_text())
        per = json.loads((folder / "per" / "per.json").read_text())
        out.append(
            f"| {label} | {per['wer']:.2f} | {100 * m['precision']:.2f} | {100 * m['recall']:.2f} | "
            f"{100 * m['f1']:.2f} | {100 * m['der']:.2f} | {100 * m['detection_accuracy']:.2f} | "
            f"{m['ta']} | {m['fr']} | {m['fa']} | {m['cd']} | {m['de']} |"
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--exp", type=Path, required=True, help="exp/<tag>")
    parser.add_argument("--command", required=True, help="The recipe command that made the results.")
    parser.add_argument("--init", default="none (random weights)")
    parser.add_argument("--native-parts", default="")
    parser.add_argument("--timit", default="")
    args = parser.parse_args()
    training = " + ".join(
        filter(
            None,
            [
                f"LibriSpeech {args.native_parts}" if args.native_parts else "",
                "TIMIT train" if args.timit else "",
                "L2-ARCTIC train (18 speakers, perceived phones)",
            ],
        )
    )
    text = (
        f"""# L2-ARCTIC mispronunciation detection and diagnosis ({args.exp.name})

Test: the annotated utterances of TLV, NJS, TNI, TXHC, ZHAA, YKWK (greedy CTC decoding). Training: {training};
stage 3 init: {args.init}; stage 4 adds the unannotated utterances of the 18 training speakers.
PER: against the perceived phones; precision / recall / F1 / DER / detection accuracy in %, and the counts,
by `asr score mdd` (the L2-ARCTIC convention; details in decode/<system>/test/mdd/alignment.txt).

| system | PER % | precision | recall | F1 | DER | det. acc. | TA | FR | FA | CD | DE |
|---|---|---|---|---|---|---|---|---|---|---|---|
"""
        + "\n".join(rows(args.exp))
        + f"""

Command: `{args.command}`
Date: {datetime.date.today().isoformat()}
"""
    )
    write_atomic(args.exp / "RESULTS.md", text.encode())
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

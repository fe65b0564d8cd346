"""The L2-ARCTIC recipe's results table: PER and MDD scores of each scored system, into EXP/RESULTS.md.

Reads ``EXP/decode/<system>/test/{mdd/mdd.json,per/per.json}`` as stage 5 writes them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
from asr.results import publish, read_json, results_page, table_row  # noqa: E402

SYSTEMS = (("supervised", "stage 3: CTC (labels only)"), ("online_ensemble", "stage 4: + online ensemble"))
RATES = ("precision", "recall", "f1", "der", "detection_accuracy")


def rows(exp: Path) -> list[str]:
    out = []
    for system, label in SYSTEMS:
        folder = exp / "decode" / system / "test"
        m, per = read_json(folder / "mdd" / "mdd.json"), read_json(folder / "per" / "per.json")
        if m is None or per is None:
            continue
        rates = (f"{100 * m[k]:.2f}" for k in RATES)
        out.append(
            table_row(label, f"{per['wer']:.2f}", *rates, *(m[k] for k in ("ta", "fr", "fa", "cd", "de")))
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
    measures = ("PER %", "precision", "recall", "F1", "DER", "det. acc.", "TA", "FR", "FA", "CD", "DE")
    text = f"""# L2-ARCTIC mispronunciation detection and diagnosis ({args.exp.name})

Test: the annotated utterances of TLV, NJS, TNI, TXHC, ZHAA, YKWK (greedy CTC decoding). Training: {training};
stage 3 init: {args.init}; stage 4 adds the unannotated utterances of the 18 training speakers.
PER: against the perceived phones; precision / recall / F1 / DER / detection accuracy in %, and the counts,
by `asr score mdd` (the L2-ARCTIC convention; details in decode/<system>/test/mdd/alignment.txt).

"""
    page = results_page(text, ("system", *measures), rows(args.exp), args.command)
    publish(page, args.exp / "RESULTS.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

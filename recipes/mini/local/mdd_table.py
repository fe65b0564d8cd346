"""Collect stage 10's MDD scores into one table: every phone recogniser on the held-out L2 speakers.

Reads ``MDD_DIR/scores/<system>/mdd.json`` (``asr score mdd --out-dir``), prints a Markdown table, writes it
to ``MDD_DIR/mdd_table.md`` and, with ``--results``, into RESULTS.md's "mdd" section.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
from asr.files import write_atomic  # noqa: E402
from asr.results import update_section  # noqa: E402

# system (folder name) → (what it was trained on, pseudo-labels?) in the order the table lists them
SYSTEMS = {
    "baseline": ("L2 labels, from scratch", "no"),
    "continued": ("L2 labels, +N updates (round 1's control)", "no"),
    "nst-gen1": ("L2 labels + noisy student gen 1", "yes"),
    "nst-gen2": ("L2 labels + noisy student gen 2", "yes"),
    "online-ensemble": ("L2 labels + online ensemble", "yes"),
    "round2-continued": ("from the control: L2 labels, +N updates", "no"),
    "round2-nst-gen1": ("from the control: + noisy student gen 1", "yes"),
    "round2-online-ensemble": ("from the control: + online ensemble", "yes"),
    "native": ("from the control: L2 labels + native speech", "no"),
    "native-online": ("from the control: L2 + native labels + online ensemble", "yes"),
}


def rows(scores_dir: Path) -> list[str]:
    found = {p.parent.name: json.loads(p.read_text()) for p in sorted(scores_dir.glob("*/mdd.json"))}
    order = [s for s in SYSTEMS if s in found] + sorted(set(found) - set(SYSTEMS))
    lines = [
        "| system | trained on | pseudo-labels | PER % | precision | recall | F1 | DER | TA | FR | FA | CD | DE |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for system in order:
        m = found[system]
        what, pseudo = SYSTEMS.get(system, ("?", "?"))
        lines.append(
            f"| {system} | {what} | {pseudo} | {100 * m['per']:.1f} | {m['precision']:.3f} | {m['recall']:.3f} "
            f"| {m['f1']:.3f} | {m['der']:.3f} | {m['ta']} | {m['fr']} | {m['fa']} | {m['cd']} | {m['de']} |"
        )
    return lines


def table(mdd_dir: Path, preset: str) -> str:
    lines = [
        f"## Mispronunciation detection and diagnosis (`recipes/mini`, {preset} preset)",
        "",
        "Command: `bash recipes/mini/run.sh` (stage 10 makes this table from stages 8-10's phone recognisers; "
        "`--stage 10` rescores).  ",
        f"Date: {datetime.date.today().isoformat()}; machine: {os.cpu_count()} CPU cores "
        f"({platform.processor() or platform.machine()}); xs encoder (fbank + Conformer, ~4 M parameters).",
        "",
        "Test: the annotated utterances of the six standard held-out L2-ARCTIC speakers (TLV NJS TNI TXHC ZHAA "
        "YKWK) of the synthetic corpus; canonical and perceived phones from its annotations (`asr mdd reference`). "
        "Greedy phone recognition, scored by `asr score mdd` (the convention of the scripts published with "
        "cageyoko/CTC-Attention-Mispronunciation, which reproduces their published counts: "
        "`tests/test_mdd.py`). Rates are fractions except PER. Every system after `baseline` trains for the "
        "same number of updates with `conf/semi_phones.yaml`; `native*` add LibriSpeech's labelled split "
        "(words turned into phones by CMUdict) to the L2 labels.",
        "",
        *rows(mdd_dir / "scores"),
        "",
        "Per-system details (alignment per utterance, confusion matrix PNG): `exp/<tag>/mdd/scores/<system>/`.",
        "",
        "Published on the real corpus, for scale (not reproduced here: real L2 speech, not espeak-ng): "
        "the CNN-RNN-CTC baseline of Fu et al. 2021, F1 0.493 (reproduced from its output in `tests/test_mdd.py`); "
        "wav2vec 2.0-class CTC phone recognisers, F1 about 0.57-0.61 at PER 14-16 % (e.g. Peng et al. 2021, "
        "Yang et al. 2022); Yang et al. 2022 report +2.48 % F1 from momentum pseudo-labels on unlabelled L2 "
        "speech.",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mdd-dir", type=Path, required=True, help="exp/<tag>/mdd")
    parser.add_argument("--preset", default="mini")
    parser.add_argument("--results", type=Path, help="Also write the table into this file's 'mdd' section.")
    args = parser.parse_args()
    text = table(args.mdd_dir, args.preset)
    write_atomic(args.mdd_dir / "mdd_table.md", text.encode())
    if args.results:
        update_section(args.results, "mdd", text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

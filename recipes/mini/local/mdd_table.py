"""Collect stage 10's MDD scores into one table: every phone recogniser on the held-out L2 speakers.

Reads ``MDD_DIR/scores/<system>/mdd.json`` (``asr score mdd --out-dir``), prints a Markdown table, writes it
to ``MDD_DIR/mdd_table.md`` and, with ``--results``, into RESULTS.md's "mdd" section.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
from asr.results import date_line, machine, publish, read_json, table_head, table_row  # noqa: E402

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


def scores(scores_dir: Path) -> dict[str, dict]:
    """system -> its ``mdd.json`` (``asr score mdd --out-dir scores/<system>``)."""
    return {p.parent.name: read_json(p) for p in sorted(scores_dir.glob("*/mdd.json"))}


def rows(scores_dir: Path) -> list[str]:
    found = scores(scores_dir)
    order = [s for s in SYSTEMS if s in found] + sorted(set(found) - set(SYSTEMS))
    measures = ("PER %", "precision", "recall", "F1", "DER", "TA", "FR", "FA", "CD", "DE")
    lines = table_head("system", "trained on", "pseudo-labels", *measures)
    for system in order:
        m = found[system]
        rates = (f"{100 * m['per']:.1f}", *(f"{m[k]:.3f}" for k in ("precision", "recall", "f1", "der")))
        counts = (m[k] for k in ("ta", "fr", "fa", "cd", "de"))
        lines.append(table_row(system, *SYSTEMS.get(system, ("?", "?")), *rates, *counts))
    return lines


def table(mdd_dir: Path, preset: str) -> str:
    lines = [
        f"## Mispronunciation detection and diagnosis (`recipes/mini`, {preset} preset)",
        "",
        "Command: `bash recipes/mini/run.sh` (stage 10 makes this table from stages 8-10's phone recognisers; "
        "`--stage 10` rescores).  ",
        date_line(f"machine: {machine()}", "xs encoder (fbank + Conformer, ~4 M parameters)."),
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
        "the other systems, each with its source, are in RESULTS.md T3 (`recipes/mini/local/published.json`).",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mdd-dir", type=Path, required=True, help="exp/<tag>/mdd")
    parser.add_argument("--preset", default="mini")
    parser.add_argument("--results", type=Path, help="Also write the table into this file's 'mdd' section.")
    args = parser.parse_args()
    publish(table(args.mdd_dir, args.preset), args.mdd_dir / "mdd_table.md", args.results, "mdd")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

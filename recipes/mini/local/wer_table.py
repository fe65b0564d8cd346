"""Collect stage 6's scores into one WER table: split x initial encoder x decoder, dev-clean and test-clean.

Reads ``DECODE_DIR/<split>/<init>/<method>/<part>/{wer.json,hyp.timing.json,hyp.tune.json}`` as the recipe
writes them, prints a Markdown table and writes it to ``--out`` and, with ``--results``, into that file's
``recipes/mini`` section (RESULTS.md). The commands that made each number are in the table's notes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
from asr.results import (  # noqa: E402
    MISSING,
    date_line,
    fmt,
    machine,
    publish,
    read_json,
    subfolders,
    table_head,
    table_row,
    weights,
)

METHODS = ("greedy", "beam", "wfst")
PARTS = ("dev-clean", "test-clean")
INITS = ("scratch", "wav2vec2", "hubert", "data2vec", "data2vec2")
SPLITS = ("10min", "1h", "10h")


def collect(decode_dir: Path) -> list[dict]:
    """One row per (split, init): WER per method and part, tuned weights, search real-time factors."""
    rows = []
    for split_dir in subfolders(decode_dir, SPLITS):
        for init_dir in subfolders(split_dir, INITS):
            row: dict = {"split": split_dir.name, "init": init_dir.name, "wer": {}, "params": {}, "rtf": {}}
            for method in METHODS:
                for part in PARTS:
                    scored = read_json(init_dir / method / part / "wer.json")
                    if scored is not None:
                        row["wer"][(method, part)] = scored
                    timing = read_json(init_dir / method / part / "hyp.timing.json")
                    if timing is not None and part == "test-clean":
                        row["rtf"][method] = timing.get("search_rtf")
                tuned = read_json(init_dir / method / "dev-clean" / "hyp.tune.json")
                if tuned is not None:
                    row["params"][method] = tuned.get("best", {})
            if row["wer"]:
                rows.append(row)
    return rows


def cell(row: dict, method: str, part: str) -> str:
    scored = row["wer"].get((method, part))
    return fmt(scored["wer"] if scored else None)


def _params(row: dict) -> str:
    return "; ".join(f"{method}: {weights(params)}" for method, params in row["params"].items()) or MISSING


def table(rows: list[dict], preset: str, decode_dir: Path) -> str:
    words = {
        part: next(
            (r["wer"][m, part]["ref_words"] for r in rows for m in METHODS if (m, part) in r["wer"]), 0
        )
        for part in PARTS
    }
    lines = [
        f"## Fine-tuned CTC: WER (%) by decoder (`recipes/mini`, {preset} preset)",
        "",
        "Command: `bash recipes/mini/run.sh` (stages 3-6 write this table; "
        "`bash recipes/mini/run.sh --stage 6` rescores).  ",
        date_line(
            f"machine: {machine()}. Synthetic espeak-ng LibriSpeech: dev-clean {words['dev-clean']} words, "
            f"test-clean {words['test-clean']} words",
            "fine-tuning on the synthetic Libri-light splits",
            "xs encoder (fbank + Conformer, ~4 M parameters), character CTC.",
        ),
        "",
        *table_head(
            "split",
            "encoder init",
            *(f"{name} {part}" for name in ("greedy", "LM beam", "WFST") for part in ("dev", "test")),
            "weights (tuned on dev)",
            "search RTF (test: greedy / beam / WFST)",
        ),
    ]
    for r in rows:
        rtf = " / ".join(fmt(r["rtf"].get(m), ".4f") for m in METHODS)
        cells = (cell(r, m, p) for m in METHODS for p in PARTS)
        lines.append(table_row(r["split"], r["init"], *cells, _params(r), rtf))
    lines += [
        "",
        "Per decoder, the commands stage 6 runs (DIR = `exp/<tag>/decode/<split>/<init>/<method>`):",
        "",
        "```",
        "asr decode --method greedy --model ctc_model.pt --cuts dev-clean --out DIR/dev-clean/hyp.txt",
        "asr decode --method beam --lm lang/lm --model ctc_model.pt --cuts dev-clean --out DIR/dev-clean/hyp.txt "
        "--tune",
        "asr decode --method beam --lm lang/lm --model ctc_model.pt --cuts test-clean --out DIR/test-clean/hyp.txt "
        "--params DIR/dev-clean/hyp.tune.json",
        "asr decode --method wfst ... (as beam)",
        "asr score wer --ref cuts --hyp DIR/PART/hyp.txt --out-dir DIR/PART --name PART --json",
        "```",
        "",
        "LM: 3-gram from the synthetic LibriSpeech LM text (train-pool sentences only; dev/test sentences never "
        "occur in it, so the LM knows their words but not the sentences). Dev-clean WER of beam/WFST is the "
        "tuned one (optimistic); test-clean uses dev's weights. Search RTF: search seconds per audio second, "
        "network excluded (`bench/finetune.py` has the full decoding RTF).",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--decode-dir", type=Path, required=True)
    parser.add_argument("--preset", default="mini")
    parser.add_argument("--out", type=Path, help="Markdown file (default: DECODE_DIR/wer_table.md).")
    parser.add_argument("--results", type=Path, help="Also update this file's recipes/mini section.")
    args = parser.parse_args(argv)
    rows = collect(args.decode_dir)
    if not rows:
        print(f"{args.decode_dir}: no scores found (run stage 6 first)", file=sys.stderr)
        return 2
    text = table(rows, args.preset, args.decode_dir)
    out = args.out or args.decode_dir / "wer_table.md"
    publish(text, out, args.results, f"recipes/mini ({args.preset})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The Libri-light recipe's results table: WER of every fine-tuned model and decoder, into EXP/RESULTS.md.

Reads ``EXP/decode/<encoder>/<split>/<method>/<part>/score/wer.json`` and the LM weights tuned on dev-clean
(``.../beam/dev-clean/hyp.tune.json``) as stage 6 writes them; each run of the recipe with another
``--objective`` adds its rows.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
import yaml  # noqa: E402

from asr.results import fmt, publish, read_json, results_page, subfolders, table_row, weights  # noqa: E402

PARTS = ("dev-clean", "dev-other", "test-clean", "test-other")
# the papers' order of each folder level; anything else (an --init encoder) after them
ENCODERS = ("wav2vec2", "hubert", "data2vec", "data2vec2")
SPLITS = ("10min", "1h", "10h")
METHODS = ("greedy", "beam")


def rows(decode: Path) -> list[str]:
    out = []
    for encoder in subfolders(decode, ENCODERS) if decode.is_dir() else []:
        for split in subfolders(encoder, SPLITS):
            for method in subfolders(split, METHODS):
                scores = [read_json(method / part / "score" / "wer.json") for part in PARTS]
                if not any(scores):
                    continue
                cells = (fmt(s["wer"] if s else None, ".2f") for s in scores)
                tuned = (read_json(method / "dev-clean" / "hyp.tune.json") or {}).get("best", {})
                out.append(table_row(encoder.name, split.name, method.name, *cells, weights(tuned)))
    return out


def starts(exp: Path) -> str:
    """Each encoder's starting point as its fine-tuning recorded it (finetune.yaml's init), for the notes."""
    found: dict[str, str] = {}
    for record in sorted((exp / "finetune").glob("*/*/finetune.yaml")):
        init = (yaml.safe_load(record.read_text(encoding="utf-8")) or {}).get("init")
        found.setdefault(record.parent.parent.name, str(init))
    return "; ".join(f"{name}: `{init}`" for name, init in found.items()) or "–"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--exp", type=Path, required=True, help="exp/<tag>")
    parser.add_argument("--command", required=True, help="The recipe command that made the results.")
    parser.add_argument("--units", default="char", help="The CTC output units (the tokenizer's folder name).")
    parser.add_argument("--lm", help="The LM that beam search used.")
    args = parser.parse_args()
    beam = (
        (
            f"beam: lexicon beam search with {args.lm}, its weights tuned on dev-clean and used as they are "
            "on the other parts.\n"
        )
        if args.lm
        else ""
    )
    text = f"""# Libri-light limited supervision ({args.exp.name})

Word error rates (%) on LibriSpeech by pretrained encoder and Libri-light labelled split; CTC on {args.units} units.
greedy: the best path. {beam}Details per part in decode/<encoder>/<split>/<method>/<part>/score/.
Fine-tuned from: {starts(args.exp)}.

"""
    columns = ("encoder", "split", "decoding", *PARTS, "LM weights")
    publish(results_page(text, columns, rows(args.exp / "decode"), args.command), args.exp / "RESULTS.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The Libri-light recipe's results table: WER of every fine-tuned model and decoder, into EXP/RESULTS.md.

Reads ``EXP/decode/<encoder>/<split>/<method>/<part>/score/wer.json`` and the LM weights tuned on dev-clean
(``.../beam/dev-clean/hyp.tune.json``) as stage 6 writes them; each run of the recipe with another
``--objective`` adds its rows.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
import yaml  # noqa: E402

from asr.files import write_atomic  # noqa: E402

PARTS = ("dev-clean", "dev-other", "test-clean", "test-other")
ORDER = {  # papers' order; anything else (an --init encoder) after them
    "encoder": ("wav2vec2", "hubert", "data2vec", "data2vec2"),
    "split": ("10min", "1h", "10h"),
    "method": ("greedy", "beam"),
}


def _dirs(folder: Path, kind: str) -> list[Path]:
    """The subfolders of ``folder`` in the papers' order of ``kind`` (anything else, e.g. ``init``, last)."""
    known = ORDER[kind]
    found = (p for p in folder.iterdir() if p.is_dir())
    return sorted(found, key=lambda p: (known.index(p.name) if p.name in known else len(known), p.name))


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def rows(decode: Path) -> list[str]:
    out = []
    for encoder in _dirs(decode, "encoder") if decode.is_dir() else []:
        for split in _dirs(encoder, "split"):
            for method in _dirs(split, "method"):
                scores = {part: _read(method / part / "score" / "wer.json") for part in PARTS}
                if not any(scores.values()):
                    continue
                cells = [f"{s['wer']:.2f}" if s else "–" for s in scores.values()]
                tuned = (_read(method / "dev-clean" / "hyp.tune.json") or {}).get("best", {})
                weights = ", ".join(f"{k}={v:g}" for k, v in tuned.items()) or "–"
                out.append(
                    f"| {encoder.name} | {split.name} | {method.name} | {' | '.join(cells)} | {weights} |"
                )
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
    text = (
        f"""# Libri-light limited supervision ({args.exp.name})

Word error rates (%) on LibriSpeech by pretrained encoder and Libri-light labelled split; CTC on {args.units} units.
greedy: the best path. {beam}Details per part in decode/<encoder>/<split>/<method>/<part>/score/.
Fine-tuned from: {starts(args.exp)}.

| encoder | split | decoding | {" | ".join(PARTS)} | LM weights |
|---|---|---|---|---|---|---|---|
"""
        + "\n".join(rows(args.exp / "decode"))
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

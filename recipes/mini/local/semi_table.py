"""Collect stages 7-9's scores into the semi-supervised tables: words (WER) and phones (PER).

Reads ``SEMI_DIR/{words,phones}/decode/<system>/<method>/<part>/wer.json``, each system's training record
(``train_result.json``) and the noisy-student loop's ``generations.json`` as the recipe writes them, prints
Markdown tables, writes them to ``SEMI_DIR/semi_table.md`` and, with ``--results``, into that file's
"semi-supervised" section (RESULTS.md).
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
    table_head,
    table_row,
)

ROUND2 = "round2-"  # stage 8's second round: systems started from round 1's control


def _systems(decode_dir: Path) -> list[str]:
    def order(name: str) -> tuple[int, int, str]:
        round2 = name.startswith(ROUND2)
        base = name[len(ROUND2) :] if round2 else name
        known = ["baseline", "continued"]
        rank = known.index(base) if base in known else (2 if base.startswith("nst") else 3)
        return int(round2), rank, name

    return (
        sorted((p.name for p in decode_dir.iterdir() if p.is_dir()), key=order) if decode_dir.is_dir() else []
    )


def _wer(decode_dir: Path, system: str, method: str, part: str) -> str:
    return fmt(_value(decode_dir, system, method, part))


def _training(task_dir: Path, system: str) -> tuple[str, str]:
    """(what the system trained on, its pseudo-label counts) for the table's last columns."""
    if system.startswith(ROUND2):  # round 2 starts from round 1's control
        what, kept = _training(task_dir / "round2", system[len(ROUND2) :])
        return what.replace("labels only, +N", "labels only, +2N").replace(
            "gen-0 teacher", "the control as teacher"
        ), kept
    if system == "baseline":
        return "labels only", MISSING
    if system == "continued":
        return "labels only, +N updates", MISSING
    if system.startswith("nst-gen"):
        g = int(system[len("nst-gen") :])
        done = read_json(task_dir / "nst" / f"gen{g}" / "done.json") or {}
        kept = done.get("pseudo_labels", {})
        counts = (
            f"{kept['kept']}/{kept['cuts']} kept ({kept['kept_seconds'] / 60:.0f} min)" if kept else MISSING
        )
        return f"labels + gen-{g - 1} teacher's pseudo-labels", counts
    metrics = (read_json(task_dir / "online" / "train_result.json") or {}).get("metrics", {})
    kept = metrics.get("pseudo_label_kept")
    return "labels + momentum pseudo-labels, made on the fly", (
        f"{kept:.0%} kept (last step)" if kept is not None else MISSING
    )


def words_table(task_dir: Path) -> list[str]:
    decode = task_dir / "decode"
    columns = (f"{name} {part}" for name in ("greedy", "LM beam") for part in ("dev", "test"))
    lines = table_head("system", "trained on", *columns, "pseudo-labels")
    for system in _systems(decode):
        what, kept = _training(task_dir, system)
        cells = (_wer(decode, system, m, p) for m in ("greedy", "beam") for p in ("dev-clean", "test-clean"))
        lines.append(table_row(system, what, *cells, kept))
    return lines


def phones_table(task_dir: Path) -> list[str]:
    decode = task_dir / "decode"
    lines = table_head("system", "trained on", "PER dev", "PER test", "pseudo-labels")
    for system in _systems(decode):
        what, kept = _training(task_dir, system)
        lines.append(
            table_row(system, what, *(_wer(decode, system, "greedy", p) for p in ("dev", "test")), kept)
        )
    return lines


def _value(decode_dir: Path, system: str, method: str, part: str) -> float | None:
    scored = read_json(decode_dir / system / method / part / "wer.json")
    return scored["wer"] if scored else None


def differences(task_dir: Path, methods: tuple[str, ...], parts: tuple[str, ...], unit: str) -> str:
    """Each system's error rate minus its round's control (``continued``), in points: negative = better."""
    decode = task_dir / "decode"
    out = []
    for system in _systems(decode):
        if system in ("baseline", "continued", ROUND2 + "continued"):
            continue
        reference = ROUND2 + "continued" if system.startswith(ROUND2) else "continued"
        deltas = []
        for method in methods:
            for part in parts:
                mine, control = _value(decode, system, method, part), _value(decode, reference, method, part)
                if mine is not None and control is not None:
                    deltas.append(f"{method} {part} {mine - control:+.1f}")
        if deltas:
            out.append(f"{system}: " + ", ".join(deltas))
    return f"{unit} minus the control's, in points (negative: better than labels alone): " + (
        "; ".join(out) or MISSING
    )


def speeds(task_dir: Path) -> str:
    parts = []
    for name in ("continued", "online"):
        record = read_json(task_dir / name / "train_result.json")
        if record:
            parts.append(f"{name} {record['audio_seconds_per_second']:.1f}")
    summary = read_json(task_dir / "nst" / "gen1" / "pseudo" / "summary.json")
    if summary and summary.get("audio_seconds_per_second"):
        parts.append(f"pseudo-labelling (gen 1 teacher) {summary['audio_seconds_per_second']:.1f}")
    return ", ".join(parts) or MISSING


def table(semi_dir: Path, preset: str, split: str) -> str:
    words, phones = semi_dir / "words", semi_dir / "phones"
    lines = [
        f"## Semi-supervised training (`recipes/mini`, {preset} preset)",
        "",
        "Command: `bash recipes/mini/run.sh` (stages 7-9 make these tables; `--stage 9` rescores).  ",
        date_line(f"machine: {machine()}", "xs encoder (fbank + Conformer, ~4 M parameters)."),
        "",
        f"### Words: {split} of labels + the Libri-light unlabelled set, WER (%)",
        "",
        f"Every system after the baseline continues from it (stage 5's `finetune/{split}/scratch`) with the same "
        "settings (`conf/semi_words.yaml`) and number of updates; they differ only in their training data. "
        "`continued` is the control: the same extra updates on the labels alone, so a semi-supervised gain is "
        "measured against it, not against the shorter-trained baseline. LM beam weights are tuned on dev-clean "
        "per system and applied to test-clean.",
        "",
        *words_table(words),
        "",
        differences(words, ("greedy", "beam"), ("dev-clean", "test-clean"), "WER") + ".",
        "",
        "### Phones: annotated L2-ARCTIC speakers + their unannotated utterances, PER (%)",
        "",
        "Baseline: CTC from random weights on the perceived phones of the annotated utterances of 16 training "
        "speakers (`conf/phones_baseline.yaml`); dev: 2 more annotated speakers; test: the 6 standard held-out "
        "speakers. Greedy decoding (no phone LM); PER against the annotators' perceived phones. Rows "
        "`round2-*` repeat the comparison starting from round 1's control (`continued`), a stronger teacher; "
        "their control is `round2-continued`.",
        "",
        *phones_table(phones),
        "",
        differences(phones, ("greedy",), ("dev", "test"), "PER") + ".",
        "",
        f"Training / pseudo-labelling speed, audio-seconds per second: words: {speeds(words)}; "
        f"phones: {speeds(phones)}.",
        "",
        "Commands (stage 7; stage 8 is the same with the phone tokenizer, L2 cuts and greedy pseudo-labels):",
        "",
        "```",
        "asr finetune --cuts LABELLED --init BASELINE/ctc_model.pt --config conf/semi_words.yaml --exp-dir continued",
        "asr nst --labelled LABELLED --unlabelled librilight_cuts_small --dev dev-clean --teacher BASELINE/ctc_model.pt "
        "--config conf/semi_words.yaml --generations 2 --method beam --lm lang/lm --params TUNED.json "
        "--min-tokens-per-second 2 --max-tokens-per-second 30 --exp-dir nst",
        "asr finetune --semi online-ensemble --cuts LABELLED --unlabelled librilight_cuts_small "
        "--init BASELINE/ctc_model.pt --config conf/semi_words.yaml --exp-dir online",
        "```",
        "",
        "Published, for scale (real speech, far more data and compute; not reproduced here): Zhang et al. 2020, "
        "wav2vec 2.0-pretrained Conformers + noisy student, 1.4 / 2.6 % WER on LibriSpeech test-clean / "
        "test-other; Yang et al. 2022, momentum pseudo-labelling on unlabelled L2 speech: 5.35 % phone error "
        "rate reduction and +2.48 % MDD F1 over the labelled-only baseline.",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--semi-dir", type=Path, required=True, help="exp/<tag>/semi")
    parser.add_argument("--preset", default="mini")
    parser.add_argument("--split", default="1h", help="The labelled split of the word systems.")
    parser.add_argument("--results", type=Path, help="Also write the tables into this file's section.")
    args = parser.parse_args()
    if not args.semi_dir.is_dir():
        print(f"{args.semi_dir}: no such folder (run stages 7-9 first)", file=sys.stderr)
        return 2
    text = table(args.semi_dir, args.preset, args.split)
    key = f"recipes/mini semi-supervised ({args.preset})"
    publish(text, args.semi_dir / "semi_table.md", args.results, key)
    return 0


if __name__ == "__main__":
    sys.exit(main())

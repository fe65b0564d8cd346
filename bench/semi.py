"""Semi-supervised training's costs on this machine (not run in CI); one JSON line per figure.

1. **Pseudo-labelling throughput** of ``asr pseudo-label``: audio seconds per wall second (network and
   search, audio reading included) with greedy and LM-beam teachers, on ``--unlabelled`` cuts.
2. **Online-ensemble step cost**: ``asr finetune`` for ``--steps`` updates, plain (labels only) and with
   ``--semi online-ensemble`` (same model, same labelled cuts, plus unlabelled ones): seconds per update and
   audio-seconds per second of each, and ``extra = online / plain - 1`` per update. The online run's
   updates also carry unlabelled audio (half of it, ``labelled_share`` 0.5), so both figures matter:
   per update it costs the momentum model's forward pass on the unlabelled rows.

Defaults use the mini recipe's data and 1 h model when they exist, and fall back to spoken digits made on
the spot (a model trained for the purpose) so the script runs on a fresh checkout::

    python bench/semi.py                        # prints its figures and appends them to bench/results/semi-DATE.jsonl
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import json
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from asr.results import bench_command, figures, write_figures  # noqa: E402
from bench.finetune import ASR, MINI, MINI_LANG, digits_corpus, run, settings  # noqa: E402

MINI_MODEL = ROOT / "recipes/mini/exp/mini_seed0/finetune/1h/scratch/ctc_model.pt"
CONF = ROOT / "recipes/mini/conf/semi_words.yaml"
# the figures of each kind of measurement, with their units
UNITS = {
    "pseudo_label_throughput": {"cuts": "cuts", "audio_seconds": "audio s", "audio_s_per_s": "audio s/s"},
    "online_ensemble_step_cost": {
        "plain_seconds_per_update": "s/update",
        "online_seconds_per_update": "s/update",
        "extra_per_update": "fraction",
        "plain_audio_s_per_s": "audio s/s",
        "online_audio_s_per_s": "audio s/s",
    },
}


def first_cuts(path: Path, count: int, out: Path) -> Path:
    """The first ``count`` cuts of a manifest, as a new manifest (a quick, reproducible subset)."""
    lines = gzip.open(path, "rt").read().splitlines()[:count]
    out.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="Teacher / seed ctc_model.pt [mini 1 h scratch model].")
    parser.add_argument("--labelled", type=Path, help="Labelled cuts [mini 1 h split].")
    parser.add_argument(
        "--unlabelled", type=Path, help="Unlabelled cuts [first --recordings of mini Libri-light]."
    )
    parser.add_argument("--recordings", type=int, default=20, help="Libri-light recordings pseudo-labelled.")
    parser.add_argument("--lm", type=Path, help="`asr lm build` folder for the beam teacher [mini's].")
    parser.add_argument("--steps", type=int, default=30, help="Updates timed in each fine-tuning run.")
    parser.add_argument("--work", type=Path, help="Scratch folder (default: a temporary one).")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results" / f"semi-{datetime.date.today()}.jsonl"
    )
    args = parser.parse_args(argv)

    work = args.work or Path(tempfile.mkdtemp(prefix="bench-semi-"))
    work.mkdir(parents=True, exist_ok=True)
    command = bench_command(__file__, sys.argv[1:] if argv is None else argv)
    found: list[dict] = []
    model, labelled, lm = args.model, args.labelled, args.lm
    unlabelled = args.unlabelled
    if model is None and MINI_MODEL.exists():
        model, labelled = MINI_MODEL, labelled or MINI / "librispeech_finetuning_cuts_1h.jsonl.gz"
        unlabelled = unlabelled or first_cuts(
            MINI / "librilight_cuts_small.jsonl.gz", args.recordings, work / "unlabelled.jsonl.gz"
        )
        lm = lm or MINI_LANG / "lm"
    elif model is None:  # fresh checkout: digits, a quickly trained teacher, an LM of the training text
        digits = digits_corpus(work)
        labelled, unlabelled = labelled or digits["train"], unlabelled or digits["test"]
        run([*ASR, "tokenizer", "train", "--kind", "char", "--out", str(work / "chars")])
        run(
            [
                *ASR,
                "finetune",
                "--cuts",
                str(labelled),
                "--tokenizer",
                str(work / "chars"),
                "--exp-dir",
                str(work / "teacher"),
                "--max-steps",
                "100",
                "--no-progress",
            ]
        )
        model = work / "teacher" / "ctc_model.pt"
        lm = lm or work / "lm"
        run([*ASR, "lm", "build", "--text", str(labelled), "--order", "3", "--out", str(lm)])

    for method in ("greedy", "beam"):
        out = work / "pl" / method
        extra = ["--lm", str(lm), "--beam-size", "20"] if method == "beam" else []
        run(
            [
                *ASR,
                "pseudo-label",
                "--model",
                str(model),
                "--cuts",
                str(unlabelled),
                "--out-dir",
                str(out),
                "--method",
                method,
                *extra,
                "--no-progress",
            ]
        )
        summary = json.loads((out / "summary.json").read_text())
        # the unlabelled cuts are a temporary file (the first --recordings of Libri-light): not a setting
        found += figures(
            "pseudo_label_throughput",
            {
                "cuts": summary["cuts"],
                "audio_seconds": summary["seconds"],
                "audio_s_per_s": summary["audio_seconds_per_second"],
            },
            UNITS["pseudo_label_throughput"],
            {"method": method, "model": str(model)},
            command,
        )

    conf = settings(CONF, args.steps)
    conf_file = work / "semi.yaml"
    conf_file.write_text(yaml.safe_dump(conf))
    from asr.objectives.ctc import load_ctc_model

    tokenizer = str(load_ctc_model(model)[1])  # the model's own tokenizer folder
    timed = {}
    for name, extra in (
        ("plain", []),
        ("online-ensemble", ["--semi", "online-ensemble", "--unlabelled", str(unlabelled)]),
    ):
        exp = work / "ft" / name
        run(
            [
                *ASR,
                "finetune",
                "--cuts",
                str(labelled),
                "--tokenizer",
                tokenizer,
                "--init",
                str(model),
                "--config",
                str(conf_file),
                "--exp-dir",
                str(exp),
                "--no-resume",
                "--no-progress",
                *extra,
            ]
        )
        result = json.loads((exp / "train_result.json").read_text())
        timed[name] = result
    per_step = {k: v["train_seconds"] / v["step"] for k, v in timed.items()}
    found += figures(
        "online_ensemble_step_cost",
        {
            "plain_seconds_per_update": round(per_step["plain"], 3),
            "online_seconds_per_update": round(per_step["online-ensemble"], 3),
            "extra_per_update": round(per_step["online-ensemble"] / per_step["plain"] - 1, 4),
            "plain_audio_s_per_s": round(timed["plain"]["audio_seconds_per_second"], 2),
            "online_audio_s_per_s": round(timed["online-ensemble"]["audio_seconds_per_second"], 2),
        },
        UNITS["online_ensemble_step_cost"],
        {"steps": args.steps, "model": str(model)},
        command,
    )
    write_figures(args.out, found)
    return 0


if __name__ == "__main__":
    sys.exit(main())

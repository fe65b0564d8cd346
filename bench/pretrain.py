"""Compare the self-supervised objectives on this machine at equal wall-clock (not run by CI).

For each objective, a fresh process pretrains the encoder with the mini recipe's settings
(``recipes/mini/conf/pretrain_<objective>.yaml``) on the mini Libri-light cuts for ``--seconds`` of training
wall time, then reports its figures (one JSON line each, with its unit, into
``bench/results/pretrain-DATE.jsonl``): throughput in audio-seconds per wall-second, peak resident memory
of that process, seconds per update, and the loss at the start and at the end (each objective's own loss:
compare how far each fell, not the values across objectives). HuBERT's k-means and labelling (MFCC,
k=100) run first and are timed apart. A table goes into RESULTS.md between this script's markers.

    python bench/pretrain.py                       # all four, 180 s each, 2 threads
    python bench/pretrain.py --seconds 60 --objectives wav2vec2 data2vec2

It needs the mini recipe's manifests: ``bash recipes/mini/run.sh --stop-stage 1``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from a checkout
from asr.results import (  # noqa: E402
    bench_command,
    date_line,
    figures,
    machine,
    read_jsonl,
    update_section,
    write_figures,
)

OBJECTIVES = ("wav2vec2", "hubert", "data2vec", "data2vec2")
DEFAULT_CUTS = ROOT / "recipes/mini/data/manifests/mini_seed0/librilight_cuts_small.jsonl.gz"
RAW = ROOT / "bench" / "results" / f"pretrain-{datetime.date.today().isoformat()}.jsonl"
#: what tells one run's figures apart from another's
SETTING = ("objective", "model", "frontend", "body", "max_duration", "threads")
UNITS = {
    "encoder_params": "params",
    "trained_params": "params",
    "steps": "updates",
    "train_seconds": "s",
    "audio_seconds": "audio s",
    "audio_s_per_s": "audio s/s",
    "seconds_per_step": "s/update",
    "peak_rss_mib": "MiB",
    "loss_start": "loss",
    "loss_end": "loss",
    "prep_seconds": "s",
}
#: the units of the objectives' own last-update metrics (``final_metrics``); any other has none
METRIC_UNITS = {
    "contrastive_loss": "loss",
    "diversity_loss": "loss",
    "feature_penalty": "loss",
    "masked_loss": "loss",
    "accuracy": "fraction",
    "masked_accuracy": "fraction",
    "unmasked_accuracy": "fraction",
    "mask_share": "fraction",
    "masked_frac": "fraction",
    "visible_frac": "fraction",
    "code_perplexity": "codes",
    "prob_perplexity": "codes",
    "target_var": "variance",
    "pred_var": "variance",
}


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def run_one(
    objective: str, cuts_path: Path, seconds: float, threads: int, work: Path, overrides: list[str]
) -> dict:
    """Pretrain ``objective`` for ``seconds`` of training time in this process; the measurements as a dict.

    ``overrides`` are ``section.field=value`` strings (YAML values) applied over the recipe's settings.
    """
    import torch

    torch.set_num_threads(threads)
    from asr.data.dataset import pretraining_cuts
    from asr.models import count_parameters
    from asr.training import train
    from asr.training.pretrain import build_pretraining, read_settings

    cuts = pretraining_cuts(cuts_path)
    settings = read_settings(ROOT / "recipes/mini/conf" / f"pretrain_{objective}.yaml")
    for item in overrides:
        key, _, value = item.partition("=")
        section, _, name = key.partition(".")
        settings[section][name] = yaml.safe_load(value)
    prep_seconds = 0.0
    if objective == "hubert":
        from asr.objectives.kmeans import MfccFeaturizer, fit_kmeans, label_cuts
        from asr.training.pretrain import build_model

        start = time.perf_counter()
        featurizer = MfccFeaturizer(build_model(settings["model"]))  # labels for this encoder's frames
        kmeans = fit_kmeans(cuts, featurizer, k=100)
        cuts = label_cuts(cuts, featurizer, kmeans.cluster_centers_, work / "labels")
        prep_seconds = time.perf_counter() - start
        settings["objective"]["num_clusters"] = 100
    # A long nominal schedule: the learning rate warms up as in the recipe and then barely decays, the same
    # for every objective; the wall-clock budget ends the run.
    settings["train"].update(
        exp_dir=str(work / "exp"),
        max_steps=100_000,
        max_seconds=seconds,
        checkpoint_every=100_000,
        progress=False,
        device="cpu",
    )
    objective_module, cfg = build_pretraining(objective, settings)
    result = train(objective_module, cuts, cfg, resume=False)
    steps = sorted(result.losses)
    head, tail = max(1, min(5, len(steps) // 5)), max(1, min(10, len(steps) // 5))
    return {
        "objective": objective,
        "model": settings["model"].get("size", "xs"),
        "frontend": objective_module.encoder.cfg.frontend,
        "body": objective_module.encoder.cfg.body,
        "encoder_params": count_parameters(objective_module.encoder),
        "trained_params": sum(p.numel() for p in objective_module.parameters() if p.requires_grad),
        "max_duration": cfg.max_duration,
        "threads": threads,
        "steps": result.step,
        "train_seconds": round(result.train_seconds, 1),
        "audio_seconds": round(result.audio_seconds, 1),
        "audio_s_per_s": round(result.audio_seconds / result.train_seconds, 2),
        "seconds_per_step": round(result.train_seconds / max(result.step, 1), 3),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "loss_start": round(_mean([result.losses[s] for s in steps[:head]]), 4),
        "loss_end": round(_mean([result.losses[s] for s in steps[-tail:]]), 4),
        "prep_seconds": round(prep_seconds, 1),
        "final_metrics": {k: round(v, 4) for k, v in result.metrics.items()},
    }


# What says an objective is learning more than its loss does: prediction accuracy (against chance:
# 1/101 for wav2vec 2.0's 100 distractors, the label prior for HuBERT), or the spread of the regression
# targets and predictions (a collapsed teacher gives targets of near-zero variance).
SIGNALS = {
    "wav2vec2": ("accuracy", "contrastive_loss"),
    "hubert": ("masked_accuracy", "masked_loss"),
    "data2vec": ("target_var", "pred_var"),
    "data2vec2": ("target_var", "pred_var"),
}


def _signal(row: dict) -> str:
    metrics = row.get("final_metrics", {})
    shown = [f"{k} {metrics[k]:.3g}" for k in SIGNALS.get(row["objective"], ()) if k in metrics]
    return ", ".join(shown) or "-"


def row_figures(row: dict, command: str) -> list[dict]:
    """One objective's measurements (:func:`run_one`) as figures, each with its unit."""
    units = {**UNITS, **{f"final_metrics.{k}": METRIC_UNITS.get(k, "") for k in row.get("final_metrics", {})}}
    values = {k: v for k, v in row.items() if k not in SETTING}
    return figures("pretrain", values, units, {k: row[k] for k in SETTING}, command)


def rows_of(found: list[dict]) -> list[dict]:
    """The measurements of each run (setting) back from its figures, as :func:`run_one` returned them."""
    rows: dict[str, dict] = {}
    for f in found:
        row = rows.setdefault(json.dumps(f["setting"], sort_keys=True), dict(f["setting"]))
        *outer, name = f["figure"].split(".")
        for part in outer:
            row = row.setdefault(part, {})
        row[name] = f["value"]
    return list(rows.values())


def _table(rows: list[dict], command: str, args: argparse.Namespace) -> str:
    by = {r["objective"]: r for r in rows}
    lines = [
        "## Pretraining objectives at equal wall-clock (`bench/pretrain.py`)",
        "",
        f"Command: `{command}`  ",
        date_line(f"machine: {machine()}, {args.threads} torch threads")
        + f"; {args.seconds:g} s of training per objective on `{args.cuts.name}`.",
        "",
        "| objective | encoder params | audio s / s | s / update | audio s / update | peak RSS (MiB) "
        "| updates | loss start → end | last update's signal | k-means + labels (s) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['objective']} | {r['encoder_params'] / 1e6:.2f} M | {r['audio_s_per_s']:.1f} | "
            f"{r['seconds_per_step']:.2f} | {r['audio_seconds'] / max(r['steps'], 1):.0f} | "
            f"{r['peak_rss_mib']:.0f} | {r['steps']} | {r['loss_start']:.3f} → {r['loss_end']:.3f} | "
            f"{_signal(r)} | {r['prep_seconds']:.0f} |".replace("| 0 |", "| – |")
        )
    if "data2vec2" in by:
        ratios = [
            f"{by['data2vec2']['audio_s_per_s'] / by[o]['audio_s_per_s']:.2f}× {o}'s"
            for o in ("data2vec", "wav2vec2")
            if o in by
        ]
        if ratios:
            lines += [
                "",
                f"data2vec 2.0 reads audio at {' and '.join(ratios)} rate here (each second encoded by "
                "the student once per masked copy, half its frames each, and by the teacher once). Its "
                "paper reports reaching wav2vec 2.0's accuracy in ~10.6× less pretraining time on "
                "LibriSpeech (GPU, BASE): that speed-up is mostly fewer updates to a given accuracy, "
                "which this throughput table cannot show; the fine-tuning tables will.",
            ]
    lines += [
        "",
        "Losses are each objective's own (contrastive + diversity, cross-entropy, regression): compare "
        "how far each fell, not values across rows. Chance levels for the signals: wav2vec 2.0 accuracy "
        "1/101 ≈ 0.0099 (contrastive loss ln 101 ≈ 4.62); HuBERT masked loss ln 100 ≈ 4.61 with uniform "
        "labels; data2vec targets are instance-normalised, a collapsed teacher would drive target_var "
        "towards 0.",
        "",
        f"Raw JSON lines: `{args.rows or RAW.relative_to(ROOT)}`.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objectives", nargs="+", choices=OBJECTIVES, default=list(OBJECTIVES))
    parser.add_argument("--cuts", type=Path, default=DEFAULT_CUTS, help="Unlabelled cut manifest.")
    parser.add_argument("--seconds", type=float, default=180.0, help="Training wall time per objective.")
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--results", type=Path, default=ROOT / "RESULTS.md", help="Where the table goes.")
    parser.add_argument("--no-results", action="store_true", help="Print JSON lines only.")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.FIELD=VALUE",
        help="Override a recipe setting, e.g. --set model.frontend=fbank (repeatable).",
    )
    parser.add_argument(
        "--rows",
        type=Path,
        help="Write the table from the figures (JSON lines) this script wrote before "
        "(and the command that measured them, --command), without measuring again.",
    )
    parser.add_argument(
        "--command", default="python bench/pretrain.py", help="With --rows: the measuring command."
    )
    parser.add_argument("--child", choices=OBJECTIVES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rows:
        rows = rows_of(read_jsonl(args.rows))
        update_section(args.results, "bench/pretrain.py", _table(rows, args.command, args))
        return 0
    if not args.cuts.is_file():
        print(
            f"error: {args.cuts} not found; make it with: bash recipes/mini/run.sh --stop-stage 1",
            file=sys.stderr,
        )
        return 2
    if args.child:  # one objective in this (fresh) process, so that its peak memory is its own
        with tempfile.TemporaryDirectory(prefix=f"bench-{args.child}-") as work:
            row = run_one(args.child, args.cuts, args.seconds, args.threads, Path(work), args.overrides)
        print(json.dumps(row), flush=True)
        return 0
    command = bench_command(__file__, sys.argv[1:] if argv is None else argv)
    rows, found = [], []
    for objective in args.objectives:
        cmd = [
            sys.executable,
            __file__,
            "--child",
            objective,
            "--cuts",
            str(args.cuts),
            "--seconds",
            str(args.seconds),
            "--threads",
            str(args.threads),
        ]
        cmd += [f"--set={item}" for item in args.overrides]
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            print(f"error: {objective} failed (exit {proc.returncode})", file=sys.stderr)
            return 1
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        rows.append(row)
        measured = row_figures(row, command)
        write_figures(None, measured)
        found += measured
    write_figures(RAW, found, append=False, echo=False)  # this run's figures replace the day's earlier ones
    if not args.no_results:
        update_section(args.results, "bench/pretrain.py", _table(rows, command, args))
        print(f"table written to {args.results}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Tabulate recipes/mini/local/experiments.sh's runs into docs/LEARNING.md (never by hand).

Pretraining runs: the probe's PER of every checkpoint they kept and of their final encoder (against random
weights); fine-tuning runs: their dev-clean learning curve (greedy CER every 100 updates) and final dev loss.

    python recipes/mini/local/experiments_table.py [--exp recipes/mini/exp/mini_seed0] [--doc docs/LEARNING.md]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path[:0] = [str(ROOT), str(HERE)]

from curves import save_png, valid_curve  # noqa: E402

from asr.results import MISSING, read_json, table_head, table_row, update_section  # noqa: E402

FIRST_SPEAKERS = "first-speakers"  # runs whose dev subsets were a manifest's first cuts (2-4 speakers)


def pretraining_rows(runs: Path) -> list[str]:
    random = read_json(runs / "probe-random" / "probe.json")
    base = random["per"] if random else None
    lines = table_head(
        "experiment",
        "objective",
        "updates × batch",
        "probe PER along the run (updates: PER %)",
        "final probe PER",
        "vs random weights",
    )
    if random:
        lines.append(table_row("probe-random", MISSING, 0, MISSING, _per(random), MISSING))
    for run in sorted(runs.glob("pretrain-*")):
        final = read_json(run / "probe" / "probe.json")
        along = []
        for probe in run.glob("probe-*/probe.json"):
            step = int(probe.parent.name.split("-", 1)[1])
            along.append((step, _per(read_json(probe))))
        along.sort()
        settings = _read_yaml(run / "pretrain.yaml")
        train = settings.get("train", {})
        shape = f"{train.get('max_steps', '?')} × {train.get('max_duration', '?'):g} s" if train else "?"
        curve = ", ".join(f"{s}: {p}" for s, p in along) or MISSING
        if not final and along:
            curve += f" (stopped at {along[-1][0]})"
        per = _per(final) if final else MISSING
        versus = f"{final['per'] - base:+.1f}" if final and base is not None else MISSING
        lines.append(table_row(run.name, settings.get("objective", "?"), shape, curve, per, versus))
    return lines


def _per(probe: dict) -> str:
    """A probe's PER; † marks probes from before the dev subset heard every speaker (no ``dev_speakers``)."""
    return f"{probe['per']:.1f}" + ("" if probe.get("dev_speakers") else " †")


def _read_yaml(path: Path) -> dict:
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def finetuning_rows(runs: Path) -> list[str]:
    lines = table_head(
        "experiment",
        "init",
        "updates × batch, lr",
        "dev-clean greedy CER along the run (every 100 updates)",
        "final CER / WER",
        "final dev loss",
    )
    for run in sorted(runs.glob("finetune-*")):
        if not (run / "valid.jsonl").is_file():
            continue
        curve = valid_curve(run)
        settings = _read_yaml(run / "finetune.yaml")
        train = settings.get("train", {})
        init = Path(settings["init"]).parent.name if settings.get("init") else "random"
        extra = " + speed perturbation" if settings.get("speed_perturb") else ""
        shape = f"{train.get('max_steps')} × {train.get('max_duration'):g} s, {train.get('lr'):g}{extra}"
        last = curve[-1]
        shown = " ".join(f"{p['cer']:.0f}" for p in curve)
        if last["step"] < train.get("max_steps", 0):
            shown += f" (stopped at {last['step']})"
        final = f"{last['cer']:.1f} / {last['wer']:.1f}"
        lines.append(table_row(run.name, init, shape, shown, final, f"{last['loss']:.2f}"))
    return lines


def figures(runs: Path, out: Path) -> list[Path]:
    """Two PNGs: the probe along every pretraining run (against random weights; † probes left out), every
    fine-tuning curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for run in sorted(runs.glob("pretrain-*")):
        probes = ((int(p.parent.name.split("-", 1)[1]), read_json(p)) for p in run.glob("probe-*/probe.json"))
        points = sorted((step, probe["per"]) for step, probe in probes if probe.get("dev_speakers"))  # not †
        final = read_json(run / "probe" / "probe.json")
        steps = _read_yaml(run / "pretrain.yaml").get("train", {}).get("max_steps")
        if final and steps and all(s != steps for s, _ in points):
            points.append((int(steps), final["per"]))
        if points:
            ax.plot(
                [s for s, _ in points], [p for _, p in points], marker="o", label=run.name[len("pretrain-") :]
            )
    random = read_json(runs / "probe-random" / "probe.json")
    if random:
        ax.axhline(random["per"], color="grey", ls="--", label="random weights")
    ax.set(
        xlabel="pretraining updates", ylabel="probe PER (%), dev-clean", title="frozen-encoder phone probe"
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    written.append(save_png(fig, out / "probe-along-pretraining.png", dpi=100))
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for run in sorted(runs.glob("finetune-*")):
        if (run / "valid.jsonl").is_file():
            curve = valid_curve(run)
            ax.plot(
                [p["step"] for p in curve],
                [p["cer"] for p in curve],
                marker=".",
                label=run.name[len("finetune-") :],
            )
    ax.set(
        xlabel="updates",
        ylabel="dev-clean CER (%), greedy",
        title="fine-tuning: learning curves",
        ylim=(15, 101),
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    written.append(save_png(fig, out / "finetune-curves.png", dpi=100))
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--exp", type=Path, default=HERE.parent / "exp" / "mini_seed0")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "LEARNING.md")
    args = parser.parse_args()
    runs = args.exp / "experiments"
    if not runs.is_dir():
        print(f"{runs}: no experiments yet (bash recipes/mini/local/experiments.sh NAME...)", file=sys.stderr)
        return 2
    text = (
        "\n".join(
            [
                "Pretraining (`asr probe` of each kept checkpoint and of the final encoder, on 120 dev-clean "
                "cuts from all 8 speakers; † the first 120 cuts, 4 speakers, as probes did before "
                "`speaker_balanced`):",
                "",
                *pretraining_rows(runs),
                "",
                "Fine-tuning on the 1 h split (10min-*: the 10 min split; learning curve on 5 min of dev-clean "
                "from all 8 speakers):",
                "",
                *finetuning_rows(runs),
            ]
        )
        + "\n"
    )
    if (runs / FIRST_SPEAKERS).is_dir():
        text += (
            "\n".join(
                [
                    "",
                    "Fine-tuning runs made before `speaker_balanced` (curves on the first 5 min of "
                    "dev-clean: 2 of its 8 speakers; compare them with each other only):",
                    "",
                    *finetuning_rows(runs / FIRST_SPEAKERS),
                ]
            )
            + "\n"
        )
    pngs = figures(runs, args.doc.parent / "learning")
    text += "\n" + "\n".join(f"![{p.stem}]({p.relative_to(args.doc.parent)})" for p in pngs) + "\n"
    update_section(args.doc, "experiments", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Learning curves of the mini recipe as PNG plots: is each model still learning when it stops?

Reads every training run's TensorBoard log (``train/loss``) and learning curve (``valid.jsonl``: dev error
rate and loss every ``valid_every`` updates, written by ``asr finetune --dev``) and the probes' curves, and
draws one figure per group of comparable runs:

* ``finetune-<split>.png``: dev CER and training loss against updates, scratch vs each encoder;
* ``pretrain.png``: each objective's pretraining loss against updates (its own units), and the frozen-encoder
  probe's PER along the pretraining checkpoints when the recipe probed them;
* ``semi-words.png``, ``semi-phones.png``: dev CER / PER of the semi-supervised systems against updates.

    python recipes/mini/local/curves.py --exp recipes/mini/exp/mini_seed0 --out recipes/mini/results

Prints the Markdown lines that link the figures (RESULTS.md embeds them).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[2])]

from asr.files import write_atomic  # noqa: E402
from asr.results import read_json, read_jsonl, read_scalars  # noqa: E402


def scalars(run: Path, tag: str = "train/loss") -> list[tuple[int, float]]:
    """``(step, value)`` of one TensorBoard scalar of a run (empty when absent)."""
    return read_scalars(run, tag)[tag]


def valid_curve(run: Path) -> list[dict]:
    """The dev learning curve of a run (``valid.jsonl``), by step."""
    return read_jsonl(run / "valid.jsonl")


def _smooth(points: list[tuple[int, float]], window: int = 5) -> tuple[list[int], list[float]]:
    steps = [s for s, _ in points]
    values = [v for _, v in points]
    out = [
        sum(values[max(0, i - window + 1) : i + 1]) / len(values[max(0, i - window + 1) : i + 1])
        for i in range(len(values))
    ]
    return steps, out


def save_png(fig, path: Path, dpi: int = 110) -> Path:
    """Write ``fig`` as a PNG atomically and close it."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    write_atomic(path, buf.getvalue())
    return path


def training_figure(runs: dict[str, Path], metric: str, title: str, path: Path) -> Path | None:
    """Dev ``metric`` (left) and training loss (right) against updates, one line per run."""
    curves = {name: (valid_curve(run), scalars(run)) for name, run in runs.items()}
    curves = {k: v for k, v in curves.items() if v[0] or v[1]}
    if not curves:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for name, (valid, loss) in curves.items():
        if valid and metric in valid[0]:
            left.plot([p["step"] for p in valid], [p[metric] for p in valid], marker="o", ms=3, label=name)
        if loss:
            right.plot(*_smooth(loss), label=name)
    left.set(
        xlabel="updates", ylabel=f"dev {metric.upper()} (%), greedy", title=f"{title}: dev {metric.upper()}"
    )
    right.set(xlabel="updates", ylabel="training loss (CTC, nats per token)", title=f"{title}: training loss")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return save_png(fig, path)


def pretraining_figure(pretrain: Path, probes: Path, path: Path) -> Path | None:
    """Each objective's pretraining loss against updates; the probe's PER along its checkpoints beside it."""
    runs = {}
    for objective in ("wav2vec2", "hubert", "data2vec", "data2vec2"):
        if objective == "hubert":
            for it in ("iter1", "iter2"):
                if (pretrain / "hubert" / it).is_dir():
                    runs[f"hubert {it}"] = pretrain / "hubert" / it
        elif (pretrain / objective).is_dir():
            runs[objective] = pretrain / objective
    runs = {k: v for k, v in runs.items() if scalars(v)}
    if not runs:
        return None
    along = {}
    for name in runs:
        key = name.replace(" ", "-")
        points = []
        for probe in sorted(probes.glob(f"{key}-step*/probe.json")):
            step = int(probe.parent.name.rsplit("step", 1)[1])
            points.append((step, read_json(probe)["per"]))
        if points:
            along[name] = sorted(points)
    cols = 2 if along else 1
    fig, axes = plt.subplots(1, cols, figsize=(5.5 * cols, 4), squeeze=False)
    loss_ax = axes[0][0]
    for name, run in runs.items():
        steps, values = _smooth(scalars(run))
        first = values[0] if values and values[0] else 1.0
        loss_ax.plot(steps, [v / first for v in values], label=name)
    loss_ax.set(
        xlabel="updates", ylabel="loss / its first value", title="pretraining loss (each objective's own)"
    )
    loss_ax.grid(alpha=0.3)
    loss_ax.legend(fontsize=8)
    if along:
        ax = axes[0][1]
        for name, points in along.items():
            ax.plot([s for s, _ in points], [p for _, p in points], marker="o", label=name)
        random = probes / "random" / "probe.json"
        if random.is_file():
            ax.axhline(read_json(random)["per"], color="grey", ls="--", label="random weights")
        ax.set(
            xlabel="pretraining updates",
            ylabel="probe PER (%), dev-clean",
            title="frozen-encoder phone probe",
        )
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return save_png(fig, path)


def make_figures(exp: Path, out: Path) -> list[Path]:
    """Every figure the experiment folder has the runs for; returns the PNGs written."""
    written = []
    finetune = exp / "finetune"
    for split in sorted(p.name for p in finetune.iterdir()) if finetune.is_dir() else []:
        runs = {p.name: p for p in sorted((finetune / split).iterdir()) if p.is_dir()}
        written.append(training_figure(runs, "cer", f"fine-tuning on {split}", out / f"finetune-{split}.png"))
    written.append(pretraining_figure(exp / "pretrain", exp / "probe", out / "pretrain.png"))
    for task, metric in (("words", "cer"), ("phones", "per")):
        base = exp / "semi" / task
        runs = {}
        for run in sorted(base.glob("**/tensorboard")) if base.is_dir() else []:
            runs[str(run.parent.relative_to(base))] = run.parent
        written.append(training_figure(runs, metric, f"semi-supervised {task}", out / f"semi-{task}.png"))
    return [p for p in written if p is not None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--exp", type=Path, required=True, help="the recipe's experiment folder (exp/<tag>)")
    parser.add_argument("--out", type=Path, required=True, help="where the PNGs go")
    args = parser.parse_args()
    for path in make_figures(args.exp, args.out):
        print(path)


if __name__ == "__main__":
    main()

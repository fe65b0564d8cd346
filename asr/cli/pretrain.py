"""``asr pretrain`` and ``asr hubert-kmeans``: self-supervised pretraining on unlabelled cuts.

Settings come from three layers, later ones winning (:mod:`asr.training.pretrain`): the dataclass defaults,
an optional YAML file with sections ``model``, ``objective`` and ``train``, then the command-line options.
The resolved settings are written to ``EXP_DIR/pretrain.yaml``.

The same command runs under ``torchrun --nproc-per-node N -m asr.cli pretrain ...`` (DDP, one process per
GPU or CPU rank; every rank reads the same manifest and lhotse's sampler deals it out). ``--cuts`` may also
be a Lhotse Shar folder (``lhotse shar export``, ``CutSet.to_shar``): then each rank reads its own shards.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path

import click
import yaml

from asr.files import write_atomic

from . import UserMistake, cli

log = logging.getLogger(__name__)

# The library's choices, spelled out so that `asr --help` does not import torch (a test pins them equal).
OBJECTIVES = ("wav2vec2", "hubert", "data2vec", "data2vec2")  # asr.objectives.OBJECTIVES
SIZES = ("xs", "base", "large")  # asr.models.encoder presets
FRONTENDS = ("conv", "fbank")  # asr.models.encoder.FRONTENDS
BODIES = ("transformer", "conformer")  # asr.models.encoder.BODIES


def _write_settings(exp_dir: Path, settings: dict) -> None:
    from asr.training.checkpoint import plain

    write_atomic(exp_dir / "pretrain.yaml", yaml.safe_dump(plain(settings), sort_keys=False).encode())


@cli.command()
@click.option("--objective", type=click.Choice(OBJECTIVES), required=True, help="Self-supervised objective.")
@click.option(
    "--cuts",
    "cuts_path",
    type=click.Path(path_type=Path),
    required=True,
    help="Unlabelled cut manifest, or a Lhotse Shar folder (under torchrun each rank reads its own "
    "shards); split into windows of at most --segment s (HuBERT: the manifest `asr hubert-kmeans "
    "label` wrote).",
)
@click.option(
    "--exp-dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Checkpoints, TensorBoard logs, pretrain.yaml and the final encoder.pt.",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="YAML settings with sections model, objective, train (options below override it).",
)
@click.option("--model", "size", type=click.Choice(SIZES), help="Encoder size preset [default: xs].")
@click.option("--frontend", type=click.Choice(FRONTENDS), help="Waveform CNN or fbank [default: conv].")
@click.option("--body", type=click.Choice(BODIES), help="Transformer or Conformer [default: transformer].")
@click.option(
    "--init",
    type=click.Path(path_type=Path),
    help="Start from this encoder (encoder.pt, a fairseq file or a Hugging Face folder).",
)
@click.option("--num-clusters", type=int, help="HuBERT: k of the k-means labels [default: 100].")
@click.option("--segment", type=float, default=15.6, show_default=True, help="Longest window, seconds.")
@click.option(
    "--max-steps", type=int, help="Optimiser steps in all (a resumed run counts its earlier steps)."
)
@click.option(
    "--max-seconds", type=float, help="Stop (with a checkpoint) after this much training wall time."
)
@click.option("--max-duration", type=float, help="Seconds of audio per micro-batch and rank.")
@click.option("--grad-accum", type=int, help="Micro-batches per optimiser step.")
@click.option("--lr", type=float, help="Peak learning rate.")
@click.option("--warmup-steps", type=int, help="Linear warm-up steps.")
@click.option("--schedule", type=click.Choice(("linear", "cosine", "tri_stage")), help="Learning-rate decay.")
@click.option("--precision", type=click.Choice(("auto", "fp32", "bf16", "fp16")), help="Autocast dtype.")
@click.option("--device", type=click.Choice(("auto", "cpu", "cuda")), help="Where to train.")
@click.option("--seed", type=int, help="Seed of sampling, masks and initialisation.")
@click.option("--checkpoint-every", type=int, help="Steps between checkpoints.")
@click.option("--keep-last", type=int, help="Periodic checkpoints kept.")
@click.option("--log-every", type=int, help="Steps between log lines / TensorBoard points.")
@click.option("--num-workers", type=int, help="DataLoader processes reading audio.")
@click.option(
    "--resume/--no-resume",
    default=True,
    show_default=True,
    help="Continue from the newest checkpoint in EXP_DIR (--no-resume: EXP_DIR must hold none).",
)
@click.option("--progress/--no-progress", default=True, show_default=True, help="Progress bar.")
def pretrain(
    objective: str,
    cuts_path: Path,
    exp_dir: Path,
    config_file: Path | None,
    size,
    frontend,
    body,
    init: Path | None,
    num_clusters: int | None,
    segment: float,
    resume: bool,
    progress: bool,
    **train_options,
) -> None:
    """Pretrain an encoder with a self-supervised OBJECTIVE on unlabelled cuts; resumable at any point."""
    from asr.data.dataset import pretraining_cuts
    from asr.training import train
    from asr.training.pretrain import SettingsError, build_pretraining, check_hubert_labels, read_settings

    source = str(config_file) if config_file else "options"
    settings = read_settings(config_file)
    for key, value in (("size", size), ("frontend", frontend), ("body", body)):
        if value is not None:
            settings["model"][key] = value
    if num_clusters is not None:
        if objective != "hubert":
            raise SettingsError("--num-clusters is a HuBERT setting")
        settings["objective"]["num_clusters"] = num_clusters
    settings["train"].update(exp_dir=str(exp_dir), progress=progress)
    settings["train"].update({k: v for k, v in train_options.items() if v is not None})
    obj, cfg = build_pretraining(objective, settings, init, source)
    encoder = obj.encoder
    # A Shar folder is dealt out by shard, each rank streaming its own (torchrun sets RANK and WORLD_SIZE);
    # a manifest is read whole by every rank.
    shar = cuts_path.is_dir()
    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    cuts = pretraining_cuts(cuts_path, max_duration=segment, rank=rank, world_size=world)
    if objective == "hubert":
        check_hubert_labels(cuts, encoder, obj.num_clusters, cuts_path)

    if os.environ.get("RANK", "0") == "0":  # under torchrun only rank 0 writes
        exp_dir.mkdir(parents=True, exist_ok=True)
        _write_settings(
            exp_dir,
            {
                "objective": objective,
                "cuts": str(cuts_path),
                "cuts_format": "shar" if shar else "manifest",
                "segment": segment,
                "init": str(init) if init else None,
                "model": dataclasses.asdict(encoder.cfg),
                "objective_config": {**dataclasses.asdict(obj.cfg), **settings["objective"]},
                "train": dataclasses.asdict(cfg),
            },
        )
    result = train(obj, cuts, cfg, resume=resume, own_cuts=shar)
    last = result.losses[max(result.losses)] if result.losses else float("nan")
    skipped = ", ".join(f"{n} {r}" for r, n in sorted(result.skipped.items())) or "none"
    click.echo(
        f"{objective}: step {result.step} (resumed from {result.resumed_from}), last loss {last:.4f}; "
        f"skipped cuts: {skipped}; skipped updates: {sum(result.skipped_updates.values())}; "
        f"encoder: {exp_dir / 'encoder.pt'}"
    )


# -- HuBERT targets -----------------------------------------------------------------------------------------

_features = click.option(
    "--features",
    default="mfcc",
    show_default=True,
    help="'mfcc' (iteration 1) or an encoder checkpoint whose --layer output is clustered (iteration 2).",
)
_layer = click.option(
    "--layer",
    type=int,
    help="Block of the --features encoder to cluster [default: half its depth, 6 of BASE's 12].",
)
_frontend = click.option(
    "--frontend",
    type=click.Choice(FRONTENDS),
    help="With mfcc: the front-end of the encoder the labels are for (its frame count) "
    "[default: the --config's, else conv].",
)
_config = click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="With mfcc: the `asr pretrain` settings the labels are for (their model section).",
)
_cuts = click.option(
    "--cuts",
    "cuts_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Unlabelled cut manifest (windowed as `asr pretrain` windows it).",
)
_segment = click.option(
    "--segment", type=float, default=15.6, show_default=True, help="Longest window, seconds."
)


def _featurizer(features: str, layer: int | None, frontend: str | None, config_file: Path | None):
    from asr.models import load_encoder
    from asr.objectives.kmeans import LayerFeaturizer, MfccFeaturizer
    from asr.training.pretrain import build_model, read_settings

    if features == "mfcc":
        if layer is not None:
            raise click.UsageError("--layer needs --features ENCODER_CHECKPOINT, not mfcc")
        model = read_settings(config_file)["model"]
        if frontend is not None:
            model["frontend"] = frontend
        # only the encoder's frame count is used: labels must line up with the frames it will make
        return MfccFeaturizer(build_model(model, source=str(config_file or "options")))
    encoder = load_encoder(Path(features)).eval()
    layer = encoder.cfg.layers // 2 if layer is None else layer
    if not 1 <= layer <= encoder.cfg.layers:
        raise click.BadParameter(
            f"{features} has blocks 1..{encoder.cfg.layers}, not {layer}", param_hint="--layer"
        )
    return LayerFeaturizer(encoder, layer)


@cli.group("hubert-kmeans")
def hubert_kmeans() -> None:
    """HuBERT's targets: fit k-means on frame features, then label cuts with cluster ids."""


@hubert_kmeans.command("fit")
@_cuts
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Centres (.npz).")
@_features
@_layer
@_frontend
@_config
@click.option(
    "-k", "--k", "k", type=int, default=100, show_default=True, help="Clusters (paper: 100, then 500)."
)
@click.option(
    "--max-frames", type=int, default=250_000, show_default=True, help="Frames sampled for fitting."
)
@click.option("--n-init", type=int, default=20, show_default=True, help="k-means++ restarts.")
@click.option("--seed", type=int, default=0, show_default=True)
@_segment
def kmeans_fit(
    cuts_path: Path,
    out: Path,
    features: str,
    layer: int | None,
    frontend: str | None,
    config_file: Path | None,
    k: int,
    max_frames: int,
    n_init: int,
    seed: int,
    segment: float,
) -> None:
    """Fit MiniBatchKMeans on frames sampled from the cuts and save the centres."""
    from asr.data.dataset import pretraining_cuts
    from asr.objectives.kmeans import fit_kmeans, save_centres

    featurizer = _featurizer(features, layer, frontend, config_file)
    cuts = pretraining_cuts(cuts_path, max_duration=segment)
    try:
        kmeans = fit_kmeans(cuts, featurizer, k=k, max_frames=max_frames, seed=seed, n_init=n_init)
    except ValueError as exc:
        raise UserMistake(f"{cuts_path}: {exc}") from exc
    save_centres(kmeans, out)
    click.echo(
        f"k-means: {k} centres of dimension {kmeans.cluster_centers_.shape[1]} -> {out} "
        f"(inertia {kmeans.inertia_:.4g})"
    )


@hubert_kmeans.command("label")
@_cuts
@click.option(
    "--centres",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Centres from `asr hubert-kmeans fit`.",
)
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Where labels (hubert_labels/*.npy) and the labelled manifest go.",
)
@click.option("--manifest-name", default="cuts.jsonl.gz", show_default=True)
@_features
@_layer
@_frontend
@_config
@_segment
def kmeans_label(
    cuts_path: Path,
    centres: Path,
    out_dir: Path,
    manifest_name: str,
    features: str,
    layer: int | None,
    frontend: str | None,
    config_file: Path | None,
    segment: float,
) -> None:
    """Label every window of the cuts with its frames' nearest centres; write the labelled manifest."""
    from asr.data.dataset import pretraining_cuts
    from asr.objectives.kmeans import label_cuts, load_centres

    if not centres.is_file():
        raise FileNotFoundError(f"centres file not found: {centres}")
    featurizer = _featurizer(features, layer, frontend, config_file)
    cuts = pretraining_cuts(cuts_path, max_duration=segment)
    try:
        labelled = label_cuts(cuts, featurizer, load_centres(centres), out_dir, manifest_name)
    except ValueError as exc:
        raise UserMistake(f"{cuts_path}: {exc}") from exc
    click.echo(f"labelled {len(labelled)} cuts -> {out_dir / manifest_name}")

"""``asr probe``: how much phone information a frozen encoder's features carry (a linear CTC probe).

A thin layer over :func:`asr.training.probe.run_probe`: the encoder is ``--encoder``'s (an ``encoder.pt``, a
training checkpoint, an imported wav2vec 2.0 / HuBERT checkpoint) or, with ``--random``, a freshly
initialised one of the ``--config`` file's ``model`` section (the baseline every pretrained encoder must
beat); the result goes to ``OUT/probe.json``.
"""

from __future__ import annotations

from pathlib import Path

import click

from asr.files import load_checkpoint

from . import cli

_path = click.Path(path_type=Path)


@cli.command()
@click.option("--encoder", "encoder_path", type=_path, help="Pretrained encoder to probe.")
@click.option("--random", "random_init", is_flag=True, help="Probe a randomly initialised encoder instead.")
@click.option(
    "--config", "config_file", type=_path, help="YAML whose model section shapes the --random encoder."
)
@click.option(
    "--cuts", "cuts_path", type=_path, required=True, help="Labelled cuts the probe's head trains on."
)
@click.option(
    "--dev", "dev_path", type=_path, required=True, help="Labelled cuts the probe is scored on (PER)."
)
@click.option(
    "--tokenizer",
    "tokenizer_dir",
    type=_path,
    required=True,
    help="A phone tokenizer (`asr tokenizer train --kind phone`).",
)
@click.option("--out", "out_dir", type=_path, required=True, help="Folder for probe.json.")
@click.option(
    "--dev-cuts",
    type=int,
    default=120,
    show_default=True,
    help="How many of --dev's cuts are scored (taken round-robin over its speakers).",
)
@click.option("--steps", type=int, help="Head updates [1500].")
@click.option("--lr", type=float, help="Head learning rate [5e-3].")
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed of the head and of a --random encoder."
)
def probe(
    encoder_path: Path | None,
    random_init: bool,
    config_file: Path | None,
    cuts_path: Path,
    dev_path: Path,
    tokenizer_dir: Path,
    out_dir: Path,
    dev_cuts: int,
    steps: int | None,
    lr: float | None,
    seed: int,
) -> None:
    """Train a linear CTC head on a frozen encoder's layers (weighted sum) and report its phone error rate."""
    import torch

    from asr.data.dataset import load_cuts, speaker_balanced
    from asr.errors import UserError
    from asr.text.tokenizer import load_tokenizer
    from asr.training.pretrain import build_model, read_settings
    from asr.training.probe import ProbeConfig, run_probe

    if (encoder_path is None) == (not random_init):
        raise click.UsageError("give --encoder PATH or --random (not both)")
    tokenizer = load_tokenizer(tokenizer_dir)
    if tokenizer.kind != "phone":
        raise UserError(
            f"{tokenizer_dir}: the probe predicts phones; give a phone tokenizer, not {tokenizer.kind}"
        )
    torch.manual_seed(seed)
    model = read_settings(config_file)["model"] if random_init else {}
    encoder = build_model(model, encoder_path, str(config_file or "options"))
    options = {k: v for k, v in (("steps", steps), ("lr", lr)) if v is not None}
    cfg = ProbeConfig(seed=seed, **options)
    dev = speaker_balanced(load_cuts(dev_path), count=dev_cuts)
    describe = (
        {"random": True, "seed": seed}
        if random_init
        else {"path": str(encoder_path), **_pretraining(encoder_path)}
    )
    result = run_probe(encoder, load_cuts(cuts_path), dev, tokenizer, cfg, out_dir=out_dir, describe=describe)
    weights = " ".join(f"{w:.2f}" for w in result.layer_weights)
    click.echo(
        f"probe: dev PER {result.per:.2f} % (loss {result.dev_loss:.3f}), layer weights {weights}; "
        f"{out_dir / 'probe.json'}"
    )


def _pretraining(path: Path) -> dict:
    """The objective and updates an ``encoder.pt`` (or training checkpoint) records, when it does."""

    try:
        state = load_checkpoint(path) if Path(path).is_file() else {}
    except Exception:  # an imported checkpoint: nothing of ours to read
        return {}
    return {k: state[k] for k in ("objective", "step") if isinstance(state, dict) and k in state}

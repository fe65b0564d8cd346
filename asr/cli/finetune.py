"""``asr finetune``: CTC on labelled cuts (``asr decode``, in :mod:`asr.cli.decode`, transcribes with it).

A thin layer over :func:`asr.training.finetune.finetune`: defaults < ``--config`` YAML (sections ``model``,
``objective``, ``train``, ``semi``) < options. The encoder is random (``--model``/``--frontend``/``--body``)
or ``--init``'s: an ``encoder.pt`` from ``asr pretrain``, a training checkpoint, a local fairseq / Hugging
Face wav2vec 2.0 / HuBERT checkpoint, or a whole ``ctc_model.pt`` (head included).
"""

from __future__ import annotations

from pathlib import Path

import click

from . import cli
from .pretrain import BODIES, FRONTENDS, SIZES

_path = click.Path(path_type=Path)


@cli.command()
@click.option(
    "--cuts", "cuts_path", type=_path, required=True, help="Labelled training cuts (supervision texts)."
)
@click.option("--tokenizer", "tokenizer_dir", type=_path, required=True, help="From `asr tokenizer train`.")
@click.option("--exp-dir", type=_path, required=True, help="Checkpoints, TensorBoard, ctc_model.pt.")
@click.option("--config", "config_file", type=_path, help="YAML settings (model, objective, train, semi).")
@click.option("--init", type=_path, help="Encoder to start from (default: random weights).")
@click.option("--model", "size", type=click.Choice(SIZES), help="Encoder size preset [default: xs].")
@click.option("--frontend", type=click.Choice(FRONTENDS))
@click.option("--body", type=click.Choice(BODIES))
@click.option(
    "--speed-perturb/--no-speed-perturb",
    default=False,
    show_default=True,
    help="Add 0.9x and 1.1x copies of every cut (lhotse), as Kaldi/icefall recipes do.",
)
@click.option(
    "--average",
    type=int,
    default=1,
    show_default=True,
    help="Average the weights of the last N checkpoints into ctc_model.pt.",
)
@click.option("--max-steps", type=int)
@click.option("--max-duration", type=float)
@click.option("--lr", type=float)
@click.option("--seed", type=int)
@click.option("--device", type=click.Choice(("auto", "cpu", "cuda")))
@click.option(
    "--semi",
    type=click.Choice(("online-ensemble",)),
    help="Semi-supervised: also train on --unlabelled cuts, pseudo-labelled on the fly by momentum models.",
)
@click.option("--unlabelled", "unlabelled_path", type=_path, help="Unlabelled cuts for --semi.")
@click.option(
    "--labelled-share", type=float, help="--semi: share of the training audio that is labelled [0.5]."
)
@click.option(
    "--half-lives", help="--semi: momentum models' half-lives as shares of the updates, e.g. 1,0.25 [1]."
)
@click.option(
    "--include-online/--no-include-online", default=None, help="--semi: the online model joins the ensemble."
)
@click.option("--warmup-steps", type=int, help="--semi: labelled-only updates first [0].")
@click.option("--min-confidence", type=float, help="--semi: mask pseudo-labels less confident than this [0].")
@click.option(
    "--pl-method",
    type=click.Choice(("greedy", "beam")),
    default="greedy",
    show_default=True,
    help="--semi: how the ensemble's posteriors are decoded (beam: with --lm).",
)
@click.option("--lm", "lm_dir", type=_path, help="--semi --pl-method beam: an `asr lm build` folder.")
@click.option(
    "--dev",
    "dev_path",
    type=_path,
    help="Held-out labelled cuts: greedy error rates and loss every --valid-every updates (learning curve).",
)
@click.option("--valid-every", type=int, help="Updates between learning-curve points (with --dev) [50].")
@click.option(
    "--valid-minutes",
    type=float,
    default=10.0,
    show_default=True,
    help="Minutes of --dev audio each learning-curve point decodes (round-robin over its speakers).",
)
@click.option("--resume/--no-resume", default=True, show_default=True)
@click.option("--progress/--no-progress", default=True, show_default=True)
def finetune(
    cuts_path: Path,
    tokenizer_dir: Path,
    exp_dir: Path,
    config_file: Path | None,
    init: Path | None,
    size,
    frontend,
    body,
    speed_perturb: bool,
    average: int,
    semi,
    unlabelled_path,
    labelled_share,
    half_lives,
    include_online,
    warmup_steps,
    min_confidence,
    pl_method,
    lm_dir,
    dev_path,
    valid_minutes: float,
    resume: bool,
    progress: bool,
    **train_options,
) -> None:
    """Fine-tune an encoder with a CTC head on labelled cuts; resumable at any point.

    With --semi online-ensemble, unlabelled cuts join the batches and get their targets on the fly from
    momentum (EMA) copies of the model (start from a labelled-only model: --init its ctc_model.pt).
    """
    from asr.training.finetune import SEMI_SECTIONS
    from asr.training.finetune import finetune as run_finetune
    from asr.training.pretrain import read_settings

    source = str(config_file) if config_file else "options"
    settings = read_settings(config_file, SEMI_SECTIONS)
    for key, value in (("size", size), ("frontend", frontend), ("body", body)):
        if value is not None:
            settings["model"][key] = value
    settings["train"].update(progress=progress, **{k: v for k, v in train_options.items() if v is not None})
    semi_options = {
        "labelled_share": labelled_share,
        "include_online": include_online,
        "warmup_steps": warmup_steps,
        "min_confidence": min_confidence,
        "half_lives": [float(h) for h in half_lives.split(",")] if half_lives else None,
    }
    settings["semi"].update({k: v for k, v in semi_options.items() if v is not None})
    validator = None
    if dev_path is not None:
        validator = make_validator(dev_path, tokenizer_dir, valid_minutes)
        settings["train"].setdefault("valid_every", 50)
    semi_method = None
    if semi:
        from asr.semi.online_ensemble import OnlineEnsembleFinetuning

        if unlabelled_path is None:
            raise click.UsageError(f"--semi {semi} needs --unlabelled (the cuts to pseudo-label)")
        decoder = None
        if pl_method == "beam":
            from asr.decoding.factory import make_decoder
            from asr.text.tokenizer import load_tokenizer

            decoder = make_decoder("beam", load_tokenizer(tokenizer_dir), lm_dir)
        semi_method = OnlineEnsembleFinetuning(unlabelled_path, settings["semi"], decoder, source)
    out = run_finetune(
        cuts_path,
        tokenizer_dir,
        exp_dir,
        settings,
        init,
        speed_perturb=speed_perturb,
        average=average,
        resume=resume,
        semi=semi_method,
        source=source,
        validator=validator,
    )
    click.echo(
        f"ctc: step {out.step} (resumed from {out.resumed_from}), last loss {out.last_loss:.4f}; "
        f"model: {out.model_path} (average of {out.averaged})"
    )


def make_validator(dev_path: Path, tokenizer_dir: Path, minutes: float):
    """The learning-curve validator of ``--dev`` (the first ``minutes`` of its cuts)."""
    from asr.data.dataset import load_cuts
    from asr.decoding.validation import GreedyValidator
    from asr.text.tokenizer import load_tokenizer

    return GreedyValidator(load_cuts(dev_path), load_tokenizer(tokenizer_dir), max_minutes=minutes)

"""``asr finetune``: CTC on labelled cuts (``asr decode``, in :mod:`asr.cli.decode`, transcribes with it).

Settings layer as for ``asr pretrain`` (:mod:`asr.training.pretrain`): defaults < ``--config`` YAML (sections
``model``, ``objective`` = :class:`~asr.objectives.ctc.CTCConfig` fields, ``train``) < options. The encoder is
random (``--model``/``--frontend``/``--body``) or ``--init``'s: an ``encoder.pt`` from ``asr pretrain``, a
training checkpoint, or a local fairseq / Hugging Face wav2vec 2.0 / HuBERT checkpoint.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from pathlib import Path

import click
import yaml

from . import cli
from .pretrain import BODIES, FRONTENDS, SIZES

_path = click.Path(path_type=Path)


@cli.command()
@click.option(
    "--cuts", "cuts_path", type=_path, required=True, help="Labelled training cuts (supervision texts)."
)
@click.option("--tokenizer", "tokenizer_dir", type=_path, required=True, help="From `asr tokenizer train`.")
@click.option("--exp-dir", type=_path, required=True, help="Checkpoints, TensorBoard, ctc_model.pt.")
@click.option("--config", "config_file", type=_path, help="YAML settings (model, objective, train).")
@click.option("--init", type=_path, help="Encoder to start from (default: random weights).")
@click.option("--model", "size", type=click.Choice(SIZES), help="Encoder size preset [default: xs].")
@click.option("--frontend", type=click.Choice(FRONTENDS))
@click.option("--body", type=click.Choice(BODIES))
@click.option("--speed-perturb/--no-speed-perturb", default=False, show_default=True,
              help="Add 0.9x and 1.1x copies of every cut (lhotse), as Kaldi/icefall recipes do.")  # fmt: skip
@click.option("--average", type=int, default=1, show_default=True,
              help="Average the weights of the last N checkpoints into ctc_model.pt.")  # fmt: skip
@click.option("--max-steps", type=int)
@click.option("--max-duration", type=float)
@click.option("--lr", type=float)
@click.option("--seed", type=int)
@click.option("--device", type=click.Choice(("auto", "cpu", "cuda")))
@click.option("--resume/--no-resume", default=True, show_default=True)
@click.option("--progress/--no-progress", default=True, show_default=True)
def finetune(cuts_path: Path, tokenizer_dir: Path, exp_dir: Path, config_file: Path | None, init: Path | None,
             size, frontend, body, speed_perturb: bool, average: int, resume: bool, progress: bool,
             **train_options) -> None:  # fmt: skip
    """Fine-tune an encoder with a CTC head on labelled cuts; resumable at any point."""
    import torch

    from asr.data.dataset import AudioDataset, load_cuts
    from asr.objectives import ctc
    from asr.text.tokenizer import load_tokenizer
    from asr.training import average_checkpoints, list_checkpoints, train
    from asr.training.pretrain import SettingsError, build_model, read_settings, train_config

    tokenizer = load_tokenizer(tokenizer_dir)
    source = str(config_file) if config_file else "options"
    settings = read_settings(config_file)
    for key, value in (("size", size), ("frontend", frontend), ("body", body)):
        if value is not None:
            settings["model"][key] = value
    settings["train"].update(exp_dir=str(exp_dir), progress=progress)
    settings["train"].update({k: v for k, v in train_options.items() if v is not None})
    # a random encoder must learn its front-end too; a pretrained one keeps it (wav2vec 2.0's recipe)
    settings["objective"].setdefault("freeze_frontend", init is not None)
    cfg = train_config(settings["train"], source)
    torch.manual_seed(cfg.seed)  # the head's and a random encoder's initial weights
    encoder = build_model(settings["model"], init, source)
    try:
        objective = ctc.build(encoder, tokenizer.vocab_size, **settings["objective"])
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"{source}: objective: {exc}") from exc
    cuts = load_cuts(cuts_path)
    if speed_perturb:
        cuts = cuts + cuts.perturb_speed(0.9) + cuts.perturb_speed(1.1)

    tokenize = functools.partial(ctc.transcript_ids, tokenizer)

    for cut in cuts:  # a transcript the tokenizer cannot encode fails now, naming the cut, not mid-run
        tokenize(cut)
    if os.environ.get("RANK", "0") == "0":
        from asr.data.common import write_atomic
        from asr.training.checkpoint import plain

        record = {"cuts": str(cuts_path), "tokenizer": str(tokenizer_dir), "init": str(init) if init else None,
                  "speed_perturb": speed_perturb, "model": dataclasses.asdict(encoder.cfg),
                  "objective": dataclasses.asdict(objective.cfg), "train": dataclasses.asdict(cfg)}  # fmt: skip
        write_atomic(exp_dir / "finetune.yaml", yaml.safe_dump(plain(record), sort_keys=False).encode())
    result = train(objective, cuts, cfg, resume=resume,
                   dataset=AudioDataset(min_samples=encoder.min_samples, label_fields=(), tokenize=tokenize))  # fmt: skip
    if os.environ.get("RANK", "0") == "0":
        checkpoints = [p for _, p in list_checkpoints(exp_dir)][-max(1, average) :]
        objective.load_state_dict(average_checkpoints(checkpoints))
        ctc.save_ctc_model(objective.model, exp_dir / "ctc_model.pt", tokenizer_dir.resolve(),
                           averaged=[p.name for p in checkpoints])  # fmt: skip
        this_call = {"step": result.step, "resumed_from": result.resumed_from,
                     "audio_seconds": result.audio_seconds, "train_seconds": result.train_seconds,
                     "audio_seconds_per_second": result.audio_seconds / max(result.train_seconds, 1e-9)}  # fmt: skip
        write_atomic(exp_dir / "train_result.json", (json.dumps(this_call) + "\n").encode())
    last = result.losses[max(result.losses)] if result.losses else float("nan")
    click.echo(f"ctc: step {result.step} (resumed from {result.resumed_from}), last loss {last:.4f}; "
               f"model: {exp_dir / 'ctc_model.pt'} (average of {min(max(1, average), result.step)})")  # fmt: skip

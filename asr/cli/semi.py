"""``asr pseudo-label`` and ``asr nst``: offline pseudo-labels and the noisy-student loop (:mod:`asr.semi`).

Online-ensemble pseudo-labelling is a mode of fine-tuning: ``asr finetune --semi online-ensemble``.
"""

from __future__ import annotations

from pathlib import Path

import click

from . import cli

_path = click.Path(path_type=Path)


def decoder_options(f):
    """The teacher's search: method, LM and weights (or a ``--params`` file from ``asr decode --tune``)."""
    options = [
        click.option(
            "--method",
            type=click.Choice(["greedy", "beam", "wfst"]),
            default="beam",
            show_default=True,
            help="How the teacher decodes (beam and wfst need --lm).",
        ),
        click.option("--lm", "lm_dir", type=_path, help="`asr lm build` folder."),
        click.option("--params", "params_file", type=_path, help="Decoder weights from `asr decode --tune`."),
        click.option("--beam-size", type=int),
        click.option("--lm-weight", type=float),
        click.option("--word-score", type=float),
        click.option("--acoustic-scale", type=float),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def filter_options(f):
    """The pseudo-label filter (:class:`asr.semi.FilterConfig`)."""
    options = [
        click.option(
            "--min-confidence", type=float, help="Drop pseudo-labels with a lower utterance confidence."
        ),
        click.option("--min-score-per-frame", type=float, help="Drop those with a lower score / frames."),
        click.option("--min-tokens-per-second", type=float),
        click.option("--max-tokens-per-second", type=float),
        click.option("--keep-empty", is_flag=True, help="Keep empty pseudo-labels (dropped by default)."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _decoder_settings(method: str, params_file: Path | None, **given) -> dict:
    from asr.decoding.factory import TUNABLE
    from asr.decoding.tune import read_params

    settings = read_params(params_file, list(TUNABLE[method])) if params_file else {}
    settings.update({k: v for k, v in given.items() if v is not None})
    if method == "beam":
        settings.pop("acoustic_scale", None)
    elif method == "wfst":
        for name in ("beam_size", "lm_weight", "word_score"):
            settings.pop(name, None)
    return settings if method != "greedy" else {}


def _filter(min_confidence, min_score_per_frame, min_tokens_per_second, max_tokens_per_second, keep_empty):
    from asr.semi import FilterConfig

    try:
        return FilterConfig(
            min_confidence,
            min_score_per_frame,
            min_tokens_per_second,
            max_tokens_per_second,
            drop_empty=not keep_empty,
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@cli.command("pseudo-label")
@click.option("--model", "model_path", type=_path, required=True, help="The teacher: a ctc_model.pt.")
@click.option(
    "--cuts",
    "cuts_path",
    type=_path,
    required=True,
    help="Unlabelled cuts (Libri-light's are cut to their voice-activity segments).",
)
@click.option(
    "--out-dir", type=_path, required=True, help="cuts.jsonl.gz, decisions.jsonl, summary.json, ..."
)
@click.option(
    "--expect-units",
    type=click.Choice(["char", "bpe", "phone"]),
    help="Fail unless the teacher predicts these units.",
)
@decoder_options
@filter_options
@click.option("--chunk-size", type=int, default=200, show_default=True, help="Cuts per resumable chunk.")
@click.option("--shard", type=int, help="This process's shard (default: torchrun's RANK, else 0).")
@click.option("--num-shards", type=int, help="Number of shards (default: torchrun's WORLD_SIZE, else 1).")
@click.option(
    "--max-duration", type=float, default=120.0, show_default=True, help="Seconds of audio per batch."
)
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--progress/--no-progress", default=True, show_default=True)
def pseudo_label(
    model_path: Path,
    cuts_path: Path,
    out_dir: Path,
    expect_units,
    method,
    lm_dir,
    params_file,
    chunk_size,
    shard,
    num_shards,
    max_duration,
    device,
    progress,
    min_confidence,
    min_score_per_frame,
    min_tokens_per_second,
    max_tokens_per_second,
    keep_empty,
    **decoder,
) -> None:
    """Decode unlabelled cuts with a teacher; keep what the filter accepts; account for every cut. Resumable."""
    import json
    import os

    from asr.data.dataset import unlabelled_cuts
    from asr.decoding.factory import make_decoder
    from asr.objectives.ctc import load_ctc_model
    from asr.semi import Shard
    from asr.semi import pseudo_label as run
    from asr.text.tokenizer import load_tokenizer
    from asr.training.distributed import pick_device
    from asr.training.finetune import UnitMismatchError

    env = Shard.from_env()
    try:
        this = Shard(env.index if shard is None else shard, env.count if num_shards is None else num_shards)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--shard") from None
    model, tokenizer_dir = load_ctc_model(model_path)
    tokenizer = load_tokenizer(tokenizer_dir)
    if expect_units and tokenizer.kind != expect_units:
        raise UnitMismatchError(
            f"{model_path} predicts {tokenizer.kind} units ({tokenizer_dir}), not {expect_units}"
        )
    model.to(pick_device(device, int(os.environ.get("LOCAL_RANK", 0))))
    settings = _decoder_settings(method, params_file, **decoder)
    search = make_decoder(method, tokenizer, lm_dir, **settings)
    filter_cfg = _filter(
        min_confidence, min_score_per_frame, min_tokens_per_second, max_tokens_per_second, keep_empty
    )
    summary = run(
        model,
        tokenizer,
        search,
        unlabelled_cuts(cuts_path),
        out_dir,
        filter_cfg,
        teacher=str(model_path),
        chunk_size=chunk_size,
        max_duration=max_duration,
        shard=this,
        progress=progress,
    )
    if summary is None:
        click.echo(
            f"shard {this.index} of {this.count} done; {out_dir} is merged when every shard has finished"
        )
    else:
        click.echo(json.dumps({k: summary[k] for k in ("cuts", "kept", "dropped_by_reason", "kept_seconds")}))


@cli.command()
@click.option("--labelled", type=_path, required=True, help="Labelled training cuts.")
@click.option("--unlabelled", type=_path, required=True, help="Unlabelled cuts to pseudo-label.")
@click.option("--dev", type=_path, required=True, help="Cuts with transcripts: each generation's error rate.")
@click.option("--tokenizer", "tokenizer_dir", type=_path, required=True)
@click.option(
    "--teacher", type=_path, required=True, help="Generation 0: a ctc_model.pt trained on --labelled."
)
@click.option("--exp-dir", type=_path, required=True, help="gen<g>/{pseudo,student,dev}, generations.json.")
@click.option(
    "--config", "config_file", type=_path, help="The student's fine-tuning YAML (model, objective, train)."
)
@click.option("--generations", type=int, default=2, show_default=True)
@click.option(
    "--labelled-share",
    type=float,
    default=0.5,
    show_default=True,
    help="Share of each student's audio that is labelled (the smaller side is repeated); 0: union.",
)
@click.option(
    "--student-init",
    default="teacher",
    show_default=True,
    help="teacher (continue from it), scratch, or an encoder/ctc_model path.",
)
@click.option("--speed-perturb/--no-speed-perturb", default=True, show_default=True)
@decoder_options
@filter_options
@click.option("--chunk-size", type=int, default=200, show_default=True, help="Cuts per resumable chunk.")
@click.option("--average", type=int, default=1, show_default=True, help="Checkpoints averaged per student.")
@click.option("--max-steps", type=int, help="Updates per student.")
@click.option("--seed", type=int)
@click.option(
    "--valid-minutes",
    type=float,
    default=5.0,
    show_default=True,
    help="Minutes of --dev each learning-curve point decodes (with the config's train.valid_every).",
)
@click.option("--progress/--no-progress", default=True, show_default=True)
def nst(
    labelled,
    unlabelled,
    dev,
    tokenizer_dir,
    teacher,
    exp_dir,
    config_file,
    generations,
    labelled_share,
    student_init,
    speed_perturb,
    method,
    lm_dir,
    params_file,
    chunk_size,
    average,
    max_steps,
    seed,
    valid_minutes,
    progress,
    min_confidence,
    min_score_per_frame,
    min_tokens_per_second,
    max_tokens_per_second,
    keep_empty,
    **decoder,
) -> None:
    """Noisy-student training: G generations of teacher -> pseudo-labels -> noisy student. Resumable."""
    from asr.semi.noisy_student import NoisyStudentConfig, run_noisy_student
    from asr.training.finetune import SEMI_SECTIONS
    from asr.training.pretrain import read_settings

    settings = read_settings(config_file, SEMI_SECTIONS)  # a 'semi' section is for --semi runs: not used here
    settings["train"].update(progress=progress)
    settings["train"].update({k: v for k, v in (("max_steps", max_steps), ("seed", seed)) if v is not None})
    try:
        cfg = NoisyStudentConfig(
            generations=generations,
            labelled_share=labelled_share,
            student_init=student_init,
            speed_perturb=speed_perturb,
            method=method,
            lm_dir=str(lm_dir) if lm_dir else None,
            decoder_settings=_decoder_settings(method, params_file, **decoder),
            average=average,
            chunk_size=chunk_size,
            filter=_filter(
                min_confidence, min_score_per_frame, min_tokens_per_second, max_tokens_per_second, keep_empty
            ),
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    validator = None
    if int(settings["train"].get("valid_every", 0) or 0) > 0:  # each student's learning curve on --dev
        from .finetune import make_validator

        validator = make_validator(dev, tokenizer_dir, valid_minutes)
    records = run_noisy_student(
        labelled, unlabelled, dev, tokenizer_dir, teacher, exp_dir, settings, cfg, progress, validator
    )
    for r in records:
        kept = r.get("pseudo_labels", {})
        rate = "PER" if r["dev"]["units"] == "phone" else "WER"
        click.echo(
            f"generation {r['generation']}: dev {rate} {r['dev']['wer']:.2f} %"
            + (f", pseudo-labels kept {kept['kept']}/{kept['cuts']}" if kept else "")
        )

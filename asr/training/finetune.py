"""CTC fine-tuning from settings: the library behind ``asr finetune`` and each noisy-student generation.

Settings layer as for pretraining (:mod:`asr.training.pretrain`): defaults < a YAML file (sections
``model``, ``objective`` = :class:`~asr.objectives.ctc.CTCConfig` fields, ``train``, and ``semi`` =
:class:`~asr.semi.online_ensemble.OnlineEnsembleConfig` fields plus ``labelled_share``) < the caller's
values. The encoder is random, or ``init``'s: an ``encoder.pt`` from ``asr pretrain``, a training
checkpoint, a fairseq / Hugging Face wav2vec 2.0 / HuBERT checkpoint, or a whole CTC model
(``ctc_model.pt``, head included, e.g. a noisy-student teacher or the seed of online pseudo-labelling).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml

from asr.data.dataset import AudioDataset, load_cuts
from asr.errors import UserError
from asr.files import load_checkpoint, load_model_strict, write_atomic
from asr.objectives import ctc
from asr.text.tokenizer import Tokenizer, load_tokenizer

from . import checkpoint as ckpt
from .loop import train
from .pretrain import SettingsError, build_model, train_config

log = logging.getLogger(__name__)

SEMI_METHODS = ("online-ensemble",)
SEMI_SECTIONS = ("model", "objective", "train", "semi")  # the YAML sections fine-tuning reads
_SHAPE_KEYS = ("size", "frontend", "body")


class UnitMismatchError(UserError):
    """A CTC model trained on other units (or another vocabulary) than the tokenizer given."""


@dataclass
class FinetuneOutcome:
    """What :func:`finetune` wrote and did."""

    model_path: Path
    step: int
    resumed_from: int
    last_loss: float
    averaged: int


def is_ctc_model_file(path: Path) -> bool:
    """Whether ``path`` is a ``ctc_model.pt`` (:func:`asr.objectives.ctc.save_ctc_model`), not an encoder."""
    if not Path(path).is_file():
        return False
    try:
        state = load_checkpoint(path)
    except Exception:  # not ours; the encoder loader gives the real error
        return False
    return isinstance(state, dict) and {"model", "vocab_size", "encoder_config", "tokenizer"} <= set(state)


def check_units(model_path: Path, state: dict, tokenizer: Tokenizer, tokenizer_dir: Path) -> None:
    """Fail, naming both, when the CTC model at ``model_path`` was trained on other units than ``tokenizer``."""
    theirs = Path(state["tokenizer"])
    kind = None
    if (theirs / "tokenizer.json").is_file():
        kind = load_tokenizer(theirs).kind
    if (kind is not None and kind != tokenizer.kind) or int(state["vocab_size"]) != tokenizer.vocab_size:
        raise UnitMismatchError(
            f"{model_path} predicts {kind or 'unknown'} units ({state['vocab_size']} tokens, tokenizer {theirs}) "
            f"but {tokenizer_dir} is a {tokenizer.kind} tokenizer of {tokenizer.vocab_size} tokens; "
            "use a model trained with this tokenizer"
        )


def load_ctc_init(
    path: Path,
    tokenizer: Tokenizer,
    tokenizer_dir: Path,
    model_settings: dict[str, Any],
    objective_settings: dict[str, Any],
    source: str,
) -> ctc.CTCObjective:
    """A CTC objective whose encoder *and head* start from ``ctc_model.pt`` at ``path`` (loaded strictly)."""
    from asr.models import EncoderConfig, build_encoder

    state = load_checkpoint(path)
    check_units(path, state, tokenizer, tokenizer_dir)
    overrides = {k: v for k, v in model_settings.items() if k not in _SHAPE_KEYS}
    try:
        encoder = build_encoder(EncoderConfig(**{**state["encoder_config"], **overrides}))
        objective = ctc.build(encoder, tokenizer.vocab_size, **objective_settings)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"{source}: {exc}") from exc
    load_model_strict(objective.model, state["model"], path)
    return objective


def labelled_ids(tokenizer: Tokenizer):
    """cut -> CTC targets, or ``None`` for cuts marked ``custom["unlabelled"]`` (see :func:`~asr.semi.online_ensemble.mix_cuts`)."""
    encode = functools.partial(ctc.transcript_ids, tokenizer)

    def tokenize(cut):
        return None if (cut.custom or {}).get("unlabelled") else encode(cut)

    return tokenize


def reference_ids(tokenizer: Tokenizer):
    """cut -> the true targets of an unlabelled cut when its manifest has them (for monitoring), else None."""

    def reference(cut):
        if not (cut.custom or {}).get("unlabelled") or not any(s.text for s in cut.supervisions):
            return None
        try:
            return ctc.transcript_ids(tokenizer, cut)
        except UserError:
            return None

    return reference


def finetune(
    cuts_path: Path,
    tokenizer_dir: Path,
    exp_dir: Path,
    settings: dict[str, dict[str, Any]],
    init: Path | None = None,
    *,
    speed_perturb: bool = False,
    average: int = 1,
    resume: bool = True,
    unlabelled_path: Path | None = None,
    semi: str | None = None,
    semi_decoder=None,
    source: str = "options",
    extra: dict[str, Any] | None = None,
    validator=None,
) -> FinetuneOutcome:
    """Fine-tune with CTC on the labelled cuts at ``cuts_path``; write ``exp_dir/ctc_model.pt``. Resumable.

    ``settings``: sections ``model``, ``objective``, ``train`` (and ``semi``) as read by
    :func:`asr.training.pretrain.read_settings`. With ``semi="online-ensemble"`` the cuts at
    ``unlabelled_path`` are pseudo-labelled on the fly by momentum models
    (:mod:`asr.semi.online_ensemble`; ``semi_decoder``: how their posteriors are decoded, default greedy);
    their weights are also written, as ``exp_dir/teacher_model.pt`` (the first momentum model).
    ``extra`` is recorded in ``exp_dir/finetune.yaml``. ``validator`` (a :class:`~asr.objectives.ctc.CTCModel`
    -> metrics callable, e.g. :class:`asr.decoding.validation.GreedyValidator`) draws the learning curve every
    ``train.valid_every`` updates.
    """
    settings = {k: dict(v or {}) for k, v in settings.items()}
    exp_dir, tokenizer_dir = Path(exp_dir), Path(tokenizer_dir)
    tokenizer = load_tokenizer(tokenizer_dir)
    settings["train"].update(exp_dir=str(exp_dir))
    # a random encoder must learn its front-end too; a pretrained one keeps it (wav2vec 2.0's recipe)
    settings["objective"].setdefault("freeze_frontend", init is not None)
    cfg = train_config(settings["train"], source)
    torch.manual_seed(cfg.seed)  # the head's and a random encoder's initial weights
    if init is not None and is_ctc_model_file(Path(init)):
        objective = load_ctc_init(
            Path(init), tokenizer, tokenizer_dir, settings["model"], settings["objective"], source
        )
    else:
        encoder = build_model(settings["model"], init, source)
        try:
            objective = ctc.build(encoder, tokenizer.vocab_size, **settings["objective"])
        except (TypeError, ValueError) as exc:
            raise SettingsError(f"{source}: objective: {exc}") from exc
    cuts = load_cuts(cuts_path)
    if speed_perturb:
        cuts = cuts + cuts.perturb_speed(0.9) + cuts.perturb_speed(1.1)
    tokenize = labelled_ids(tokenizer)
    for cut in cuts:  # a transcript the tokenizer cannot encode fails now, naming the cut, not mid-run
        tokenize(cut)
    semi_settings = settings.get("semi", {})
    trainee, reference = objective, None
    if semi is not None:
        trainee, cuts = _online_ensemble(
            objective, cuts, unlabelled_path, semi, semi_settings, cfg, semi_decoder, source
        )
        reference = reference_ids(tokenizer)
    elif semi_settings:  # one settings file may serve a recipe's supervised and semi-supervised runs
        log.info("%s: the 'semi' section applies to --semi runs only; not used here", source)
    main = os.environ.get("RANK", "0") == "0"
    if main:
        record = {
            "cuts": str(cuts_path),
            "tokenizer": str(tokenizer_dir),
            "init": str(init) if init else None,
            "speed_perturb": speed_perturb,
            "semi": semi,
            "unlabelled": str(unlabelled_path or "") or None,
            "model": dataclasses.asdict(objective.encoder.cfg),
            "objective": dataclasses.asdict(objective.cfg),
            "semi_settings": dataclasses.asdict(trainee.cfg) if semi else None,
            "train": dataclasses.asdict(cfg),
            **(extra or {}),
        }
        exp_dir.mkdir(parents=True, exist_ok=True)
        write_atomic(exp_dir / "finetune.yaml", yaml.safe_dump(ckpt.plain(record), sort_keys=False).encode())
    dataset = AudioDataset(
        min_samples=objective.encoder.min_samples, label_fields=(), tokenize=tokenize, reference=reference
    )
    validate = None if validator is None else functools.partial(validator, objective.model)
    result = train(trainee, cuts, cfg, resume=resume, dataset=dataset, validate=validate)
    checkpoints = [p for _, p in ckpt.list_checkpoints(exp_dir)][-max(1, average) :]
    model_path = exp_dir / "ctc_model.pt"
    if main:
        trainee.load_state_dict(ckpt.average_checkpoints(checkpoints))
        names = [p.name for p in checkpoints]
        ctc.save_ctc_model(objective.model, model_path, tokenizer_dir.resolve(), averaged=names)
        if semi is not None and len(trainee.teachers):
            ctc.save_ctc_model(
                trainee.teachers[0].model,
                exp_dir / "teacher_model.pt",
                tokenizer_dir.resolve(),
                averaged=names,
            )
        this_call = {
            "step": result.step,
            "resumed_from": result.resumed_from,
            "audio_seconds": result.audio_seconds,
            "train_seconds": result.train_seconds,
            "audio_seconds_per_second": result.audio_seconds / max(result.train_seconds, 1e-9),
            "metrics": result.metrics,
        }
        write_atomic(exp_dir / "train_result.json", (json.dumps(this_call) + "\n").encode())
    last = result.losses[max(result.losses)] if result.losses else float("nan")
    return FinetuneOutcome(
        model_path, result.step, result.resumed_from, last, min(len(checkpoints), result.step)
    )


def _online_ensemble(objective, labelled, unlabelled_path, semi, semi_settings, cfg, decoder, source):
    from asr.semi.online_ensemble import OnlineEnsembleConfig, OnlineEnsembleObjective, mix_cuts

    if semi not in SEMI_METHODS:
        raise SettingsError(f"unknown semi-supervised method {semi!r} (one of {', '.join(SEMI_METHODS)})")
    if unlabelled_path is None:
        raise SettingsError(f"--semi {semi} needs --unlabelled (the cuts to pseudo-label)")
    values = dict(semi_settings)
    share = float(values.pop("labelled_share", 0.5))
    values.setdefault("total_steps", cfg.max_steps)
    try:
        semi_cfg = OnlineEnsembleConfig(**values)
        mixed = mix_cuts(labelled.to_eager(), unlabelled_cuts(unlabelled_path), share)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"{source}: semi: {exc}") from exc
    return OnlineEnsembleObjective(objective, semi_cfg, decoder), mixed


def unlabelled_cuts(path: Path, max_duration: float = 15.6):
    """The utterances of an unlabelled manifest (eager): cuts with transcribed supervisions stay whole (their
    text is kept only for monitoring), others (Libri-light's voice-activity segments) are cut to speech
    segments of at most ``max_duration`` seconds (:func:`~asr.data.dataset.pretraining_cuts`)."""
    from lhotse import CutSet

    from asr.data.dataset import pretraining_cuts

    out = []
    for cut in load_cuts(path):
        if cut.supervisions and all(s.text for s in cut.supervisions):
            out.append(cut)
        else:
            # min_duration 0: no segment vanishes here; one too short to decode is dropped, with its
            # reason, where pseudo-labelling accounts for every cut
            out.extend(pretraining_cuts(CutSet.from_cuts([cut]), max_duration=max_duration, min_duration=0.0))
    return CutSet.from_cuts(out)

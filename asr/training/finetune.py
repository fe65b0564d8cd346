"""CTC fine-tuning from settings: the library behind ``asr finetune`` and each noisy-student generation.

Settings layer as for pretraining (:mod:`asr.training.pretrain`): defaults < a YAML file (sections
``model``, ``objective`` = :class:`~asr.objectives.ctc.CTCConfig` fields, ``train``, and ``semi``, read by
the semi-supervised method given, e.g. :class:`~asr.semi.online_ensemble.OnlineEnsembleFinetuning`) < the caller's
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
from typing import Any, Protocol

import torch
import yaml
from lhotse import CutSet

from asr.data.dataset import AudioDataset, load_cuts
from asr.errors import UserError
from asr.files import ForeignCheckpointError, load_checkpoint, load_model_strict, write_atomic
from asr.objectives import ctc
from asr.text.tokenizer import Tokenizer, load_tokenizer

from . import checkpoint as ckpt
from .config import TrainConfig
from .loop import train
from .pretrain import SettingsError, build_model, train_config

log = logging.getLogger(__name__)

SEMI_SECTIONS = ("model", "objective", "train", "semi")  # the YAML sections fine-tuning reads
_SHAPE_KEYS = ("size", "frontend", "body")


class UnitMismatchError(UserError):
    """A CTC model trained on other units (or another vocabulary) than the tokenizer given."""


class SemiSupervision(Protocol):
    """How unlabelled cuts join fine-tuning; implemented in :mod:`asr.semi` (the layer above training)."""

    method: str  # recorded in finetune.yaml
    unlabelled_path: Path

    def prepare(self, objective: ctc.CTCObjective, labelled: CutSet, cfg: TrainConfig) -> tuple[Any, CutSet]:
        """The objective to train (with a ``cfg`` dataclass) and the cuts to train it on."""
        ...

    def save(self, trainee: Any, exp_dir: Path, tokenizer_dir: Path, averaged: list[str]) -> None:
        """Write what the method adds to ``exp_dir`` once training ended (e.g. a teacher model)."""
        ...


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
    except ForeignCheckpointError:  # e.g. fairseq's: the encoder loader reads those
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
    semi: SemiSupervision | None = None,
    source: str = "options",
    extra: dict[str, Any] | None = None,
    validator=None,
) -> FinetuneOutcome:
    """Fine-tune with CTC on the labelled cuts at ``cuts_path``; write ``exp_dir/ctc_model.pt``. Resumable.

    ``settings``: sections ``model``, ``objective``, ``train`` (and ``semi``) as read by
    :func:`asr.training.pretrain.read_settings`. ``semi`` brings unlabelled cuts into the run (e.g.
    :class:`asr.semi.online_ensemble.OnlineEnsembleFinetuning`: pseudo-labelled on the fly by momentum
    models, whose first one is also written as ``exp_dir/teacher_model.pt``).
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
    trainee, reference = objective, None
    if semi is not None:
        trainee, cuts = semi.prepare(objective, cuts, cfg)
        reference = reference_ids(tokenizer)
    elif settings.get("semi"):  # one settings file may serve a recipe's supervised and semi-supervised runs
        log.info("%s: the 'semi' section applies to --semi runs only; not used here", source)
    main = os.environ.get("RANK", "0") == "0"
    if main:
        record = {
            "cuts": str(cuts_path),
            "tokenizer": str(tokenizer_dir),
            "init": str(init) if init else None,
            "speed_perturb": speed_perturb,
            "semi": semi.method if semi else None,
            "unlabelled": str(semi.unlabelled_path) if semi else None,
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
        if semi is not None:
            semi.save(trainee, exp_dir, tokenizer_dir.resolve(), names)
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

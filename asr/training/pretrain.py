"""Pretraining from settings: an encoder, an objective and a :class:`TrainConfig` built from three layers.

Later layers win: the dataclass defaults (the papers' values for the objective, a laptop-sized training
loop), a YAML file with sections ``model`` (``size``, ``frontend``, ``body`` and any
:class:`~asr.models.EncoderConfig` field), ``objective`` (the objective's config fields; HuBERT also
``num_clusters``) and ``train`` (:class:`~asr.training.TrainConfig` fields), then the caller's values
(the CLI's options). ``asr pretrain`` and ``bench/pretrain.py`` both build their runs here.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch
import yaml

from asr.data.common import CorpusError
from asr.errors import UserError
from asr.models import Encoder, build_encoder, encoder_config, load_encoder
from asr.objectives import Objective, build_objective
from asr.objectives.kmeans import LABELS_FIELD, load_labels, load_mono_16k

from .config import TrainConfig

SECTIONS = ("model", "objective", "train")


class SettingsError(UserError, ValueError):
    """Bad pretraining settings (unknown key, wrong type, bad value); the message names the source."""


def read_settings(path: Path | None, sections: tuple[str, ...] = SECTIONS) -> dict[str, dict[str, Any]]:
    """The ``sections`` (default ``model``/``objective``/``train``) of a YAML settings file (all empty without one)."""
    settings: dict[str, dict[str, Any]] = {s: {} for s in sections}
    if path is None:
        return settings
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"settings file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise SettingsError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise SettingsError(f"{path}: expected a mapping with sections {', '.join(sections)}")
    unknown = sorted(set(data) - set(sections))
    if unknown:
        raise SettingsError(f"{path}: unknown section(s) {unknown}; expected {', '.join(sections)}")
    for section, values in data.items():
        if values is None:
            continue
        if not isinstance(values, dict):
            raise SettingsError(f"{path}: section {section!r} must be a mapping of field: value")
        settings[section].update(values)
    return settings


def train_config(values: dict[str, Any], source: str = "settings") -> TrainConfig:
    """A :class:`TrainConfig` from ``values``; unknown or bad fields are a :class:`SettingsError` naming them."""
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(values) - fields)
    if unknown:
        raise SettingsError(f"{source}: unknown train setting(s) {unknown}")
    try:
        return TrainConfig(**values)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"{source}: train: {exc}") from exc


def build_model(model: dict[str, Any], init: Path | None = None, source: str = "settings") -> Encoder:
    """The encoder of a ``model`` section (``size``/``frontend``/``body`` + config fields), or ``init``'s."""
    model = dict(model)
    size = model.pop("size", "xs")
    frontend, body = model.pop("frontend", "conv"), model.pop("body", "transformer")
    try:
        if init is not None:  # continued pretraining: the checkpoint fixes the shape; model keys tune it
            return load_encoder(init, **model)
        return build_encoder(encoder_config(size, frontend, body, **model))
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"{source}: model: {exc}") from exc


def check_hubert_labels(cuts, encoder: Encoder, num_clusters: int, path: Path) -> None:
    """Fail before training, with the fix, when the manifest lacks labels or they do not fit the encoder."""
    first = next(iter(cuts))
    if not first.has_custom(LABELS_FIELD):
        raise CorpusError(
            f"{path}: cut {first.id} has no {LABELS_FIELD!r}; HuBERT trains on cuts labelled by "
            "`asr hubert-kmeans label` (use the manifest it writes)"
        )
    labels = load_labels(first)
    frames = int(encoder.num_frames(torch.tensor(len(load_mono_16k(first)))))
    if len(labels) != frames:
        raise CorpusError(
            f"{path}: cut {first.id} has {len(labels)} labels but this encoder makes {frames} frames of it; "
            "label with the front-end you pretrain with"
        )
    if labels.max() >= num_clusters:
        raise CorpusError(
            f"{path}: cut {first.id} has label {labels.max()} but num_clusters is {num_clusters}; "
            "pass --num-clusters (the k the labels were made with)"
        )


def build_pretraining(
    objective: str, settings: dict[str, dict[str, Any]], init: Path | None = None, source: str = "settings"
) -> tuple[Objective, TrainConfig]:
    """The objective (on a fresh encoder seeded by ``train.seed``, or on ``init``'s) and its TrainConfig."""
    settings = {section: dict(settings.get(section) or {}) for section in SECTIONS}
    objective_settings = settings["objective"]
    if objective == "hubert":
        objective_settings.setdefault("num_clusters", 100)
    cfg = train_config(settings["train"], source)
    torch.manual_seed(cfg.seed)  # the initial weights (the loop reseeds per micro-batch after this)
    encoder = build_model(settings["model"], init, source)
    try:
        return build_objective(objective, encoder, **objective_settings), cfg
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"{source}: objective: {exc}") from exc

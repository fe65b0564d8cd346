"""What a phone model heard in training, so the app can say it (``model_card.json`` beside the model).

The recipe writes the card when it trains the model it serves (``asr mdd card``): nothing downstream of
``asr prepare`` can tell a synthetic corpus from a real one, but the recipe knows which it used. A model
without a card is described as such; the app then says it cannot tell what the model heard.
"""

from __future__ import annotations

import json
from pathlib import Path

from asr.errors import UserError
from asr.files import write_atomic

CARD_FILE = "model_card.json"
#: the leniency calibrated on held-out learners (``asr mdd calibrate``), which the assessor then uses
CALIBRATION_FILE = "calibration.json"


class ModelCardError(UserError):
    """An unreadable ``model_card.json``; the message names the file."""


def card_path(model_path: str | Path, name: str = CARD_FILE) -> Path:
    """``model_card.json`` (or ``name``) in the model's folder (an experiment folder, or a model file's folder)."""
    path = Path(model_path)
    return (path if path.is_dir() else path.parent) / name


def _read_json(path: Path) -> object | None:
    """A JSON file's content, None when there is no file; unreadable JSON is a ModelCardError naming it."""
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelCardError(f"{path}: not readable JSON ({exc})") from None


def read_model_card(model_path: str | Path) -> dict | None:
    """The card of a model (see :func:`write_model_card`), or None if it has none."""
    path = card_path(model_path)
    card = _read_json(path)
    if card is None:
        return None
    if not isinstance(card, dict) or not isinstance(card.get("real_speech"), bool):
        raise ModelCardError(f"{path}: expected an object with a true/false 'real_speech' field")
    return card


def write_model_card(model_path: str | Path, trained_on: str, real_speech: bool, name: str = "") -> Path:
    """Write the card atomically: ``trained_on`` says which corpora (and voices), ``real_speech`` whether any
    of them was recorded from people."""

    path = card_path(model_path)
    card = {"name": name, "trained_on": trained_on, "real_speech": real_speech}
    write_atomic(path, (json.dumps(card, indent=1) + "\n").encode("utf-8"))
    return path


def describe(card: dict | None) -> str:
    """One or two sentences for a learner: what the model heard, and a warning when it heard no person."""
    if card is None:
        return (
            "It has no model card (model_card.json): what it was trained on is unknown here; for a public "
            "checkpoint, see its model page."
        )
    text = f"Trained on {card.get('trained_on') or 'unrecorded data'}."
    if not card["real_speech"]:
        text += (
            " It has heard only synthetic voices, never a real person: expect it to flag much of what a "
            "real speaker says correctly."
        )
    return text


def read_calibration(model_path: str | Path) -> dict | None:
    """The model's ``calibration.json`` (``flag_below_gop`` and how it was chosen), or None if it has none."""
    path = card_path(model_path, CALIBRATION_FILE)
    data = _read_json(path)
    if data is None:
        return None
    value = data.get("flag_below_gop") if isinstance(data, dict) else "missing"
    if value is not None and not isinstance(value, (int, float)):
        raise ModelCardError(f"{path}: 'flag_below_gop' must be a number or null, got {value!r}")
    return data


def write_calibration(model_path: str | Path, data: dict) -> Path:
    """Write ``calibration.json`` beside the model, atomically."""

    path = card_path(model_path, CALIBRATION_FILE)
    write_atomic(path, (json.dumps(data, indent=1) + "\n").encode("utf-8"))
    return path

"""Self-supervised objectives: wav2vec 2.0, HuBERT, data2vec, data2vec 2.0 (one module each, one interface).

Each module has a config dataclass with the paper's defaults, an :class:`Objective` subclass and
``build(encoder, **overrides)``; :func:`build_objective` picks one by name.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .base import LossOutput, Objective

if TYPE_CHECKING:
    from asr.models import Encoder

#: Registry keys (= module names = ``Objective.name``), in the order the papers appeared.
OBJECTIVES = ("wav2vec2", "hubert", "data2vec", "data2vec2")


def build_objective(name: str, encoder: Encoder, **config) -> Objective:
    """The objective ``name`` on ``encoder``; ``config`` sets its config fields (HuBERT: also ``num_clusters``).

    Unknown names or fields are a ``ValueError`` naming them.
    """
    if name not in OBJECTIVES:
        raise ValueError(f"unknown objective {name!r}; expected one of {', '.join(OBJECTIVES)}")
    return importlib.import_module(f"{__name__}.{name}").build(encoder, **config)


__all__ = ["OBJECTIVES", "LossOutput", "Objective", "build_objective"]

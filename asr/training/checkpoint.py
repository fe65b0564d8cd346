"""Checkpoints: atomic writes, pruning, finding the latest, strict loading with readable errors.

Everything is stored as tensors and plain Python containers, so ``torch.load(path, weights_only=True)``
reads every file this module writes (no pickled classes: dataclasses become dicts).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import random
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from asr.files import CheckpointError, load_checkpoint

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)\.pt$")


def plain(obj: Any) -> Any:
    """``obj`` with dataclasses turned into dicts and paths into strings (safe for ``weights_only``)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(plain(v) for v in obj)
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return obj


def remove_stale_temporaries(exp_dir: Path) -> None:
    """Delete temporary files a killed run left behind."""
    for tmp in Path(exp_dir).glob(".*.tmp"):
        tmp.unlink(missing_ok=True)


def checkpoint_path(exp_dir: Path, step: int) -> Path:
    return Path(exp_dir) / f"checkpoint-{step}.pt"


def list_checkpoints(exp_dir: Path) -> list[tuple[int, Path]]:
    """``(step, path)`` of every ``checkpoint-{step}.pt`` in ``exp_dir``, oldest first."""
    found = []
    if Path(exp_dir).is_dir():
        for p in Path(exp_dir).iterdir():
            m = _CHECKPOINT.match(p.name)
            if m:
                found.append((int(m.group(1)), p))
    return sorted(found)


def prune_checkpoints(exp_dir: Path, keep_last: int) -> None:
    """Keep the ``keep_last`` newest checkpoints (all when ``keep_last <= 0``)."""
    if keep_last <= 0:
        return
    for _, path in list_checkpoints(exp_dir)[:-keep_last]:
        path.unlink(missing_ok=True)


def load_latest(exp_dir: Path) -> tuple[Path, dict] | None:
    """The newest readable checkpoint in ``exp_dir``, or None. An unreadable one is skipped with a warning."""
    for _, path in reversed(list_checkpoints(exp_dir)):
        try:
            return path, load_checkpoint(path)
        except Exception as exc:  # writes are atomic, so this is disk damage or a foreign file
            log.warning("cannot read checkpoint %s (%s); trying an older one", path, exc)
    return None


def rng_state() -> dict:
    """The global RNG states of torch (CPU and CUDA), numpy and ``random`` as tensors and plain values."""
    np_state = np.random.get_state(legacy=False)
    version, internal, gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {
            "key": torch.from_numpy(np_state["state"]["key"].astype(np.int64)),
            "pos": int(np_state["state"]["pos"]),
            "has_gauss": int(np_state["has_gauss"]),
            "gauss": float(np_state["gauss"]),
        },
        "python": [version, list(internal), gauss],
    }


def set_rng_state(state: dict) -> None:
    """Restore what :func:`rng_state` returned."""
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])
    n = state["numpy"]
    np.random.set_state(
        {
            "bit_generator": "MT19937",
            "state": {"key": n["key"].numpy().astype(np.uint32), "pos": n["pos"]},
            "has_gauss": n["has_gauss"],
            "gauss": n["gauss"],
        }
    )
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))


def average_checkpoints(paths: list[Path]) -> dict[str, torch.Tensor]:
    """The element-wise mean of the ``model`` weights of training checkpoints (icefall's ``--avg``).

    Floating-point tensors are averaged; integer ones (counters, buffers) are taken from the newest. All
    checkpoints must hold the same keys and shapes; a mismatch is a :class:`CheckpointError` naming them.
    """
    if not paths:
        raise CheckpointError("no checkpoints to average")
    states = [load_checkpoint(p)["model"] for p in paths]
    first, newest = states[0], states[-1]
    for path, state in zip(paths[1:], states[1:], strict=True):
        if set(state) != set(first) or any(state[k].shape != first[k].shape for k in first):
            raise CheckpointError(f"{path} does not match {paths[0]}: cannot average them")
    return {
        k: (sum(s[k].double() for s in states) / len(states)).to(v.dtype)
        if v.is_floating_point()
        else newest[k]
        for k, v in first.items()
    }

"""Files written atomically and read strictly: the bottom layer every other module may import.

A write goes to a temporary file in the target's folder and is renamed into place, so a killed job never
leaves a half-written manifest, table or checkpoint. Checkpoints are read with ``weights_only=True`` and
loaded into a model only when every key and shape matches. torch is imported lazily, so text-only callers
(tables, manifests) stay light.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from asr.errors import UserError

if TYPE_CHECKING:
    import torch
    from torch import nn


class CheckpointError(UserError):
    """A checkpoint that cannot be used: unreadable, or its weights do not fit; the message names the file."""


@contextlib.contextmanager
def atomic_writer(path: Path, fsync: bool = False) -> Iterator[BinaryIO]:
    """A binary file that becomes ``path`` only when the block ends without error (temp file + rename).

    A killed or failed write leaves ``path`` as it was and no temporary file behind (except after SIGKILL:
    the ``.<name>.*.tmp`` files are then removed by the next run). ``fsync`` flushes to disk before the
    rename (checkpoints, which must survive a power cut).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; results are for others to read too
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: Path, data: bytes) -> None:
    """Write bytes to ``path`` through a temporary file in the same folder and a rename."""
    with atomic_writer(path) as f:
        f.write(data)


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save_atomic(obj: Any, path: Path) -> None:
    """``torch.save`` to a temporary file in the same folder, fsync, then rename: no half-written file."""
    import torch

    with atomic_writer(path, fsync=True) as f:
        torch.save(obj, f)


class CorruptCheckpointError(CheckpointError):
    """A checkpoint file that is damaged (truncated, overwritten, not a torch file at all)."""


class ForeignCheckpointError(CheckpointError):
    """A torch file this toolkit did not write: it needs arbitrary unpickling (e.g. fairseq's ``args``)."""


def load_checkpoint(path: Path) -> dict:
    """Read a checkpoint (or ``encoder.pt``, ``ctc_model.pt``) on the CPU with ``weights_only=True``.

    A damaged file is a :class:`CorruptCheckpointError` and a file that needs arbitrary unpickling a
    :class:`ForeignCheckpointError`, both naming the file; a missing file stays ``FileNotFoundError``.
    """
    import pickle

    import torch

    path = Path(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except pickle.UnpicklingError as exc:
        if "Unsupported global" in str(exc):  # well-formed, but holds classes we never write
            raise ForeignCheckpointError(
                f"{path}: not a checkpoint of this toolkit (it needs arbitrary unpickling)"
            ) from exc
        raise CorruptCheckpointError(f"{path}: the file is corrupt (a damaged pickle)") from exc
    except Exception as exc:  # torch.load fails on a damaged file in many ways (RuntimeError, EOFError, ...)
        raise CorruptCheckpointError(
            f"{path}: the file is corrupt or truncated ({_first_line(exc)}); rewrite it or restore a copy"
        ) from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__


def load_model_strict(module: nn.Module, state: Mapping[str, torch.Tensor], path: Path) -> None:
    """Load ``state`` into ``module``; any missing, unexpected or reshaped key is a :class:`CheckpointError`."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    reshaped = [
        f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}"
        for k in sorted(set(own) & set(state))
        if tuple(state[k].shape) != tuple(own[k].shape)
    ]
    problems = []
    if missing:
        problems.append("missing keys: " + _few(missing))
    if unexpected:
        problems.append("unexpected keys: " + _few(unexpected))
    if reshaped:
        problems.append("shape mismatch (checkpoint vs model): " + _few(reshaped))
    if problems:
        raise CheckpointError(f"{path}: model weights do not match this model; " + "; ".join(problems))
    module.load_state_dict(state, strict=True)


def _few(items: list[str], n: int = 10) -> str:
    more = f", ... ({len(items) - n} more)" if len(items) > n else ""
    return ", ".join(items[:n]) + more

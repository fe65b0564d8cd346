"""Choosing decoder weights on dev data: a small grid, searched over posteriors computed once.

``asr decode --tune`` runs the network over the dev cuts once (:func:`asr.decoding.collect_emissions`),
then searches those posteriors with every combination of the grid's settings and scores each against the
cuts' transcripts. The winner (lowest WER; ties go to the earlier grid point) is written with the whole
grid to a JSON file that a later ``asr decode --params FILE`` reads, so test data is decoded with weights
that never saw it.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import Tensor
from tqdm.auto import tqdm

from asr.errors import UserError
from asr.files import write_atomic
from asr.scoring.wer import compute_wer

from .emissions import Decoder, search
from .hypothesis import Hypothesis, best_texts

log = logging.getLogger(__name__)


class TuningError(UserError):
    """A grid or a parameter file that cannot be used; the message names the option or file."""


@dataclass
class GridPoint:
    params: dict[str, float]
    wer: float
    errors: int
    ref_words: int


@dataclass
class TuneResult:
    best: GridPoint
    grid: list[GridPoint]
    best_nbest: dict[str, list[Hypothesis]]

    def to_dict(self, **extra: Any) -> dict[str, Any]:
        return {
            "best": self.best.params,
            "best_wer": self.best.wer,
            "grid": [{**p.params, "wer": p.wer, "errors": p.errors} for p in self.grid],
            "ref_words": self.best.ref_words,
            **extra,
        }


def tune(
    emissions: Mapping[str, Tensor | None],
    refs: Mapping[str, Sequence[str]],
    make_decoder: Callable[..., Decoder],
    grid: Mapping[str, Sequence[float]],
    progress: bool = True,
) -> TuneResult:
    """Search ``emissions`` with ``make_decoder(**params)`` for every point of ``grid``; lowest WER wins."""
    if not grid or any(not values for values in grid.values()):
        raise TuningError(f"empty tuning grid: {dict(grid)}")
    missing = sorted(set(emissions) - set(refs))
    if missing:
        raise TuningError(f"--tune needs a transcript for every cut; none for {missing[:10]}")
    names = list(grid)
    points: list[GridPoint] = []
    best: tuple[GridPoint, dict[str, list[Hypothesis]]] | None = None
    combos = list(itertools.product(*(grid[n] for n in names)))
    for values in tqdm(combos, desc="tune", unit="setting", disable=not progress):
        params = dict(zip(names, (float(v) for v in values), strict=True))
        nbest = search(dict(emissions), make_decoder(**params))
        hyps = {k: v.split() for k, v in best_texts(nbest).items()}
        result = compute_wer({k: refs[k] for k in emissions}, hyps)
        point = GridPoint(params, result.wer, result.errors, result.ref_words)
        points.append(point)
        log.info("tune %s: WER %.2f%%", params, result.wer)
        if best is None or point.wer < best[0].wer:
            best = (point, nbest)
    assert best is not None
    return TuneResult(best[0], points, best[1])


def write_params(result: TuneResult, path: Path, **extra: Any) -> Path:
    """The grid, its WERs and the chosen settings as JSON (``asr decode --params`` reads ``best``)."""
    write_atomic(Path(path), (json.dumps(result.to_dict(**extra), indent=2) + "\n").encode("utf-8"))
    return Path(path)


def read_params(path: Path, allowed: Sequence[str]) -> dict[str, float]:
    """The ``best`` settings of a :func:`write_params` file, checked against the names a decoder takes."""
    path = Path(path)
    try:
        best = json.loads(path.read_text(encoding="utf-8"))["best"]
    except FileNotFoundError:
        raise TuningError(f"{path}: no such parameter file (asr decode --tune writes it)") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise TuningError(f"{path}: not a tuning result ({type(exc).__name__}: {exc})") from None
    unknown = sorted(set(best) - set(allowed))
    if unknown:
        raise TuningError(
            f"{path}: settings {unknown} do not apply to this decoder (it takes {list(allowed)})"
        )
    return {k: float(v) for k, v in best.items()}


def parse_grid(text: str, option: str) -> list[float]:
    """``"0 0.5 1"`` or ``"0,0.5,1"`` -> floats; a clear error naming ``option`` otherwise."""
    try:
        values = [float(v) for v in text.replace(",", " ").split()]
    except ValueError:
        raise TuningError(f"{option}: expected numbers like '0 0.5 1', got {text!r}") from None
    if not values:
        raise TuningError(f"{option}: no values")
    return values

"""CTC posteriors of a cut set, batched by duration; every decoder searches these.

Decoders are callables ``log_probs [T, V] -> n-best list`` (:class:`Decoder`), so the network runs once per
utterance however many decoders or settings (``asr decode --tune``) search its output.
"""

from __future__ import annotations

import logging
import pickle
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import torch
from lhotse import CutSet
from lhotse.dataset import DynamicCutSampler
from torch import Tensor
from tqdm.auto import tqdm

from asr.data.dataset import AudioDataset, by_duration
from asr.files import save_atomic

from .hypothesis import Hypothesis

log = logging.getLogger(__name__)


class Decoder(Protocol):
    """Searches one utterance's CTC log-probabilities ([T, V], float32, CPU); returns its n-best, best first."""

    def __call__(self, log_probs: Tensor) -> list[Hypothesis]: ...


@torch.inference_mode()
def iter_emissions(
    model,
    cuts: CutSet,
    max_duration: float = 120.0,
    progress: bool = True,
    dataset: AudioDataset | None = None,
) -> Iterator[tuple[str, Tensor | None]]:
    """``(cut id, log_probs [T, V] on CPU)`` for every cut, by duration within windows (:func:`by_duration`).

    ``model`` is a :class:`~asr.objectives.ctc.CTCModel` or anything with ``log_probs(audio, lengths)`` and
    ``min_samples`` (the ONNX runtime model). Cuts the dataset cannot use (unreadable, silent, too short)
    give ``None``, so every cut is accounted for and scoring counts them as deletions. ``dataset``: the
    :class:`AudioDataset` that loads the audio (default: one for the model's ``min_samples``).
    """
    if hasattr(model, "eval"):
        model.eval()
    device = next(model.parameters()).device if hasattr(model, "parameters") else torch.device("cpu")
    dataset = dataset or AudioDataset(min_samples=model.min_samples)
    bar = tqdm(desc="decode", unit="cut", disable=not progress)
    for window in by_duration(cuts):
        # world_size/rank fixed: under torchrun lhotse would otherwise give each process only its share of
        # these cuts (callers shard whole chunks themselves, e.g. asr.semi.pseudo_label)
        sampler = DynamicCutSampler(window, max_duration=max_duration, shuffle=False, world_size=1, rank=0)
        for batch_cuts in sampler:
            batch = dataset[batch_cuts]
            found: dict[str, Tensor] = {}
            if batch is not None:
                log_probs, frames = model.log_probs(batch.audio.to(device), batch.audio_lengths.to(device))
                log_probs = log_probs.float().cpu()
                for i, cut_id in enumerate(batch.cut_ids):
                    found[cut_id] = log_probs[i, : int(frames[i])].contiguous()
            for cut in batch_cuts:
                yield cut.id, found.get(cut.id)
            bar.update(len(batch_cuts))
    bar.close()


def collect_emissions(
    model, cuts: CutSet, max_duration: float = 120.0, progress: bool = True
) -> dict[str, Tensor | None]:
    """All of :func:`iter_emissions` in memory (for searching the same posteriors with many settings)."""
    return dict(iter_emissions(model, cuts, max_duration, progress))


class Timer:
    """Accumulates wall-clock seconds of the ``with`` blocks it times (network vs search in RTF reports)."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __enter__(self) -> Timer:
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds += time.perf_counter() - self._start


def search(
    emissions: dict[str, Tensor | None], decoder: Decoder, progress: bool = False, timer: Timer | None = None
) -> dict[str, list[Hypothesis]]:
    """Run ``decoder`` over stored emissions; a cut without emissions gets an empty n-best list."""
    out: dict[str, list[Hypothesis]] = {}
    timer = timer or Timer()
    for cut_id, log_probs in tqdm(emissions.items(), desc="search", unit="cut", disable=not progress):
        with timer:
            out[cut_id] = decoder(log_probs) if log_probs is not None else []
    return out


def decode_cuts(
    model,
    cuts: CutSet,
    decoder: Decoder,
    max_duration: float = 120.0,
    progress: bool = True,
    network: Timer | None = None,
    searching: Timer | None = None,
) -> dict[str, list[Hypothesis]]:
    """Network and search interleaved batch by batch: cut id -> n-best list (empty for unusable cuts).

    ``network`` and ``searching`` (optional :class:`Timer`) accumulate the seconds spent in each, for
    real-time factors.
    """
    network, searching = network or Timer(), searching or Timer()
    out: dict[str, list[Hypothesis]] = {}
    items = iter_emissions(model, cuts, max_duration, progress)
    while True:
        with network:
            item = next(items, None)
        if item is None:
            return out
        cut_id, log_probs = item
        with searching:
            out[cut_id] = decoder(log_probs) if log_probs is not None else []


def _stamp(path: Path) -> dict[str, object]:
    stat = Path(path).stat()
    return {"path": str(Path(path).resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def cached_emissions(
    model,
    model_path: Path,
    cuts: CutSet,
    cuts_path: Path,
    cache: Path,
    max_duration: float = 120.0,
    progress: bool = True,
) -> dict[str, Tensor | None]:
    """:func:`collect_emissions`, stored in ``cache`` and reused while the model and cuts files are unchanged.

    Greedy, beam and WFST decoding (and every tuning run) of one model on one cut set then pay for the
    network once. The cache records the two files' paths, sizes and modification times; any change, or
    an unreadable cache, recomputes it. Written atomically.
    """

    source = {"model": _stamp(model_path), "cuts": _stamp(cuts_path)}
    cache = Path(cache)
    if cache.is_file():
        try:
            stored = torch.load(cache, weights_only=True)
            if stored.get("source") == source:
                log.info("%s: reusing posteriors of %d cuts", cache, len(stored["emissions"]))
                return {k: v for k, v in stored["emissions"].items()} | {k: None for k in stored["unusable"]}
            log.info("%s: made from other inputs; recomputing", cache)
        except (OSError, RuntimeError, KeyError, AttributeError, pickle.UnpicklingError) as exc:
            log.warning("%s: unreadable posteriors cache (%s); recomputing", cache, exc)
    emissions = collect_emissions(model, cuts, max_duration, progress)
    save_atomic(
        {
            "source": source,
            "emissions": {k: v for k, v in emissions.items() if v is not None},
            "unusable": [k for k, v in emissions.items() if v is None],
        },
        cache,
    )
    return emissions

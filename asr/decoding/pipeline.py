"""Decoding a corpus into files: model + cuts -> hypotheses, n-best lists, timings (and a tuned grid).

The one function behind ``asr decode``, the recipes (through it) and ``bench/finetune.py``: load any CTC
model, run the network once per cut (optionally cached on disk), search with the chosen method, and
write ``<out>`` (Kaldi text), ``<out>.nbest.jsonl`` and ``<out>.timing.json``. With ``tune`` the method's
weights are grid-searched on these cuts' transcripts first (``<out>.tune.json``), and ``params_file``
reuses such a file on other data.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asr.data.dataset import load_cuts
from asr.export.onnx import load_ctc_model_and_tokenizer
from asr.files import write_atomic
from asr.scoring.wer import read_transcripts

from .emissions import Timer, cached_emissions, collect_emissions, decode_cuts, search
from .factory import TUNABLE, make_decoder
from .greedy import write_kaldi_text
from .hypothesis import Hypothesis, best_texts, write_nbest
from .tune import TuneResult, TuningError, read_params, tune, write_params


@dataclass
class CorpusDecoding:
    """What :func:`decode_corpus` wrote and measured."""

    out: Path
    nbest: dict[str, list[Hypothesis]]
    timing: dict[str, Any]  # also in ``<out>.timing.json``
    tuned: TuneResult | None = None
    tune_file: Path | None = None


def sibling(out: Path, suffix: str) -> Path:
    """``hyp.txt`` -> ``hyp<suffix>`` in the same folder."""
    return out.with_name((out.name[: -len(out.suffix)] if out.suffix else out.name) + suffix)


def tuning_grid(
    method: str,
    overrides: Mapping[str, Sequence[float]] | None = None,
    fixed: Mapping[str, float | None] | None = None,
    lexicon_free: bool = False,
) -> dict[str, list[float]]:
    """The grid ``tune`` searches: the method's default grid, ``overrides`` per setting, ``fixed`` settings
    (given by the caller) held at their one value."""
    grid = {k: list(v) for k, v in TUNABLE[method].items()}
    for name, values in (overrides or {}).items():
        if name not in grid:
            raise TuningError(f"--grid {name}: {method} tunes {sorted(grid) or 'nothing'}")
        grid[name] = list(values)
    if not grid:
        raise TuningError(f"--tune: {method} decoding has no weights to tune")
    if method == "beam" and lexicon_free:
        grid.pop("word_score", None)  # flashlight's lexicon-free search has no word score
    for name in grid:
        if (fixed or {}).get(name) is not None:
            grid[name] = [fixed[name]]
    return grid


def decode_corpus(
    model_path: Path,
    cuts_path: Path,
    out: Path,
    method: str = "greedy",
    *,
    tokenizer_dir: Path | None = None,
    lm_dir: Path | None = None,
    lexicon_free: bool = False,
    graph_dir: Path | None = None,
    params_file: Path | None = None,
    tune_grid: Mapping[str, Sequence[float]] | None = None,
    tune_weights: bool = False,
    max_duration: float = 120.0,
    emissions_file: Path | None = None,
    progress: bool = True,
    settings: Mapping[str, Any] | None = None,
) -> CorpusDecoding:
    """Transcribe the cuts at ``cuts_path`` with the CTC model at ``model_path`` and write the files above.

    ``settings``: the method's decoder settings (:func:`~asr.decoding.factory.make_decoder`); ``None``
    values are left to ``params_file`` or the defaults. ``tune_weights`` grid-searches the weights not
    fixed in ``settings`` (grid: :func:`tuning_grid` with ``tune_grid`` overrides) on the cuts'
    transcripts and decodes with the best. ``emissions_file`` caches the posteriors.
    """
    out, cuts_path = Path(out), Path(cuts_path)
    model, tokenizer = load_ctc_model_and_tokenizer(model_path, tokenizer_dir)
    cuts = load_cuts(cuts_path)
    given = {k: v for k, v in (settings or {}).items() if v is not None}
    settings = {**read_params(params_file, list(TUNABLE[method])), **given} if params_file else given

    def build(**extra):
        return make_decoder(
            method, tokenizer, lm_dir, lexicon_free=lexicon_free, graph_dir=graph_dir, **{**settings, **extra}
        )

    network, searching = Timer(), Timer()
    tuned = tune_file = None
    if tune_weights:
        grid = tuning_grid(method, tune_grid, settings, lexicon_free)
        settings = {k: v for k, v in settings.items() if k not in grid}
        refs = read_transcripts(cuts_path)
    if tune_weights or emissions_file:
        with network:
            if emissions_file:
                emissions = cached_emissions(
                    model, model_path, cuts, cuts_path, emissions_file, max_duration, progress
                )
            else:
                emissions = collect_emissions(model, cuts, max_duration, progress)
    if tune_weights:
        with searching:
            tuned = tune(emissions, refs, build, grid, progress)
        tune_file = write_params(
            tuned,
            sibling(out, ".tune.json"),
            method=method,
            cuts=str(cuts_path),
            lm=str(lm_dir) if lm_dir else None,
            lexicon_free=lexicon_free,
        )
        nbest = tuned.best_nbest
    elif emissions_file:
        nbest = search(emissions, build(), progress=progress, timer=searching)
    else:
        nbest = decode_cuts(model, cuts, build(), max_duration, progress, network, searching)
    write_kaldi_text(best_texts(nbest), out)
    write_nbest(nbest, sibling(out, ".nbest.jsonl"), tokenizer.tokens)
    audio = sum(c.duration for c in cuts)
    timing = {
        "method": method,
        "cuts": len(nbest),
        "audio_seconds": round(audio, 2),
        "network_seconds": round(network.seconds, 3),
        "search_seconds": round(searching.seconds, 3),
        "rtf": round((network.seconds + searching.seconds) / max(audio, 1e-9), 5),
        "search_rtf": round(searching.seconds / max(audio, 1e-9), 5),
    }
    write_atomic(sibling(out, ".timing.json"), (json.dumps(timing) + "\n").encode())
    return CorpusDecoding(out, nbest, timing, tuned, tune_file)

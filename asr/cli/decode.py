"""``asr decode``: CTC posteriors of cuts, searched greedily, with an n-gram LM, or through a WFST graph.

Writes the one-best transcripts as a Kaldi text file (``--out``) and, beside it, ``<out>.nbest.jsonl``:
every utterance's n-best list with scores and posterior-based confidences (utterance and token), which
pseudo-labelling reads. ``--tune`` searches a grid of the method's weights on the (dev) cuts' transcripts,
writes ``<out>.tune.json`` and decodes with the best; ``--params`` reuses such a file on other data.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from asr.files import write_atomic

from . import cli

_path = click.Path(path_type=Path)


def sibling(out: Path, suffix: str) -> Path:
    """``hyp.txt`` -> ``hyp<suffix>`` in the same folder."""
    return out.with_name((out.name[: -len(out.suffix)] if out.suffix else out.name) + suffix)


@cli.command()
@click.option(
    "--model",
    "model_path",
    type=_path,
    required=True,
    help="ctc_model.pt from `asr finetune`, model.onnx from `asr export onnx`, or a Hugging Face "
    "Wav2Vec2ForCTC folder (letters or espeak phonemes).",
)
@click.option("--cuts", "cuts_path", type=_path, required=True, help="Cuts to transcribe.")
@click.option("--tokenizer", "tokenizer_option", type=_path, help="Tokenizer folder [default: the model's].")
@click.option("--out", type=_path, required=True, help="Kaldi-style hypothesis file (utt-id words...).")
@click.option(
    "--method",
    type=click.Choice(["greedy", "beam", "wfst", "wfst-k2"]),
    default="greedy",
    show_default=True,
    help="wfst-k2: the WFST graph searched by k2 (optional dependency).",
)
@click.option("--lm", "lm_dir", type=_path, help="`asr lm build` folder (beam, wfst).")
@click.option("--lexicon-free", is_flag=True, help="beam: no lexicon; needs the LM folder's token n-gram.")
@click.option(
    "--graph", "graph_dir", type=_path, help="wfst: a TLG folder (default: built from --lm, cached)."
)
@click.option("--nbest", type=int, help="beam: hypotheses kept per utterance [default: 1].")
@click.option("--beam-size", type=int, help="beam: hypotheses kept per frame.")
@click.option("--lm-weight", type=float, help="beam: weight of the LM score.")
@click.option("--word-score", type=float, help="beam: score added per word (insertion bonus).")
@click.option("--acoustic-scale", type=float, help="wfst: scale of the acoustic log-likelihoods.")
@click.option("--search-beam", "beam", type=float, help="wfst: pruning beam (cost units) [default: 16].")
@click.option("--max-active", type=int, help="wfst: most states kept per frame [default: 7000].")
@click.option("--params", "params_file", type=_path, help="Settings from an earlier --tune (its .tune.json).")
@click.option("--tune", is_flag=True, help="Grid-search the method's weights on these cuts' transcripts.")
@click.option(
    "--grid",
    "grid_options",
    multiple=True,
    metavar="NAME=V1,V2,...",
    help="Replace the default grid of one setting, e.g. --grid lm_weight=0,1,2.",
)
@click.option(
    "--max-duration", type=float, default=120.0, show_default=True, help="Seconds of audio per batch."
)
@click.option("--threads", type=int, help="CPU threads for the network (default: torch's).")
@click.option(
    "--emissions",
    "emissions_file",
    type=_path,
    help="Cache of the posteriors: reused while model and cuts are unchanged (one network pass "
    "for greedy, beam, WFST and tuning).",
)
@click.option("--progress/--no-progress", default=True, show_default=True)
def decode(
    model_path: Path,
    cuts_path: Path,
    tokenizer_option: Path | None,
    out: Path,
    method: str,
    lm_dir: Path | None,
    lexicon_free: bool,
    graph_dir: Path | None,
    params_file: Path | None,
    tune: bool,
    grid_options: tuple[str, ...],
    max_duration: float,
    threads: int | None,
    emissions_file: Path | None,
    progress: bool,
    **settings,
) -> None:
    """Transcribe cuts with a fine-tuned CTC model; write hypotheses, n-best lists and timings."""
    import torch

    from asr.data.dataset import load_cuts
    from asr.decoding import best_texts, collect_emissions, decode_cuts, write_kaldi_text, write_nbest
    from asr.decoding.emissions import Timer, cached_emissions, search
    from asr.decoding.factory import TUNABLE, make_decoder
    from asr.decoding.tune import TuningError, parse_grid, read_params, write_params
    from asr.decoding.tune import tune as run_tune
    from asr.export.onnx import load_any_ctc_model
    from asr.scoring.wer import read_transcripts
    from asr.text.tokenizer import load_tokenizer

    if threads:
        torch.set_num_threads(threads)
    model, tokenizer_dir = load_any_ctc_model(model_path)
    tokenizer_dir = tokenizer_option or tokenizer_dir
    if tokenizer_dir is None:
        raise click.UsageError(f"{model_path} records no tokenizer folder: pass --tokenizer")
    tokenizer = load_tokenizer(tokenizer_dir)
    if tokenizer.vocab_size != model.vocab_size:
        raise click.UsageError(
            f"{model_path} predicts {model.vocab_size} tokens but the tokenizer in "
            f"{tokenizer_dir} has {tokenizer.vocab_size}"
        )
    cuts = load_cuts(cuts_path)
    if params_file is not None:
        settings = {
            **read_params(params_file, list(TUNABLE[method])),
            **{k: v for k, v in settings.items() if v is not None},
        }

    def build(**extra):
        return make_decoder(
            method, tokenizer, lm_dir, lexicon_free=lexicon_free, graph_dir=graph_dir, **{**settings, **extra}
        )

    network, searching = Timer(), Timer()
    extra_report = ""
    if tune:
        grid = {k: list(v) for k, v in TUNABLE[method].items()}
        for option in grid_options:
            name, _, values = option.partition("=")
            if name not in grid:
                raise TuningError(f"--grid {option}: {method} tunes {sorted(grid) or 'nothing'}")
            grid[name] = parse_grid(values, f"--grid {name}")
        if not grid:
            raise TuningError(f"--tune: {method} decoding has no weights to tune")
        if method == "beam" and lexicon_free:
            grid.pop("word_score", None)  # flashlight's lexicon-free search has no word score
        for name in grid:  # a weight given on the command line is fixed, not tuned
            if settings.get(name) is not None:
                grid[name] = [settings.pop(name)]
        refs = read_transcripts(cuts_path)
    if tune or emissions_file:
        with network:
            if emissions_file:
                emissions = cached_emissions(
                    model, model_path, cuts, cuts_path, emissions_file, max_duration, progress
                )
            else:
                emissions = collect_emissions(model, cuts, max_duration, progress)
    if tune:
        with searching:
            result = run_tune(emissions, refs, build, grid, progress)
        tune_file = write_params(
            result,
            sibling(out, ".tune.json"),
            method=method,
            cuts=str(cuts_path),
            lm=str(lm_dir) if lm_dir else None,
            lexicon_free=lexicon_free,
        )
        nbest = result.best_nbest
        extra_report = (
            f"; best {result.best.params} (WER {result.best.wer:.2f}% on these cuts) -> {tune_file}"
        )
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
    click.echo(
        f"decoded {len(nbest)} cuts ({audio:.1f} s) with {method}: network {network.seconds:.2f} s, "
        f"search {searching.seconds:.2f} s, RTF {timing['rtf']:.4f} -> {out}{extra_report}"
    )

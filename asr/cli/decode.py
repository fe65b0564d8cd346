"""``asr decode``: CTC posteriors of cuts, searched greedily, with an n-gram LM, or through a WFST graph.

The work is :func:`asr.decoding.pipeline.decode_corpus`'s; this module parses the options.

Writes the one-best transcripts as a Kaldi text file (``--out``) and, beside it, ``<out>.nbest.jsonl``:
every utterance's n-best list with scores and posterior-based confidences (utterance and token), which
pseudo-labelling reads. ``--tune`` searches a grid of the method's weights on the (dev) cuts' transcripts,
writes ``<out>.tune.json`` and decodes with the best; ``--params`` reuses such a file on other data.
"""

from __future__ import annotations

from pathlib import Path

import click

from . import cli

_path = click.Path(path_type=Path)


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

    from asr.decoding.pipeline import decode_corpus
    from asr.decoding.tune import parse_grid

    if threads:
        torch.set_num_threads(threads)
    grid = {}
    for option in grid_options:
        name, _, values = option.partition("=")
        grid[name] = parse_grid(values, f"--grid {name}")
    result = decode_corpus(
        model_path,
        cuts_path,
        out,
        method,
        tokenizer_dir=tokenizer_option,
        lm_dir=lm_dir,
        lexicon_free=lexicon_free,
        graph_dir=graph_dir,
        params_file=params_file,
        tune_grid=grid,
        tune_weights=tune,
        max_duration=max_duration,
        emissions_file=emissions_file,
        progress=progress,
        settings=settings,
    )
    timing = result.timing
    tuned = ""
    if result.tuned is not None:
        best = result.tuned.best
        tuned = f"; best {best.params} (WER {best.wer:.2f}% on these cuts) -> {result.tune_file}"
    click.echo(
        f"decoded {timing['cuts']} cuts ({timing['audio_seconds']:.1f} s) with {method}: network "
        f"{timing['network_seconds']:.2f} s, search {timing['search_seconds']:.2f} s, RTF {timing['rtf']:.4f} "
        f"-> {out}{tuned}"
    )

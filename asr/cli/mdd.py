"""``asr mdd``: pronunciation assessment of a recording, and the reference files MDD scoring reads."""

from __future__ import annotations

import json
from pathlib import Path

import click

from . import cli


@cli.group()
def mdd() -> None:
    """Mispronunciation detection and diagnosis (asr.mdd); scoring is `asr score mdd`."""


@mdd.command("diagnose")
@click.option("--model", "model_path", required=True, type=click.Path(path_type=Path),
              help="Phone model: an experiment folder (its ctc_model.pt), a ctc_model.pt or an .onnx export.")  # fmt: skip
@click.option("--audio", "audio_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="wav/flac/ogg/mp3, any rate and channel count.")  # fmt: skip
@click.option("--text", required=True, help="What the speaker was asked to say.")
@click.option("--json", "as_json", is_flag=True, help="Print the full result as one JSON object.")
@click.option(
    "--max-seconds", type=float, default=30.0, show_default=True, help="Longest recording accepted."
)
@click.option("--threads", type=int, help="torch CPU threads.")
def diagnose(model_path: Path, audio_path: Path, text: str, as_json: bool, max_seconds: float,
             threads: int | None) -> None:  # fmt: skip
    """Which sounds of TEXT were said right, which wrong, and what was said instead (with times and scores)."""
    import torch

    from asr.data.audio import AudioLimits
    from asr.mdd.diagnosis import DiagnoseConfig, PronunciationAssessor

    if threads:
        torch.set_num_threads(threads)
    cfg = DiagnoseConfig(limits=AudioLimits(max_seconds=max_seconds))
    result = PronunciationAssessor.from_path(model_path, cfg).diagnose_file(audio_path, text)
    click.echo(json.dumps(result.to_dict(), ensure_ascii=False) if as_json else result.summary())


@mdd.command("reference")
@click.option("--cuts", "cuts_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Annotated cuts (asr prepare l2arctic's test part).")  # fmt: skip
@click.option("--out-dir", required=True, type=click.Path(file_okay=False, path_type=Path))
def reference(cuts_path: Path, out_dir: Path) -> None:
    """Write canonical.txt and perceived.txt (utt-id ph ph ..., keyed by cut id) for `asr score mdd`."""
    from asr.mdd.reference import write_reference

    counts = write_reference(cuts_path, out_dir)
    click.echo(
        f"{counts['utterances']} utterances ({counts['skipped']} without annotation skipped) -> {out_dir}"
    )

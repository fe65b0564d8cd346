"""``asr export``: a fine-tuned CTC model in deployment formats (ONNX for onnxruntime)."""

from __future__ import annotations

from pathlib import Path

import click

from . import cli


@cli.group()
def export() -> None:
    """Export fine-tuned models for inference without torch."""


@export.command("onnx")
@click.option(
    "--model",
    "model_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="CTC model file written by asr finetune (EXP_DIR/ctc_model.pt).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="ONNX file to write (e.g. model.onnx).",
)
@click.option(
    "--opset", type=click.IntRange(14, 20), default=17, show_default=True, help="ONNX opset version."
)
@click.option(
    "--check/--no-check",
    default=True,
    show_default=True,
    help="Check the graph and compare onnxruntime with torch on random audio before writing.",
)
def onnx(model_path: Path, out: Path, opset: int, check: bool) -> None:
    """Write MODEL's log-probabilities (dynamic batch and length) as an ONNX graph with its metadata."""
    from asr.export.onnx import export_onnx
    from asr.objectives.ctc import load_ctc_model

    model, tokenizer_dir = load_ctc_model(model_path)
    path = export_onnx(model, out, tokenizer_dir=tokenizer_dir, opset=opset, check=check)
    size = path.stat().st_size / 2**20
    checked = "checked against torch" if check else "not checked"
    click.echo(f"wrote {path} ({size:.1f} MiB, opset {opset}, vocabulary {model.vocab_size}, {checked})")

"""``asr app``: the pronunciation-practice app (apps/pronunciation) on a phone model."""

from __future__ import annotations

from pathlib import Path

import click

from . import cli
from .mdd import score_model_option

ROOT = Path(__file__).resolve().parents[2]
#: The phone model the main job (recipes/mini/run.sh) trains for the app: a link stage 10 makes.
DEFAULT_MODEL = ROOT / "recipes" / "mini" / "exp" / "mini_seed0" / "app_model"


@cli.command("app")
@click.option(
    "--model",
    type=click.Path(path_type=Path),
    default=DEFAULT_MODEL,
    show_default=True,
    help="Phone model: experiment folder, ctc_model.pt, .onnx export or a Hugging Face phoneme CTC folder.",
)
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="0.0.0.0 to serve other machines (use HTTPS)."
)
@click.option("--port", type=int, default=7860, show_default=True)
@click.option("--auth", help="user:password required to open the app.")
@click.option(
    "--max-seconds", type=float, default=30.0, show_default=True, help="Longest recording accepted."
)
@click.option("--max-mb", type=float, default=20.0, show_default=True, help="Largest upload accepted.")
@click.option("--ssl-certfile", type=click.Path(dir_okay=False), help="HTTPS certificate (PEM).")
@click.option("--ssl-keyfile", type=click.Path(dir_okay=False), help="HTTPS private key (PEM).")
@score_model_option
@click.option(
    "--word-model",
    type=click.Path(path_type=Path),
    help="A word CTC model (characters or BPE): a recording without a prompt is then judged on the words "
    "it recognises (unscripted speech).",
)
def app(
    model: Path,
    host: str,
    port: int,
    auth: str | None,
    max_seconds: float,
    max_mb: float,
    ssl_certfile: str | None,
    ssl_keyfile: str | None,
    score_model_path: str | None,
    word_model: Path | None,
) -> None:
    """Serve the pronunciation-practice app (record or upload, see and hear each wrong sound)."""
    from asr.data.audio import AudioLimits

    credentials = None
    if auth is not None:
        user, sep, password = auth.partition(":")
        if not (sep and user and password):
            raise click.UsageError("--auth takes user:password")
        credentials = (user, password)
    if (ssl_certfile is None) != (ssl_keyfile is None):
        raise click.UsageError("HTTPS needs both --ssl-certfile and --ssl-keyfile")
    from asr.models.hf_ctc import is_hf_ctc_folder

    if (
        not (model.is_dir() and (model / "ctc_model.pt").is_file())
        and not model.is_file()
        and not is_hf_ctc_folder(model)
    ):
        hint = " (the main job makes it: bash recipes/mini/run.sh)" if model == DEFAULT_MODEL else ""
        raise click.UsageError(f"no phone model at {model}{hint}; or pass --model EXP_DIR")
    from apps.pronunciation.app import AppConfig, launch

    limits = AudioLimits(max_seconds=max_seconds, max_bytes=int(max_mb * 2**20))
    scheme = "https" if ssl_certfile else "http"
    click.echo(f"pronunciation app on {scheme}://{host}:{port}/ (model {model}); Ctrl-C stops it", err=True)
    launch(
        model,
        host,
        port,
        credentials,
        AppConfig(limits=limits),
        ssl_certfile,
        ssl_keyfile,
        score_model_path,
        word_model,
    )

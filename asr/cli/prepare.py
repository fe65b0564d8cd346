"""``asr prepare``: corpora on disk → lhotse manifests (``*.jsonl.gz``)."""

from __future__ import annotations

from pathlib import Path

import click

from . import cli

_corpus = click.argument("corpus_dir", type=click.Path(path_type=Path))
_out = click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
_jobs = click.option("-j", "--num-jobs", type=int, default=1, show_default=True, help="Worker threads.")


def _finish(summary) -> None:
    click.echo(summary.report())


@cli.group()
def prepare() -> None:
    """Write lhotse manifests for a corpus (real or synthetic: the same commands)."""


@prepare.command("librispeech")
@_corpus
@_out
@_jobs
@click.option("-p", "--part", "parts", multiple=True, help="Parts to prepare (default: all present).")
def librispeech(corpus_dir: Path, out_dir: Path, num_jobs: int, parts: tuple[str, ...]) -> None:
    """CORPUS_DIR is the LibriSpeech folder (holding train-clean-100, dev-clean, ...)."""
    from asr.data.librispeech import prepare_librispeech

    _finish(prepare_librispeech(corpus_dir, out_dir, list(parts) or None, num_jobs))


@prepare.command("librilight")
@_corpus
@_out
@_jobs
def librilight(corpus_dir: Path, out_dir: Path, num_jobs: int) -> None:
    """CORPUS_DIR holds Libri-light's small/ (and medium/, large/ if downloaded)."""
    from asr.data.librilight import prepare_librilight

    _finish(prepare_librilight(corpus_dir, out_dir, num_jobs))


@prepare.command("librilight-finetuning")
@_corpus
@_out
@_jobs
def librilight_finetuning(corpus_dir: Path, out_dir: Path, num_jobs: int) -> None:
    """CORPUS_DIR is librispeech_finetuning/ (holding 1h/ and 9h/): writes the 10min, 1h, 10h splits."""
    from asr.data.librispeech import prepare_librilight_finetuning

    _finish(prepare_librilight_finetuning(corpus_dir, out_dir, num_jobs))


@prepare.command("l2arctic")
@_corpus
@_out
@_jobs
def l2arctic(corpus_dir: Path, out_dir: Path, num_jobs: int) -> None:
    """CORPUS_DIR holds the 24 speaker folders (ABA, ..., TLV): writes train, test and unlabelled."""
    from asr.data.l2arctic import prepare_l2arctic

    _finish(prepare_l2arctic(corpus_dir, out_dir, num_jobs))


@prepare.command("timit")
@_corpus
@_out
@_jobs
def timit(corpus_dir: Path, out_dir: Path, num_jobs: int) -> None:
    """TIMIT's training part with its phone labels as ARPAbet (native speech for the phone recogniser).

    CORPUS_DIR in lhotse's layout: CORPUS_DIR/data/TRAIN/DR1/FCJF0/SA1.WAV (.TXT .WRD .PHN beside it).
    """
    from asr.data.timit import prepare_timit

    click.echo(f"TIMIT training cuts with ARPAbet phones -> {prepare_timit(corpus_dir, out_dir, num_jobs)}")


@prepare.command("speechocean762")
@_corpus
@_out
@_jobs
def speechocean762(corpus_dir: Path, out_dir: Path, num_jobs: int) -> None:
    """Real Mandarin-L1 learners reading English (OpenSLR 101, or the shared sample): writes train and test.

    CORPUS_DIR holds WAVE/, train/, test/ and resource/ (text-phone; scores.json or scores-detail.json
    when present) and, in the sample, expert-scores-mi1/utt2score. Canonical phones and expert scores go into
    each supervision's custom fields.
    """
    from asr.data.speechocean762 import prepare_speechocean762

    _finish(prepare_speechocean762(corpus_dir, out_dir, num_jobs))


@prepare.command("download-speechocean762")
@click.argument("target_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--sha256", help="Expected SHA-256 of speechocean762.tar.gz (OpenSLR publishes none).")
def download_speechocean762(target_dir: Path, sha256: str | None) -> None:
    """Download OpenSLR resource 101 into TARGET_DIR/speechocean762 (resumable; skipped when complete)."""
    from asr.data.speechocean762 import download_speechocean762 as download

    click.echo(download(target_dir, sha256=sha256))

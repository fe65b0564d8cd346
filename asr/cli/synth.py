"""``asr synth``: synthetic corpora in the exact on-disk formats of the real ones."""

from __future__ import annotations

from pathlib import Path

import click

from . import cli

_preset = click.option(
    "--preset",
    type=click.Choice(["tiny", "mini"]),
    default="tiny",
    show_default=True,
    help="tiny: seconds, for tests; mini: the main job's corpus.",
)
_out = click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder to write the corpus into.",
)
_seed = click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same bytes.")
_jobs = click.option("-j", "--num-jobs", type=int, default=1, show_default=True, help="Worker processes.")
_voices = click.option(
    "--voices",
    metavar="FAMILY=SHARE,...",
    help="Shares of the voice families espeak, piper, flite, festival (sum 1), e.g. "
    "espeak=0.5,piper=0.3,flite=0.2; default: the preset's. espeak=1 gives the espeak-only corpus.",
)


def _shares(spec: str | None, allowed: tuple[str, ...] | None = None) -> dict[str, float] | None:
    """The parsed ``--voices``, or None (the preset's shares); bad specs are one-line usage errors."""
    from data_prep.voices import FAMILIES, VoiceSharesError, parse_shares

    if spec is None:
        return None
    try:
        return parse_shares(spec, allowed or FAMILIES)
    except VoiceSharesError as exc:
        raise click.UsageError(str(exc)) from None


@cli.group()
def synth() -> None:
    """Synthesise small corpora (espeak-ng, piper, flite, festival voices) in the real corpora's formats."""


@synth.command("librispeech")
@_preset
@_out
@_seed
@_jobs
@_voices
def librispeech(preset: str, out_dir: Path, seed: int, num_jobs: int, voices: str | None) -> None:
    """OUT/LibriSpeech: train-clean-100, dev/test-clean, dev/test-other."""
    from data_prep.librispeech import synth_librispeech

    click.echo(synth_librispeech(out_dir, preset, seed, num_jobs, voices=_shares(voices)))


@synth.command("librispeech-lm")
@_out
def librispeech_lm(out_dir: Path) -> None:
    """OUT/librispeech-lm-norm.txt.gz: LM text disjoint from dev/test, as openslr.org/11 ships it."""
    from data_prep.librispeech import write_lm_corpus

    click.echo(write_lm_corpus(out_dir))


@synth.command("librilight")
@_preset
@_out
@_seed
@_jobs
@_voices
def librilight(preset: str, out_dir: Path, seed: int, num_jobs: int, voices: str | None) -> None:
    """OUT/librilight/small (unlabelled) and OUT/librispeech_finetuning (10 min / 1 h / 10 h)."""
    from data_prep.librilight import synth_librilight

    click.echo(synth_librilight(out_dir, preset, seed, num_jobs, voices=_shares(voices)))


@synth.command("l2arctic")
@_preset
@_out
@_seed
@_jobs
@_voices
@click.option(
    "--error-rate",
    type=float,
    default=0.12,
    show_default=True,
    help="Chance that an eligible phone is mispronounced.",
)
@click.option(
    "--clean-share",
    type=float,
    default=0.2,
    show_default=True,
    help="Share of utterances spoken with no error.",
)
def l2arctic(
    preset: str,
    out_dir: Path,
    seed: int,
    num_jobs: int,
    voices: str | None,
    error_rate: float,
    clean_share: float,
) -> None:
    """OUT/L2-ARCTIC: 24 speakers, annotated mispronunciations with exact labels (espeak, piper voices)."""
    from data_prep.l2arctic import synth_l2arctic
    from data_prep.voices import PHONE_FAMILIES

    shares = _shares(voices, PHONE_FAMILIES)

    click.echo(
        synth_l2arctic(
            out_dir,
            preset,
            seed,
            error_rate=error_rate,
            clean_share=clean_share,
            num_jobs=num_jobs,
            voices=shares,
        )
    )


@synth.command("say")
@click.option("--text", help="Plain text to speak.")
@click.option(
    "--phones",
    help='ARPAbet to speak instead, words split by "|": "TH IH1 NG K | F AE1 S T" '
    "(stress digits optional): a mispronunciation with exact labels.",
)
@click.option(
    "--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path), help=".wav or .flac"
)
@click.option("--voice", default="en-us", show_default=True, help="espeak-ng voice, e.g. en-us+m3, en-gb+f2.")
@click.option("--rate", type=int, default=160, show_default=True, help="Words per minute.")
def say(text: str | None, phones: str | None, out_path: Path, voice: str, rate: int) -> None:
    """Speak a sentence (or a phone string) with espeak-ng into a 16 kHz recording."""
    from asr.text.espeak import IsolatedSynthesizer, Voice
    from asr.text.phones import phones_to_espeak
    from data_prep.audio import write_audio

    if (text is None) == (phones is None):
        raise click.UsageError("give exactly one of --text and --phones")
    if out_path.suffix.lower() not in (".wav", ".flac"):
        raise click.UsageError(f"--out {out_path}: write .wav or .flac")
    if phones is not None:
        try:
            text = phones_to_espeak([word.split() for word in phones.split("|")])
        except ValueError as exc:
            raise click.UsageError(f"--phones: {exc}") from None
    name, _, variant = voice.partition("+")
    with IsolatedSynthesizer() as tts:
        result = tts.synthesize(text, Voice(name, variant or None, rate=rate), sample_rate=16000)
    if not len(result.samples):
        raise click.UsageError("espeak-ng produced no audio for this input")
    write_audio(out_path, result.samples, 16000)
    click.echo(f"{result.duration:.2f} s -> {out_path}")

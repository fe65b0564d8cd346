"""``asr tokenizer``: transcripts → a tokenizer folder for CTC fine-tuning and decoding."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click

from . import cli

_file = click.Path(exists=True, dir_okay=False, path_type=Path)


@cli.group()
def tokenizer() -> None:
    """Make the tokenizer (BPE, characters or ARPAbet phones) that CTC models are trained with."""


def read_transcripts(
    cuts: tuple[Path, ...], texts: tuple[Path, ...], kaldi: bool
) -> Iterator[tuple[str, str]]:
    """``(utterance id, transcript)`` from lhotse cut manifests and text files, in the order given.

    Cut manifests give the supervision texts of each cut (joined by spaces, as fine-tuning does);
    text files (``.gz`` allowed) give one transcript a line, or ``utt-id words...`` with ``kaldi``. Empty
    lines are skipped.
    """
    import gzip

    from lhotse import CutSet

    for path in cuts:
        for cut in CutSet.from_file(path):
            yield cut.id, " ".join(s.text or "" for s in cut.supervisions)
    for path in texts:
        with (
            gzip.open(path, "rt", encoding="utf-8")
            if path.suffix == ".gz"
            else open(path, encoding="utf-8") as f
        ):
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                if kaldi:
                    utt_id, _, text = line.strip().partition(" ")
                    yield utt_id, text
                else:
                    yield f"{path}:{number}", line


@tokenizer.command("train")
@click.option("--kind", type=click.Choice(("bpe", "char", "phone")), required=True, help="Token type.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder for tokenizer.json (and bpe.model).",
)
@click.option("--cuts", "cuts", type=_file, multiple=True, help="lhotse cut manifest(s) with transcripts.")
@click.option(
    "--text", "texts", type=_file, multiple=True, help="Text file(s), one transcript a line (.gz allowed)."
)
@click.option("--kaldi", is_flag=True, help="Text files are Kaldi-style: `utt-id words...` a line.")
@click.option(
    "--vocab-size", type=int, default=500, show_default=True, help="BPE tokens, <blk> and <unk> included."
)
@click.option(
    "--model-type",
    type=click.Choice(("unigram", "bpe")),
    default="unigram",
    show_default=True,
    help="sentencepiece model type (bpe kind only).",
)
@click.option("--no-sil", is_flag=True, help="Phone kind: no `sil` token.")
@click.option("--no-err", is_flag=True, help="Phone kind: no `err` token.")
def train(
    kind: str,
    out_dir: Path,
    cuts: tuple[Path, ...],
    texts: tuple[Path, ...],
    kaldi: bool,
    vocab_size: int,
    model_type: str,
    no_sil: bool,
    no_err: bool,
) -> None:
    """Train (bpe) or make (char, phone) a tokenizer from transcripts and write it to --out.

    Transcripts are normalised (upper case, numbers spelled out, punctuation dropped) as fine-tuning
    normalises them. For char and phone they are optional and only checked: a transcript the tokenizer
    cannot encode is an error naming the utterance, found now rather than mid-training.
    """
    from asr.errors import UserError
    from asr.text.tokenizer import CharTokenizer, PhoneTokenizer, Tokenizer, train_bpe

    if kind == "bpe" and not (cuts or texts):
        raise UserError("--kind bpe needs transcripts: give --cuts or --text")
    if kaldi and not texts:
        raise UserError("--kaldi applies to --text files, and none was given")
    pairs = [(utt_id, Tokenizer.normalize(text)) for utt_id, text in read_transcripts(cuts, texts, kaldi)]
    if kind == "bpe":
        tok: Tokenizer = train_bpe((t for _, t in pairs), vocab_size, model_type=model_type)
    elif kind == "char":
        tok = CharTokenizer()
    else:
        tok = PhoneTokenizer(sil=not no_sil, err=not no_err)
        tok.lexicon.add_g2p(w.lower() for _, t in pairs for w in t.split())  # one espeak-ng call for all
    for utt_id, text in pairs:
        tok.encode(text, utt_id=utt_id)
    tok.save(out_dir)
    g2p = f", {len(tok.g2p_words)} word(s) from espeak-ng G2P" if isinstance(tok, PhoneTokenizer) else ""
    click.echo(
        f"{kind} tokenizer: {tok.vocab_size} tokens (<blk> included) from {len(pairs)} transcript(s)"
        f"{g2p} -> {out_dir}"
    )

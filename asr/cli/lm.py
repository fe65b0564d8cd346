"""``asr lm``: text → a KenLM n-gram language model (ARPA and binary), its vocabulary and lexicon."""

from __future__ import annotations

from pathlib import Path

import click

from asr.files import write_atomic

from . import cli


@cli.group()
def lm() -> None:
    """Build word n-gram language models for lexicon-constrained decoding."""


def _parse_prune(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[int, ...]:
    if not value:
        return ()
    try:
        return tuple(int(v) for v in value.replace(",", " ").split())
    except ValueError:
        raise click.BadParameter(f"expected counts like '0 0 1', got {value!r}") from None


@lm.command("build")
@click.option(
    "--text",
    "texts",
    type=click.Path(dir_okay=False, path_type=Path),
    multiple=True,
    required=True,
    help="Text file (one sentence a line, .gz allowed) or lhotse cut manifest; repeatable.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder for lm.arpa, lm.bin, words.txt (and lexicon_phones.txt).",
)
@click.option("--order", type=click.IntRange(1, 6), default=3, show_default=True, help="n-gram order.")
@click.option(
    "--prune",
    callback=_parse_prune,
    default=None,
    help="lmplz count thresholds per order, e.g. '0 0 1' drops singleton trigrams.",
)
@click.option(
    "--memory",
    default="20%",
    show_default=True,
    help="Sorting memory for lmplz/build_binary (e.g. 20%, 2G, 64M).",
)
@click.option("--binary/--no-binary", default=True, show_default=True, help="Also write KenLM's lm.bin.")
@click.option("--phone-lexicon", is_flag=True, help="Also write lexicon_phones.txt (CMUdict + G2P).")
def build(
    texts: tuple[Path, ...],
    out_dir: Path,
    order: int,
    prune: tuple[int, ...],
    memory: str,
    binary: bool,
    phone_lexicon: bool,
) -> None:
    """Estimate an n-gram LM from transcripts or LM text (normalised to upper-case words)."""
    from asr.lm.ngram import (
        arpa_ngram_counts,
        arpa_vocabulary,
        build_arpa,
        build_binary,
        read_lm_text,
        write_phone_lexicon,
    )

    arpa = build_arpa(read_lm_text(texts), out_dir / "lm.arpa", order=order, prune=prune, memory=memory)
    if binary:
        build_binary(arpa, out_dir / "lm.bin", memory=memory)
    words = arpa_vocabulary(arpa)
    write_atomic(out_dir / "words.txt", "".join(w + "\n" for w in words).encode("utf-8"))
    extra = ""
    if phone_lexicon:
        result = write_phone_lexicon(words, out_dir / "lexicon_phones.txt")
        extra = f", phone lexicon {result.words} words" + (
            f" ({len(result.skipped)} without pronunciation)" if result.skipped else ""
        )
    counts = ", ".join(f"{n}-grams={c}" for n, c in enumerate(arpa_ngram_counts(arpa), 1))
    click.echo(f"lm: {order}-gram {counts}; vocabulary {len(words)} words{extra} -> {out_dir}")


@lm.command("tokens")
@click.option(
    "--text",
    "texts",
    type=click.Path(dir_okay=False, path_type=Path),
    multiple=True,
    required=True,
    help="Text file (one sentence a line, .gz allowed) or lhotse cut manifest; repeatable.",
)
@click.option(
    "--tokenizer",
    "tokenizer_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="The acoustic model's tokenizer (`asr tokenizer train`).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="LM folder: the token n-gram is written beside a word LM (`asr decode --lexicon-free --lm`).",
)
@click.option("--order", type=click.IntRange(1, 6), default=6, show_default=True, help="n-gram order.")
@click.option("--memory", default="20%", show_default=True, help="Sorting memory for lmplz/build_binary.")
def tokens(texts: tuple[Path, ...], tokenizer_dir: Path, out_dir: Path, order: int, memory: str) -> None:
    """Estimate a token n-gram (e.g. characters with | between words) for lexicon-free beam search."""
    from asr.lm.ngram import read_lm_text
    from asr.lm.tokens import build_token_lm
    from asr.text.tokenizer import load_tokenizer

    path = build_token_lm(
        read_lm_text(texts), load_tokenizer(tokenizer_dir), out_dir, order=order, memory=memory
    )
    click.echo(f"lm: {order}-gram over {tokenizer_dir.name} tokens -> {path}")

"""Token-level n-grams: what lexicon-free beam search scores every token with.

flashlight's lexicon-free decoder calls the LM once per token, so it needs an n-gram over tokens, not words.
The n-gram's words are letter codes of token ids (:func:`token_symbols`), because :func:`build_arpa`
normalises its text and would delete ``|``, ``▁`` and ``'``. One file per tokenizer lives in the LM folder
as ``tokens_<kind>_<hash>.{arpa,bin}`` (:func:`token_lm_paths`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path

from asr.errors import UserError
from asr.text.tokenizer import Tokenizer

from .ngram import LanguageModelError, build_arpa, build_binary

log = logging.getLogger(__name__)


def tokenizer_tag(tokenizer: Tokenizer) -> str:
    """``<kind>_<first 8 hex digits of the tokens' sha256>``: names the files made for one tokenizer."""
    digest = hashlib.sha256("\n".join(tokenizer.tokens).encode("utf-8")).hexdigest()
    return f"{tokenizer.kind}_{digest[:8]}"


def _token_symbol(token_id: int, width: int) -> str:
    """Token id -> a word of upper-case letters (``T`` + base-26 digits) that ``build_arpa`` keeps as is."""
    digits = []
    for _ in range(width):
        token_id, digit = divmod(token_id, 26)
        digits.append(chr(ord("A") + digit))
    return "T" + "".join(reversed(digits))


def token_symbols(tokenizer: Tokenizer) -> list[str]:
    """The token LM's word for each token id (see :func:`build_token_lm`)."""
    width = 1
    while 26**width < tokenizer.vocab_size:
        width += 1
    return [_token_symbol(i, width) for i in range(tokenizer.vocab_size)]


def token_lm_paths(tokenizer: Tokenizer, lm_dir: Path) -> tuple[Path, Path]:
    """Where :func:`build_token_lm` puts the token n-gram of ``tokenizer`` in ``lm_dir``: (binary, ARPA)."""
    stem = Path(lm_dir) / f"tokens_{tokenizer_tag(tokenizer)}"
    return stem.with_suffix(".bin"), stem.with_suffix(".arpa")


def build_token_lm(
    texts: Iterable[str],
    tokenizer: Tokenizer,
    out_dir: Path,
    order: int = 6,
    memory: str = "20%",
    binary: bool = True,
) -> Path:
    """Estimate the token n-gram that lexicon-free decoding reads; returns the file the decoder will use.

    Each text is normalised and encoded; its tokens (char: with ``|`` between words) become one LM
    sentence whose words are :func:`token_symbols` codes. Texts the tokenizer cannot encode are skipped
    with a warning. Writes ``out_dir/tokens_<kind>_<hash>.arpa`` and, with ``binary``, ``.bin`` (else a
    stale ``.bin``, which the decoder would prefer, is removed). ``memory``: KenLM's sorting memory.
    """
    if tokenizer.word_boundary is None:
        raise LanguageModelError(
            f"the {tokenizer.kind} tokenizer marks no word boundaries: a token n-gram is for lexicon-free "
            "decoding, which needs them"
        )
    symbols = token_symbols(tokenizer)
    skipped = 0

    def sentences() -> Iterator[str]:
        nonlocal skipped
        for text in texts:
            line = tokenizer.normalize(text)
            if not line:
                continue
            try:
                ids = tokenizer.encode(line)
            except UserError as exc:
                skipped += 1
                log.debug("token LM: skipping %r: %s", line[:80], exc)
                continue
            yield " ".join(symbols[i] for i in ids)

    bin_path, arpa_path = token_lm_paths(tokenizer, out_dir)
    arpa = build_arpa(sentences(), arpa_path, order=order, memory=memory)
    if skipped:
        log.warning("%s: skipped %d text(s) the %s tokenizer cannot encode", arpa, skipped, tokenizer.kind)
    if not binary:
        bin_path.unlink(missing_ok=True)
        return arpa
    return build_binary(arpa, bin_path, memory=memory)

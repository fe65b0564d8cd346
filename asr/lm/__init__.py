"""Language models for decoding: word n-grams estimated with KenLM, the lexicons decoders read, and the
token n-grams of lexicon-free search (:mod:`.tokens`)."""

from .ngram import (
    LanguageModelError,
    LexiconResult,
    arpa_ngram_counts,
    arpa_vocabulary,
    build_arpa,
    build_binary,
    find_kenlm_tool,
    load_lm,
    read_lm_text,
    read_vocabulary,
    write_lexicon,
    write_phone_lexicon,
)
from .tokens import build_token_lm, token_lm_paths

__all__ = [
    "LanguageModelError",
    "LexiconResult",
    "arpa_ngram_counts",
    "arpa_vocabulary",
    "build_arpa",
    "build_binary",
    "build_token_lm",
    "find_kenlm_tool",
    "load_lm",
    "read_lm_text",
    "read_vocabulary",
    "token_lm_paths",
    "write_lexicon",
    "write_phone_lexicon",
]

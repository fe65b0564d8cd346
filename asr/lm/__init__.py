"""Language models for decoding: word n-grams estimated with KenLM, and the lexicons decoders read."""

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

__all__ = [
    "LanguageModelError",
    "LexiconResult",
    "arpa_ngram_counts",
    "arpa_vocabulary",
    "build_arpa",
    "build_binary",
    "find_kenlm_tool",
    "load_lm",
    "read_lm_text",
    "read_vocabulary",
    "write_lexicon",
    "write_phone_lexicon",
]

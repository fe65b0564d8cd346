"""CTC beam search with a KenLM n-gram, through torchaudio's flashlight ``ctc_decoder``.

Two searches, both over one utterance's log-probabilities:

* **lexicon-constrained** (the default): hypotheses are sequences of the words of a lexicon (the LM folder's
  ``words.txt`` spelled by the tokenizer, :func:`lexicon_for`), scored by the word n-gram ``lm.bin`` (or
  ``lm.arpa``). The text is the decoder's words, so a phone model decoded this way gives words.
* **lexicon-free**: any token sequence, each token scored by a *token-level* n-gram (flashlight's
  lexicon-free decoder calls the LM once per token, so a word n-gram is meaningless there), built by
  :func:`~asr.lm.tokens.build_token_lm` into the LM folder as ``tokens_<kind>_<hash>.{arpa,bin}``. The text is
  ``tokenizer.decode`` of the tokens. Without an LM folder this is plain CTC prefix beam search.

How words end (flashlight's "silence" token). Between words, at the lexicon trie's root, flashlight only
lets a hypothesis absorb frames of ``sil_token`` (and blanks); and a word is emitted on the frame its last
token starts. So:

* **char**: ``sil_token`` is the ``|`` written between words and every spelling ends with ``|`` (as in
  wav2vec 2.0's lexicons): a word's repeated last letter stays inside the word, the ``|`` that the model
  writes between words is required, and ``CARPET`` cannot become ``CAR PET``.
* **bpe** (``▁`` starts a word's first piece; no token between words) and **phone** (no boundaries):
  ``sil_token`` is the blank, or the phone tokenizer's ``sil`` where it has one. Every spelling also gets
  variants ending in the blank (and in ``sil``): with the bare spelling alone, frames that repeat a word's
  last token fall on the trie root where only blank/silence may be read, and the search pays a blank's
  cost for them or re-emits one-token words (``A A``); the variant keeps the repeats inside the word and
  ends it at the next blank. The bare spelling stays for words followed at once by the next word's token.

flashlight only returns hypotheses that end between words if any does, and the last word need not be
followed by its ending (the char tokenizer writes no ``|`` after it; a model's last token may fill the
last frames). So the lexicon search gets one extra frame in which that ending (``|``, else the blank) is
certain (log-prob 0, every other token impossible): it completes the last word and is not part of the
output (tokens, frames, confidences).

The token n-gram's words are letter codes of token ids (:func:`token_symbols`), because ``build_arpa``
normalises its text and would delete ``|``, ``▁`` and ``'``. The decoder is given the codes in id order
(``lm_dict``): torchaudio's own lexicon-free word dictionary comes from a hash map and does not keep the
token order, so every token would be scored as some other token.

Every missing or unusable file is checked here, before flashlight sees it, and reported as a
:class:`~asr.lm.ngram.LanguageModelError` (LM folder, LM, vocabulary) or :class:`DecodingError` (lexicon,
tokenizer, emissions) naming it.
"""

from __future__ import annotations

import logging
import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from asr.errors import UserError
from asr.lm.ngram import (
    LanguageModelError,
    load_lm,
    read_vocabulary,
    write_lexicon,
    write_phone_lexicon,
)
from asr.lm.tokens import token_lm_paths, token_symbols, tokenizer_tag
from asr.text.phones import SIL
from asr.text.tokenizer import PhoneTokenizer, Tokenizer

from .hypothesis import Hypothesis, collapse, path_confidences, set_posteriors

log = logging.getLogger(__name__)

#: The files of an ``asr lm build`` folder that the lexicon-constrained search reads, binary first.
LM_FILES = ("lm.bin", "lm.arpa")
WORDS_FILE = "words.txt"
#: Log-probability that stands for "impossible" in the extra frame (finite: flashlight adds scores).
_IMPOSSIBLE = -1.0e4


class DecodingError(UserError):
    """A lexicon, tokenizer or input that beam search cannot use; the message names the file or setting."""


# ---- configuration ------------------------------------------------------------------------------------


@dataclass
class BeamSearchConfig:
    """Settings of flashlight's CTC beam search (``torchaudio.models.decoder.ctc_decoder``).

    A hypothesis' score is its path's acoustic log-probability (natural log) plus ``lm_weight`` times the
    LM's log10-probability (KenLM's unit, which flashlight passes on) plus ``word_score`` per word
    (flashlight's lexicon-free search has no word score: ignored there). ``beam_size`` hypotheses are kept
    per frame, each extended by the ``beam_size_token`` likeliest tokens (None: all), and those
    ``beam_threshold`` below the best are pruned. ``nbest`` distinct texts are returned. ``unk_score`` is the score of a token sequence that is no word (-inf: never),
    ``sil_score`` is added per frame of the silence token (see the module docstring), ``log_add`` sums
    rather than maxes the scores of merged hypotheses.
    """

    lm_weight: float = 2.0
    word_score: float = 0.0
    beam_size: int = 50
    beam_size_token: int | None = None
    beam_threshold: float = 25.0
    nbest: int = 1
    unk_score: float = float("-inf")
    sil_score: float = 0.0
    log_add: bool = False

    def __post_init__(self) -> None:
        for name in ("lm_weight", "word_score", "sil_score"):
            setattr(self, name, _number(name, getattr(self, name)))
        self.beam_threshold = _number("beam_threshold", self.beam_threshold)
        if self.beam_threshold <= 0:
            raise ValueError(f"beam_threshold must be positive, got {self.beam_threshold!r}")
        unk = self.unk_score
        if isinstance(unk, bool) or not isinstance(unk, int | float) or math.isnan(unk) or unk == math.inf:
            raise ValueError(f"unk_score must be a number or -inf, got {unk!r}")
        self.unk_score = float(unk)
        self.beam_size = _positive_int("beam_size", self.beam_size)
        self.nbest = _positive_int("nbest", self.nbest)
        if self.beam_size_token is not None:
            self.beam_size_token = _positive_int("beam_size_token", self.beam_size_token)
        if not isinstance(self.log_add, bool):
            raise ValueError(f"log_add must be true or false, got {self.log_add!r}")


def _positive_int(name: str, value: Any) -> int:
    bad = isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
    if bad or value != int(value) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)  # the tuning grid and JSON give floats (e.g. 50.0)


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


# ---- tokenizer conventions ----------------------------------------------------------------------------


def word_separator(tokenizer: Tokenizer) -> str | None:
    """The token the tokenizer writes *between* words (char: ``|``), or None.

    BPE's ``▁`` starts a word's first piece (a ``▁`` piece belongs to the word after it) and phones have no
    boundaries, so neither has a separator.
    """
    boundary = tokenizer.word_boundary
    if tokenizer.kind == "char" and boundary is not None and boundary in tokenizer.tokens:
        return boundary
    return None


def silence_token(tokenizer: Tokenizer) -> str:
    """flashlight's ``sil_token`` for this tokenizer: the separator, else ``sil`` if a token, else the blank."""
    separator = word_separator(tokenizer)
    if separator is not None:
        return separator
    return SIL if SIL in tokenizer.tokens else tokenizer.tokens[tokenizer.blank_id]


def _check_lexicon_free(tokenizer: Tokenizer) -> None:
    if tokenizer.word_boundary is None:
        raise DecodingError(
            f"the {tokenizer.kind} tokenizer marks no word boundaries, so lexicon-free decoding cannot find "
            "words: decode with a lexicon (leave out --lexicon-free)"
        )


# ---- files of an LM folder ----------------------------------------------------------------------------


def lexicon_for(tokenizer: Tokenizer, lm_dir: Path, out: Path | None = None) -> Path:
    """The lexicon of the LM folder's words (``words.txt``) spelled by ``tokenizer``; returns its path.

    Written atomically (:func:`~asr.lm.ngram.write_lexicon`; for a phone tokenizer
    :func:`~asr.lm.ngram.write_phone_lexicon` with the tokenizer's lexicon, which writes every CMUdict
    pronunciation) to ``out``, by default ``lm_dir/lexicon_<kind>_<hash of the tokens>.txt``. A default
    file newer than ``words.txt`` was made for this tokenizer from these words and is reused; an explicit
    ``out`` is always rewritten. Char spellings end with ``|`` (see the module docstring). Words the
    tokenizer cannot spell are left out with a warning; none spellable is a :class:`LanguageModelError`.
    """
    lm_dir = Path(lm_dir)
    words_path = lm_dir / WORDS_FILE
    if not words_path.is_file():
        raise LanguageModelError(
            f"{words_path}: LM vocabulary not found (make the LM folder with `asr lm build`)"
        )
    if out is None:
        out = lm_dir / f"lexicon_{tokenizer_tag(tokenizer)}.txt"
        if out.is_file() and out.stat().st_mtime_ns > words_path.stat().st_mtime_ns:
            return out
    out = Path(out)
    words = read_vocabulary(words_path)
    separator = word_separator(tokenizer)
    if isinstance(tokenizer, PhoneTokenizer):
        result = write_phone_lexicon(words, out, tokenizer.lexicon)
    elif separator is not None:
        result = write_lexicon(words, lambda w: [*tokenizer.spell(w), separator], out)
    else:
        result = write_lexicon(words, tokenizer.spell, out)
    if result.words == 0:
        out.unlink(missing_ok=True)  # an empty lexicon must not be reused as if it were fine
        raise LanguageModelError(
            f"{words_path}: the {tokenizer.kind} tokenizer cannot spell any of its {len(words)} words"
        )
    return out


def _first_file(names: Sequence[Path]) -> Path | None:
    return next((p for p in names if p.is_file()), None)


def build_beam_decoder(
    tokenizer: Tokenizer, lm_dir: Path | None, cfg: BeamSearchConfig | None = None, lexicon_free: bool = False
) -> BeamSearchDecoder:
    """A :class:`BeamSearchDecoder` on an ``asr lm build`` folder.

    * lexicon-constrained (default): ``lm_dir/lm.bin`` (or ``lm.arpa``) with :func:`lexicon_for`'s lexicon;
    * ``lexicon_free``: the folder's token n-gram for this tokenizer (:func:`~asr.lm.tokens.build_token_lm`);
    * ``lm_dir=None``: lexicon-free beam search without an LM (a baseline for the LM's gain).
    """
    cfg = cfg if cfg is not None else BeamSearchConfig()
    if lm_dir is None:
        return BeamSearchDecoder(tokenizer, None, None, cfg)
    lm_dir = Path(lm_dir)
    if not lm_dir.is_dir():
        raise LanguageModelError(f"{lm_dir}: LM folder not found (make it with `asr lm build`)")
    if lexicon_free:
        _check_lexicon_free(tokenizer)
        binary, arpa = token_lm_paths(tokenizer, lm_dir)
        lm = _first_file([binary, arpa])
        if lm is None:
            raise LanguageModelError(
                f"no token-level n-gram for lexicon-free decoding with this {tokenizer.kind} tokenizer in "
                f"{lm_dir} (looked for {binary.name}, {arpa.name}): build it with "
                f"`asr lm tokens --text TEXT --tokenizer TOKENIZER_DIR --out {lm_dir}`, or decode with the lexicon"
            )
        return BeamSearchDecoder(tokenizer, lm, None, cfg)
    lm = _first_file([lm_dir / name for name in LM_FILES])
    if lm is None:
        raise LanguageModelError(
            f"no language model in {lm_dir} (looked for {', '.join(LM_FILES)}): "
            f"make it with `asr lm build --text TEXT --out {lm_dir}`"
        )
    return BeamSearchDecoder(tokenizer, lm, lexicon_for(tokenizer, lm_dir), cfg)


# ---- the decoder --------------------------------------------------------------------------------------


def _read_lexicon(path: Path, tokenizer: Tokenizer) -> dict[str, list[list[str]]]:
    """word -> spellings; words with a token the tokenizer lacks (or the blank) are left out, with a warning."""
    if not path.is_file():
        raise DecodingError(f"{path}: lexicon not found")
    known = set(tokenizer.tokens) - {tokenizer.tokens[tokenizer.blank_id]}
    lexicon: dict[str, list[list[str]]] = {}
    unknown: set[str] = set()
    skipped = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            fields = line.split()
            if not fields:
                continue
            word, spelling = fields[0], fields[1:]
            bad = {t for t in spelling if t not in known}
            if not spelling or bad:
                unknown |= bad
                skipped += 1
                continue
            spellings = lexicon.setdefault(word, [])
            if spelling not in spellings:
                spellings.append(spelling)
    if unknown or skipped:
        shown = " ".join(sorted(unknown)[:10])
        log.warning(
            "%s: left out %d line(s) with no spelling or tokens the %s tokenizer lacks: %s",
            path,
            skipped,
            tokenizer.kind,
            shown,
        )
    if not lexicon:
        raise DecodingError(
            f"{path}: no word is spelled with the {tokenizer.kind} tokenizer's tokens"
            + (f" (unknown tokens: {' '.join(sorted(unknown)[:10])})" if unknown else "")
        )
    return lexicon


def _search_lexicon(lexicon: dict[str, list[list[str]]], tokenizer: Tokenizer) -> list[str]:
    """The lexicon lines flashlight searches: spellings with how each word may end (module docstring)."""
    separator = word_separator(tokenizer)
    blank = tokenizer.tokens[tokenizer.blank_id]
    endings = [blank] + ([silence_token(tokenizer)] if silence_token(tokenizer) != blank else [])
    lines = []
    for word, spellings in lexicon.items():
        variants: list[list[str]] = []
        for spelling in spellings:
            if separator is not None:
                candidates = [spelling if spelling[-1] == separator else [*spelling, separator]]
            else:
                candidates = [spelling] + [[*spelling, end] for end in endings if spelling[-1] != end]
            variants += [c for c in candidates if c not in variants]
        lines += [" ".join([word, *v]) for v in variants]
    return lines


class BeamSearchDecoder:
    """flashlight's CTC beam search with an optional KenLM n-gram; a :class:`~.emissions.Decoder`.

    ``lm``: a KenLM file (ARPA or binary; None: no LM); ``lexicon``: ``WORD tok1 tok2 ...`` lines (None:
    lexicon-free, where ``lm`` must be a token n-gram from :func:`~asr.lm.tokens.build_token_lm`). ``__call__`` returns up
    to ``cfg.nbest`` hypotheses with distinct texts, best first: flashlight's score (acoustic + weighted
    LM + word scores), the tokens without blanks with the frame each starts at, posterior confidences
    along that path, and the n-best posteriors.
    """

    name = "beam"

    def __init__(
        self, tokenizer: Tokenizer, lm: Path | None, lexicon: Path | None, cfg: BeamSearchConfig | None = None
    ) -> None:
        from torchaudio.models.decoder import ctc_decoder

        self.tokenizer = tokenizer
        self.cfg = cfg if cfg is not None else BeamSearchConfig()
        self.lm = Path(lm) if lm is not None else None
        self.lexicon = Path(lexicon) if lexicon is not None else None
        self.blank = tokenizer.blank_id
        self.sil_token = silence_token(tokenizer)
        if self.lm is not None and not self.lm.is_file():
            raise LanguageModelError(f"language model not found: {self.lm}")
        # the extra frame that ends the last word (module docstring)
        self._closing_frame: Tensor | None = None
        options: dict[str, Any] = {}
        with tempfile.TemporaryDirectory(prefix="asr-beam-") as tmp:
            if self.lexicon is not None:
                lines = _search_lexicon(_read_lexicon(self.lexicon, tokenizer), tokenizer)
                lexicon_file = Path(tmp) / "lexicon.txt"
                lexicon_file.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
                options["lexicon"] = str(lexicon_file)
                closing = word_separator(tokenizer) or tokenizer.tokens[self.blank]
                frame = torch.full((1, tokenizer.vocab_size), _IMPOSSIBLE)
                frame[0, tokenizer.token_to_id(closing)] = 0.0
                self._closing_frame = frame
            else:
                options["lexicon"] = None
                if self.lm is not None:
                    self._check_token_lm(self.lm)
                    # torchaudio's own word dictionary for lexicon-free search loses the token order
                    lm_dict = Path(tmp) / "lm_dict.txt"
                    lm_dict.write_text("".join(s + "\n" for s in token_symbols(tokenizer)), encoding="utf-8")
                    options["lm_dict"] = str(lm_dict)
            cfg = self.cfg
            try:
                self._decoder = ctc_decoder(
                    tokens=list(tokenizer.tokens),
                    lm=str(self.lm) if self.lm is not None else None,
                    nbest=cfg.nbest,
                    beam_size=cfg.beam_size,
                    beam_size_token=cfg.beam_size_token,
                    beam_threshold=cfg.beam_threshold,
                    lm_weight=cfg.lm_weight,
                    word_score=cfg.word_score,
                    unk_score=cfg.unk_score,
                    sil_score=cfg.sil_score,
                    log_add=cfg.log_add,
                    blank_token=tokenizer.tokens[self.blank],
                    sil_token=self.sil_token,
                    **options,
                )
            except (RuntimeError, ValueError, OSError) as exc:
                # the lexicon and tokens are checked above, so this is KenLM on a file it cannot read; its
                # message is a C++ trace on one long line
                raise LanguageModelError(f"cannot load language model {self.lm}: {str(exc)[:300]}") from exc

    def _check_token_lm(self, lm: Path) -> None:
        """A word n-gram here would map every token to <unk>: insist on the token codes."""
        model = load_lm(lm)
        symbols = token_symbols(self.tokenizer)
        if not any(s in model for i, s in enumerate(symbols) if i != self.blank):
            raise DecodingError(
                f"{lm}: not a token n-gram of this {self.tokenizer.kind} tokenizer (lexicon-free decoding "
                "scores every token with the LM): build one with `asr lm tokens`"
            )

    def __call__(self, log_probs: Tensor) -> list[Hypothesis]:
        vocab = self.tokenizer.vocab_size
        if log_probs.dim() != 2 or log_probs.shape[1] != vocab:
            raise DecodingError(
                f"log-probabilities of shape {tuple(log_probs.shape)} do not fit the {self.tokenizer.kind} "
                f"tokenizer's {vocab} tokens"
            )
        log_probs = log_probs.detach().to("cpu", torch.float32)
        num_frames = log_probs.shape[0]
        if num_frames == 0:
            return set_posteriors([Hypothesis("", [], [], 0.0, [], 1.0)])
        emissions = log_probs
        if self._closing_frame is not None:
            emissions = torch.cat([log_probs, self._closing_frame])
        emissions = emissions.contiguous()
        # flashlight's own results: torchaudio's wrapper counts the start state as a frame and keeps only
        # the first nbest, duplicates included
        results = self._decoder.decoder.decode(emissions.data_ptr(), emissions.shape[0], vocab)
        nbest: list[Hypothesis] = []
        seen: set[str] = set()
        for result in sorted(results, key=lambda r: -r.score):
            # result.tokens: the start state, one label per frame, the end state
            tokens, frames = collapse(list(result.tokens)[1 : num_frames + 1], self.blank)
            if self.lexicon is not None:
                words = [self._decoder.word_dict.get_entry(w) for w in result.words if w >= 0]
                text = " ".join(words)
            else:
                text = self.tokenizer.decode(tokens)
            if text in seen:
                continue
            seen.add(text)
            token_conf, conf = path_confidences(log_probs, tokens, frames, self.blank)
            nbest.append(Hypothesis(text, tokens, frames, float(result.score), token_conf, conf))
            if len(nbest) == self.cfg.nbest:
                break
        if not nbest:  # nothing survived the beam (e.g. no word fits): say so rather than guess
            log.warning("beam: no hypothesis survived the search (%d frames)", num_frames)
        return set_posteriors(nbest)

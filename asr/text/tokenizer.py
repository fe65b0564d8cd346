"""Tokenizers for CTC: sentencepiece BPE, characters, or ARPAbet phones, behind one interface.

Every tokenizer maps *normalised* text (LibriSpeech form: upper-case words of letters and apostrophes
separated by single spaces, see :meth:`Tokenizer.normalize`) to token ids and back. Id 0 is always
the CTC blank ``<blk>``, so a CTC head of ``tokenizer.vocab_size`` outputs and
:func:`asr.objectives.ctc.greedy_decode` (blank 0) fit any of them; :meth:`Tokenizer.encode` never
returns it.

=======  =================================================  ========================================
kind     tokens (after ``<blk>``)                           word boundaries
=======  =================================================  ========================================
bpe      sentencepiece pieces (``<unk>`` is id 1)           ``▁`` prefixes a word's first piece
char     ``|``, ``'``, ``A``-``Z`` (wav2vec 2.0 letters)    ``|`` token between words
phone    39 ARPAbet phones (+ ``sil``, ``err``)             none: the decoder's lexicon supplies them
=======  =================================================  ========================================

A lexicon-based decoder builds its lexicon with :meth:`Tokenizer.spell` and learns how words are
delimited from :attr:`Tokenizer.word_boundary`.

A tokenizer lives in a folder: ``tokenizer.json`` (kind and settings, plus the token list so that a
swapped model file is caught on load) and, for BPE, the sentencepiece model ``bpe.model``. Both are
written atomically; :func:`load_tokenizer` is strict and names the file at fault.

>>> tok = CharTokenizer()
>>> tok.decode(tok.encode("IT'S OK"))
"IT'S OK"
"""

from __future__ import annotations

import io
import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from asr.errors import UserError
from asr.files import write_atomic

from .lexicon import Lexicon, without_stress
from .normalize import normalize_text
from .phones import ARPABET_PHONES, ERR, SIL, normalize_phone

#: The CTC blank; id 0 in every tokenizer.
BLANK = "<blk>"
#: sentencepiece's unknown piece; id 1 in a :class:`BpeTokenizer`.
UNK = "<unk>"
#: The settings file of a tokenizer folder.
CONFIG_FILE = "tokenizer.json"
#: The sentencepiece model file of a BPE tokenizer folder.
BPE_MODEL_FILE = "bpe.model"
#: Fixed sentencepiece seed: together with one thread and no sentence sampling, training is reproducible.
BPE_SEED = 1234
_FORMAT_VERSION = 1


class TokenizerError(UserError):
    """Text a tokenizer cannot encode, or a tokenizer folder that cannot be loaded; the message says which."""


def _where(utt_id: str | None) -> str:
    return f"utterance {utt_id}: " if utt_id is not None else ""


def _show(chars: Iterable[str]) -> str:
    return " ".join(repr(c) for c in sorted(set(chars)))


class Tokenizer(ABC):
    """What CTC training and decoding need from a tokenizer.

    Subclasses set :attr:`kind`, :attr:`tokens` (``tokens[0] == BLANK``) and :attr:`word_boundary`, and
    implement :meth:`encode`, :meth:`decode`, :meth:`spell` and :meth:`_settings`.
    """

    #: ``"bpe"``, ``"char"`` or ``"phone"``: the ``kind`` field of ``tokenizer.json``.
    kind: ClassVar[str]
    #: How words are delimited in the token stream, for a lexicon decoder: for ``char`` the token
    #: written *between* words (``|``), for ``bpe`` the prefix of a word's first piece (``▁``, not a
    #: token by itself in general), for ``phone`` None (phones carry no word boundaries).
    word_boundary: str | None = None

    def __init__(self, tokens: Sequence[str]) -> None:
        if not tokens or tokens[0] != BLANK:
            raise ValueError(f"token 0 must be the CTC blank {BLANK!r}")
        if len(set(tokens)) != len(tokens):
            raise ValueError("tokens are not unique")
        self.tokens: list[str] = list(tokens)
        self._ids: dict[str, int] = {t: i for i, t in enumerate(self.tokens)}

    @property
    def vocab_size(self) -> int:
        """Number of tokens, blank included: the size of the CTC output layer."""
        return len(self.tokens)

    @property
    def blank_id(self) -> int:
        return 0

    def token_to_id(self, token: str) -> int:
        try:
            return self._ids[token]
        except KeyError:
            raise TokenizerError(f"{self.kind} tokenizer has no token {token!r}") from None

    def id_to_token(self, token_id: int) -> str:
        token_id = int(token_id)
        if not 0 <= token_id < len(self.tokens):
            raise TokenizerError(
                f"{self.kind} tokenizer has no token id {token_id} (vocab size {self.vocab_size})"
            )
        return self.tokens[token_id]

    @staticmethod
    def normalize(text: str) -> str:
        """Free text → the form :meth:`encode` expects (:func:`asr.text.normalize.normalize_text`).

        Upper-cases, spells out numbers, splits hyphenated words and drops other punctuation.
        :meth:`encode` does not call it itself: normalising silently would hide transcripts that are
        not what the corpus preparation claims, and would make ``decode(encode(t)) != t``.
        """
        return normalize_text(text, upper=True)

    @abstractmethod
    def encode(self, text: str, utt_id: str | None = None) -> list[int]:
        """Normalised text → token ids (never the blank).

        Raises :class:`TokenizerError` naming ``utt_id`` (when given) and the offending characters or
        words when the text cannot be encoded.
        """

    @abstractmethod
    def decode(self, ids: Iterable[int]) -> str:
        """Token ids (blanks ignored; CTC repeats already merged) → words separated by single spaces."""

    @abstractmethod
    def spell(self, word: str) -> list[str]:
        """The tokens ``word`` is written with, for a decoder lexicon (``word_boundary`` not included).

        ``encode`` of a sentence is the concatenation of its words' spellings (for ``char`` with the
        ``|`` token between them).
        """

    @abstractmethod
    def _settings(self) -> dict[str, Any]:
        """Kind-specific fields of ``tokenizer.json`` (JSON-serialisable)."""

    def _extra_files(self) -> dict[str, bytes]:
        """Files besides ``tokenizer.json`` that :meth:`save` writes (name → bytes)."""
        return {}

    def save(self, out_dir: str | Path) -> Path:
        """Write the tokenizer into ``out_dir`` (created if needed) atomically; returns ``out_dir``.

        The model files go first and ``tokenizer.json`` last, so a folder with a ``tokenizer.json``
        always has the files it names.
        """
        out_dir = Path(out_dir)
        for name, data in self._extra_files().items():
            write_atomic(out_dir / name, data)
        config = {"kind": self.kind, "version": _FORMAT_VERSION, **self._settings(), "tokens": self.tokens}
        write_atomic(
            out_dir / CONFIG_FILE, (json.dumps(config, indent=1, ensure_ascii=False) + "\n").encode()
        )
        return out_dir

    @classmethod
    def load(cls, directory: str | Path) -> Tokenizer:
        """Load a tokenizer folder written by :meth:`save` (of any kind; see :func:`load_tokenizer`)."""
        tokenizer = load_tokenizer(directory)
        if cls is not Tokenizer and not isinstance(tokenizer, cls):
            raise TokenizerError(
                f"{Path(directory) / CONFIG_FILE}: a {tokenizer.kind} tokenizer, not {cls.kind}"
            )
        return tokenizer

    def __repr__(self) -> str:
        return f"{type(self).__name__}(vocab_size={self.vocab_size})"


class CharTokenizer(Tokenizer):
    """Upper-case letters and the apostrophe, with ``|`` between words (wav2vec 2.0's letter targets).

    ``"IT'S OK"`` → ``I T ' S | O K``. There is no ``|`` before the first or after the last word, so
    the tokens of a one-word text are exactly :meth:`spell`'s.
    """

    kind = "char"
    word_boundary = "|"
    LETTERS: ClassVar[tuple[str, ...]] = tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ")

    def __init__(self) -> None:
        super().__init__([BLANK, "|", "'", *self.LETTERS])
        self._chars = frozenset(self.LETTERS) | {"'"}

    def _check(self, text: str, utt_id: str | None) -> None:
        bad = {c for c in text if c not in self._chars and c != " "}
        if bad:
            raise TokenizerError(
                f"{_where(utt_id)}cannot encode character(s) {_show(bad)} with the char tokenizer "
                f"(A-Z and ' only; normalise the text first): {text[:80]!r}"
            )

    def encode(self, text: str, utt_id: str | None = None) -> list[int]:
        self._check(text, utt_id)
        ids: list[int] = []
        for k, word in enumerate(text.split()):
            if k:
                ids.append(self._ids["|"])
            ids.extend(self._ids[c] for c in word)
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        chars = [self.id_to_token(i) for i in ids if int(i) != 0]
        return " ".join("".join(chars).replace("|", " ").split())

    def spell(self, word: str) -> list[str]:
        self._check(word, None)
        if not word or " " in word:
            raise TokenizerError(f"spell() takes one word, got {word!r}")
        return list(word)

    def _settings(self) -> dict[str, Any]:
        return {}


class PhoneTokenizer(Tokenizer):
    """Words → ARPAbet phones without stress, through the lexicon (L2-ARCTIC's phone targets).

    A word gets its first CMUdict pronunciation; a word CMUdict lacks gets espeak-ng's (the lexicon's
    G2P fallback) and is recorded in :attr:`g2p_words` so callers can flag it. Tokens are the 39 phones
    of :data:`asr.text.phones.ARPABET_PHONES` plus ``sil`` and ``err`` unless switched off (L2-ARCTIC's
    perceived phones contain both; text never produces them). Use :meth:`encode_phones` for targets
    that are given as phones.
    """

    kind = "phone"
    word_boundary = None

    def __init__(self, sil: bool = True, err: bool = True, lexicon: Lexicon | None = None) -> None:
        extra = [t for t, keep in ((SIL, sil), (ERR, err)) if keep]
        super().__init__([BLANK, *ARPABET_PHONES, *extra])
        self.sil, self.err = sil, err
        self.lexicon = lexicon if lexicon is not None else Lexicon.from_cmudict()  # its own copy of CMUdict

    @property
    def g2p_words(self) -> set[str]:
        """Lower-case words whose pronunciation came from espeak-ng rather than CMUdict."""
        return self.lexicon.g2p_words

    def phones(self, text: str, utt_id: str | None = None) -> list[list[str]]:
        """Normalised text → the stress-less phones of each word (first pronunciation)."""
        words = text.split()
        bad = {c for w in words for c in w if not (("A" <= c <= "Z") or c == "'")}
        if bad:
            raise TokenizerError(
                f"{_where(utt_id)}cannot encode character(s) {_show(bad)} with the phone tokenizer "
                f"(words of A-Z and ' only; normalise the text first): {text[:80]!r}"
            )
        try:
            prons = self.lexicon.canonical(words)
        except ValueError as exc:  # an espeak-ng phoneme without an ARPAbet mapping, for a G2P word
            raise TokenizerError(
                f"{_where(utt_id)}no ARPAbet pronunciation for {text[:80]!r}: {exc}"
            ) from exc
        out = [without_stress(p) for p in prons]
        for word, phones in zip(words, out, strict=True):
            if not phones:  # e.g. espeak-ng gave nothing for "'": an empty spelling cannot be a target
                raise TokenizerError(f"{_where(utt_id)}no pronunciation for word {word!r}")
        return out

    def encode(self, text: str, utt_id: str | None = None) -> list[int]:
        return [self._ids[p] for word in self.phones(text, utt_id) for p in word]

    def encode_phones(self, phones: Sequence[str] | str, utt_id: str | None = None) -> list[int]:
        """Phone labels (a list, or one whitespace-separated string) → ids.

        Labels are normalised by :func:`asr.text.phones.normalize_phone` (stress and ``*`` stripped,
        AX→AH, silence marks→``sil``), so L2-ARCTIC annotations can be passed as they are. A label that
        is not a phone, or ``sil``/``err`` when this tokenizer was made without it, raises
        :class:`TokenizerError`: dropping it silently would change the target.
        """
        labels = phones.split() if isinstance(phones, str) else list(phones)
        ids, bad = [], []
        for label in labels:
            try:
                phone = normalize_phone(label)
            except ValueError:
                bad.append(label)
                continue
            if phone in self._ids:
                ids.append(self._ids[phone])
            else:
                bad.append(label)
        if bad:
            raise TokenizerError(
                f"{_where(utt_id)}cannot encode phone label(s) {_show(bad)} with the phone tokenizer "
                f"(tokens: 39 ARPAbet phones{', sil' if self.sil else ''}{', err' if self.err else ''})"
            )
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        return " ".join(self.id_to_token(i) for i in ids if int(i) != 0)

    def spell(self, word: str) -> list[str]:
        if not word or len(word.split()) != 1:
            raise TokenizerError(f"spell() takes one word, got {word!r}")
        return self.phones(word.upper())[0]

    def _settings(self) -> dict[str, Any]:
        return {"sil": self.sil, "err": self.err}


class BpeTokenizer(Tokenizer):
    """sentencepiece pieces (unigram or BPE), as icefall's ``bpe.model``: ``<blk>`` is id 0, ``<unk>`` 1.

    sentencepiece's ids are the tokenizer's ids, so the model can be used by tools that read
    sentencepiece models directly. Make one with :func:`train_bpe`.
    """

    kind = "bpe"
    word_boundary = "\u2581"  # sentencepiece's "▁", the first character of a word-initial piece

    def __init__(self, model_proto: bytes, model_type: str = "unigram") -> None:
        import sentencepiece as spm

        self.model_proto = bytes(model_proto)
        self.model_type = model_type
        try:
            self.sp = spm.SentencePieceProcessor(model_proto=self.model_proto)
        except (RuntimeError, OSError) as exc:  # sentencepiece raises RuntimeError for a bad proto
            raise TokenizerError(f"not a sentencepiece model: {exc}") from exc
        pieces = [self.sp.id_to_piece(i) for i in range(self.sp.get_piece_size())]
        if not pieces or pieces[0] != BLANK or self.sp.unk_id() != 1 or not self.sp.is_control(0):
            raise TokenizerError(
                f"sentencepiece model does not have {BLANK!r} as control symbol 0 and {UNK!r} as id 1 "
                "(train it with train_bpe)"
            )
        super().__init__(pieces)
        self.unk_id = self.sp.unk_id()

    def encode(self, text: str, utt_id: str | None = None) -> list[int]:
        ids = self.sp.encode(text)
        if self.unk_id in ids:
            raise self._unencodable(text, utt_id)
        return ids

    def _unencodable(self, text: str, utt_id: str | None) -> TokenizerError:
        # character_coverage=1.0 makes every training character a piece of its own, so the characters
        # that are not pieces are the ones sentencepiece mapped to <unk>
        bad = {c for c in text if c != " " and self.sp.piece_to_id(c) == self.unk_id}
        if not bad:  # should not happen; still name what was unknown
            bad = {p.surface for p in self.sp.encode(text, out_type="proto").pieces if p.id == self.unk_id}
        return TokenizerError(
            f"{_where(utt_id)}cannot encode character(s) {_show(bad)} with the bpe tokenizer "
            f"(not in its training text; normalise the text first): {text[:80]!r}"
        )

    def decode(self, ids: Iterable[int]) -> str:
        ids = [int(i) for i in ids if int(i) != 0]
        for i in ids:
            self.id_to_token(i)  # range check: sentencepiece would raise an obscure IndexError
        return " ".join(self.sp.decode(ids).split())

    def spell(self, word: str) -> list[str]:
        if not word or len(word.split()) != 1:
            raise TokenizerError(f"spell() takes one word, got {word!r}")
        return [self.tokens[i] for i in self.encode(word)]

    def _settings(self) -> dict[str, Any]:
        return {"model": BPE_MODEL_FILE, "model_type": self.model_type}

    def _extra_files(self) -> dict[str, bytes]:
        return {BPE_MODEL_FILE: self.model_proto}


def train_bpe(
    texts: Iterable[str], vocab_size: int, out_dir: str | Path | None = None, model_type: str = "unigram"
) -> BpeTokenizer:
    """Train a sentencepiece model on normalised transcripts; save it in ``out_dir`` when given.

    Settings follow icefall: unigram by default, ``character_coverage=1.0`` (every character of the
    text is a token, so no training character is ever ``<unk>``), no bos/eos, ``<blk>`` as id 0 and
    ``<unk>`` as id 1. Training is reproducible: a fixed seed, one thread, every sentence used in the
    given order, no normalisation rule of sentencepiece's own (``encode`` expects normalised text,
    and a silent NFKC mapping would hide characters it does not), and no file name in the model.
    ``vocab_size`` counts ``<blk>`` and ``<unk>``; a text too small for it raises :class:`TokenizerError`.
    """
    import sentencepiece as spm

    if model_type not in ("unigram", "bpe"):
        raise TokenizerError(f"model_type must be 'unigram' or 'bpe', not {model_type!r}")
    sentences = [" ".join(t.split()) for t in texts]
    sentences = [s for s in sentences if s]
    if not sentences:
        raise TokenizerError("no transcripts to train a bpe tokenizer on")
    spm.set_random_generator_seed(BPE_SEED)
    model = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(sentences),
            model_writer=model,
            vocab_size=vocab_size,
            model_type=model_type,
            character_coverage=1.0,
            bos_id=-1,
            eos_id=-1,
            pad_id=-1,
            unk_id=1,
            control_symbols=[BLANK],
            num_threads=1,
            input_sentence_size=0,
            shuffle_input_sentence=False,
            normalization_rule_name="identity",
            max_sentence_length=1 << 16,
            minloglevel=2,
        )
    except RuntimeError as exc:  # e.g. "Vocabulary size too high (500). Please set it to a value <= 312."
        raise TokenizerError(f"cannot train a {vocab_size}-token {model_type} model: {exc}") from exc
    tokenizer = BpeTokenizer(model.getvalue(), model_type)
    if out_dir is not None:
        tokenizer.save(out_dir)
    return tokenizer


_KINDS: dict[str, type[Tokenizer]] = {"bpe": BpeTokenizer, "char": CharTokenizer, "phone": PhoneTokenizer}


def load_tokenizer(directory: str | Path) -> Tokenizer:
    """The tokenizer saved in ``directory`` (by :meth:`Tokenizer.save` or ``asr tokenizer train``).

    Strict: a missing or unreadable ``tokenizer.json``, an unknown kind or version, a missing model
    file, or a token list that differs from the one saved raises :class:`TokenizerError` naming the file.
    """
    directory = Path(directory)
    path = directory / CONFIG_FILE
    if not path.is_file():
        raise TokenizerError(f"{path}: tokenizer settings not found (make them with `asr tokenizer train`)")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TokenizerError(f"{path}: unreadable tokenizer settings ({exc})") from exc
    if not isinstance(config, dict):
        raise TokenizerError(f"{path}: expected a JSON object")
    kind = config.get("kind")
    if kind not in _KINDS:
        raise TokenizerError(f"{path}: unknown tokenizer kind {kind!r} (expected one of {', '.join(_KINDS)})")
    if config.get("version") != _FORMAT_VERSION:
        raise TokenizerError(
            f"{path}: unsupported version {config.get('version')!r} (expected {_FORMAT_VERSION})"
        )
    if kind == "char":
        tokenizer: Tokenizer = CharTokenizer()
    elif kind == "phone":
        tokenizer = PhoneTokenizer(sil=_flag(config, "sil", path), err=_flag(config, "err", path))
    else:
        name = config.get("model")
        if not isinstance(name, str) or not name or Path(name).name != name:
            raise TokenizerError(f"{path}: 'model' must name a file in the same folder, got {name!r}")
        model_path = directory / name
        if not model_path.is_file():
            raise TokenizerError(f"{model_path}: sentencepiece model not found (named in {path})")
        try:
            tokenizer = BpeTokenizer(model_path.read_bytes(), str(config.get("model_type", "unigram")))
        except TokenizerError as exc:
            raise TokenizerError(f"{model_path}: {exc}") from exc
    if "tokens" in config and config["tokens"] != tokenizer.tokens:
        raise TokenizerError(
            f"{path}: its token list differs from the tokenizer's ({len(config['tokens'])} saved, "
            f"{tokenizer.vocab_size} now); was the model file replaced?"
        )
    return tokenizer


def _flag(config: dict, key: str, path: Path) -> bool:
    value = config.get(key, True)
    if not isinstance(value, bool):
        raise TokenizerError(f"{path}: {key!r} must be true or false, got {value!r}")
    return value


__all__ = [
    "BLANK",
    "BpeTokenizer",
    "CharTokenizer",
    "PhoneTokenizer",
    "Tokenizer",
    "TokenizerError",
    "UNK",
    "load_tokenizer",
    "train_bpe",
]

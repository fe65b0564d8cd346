"""Word n-gram language models with KenLM: text → ARPA → binary, plus the files a lexicon decoder reads.

KenLM's command-line tools do the estimation (``lmplz``: modified Kneser-Ney) and the conversion to its
memory-mapped binary format (``build_binary``); ``scripts/setup.sh`` builds both into the virtualenv's
``bin``. The ``kenlm`` Python module loads either format for scoring.

Words are in LibriSpeech's form (upper case, letters and apostrophes: :func:`asr.text.normalize_text`),
so an LM built from transcripts, from LibriSpeech's LM corpus or from any other text agrees with the
transcripts that acoustic models are trained on.

Every file is written through a temporary file in the same folder and a rename, so an interrupted build
never leaves a truncated ``lm.arpa`` that a later decode would load.
"""

from __future__ import annotations

import gzip
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any, NamedTuple

from asr.errors import UserError
from asr.files import atomic_writer, write_atomic
from asr.text.lexicon import Lexicon, without_stress
from asr.text.normalize import normalize_text

log = logging.getLogger(__name__)

#: Symbols KenLM adds to every model; they are not words of the vocabulary.
SPECIAL_WORDS = frozenset({"<s>", "</s>", "<unk>"})

#: The highest order KenLM loads (``KENLM_MAX_ORDER`` of the kenlm module and of scripts/setup.sh's build).
MAX_ORDER = 6

#: File names that :func:`read_lm_text` reads as lhotse manifests rather than as plain text.
_MANIFEST_SUFFIXES = (".jsonl.gz", ".jsonl", ".json.gz", ".json")


class LanguageModelError(UserError):
    """A user-facing problem building or loading a language model; the message names the file or tool."""


class LexiconResult(NamedTuple):
    """What a lexicon writer did: the file, how many words it holds, and the words it had to leave out."""

    path: Path
    words: int
    skipped: list[str]


# ---- KenLM tools ------------------------------------------------------------------------------------


def find_kenlm_tool(name: str) -> Path:
    """The path of KenLM's ``lmplz`` or ``build_binary``.

    The virtualenv's ``bin`` (next to ``sys.executable``) comes first: that is where ``scripts/setup.sh``
    installs them, and it is not on PATH unless the virtualenv is activated.
    """
    local = Path(sys.executable).parent / name
    if local.is_file() and os.access(local, os.X_OK):
        return local
    found = shutil.which(name)
    if found:
        return Path(found)
    raise LanguageModelError(
        f"KenLM's {name} not found in {local.parent} or on PATH: run `bash scripts/setup.sh` to build it"
    )


def _run_tool(
    argv: list[str], what: Path, stdin_lines: Iterable[str] | None = None, stdout: IO[bytes] | None = None
) -> int:
    """Run a KenLM tool, feeding ``stdin_lines`` (if given); a failure raises LanguageModelError.

    stderr goes to a temporary file rather than a pipe: KenLM prints progress bars there, and a pipe
    nobody reads while we write stdin would fill and deadlock both processes. Returns the number of
    lines fed.
    """
    fed = 0
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE if stdin_lines is not None else subprocess.DEVNULL,
            stdout=stdout if stdout is not None else subprocess.DEVNULL,
            stderr=err,
        )
        try:
            if stdin_lines is not None:
                assert proc.stdin is not None
                try:
                    for line in stdin_lines:
                        proc.stdin.write(line.encode("utf-8") + b"\n")
                        fed += 1
                except BrokenPipeError:
                    pass  # the tool died early; its exit status and stderr below say why
                finally:
                    try:
                        proc.stdin.close()
                    except BrokenPipeError:
                        pass
            status = proc.wait()
        except BaseException:
            # bad input (e.g. an empty file found while reading) or Ctrl-C: leave no tool running behind
            proc.kill()
            proc.wait()
            raise
        if status != 0:
            err.seek(0)
            tail = err.read().decode("utf-8", "replace").strip().splitlines()[-8:]
            tool = Path(argv[0]).name
            raise LanguageModelError(
                f"{tool} failed (exit status {status}) making {what}:\n  " + "\n  ".join(tail)
            )
    return fed


# ---- building -----------------------------------------------------------------------------------------


def _check_prune(order: int, prune: tuple[int, ...]) -> None:
    """lmplz's own checks, made before reading any text so that a bad setting fails at once."""
    if not 1 <= order <= MAX_ORDER:
        # lmplz itself would estimate higher orders, but KenLM's loader could not read the result
        raise LanguageModelError(f"n-gram order must be between 1 and {MAX_ORDER}, got {order}")
    if len(prune) > order:
        raise LanguageModelError(f"--prune has {len(prune)} thresholds for a {order}-gram model")
    if any(t < 0 for t in prune) or list(prune) != sorted(prune):
        raise LanguageModelError(f"prune thresholds must be non-negative and non-decreasing, got {prune}")
    if prune and prune[0] != 0:
        raise LanguageModelError("lmplz cannot prune unigrams: the first prune threshold must be 0")


def build_arpa(
    texts: Iterable[str],
    out: Path,
    order: int = 3,
    prune: tuple[int, ...] = (),
    memory: str = "20%",
    discount_fallback: bool = True,
) -> Path:
    """Estimate a modified Kneser-Ney n-gram model from ``texts`` with ``lmplz`` and write it as ARPA.

    Each text is one sentence; it is normalised (:func:`normalize_text`, upper case) and texts left
    empty are dropped. ``prune`` gives lmplz's per-order count thresholds (``(0, 0, 1)`` drops singleton
    trigrams). ``memory`` is lmplz's sorting memory (``-S``: ``20%`` of RAM, or ``64M``, ...): lmplz
    reserves it all up front, so small builds want a small value. ``discount_fallback`` lets small or
    deduplicated corpora, whose count-of-counts make the closed-form discounts fail, use fixed ones.
    """
    out = Path(out)
    prune = tuple(int(t) for t in prune)
    _check_prune(order, prune)
    lmplz = find_kenlm_tool("lmplz")
    out.parent.mkdir(parents=True, exist_ok=True)
    # lmplz's sort spills to disk under -T; the output folder is where the user expects the space to be used
    argv = [str(lmplz), "-o", str(order), "-S", memory, "-T", str(out.parent) + os.sep]
    if prune:
        argv += ["--prune", *map(str, prune)]
    if discount_fallback:
        argv.append("--discount_fallback")  # last: its value is optional, so it must not swallow an option

    def sentences() -> Iterator[str]:
        for text in texts:
            line = normalize_text(text)
            if line:
                yield line

    with atomic_writer(out) as f:
        fed = _run_tool(argv, out, sentences(), stdout=f)
        if fed == 0:
            # lmplz happily writes a model of nothing but <s>, </s> and <unk>; such an LM is a mistake
            raise LanguageModelError(f"no text to build {out} from (all input empty after normalisation)")
    counts = arpa_ngram_counts(out)
    log.info("wrote %s: %d sentences, %s", out, fed, _counts_text(counts))
    return out


def build_binary(arpa: Path, out: Path, kind: str = "trie", memory: str = "20%") -> Path:
    """Convert an ARPA model to KenLM's binary format (``trie``: smallest; ``probing``: fastest).

    Binary models load in a fraction of the time (memory-mapped) and take less space than ARPA.
    ``memory`` bounds build_binary's sorting memory (trie only; its default is 80% of RAM).
    """
    arpa, out = Path(arpa), Path(out)
    if kind not in ("trie", "probing"):
        raise LanguageModelError(f"KenLM binary kind must be 'trie' or 'probing', got {kind!r}")
    if not arpa.is_file():
        raise LanguageModelError(f"ARPA language model not found: {arpa}")
    tool = find_kenlm_tool("build_binary")
    out.parent.mkdir(parents=True, exist_ok=True)
    # build_binary opens the output by name (and mmaps it), so it writes a temporary name that we rename
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    os.close(fd)
    try:
        argv = [str(tool)] + (["-S", memory] if kind == "trie" else []) + [kind, str(arpa), tmp]
        _run_tool(argv, out)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    log.info("wrote %s (%s)", out, kind)
    return out


def load_lm(path: Path) -> Any:
    """Load an ARPA or binary KenLM model as a :class:`kenlm.Model`."""
    import kenlm

    path = Path(path)
    if not path.is_file():
        raise LanguageModelError(f"language model not found: {path}")
    try:
        return kenlm.Model(str(path))
    except (OSError, RuntimeError) as exc:
        # kenlm's message is a C++ trace on one long line; its first clause says what was wrong
        raise LanguageModelError(f"cannot load language model {path}: {str(exc)[:300]}") from exc


# ---- reading text -------------------------------------------------------------------------------------


def _is_manifest(path: Path) -> bool:
    return path.name.endswith(_MANIFEST_SUFFIXES)


def _read_one(path: Path) -> Iterator[str]:
    if _is_manifest(path):
        from lhotse import CutSet

        try:
            cuts = CutSet.from_file(path)
        except Exception as exc:  # lhotse raises many kinds (JSON, KeyError, ValueError) for a bad manifest
            raise LanguageModelError(f"cannot read cut manifest {path}: {exc}") from exc
        for cut in cuts:
            # the supervisions of one cut are one utterance, as fine-tuning joins them
            yield " ".join(s.text or "" for s in cut.supervisions)
    else:
        # LibriSpeech's LM corpus ships gzipped (librispeech-lm-norm.txt.gz)
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as f:
            yield from f


def read_lm_text(paths: Iterable[Path]) -> Iterator[str]:
    """Normalised sentences (upper case) from lhotse cut manifests and plain text files, in order.

    ``*.jsonl.gz``/``*.jsonl``/``*.json`` files are read as cut manifests (the supervision texts of each
    cut, one sentence a cut); any other file as text, one sentence a line (gzipped if ``*.gz``), which
    covers LibriSpeech's LM corpus. Lines empty after normalisation are dropped; a file that gives no
    sentence at all is a LanguageModelError naming it, as is a missing file. Lazy, so a corpus of
    millions of sentences streams straight into :func:`build_arpa`.
    """
    for path in map(Path, paths):
        if not path.is_file():
            raise LanguageModelError(f"LM text not found: {path}")
        n = 0
        for text in _read_one(path):
            line = normalize_text(text)
            if line:
                n += 1
                yield line
        if n == 0:
            raise LanguageModelError(f"no text in {path} (empty, or no words after normalisation)")
        log.info("read %d sentences from %s", n, path)


# ---- reading ARPA -------------------------------------------------------------------------------------


def arpa_ngram_counts(arpa: Path) -> list[int]:
    """The n-gram counts of the ARPA header (``ngram 1=...``), unigrams first."""
    arpa = Path(arpa)
    counts: dict[int, int] = {}
    with open(arpa, encoding="utf-8") as f:
        in_data = False
        for line in f:
            line = line.strip()
            if line == "\\data\\":
                in_data = True
            elif in_data and line.startswith("ngram "):
                n, _, count = line[len("ngram ") :].partition("=")
                counts[int(n)] = int(count)
            elif in_data and line.startswith("\\"):
                break
    if not counts:
        raise LanguageModelError(f"not an ARPA language model (no \\data\\ header): {arpa}")
    return [counts[n] for n in sorted(counts)]


def arpa_vocabulary(arpa: Path) -> list[str]:
    """The words of an ARPA model's unigram section, sorted, without ``<s>``, ``</s>`` and ``<unk>``."""
    arpa = Path(arpa)
    words: list[str] = []
    with open(arpa, encoding="utf-8") as f:
        for line in f:
            if line.strip() == "\\1-grams:":
                break
        else:
            raise LanguageModelError(f"not an ARPA language model (no \\1-grams: section): {arpa}")
        for line in f:
            line = line.strip()
            if not line or line.startswith("\\"):
                break
            # "log10 prob <TAB> word [<TAB> backoff]"
            fields = line.split("\t") if "\t" in line else line.split()
            if len(fields) >= 2 and fields[1] not in SPECIAL_WORDS:
                words.append(fields[1])
    return sorted(words)


def read_vocabulary(path: Path) -> list[str]:
    """The words of an LM folder's ``words.txt`` (first field a line, so a symbol table works too), sorted.

    KenLM's and OpenFst's special symbols (``<s>``, ``<eps>``, ``#0`` ...) are left out. A missing or
    empty file is a :class:`LanguageModelError` naming it.
    """
    path = Path(path)
    if not path.is_file():
        raise LanguageModelError(f"{path}: LM vocabulary not found (make the LM folder with `asr lm build`)")
    words = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            fields = line.split()
            if (
                fields
                and fields[0] not in SPECIAL_WORDS
                and fields[0] != "<eps>"
                and not fields[0].startswith("#")
            ):
                words.add(fields[0])
    if not words:
        raise LanguageModelError(f"{path}: no words")
    return sorted(words)


def _counts_text(counts: list[int]) -> str:
    return ", ".join(f"{n}-grams={c}" for n, c in enumerate(counts, 1))


# ---- decoder lexicons ---------------------------------------------------------------------------------


def _clean_words(words: Iterable[str]) -> list[str]:
    return sorted({w.strip() for w in words if w.strip() and w.strip() not in SPECIAL_WORDS})


def _write_lines(out: Path, lines: list[str]) -> None:
    write_atomic(Path(out), "".join(line + "\n" for line in lines).encode("utf-8"))


def _log_skipped(out: Path, skipped: list[str], why: str) -> None:
    if skipped:
        shown = " ".join(skipped[:20]) + (f" ... (+{len(skipped) - 20})" if len(skipped) > 20 else "")
        log.warning("%s: left out %d word(s) %s: %s", out, len(skipped), why, shown)


def write_lexicon(words: Iterable[str], spell: Callable[[str], list[str]], out: Path) -> LexiconResult:
    """Write a decoder lexicon, ``WORD tok1 tok2 ...`` a line, words sorted.

    This is the ``lexicon=`` file of torchaudio's flashlight ``ctc_decoder``. ``spell`` gives a word's
    tokens (a tokenizer's ``spell``; for a character tokenizer whose decoder expects the word boundary
    token after each word, pass ``lambda w: tok.spell(w) + ["|"]``). Words ``spell`` rejects (raises
    an error, or gives no tokens, or tokens with spaces) are left out, logged and returned in
    ``skipped``, so that one unspellable word in a large LM vocabulary does not stop the build.
    """
    out = Path(out)
    lines: list[str] = []
    skipped: list[str] = []
    for word in _clean_words(words):
        try:
            tokens = [str(t) for t in spell(word)]
        except (UserError, ValueError, KeyError, LookupError) as exc:
            log.debug("cannot spell %r: %s", word, exc)
            skipped.append(word)
            continue
        if not tokens or any(not t or any(c.isspace() for c in t) for t in tokens):
            # an empty spelling or a token with a space would make a line the decoder misreads
            skipped.append(word)
            continue
        lines.append(" ".join([word, *tokens]))
    _write_lines(out, lines)
    _log_skipped(out, skipped, "the tokenizer cannot spell")
    log.info("wrote %s: %d words", out, len(lines))
    return LexiconResult(out, len(lines), skipped)


def write_phone_lexicon(words: Iterable[str], out: Path, lexicon: Lexicon | None = None) -> LexiconResult:
    """Write a phone lexicon, ``WORD AH B ...``: every CMUdict variant of each word, stress removed.

    One line per distinct variant (variants that differ only in stress become one line), words sorted
    and written as given (upper case, as in the LM). Words not in CMUdict get one pronunciation from
    the espeak-ng G2P fallback; words espeak-ng cannot render either are left out, logged and returned.
    """
    out = Path(out)
    lexicon = lexicon if lexicon is not None else Lexicon.from_cmudict()
    words = _clean_words(words)
    skipped: list[str] = []
    missing = [w for w in words if w not in lexicon]
    try:
        lexicon.add_g2p(missing)  # one espeak-ng run for all unknown words
    except (ValueError, OSError, RuntimeError) as exc:
        # one word espeak-ng renders with an unmapped phoneme fails the batch: retry word by word
        log.debug("batch G2P failed (%s); retrying word by word", exc)
        for word in missing:
            try:
                lexicon.add_g2p([word])
            except (ValueError, OSError, RuntimeError):
                skipped.append(word)
    bad = set(skipped)
    lines: list[str] = []
    for word in words:
        if word in bad:
            continue
        variants: list[list[str]] = []
        for pron in lexicon.pronunciations(word):
            phones = without_stress(pron)
            if phones and phones not in variants:
                variants.append(phones)
        if not variants:
            skipped.append(word)
            continue
        lines += [" ".join([word, *phones]) for phones in variants]
    _write_lines(out, lines)
    g2p = sum(1 for w in words if w.lower() in lexicon.g2p_words and w not in bad)
    _log_skipped(out, skipped, "without a pronunciation")
    log.info(
        "wrote %s: %d words (%d from G2P), %d pronunciations", out, len(words) - len(skipped), g2p, len(lines)
    )
    return LexiconResult(out, len(words) - len(skipped), sorted(skipped))

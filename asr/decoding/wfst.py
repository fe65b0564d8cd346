"""WFST decoding of CTC posteriors: a TLG graph built with kaldifst/kaldilm, searched with kaldi-decoder or k2.

The graph is ``TLG = T ∘ det(L ∘ G)``, built the way Kaldi builds HCLG (disambiguation symbols, determinise,
minimise) and icefall/sherpa-onnx build their CTC graphs for kaldi-decoder:

* **T**, the CTC topology: the *standard* one (icefall's ``build_standard_ctc_topo``, k2's
  ``ctc_topo(modified=False)``): one state per token, "the last frame's label", fully connected. A blank
  or a repeat of the state's token outputs nothing; any other token outputs itself. It maps a frame-label
  sequence to exactly the token sequence CTC training collapses it to (a doubled letter needs a blank in
  between), which the compact/modified topology does not. Its V² arcs are nothing for letters, phones
  or a few hundred BPE pieces; the modified topology only pays off at thousands of tokens.
* **L**, the lexicon: every word of the LM folder's ``words.txt`` as :meth:`Tokenizer.spell` writes it
  (word label on the first arc). Where the tokenizer writes tokens *between* words (the char
  tokenizer's ``|``, found by encoding two words), L requires them between words, as in the training
  targets, and also accepts them (optionally, repeatedly) before the first and after the last word. A
  model that drops a ``|`` still decodes: the search puts it on a frame at that frame's ``|`` cost, so
  the acoustic evidence for a word boundary counts (an optional ``|`` would let ``INTO`` become
  ``IN TO`` for free). Spellings shared by several words (phone homophones) and, without a separator,
  spellings that are a prefix of another get Kaldi's disambiguation symbols ``#1, #2, ...``; ``#0``
  passes G's back-off arcs through.
* **G**, the n-gram: ``lm.arpa`` through kaldilm's ``arpa2fst`` with the words' symbol table (n-grams of
  words the tokenizer cannot spell are skipped), back-off arcs on ``#0``, ``<s>``/``</s>`` as epsilons.

``LG`` is determinised and minimised. ``T`` gets ``#k:#k`` self-loops on every state (Kaldi's H-tilde) so
the disambiguation symbols survive composition; ``T ∘ LG`` is then deterministic by construction (checked),
is minimised while the symbols still tell paths apart, and only then are they relabelled epsilon and the
arcs sorted by input label. Token ``t`` is input label ``t + 1`` (0 is epsilon), which is what
kaldi-decoder's :class:`DecodableCtc` expects (it reads column ``label - 1``).

The graph folder (default ``LM_DIR/graph_<kind>_<hash of the tokens>/``) holds ``TLG.fst`` (OpenFst
binary), ``words.txt`` (word symbol table), ``tokens.txt`` (``token id``, the tokenizer's table, checked
when decoding) and ``manifest.json`` (hashes of the inputs; a later :func:`build_tlg` with the same inputs
reuses the folder). Every file is written through a temporary name and a rename.

Search costs are Kaldi's: ``-acoustic_scale * log p(token | frame)`` per frame plus the graph's LM cost
(natural log), so ``acoustic_scale`` is the inverse of an LM weight.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from asr.errors import UserError
from asr.files import sha256_file, write_atomic
from asr.lm.ngram import read_vocabulary
from asr.text.tokenizer import Tokenizer

from .hypothesis import Hypothesis, collapse, path_confidences

log = logging.getLogger(__name__)

GRAPH_FILE = "TLG.fst"
WORDS_FILE = "words.txt"
TOKENS_FILE = "tokens.txt"
MANIFEST_FILE = "manifest.json"
#: Bumped whenever the graph recipe changes, so that graphs built by an older recipe are rebuilt.
GRAPH_FORMAT = 1

EPS = "<eps>"
BACKOFF = "#0"
#: OpenFst's property bits kIDeterministic and kNonIDeterministic (fst/properties.h).
_I_DETERMINISTIC = 0x40000
_NON_I_DETERMINISTIC = 0x80000


class WfstError(UserError):
    """A missing or inconsistent LM folder, graph folder or setting; the message names the file."""


# ---- configuration ------------------------------------------------------------------------------------


@dataclass
class WfstConfig:
    """Search settings (kaldi-decoder's FasterDecoder; the same meanings in k2).

    ``beam``: cost difference to the best token kept per frame; ``max_active``/``min_active``: bounds on
    the number of active states; ``acoustic_scale``: multiplies the log-probabilities before they are
    added to the graph's LM costs (Kaldi's convention, so it is 1 / LM weight); ``blank_penalty`` is
    subtracted from the blank's log-probability first (> 0 favours emitting tokens, as in sherpa-onnx).
    """

    beam: float = 16.0
    max_active: int = 7000
    min_active: int = 30
    acoustic_scale: float = 1.0
    blank_penalty: float = 0.0

    def __post_init__(self) -> None:
        for name in ("beam", "acoustic_scale"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        if not (isinstance(self.blank_penalty, int | float) and math.isfinite(self.blank_penalty)):
            raise ValueError(f"blank_penalty must be a finite number, got {self.blank_penalty!r}")
        for name in ("max_active", "min_active"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
                raise ValueError(f"{name} must be an integer, got {value!r}")
            setattr(self, name, int(value))
        if self.min_active < 1 or self.max_active < self.min_active:
            raise ValueError(
                f"need 1 <= min_active <= max_active, got min_active={self.min_active}, "
                f"max_active={self.max_active}"
            )


# ---- small helpers ------------------------------------------------------------------------------------


def _tokens_hash(tokens: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(tokens).encode("utf-8")).hexdigest()


def _tokenizer_fingerprint(tokenizer: Tokenizer) -> str:
    """Kind, tokens and model files: two tokenizers with the same fingerprint spell words alike."""
    digest = hashlib.sha256(json.dumps([tokenizer.kind, tokenizer.tokens]).encode("utf-8"))
    # the BPE model decides segmentations, not just the piece inventory; _extra_files is what save() writes
    for name, data in sorted(tokenizer._extra_files().items()):
        digest.update(name.encode("utf-8"))
        digest.update(hashlib.sha256(data).digest())
    return digest.hexdigest()


def default_graph_dir(tokenizer: Tokenizer, lm_dir: Path) -> Path:
    """``lm_dir/graph_<kind>_<first 8 hex digits of the tokens' hash>``: one graph per tokenizer and LM."""
    return Path(lm_dir) / f"graph_{tokenizer.kind}_{_tokens_hash(tokenizer.tokens)[:8]}"


def _write_lines(path: Path, lines: Sequence[str]) -> None:
    write_atomic(path, "".join(line + "\n" for line in lines).encode("utf-8"))


def _read_symbols(path: Path) -> list[tuple[str, int]]:
    """A ``symbol id`` table (OpenFst text format) as pairs, in file order."""
    if not path.is_file():
        raise WfstError(f"{path}: symbol table not found")
    pairs = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            fields = line.split()
            if len(fields) != 2 or not fields[1].lstrip("-").isdigit():
                raise WfstError(f"{path}:{number}: expected 'symbol id', got {line.strip()[:80]!r}")
            pairs.append((fields[0], int(fields[1])))
    return pairs


def _read_tokens_table(path: Path) -> list[str]:
    pairs = _read_symbols(path)
    if [i for _, i in pairs] != list(range(len(pairs))):
        raise WfstError(f"{path}: token ids must be 0, 1, 2, ... in order")
    return [s for s, _ in pairs]


def _num_arcs(fst) -> int:
    return sum(fst.num_arcs(s) for s in range(fst.num_states))


# ---- the lexicon --------------------------------------------------------------------------------------


@dataclass
class _Lexicon:
    words: list[str]  # word symbol i + 1 is words[i]
    spellings: list[list[int]]  # token ids (tokenizer ids, not graph labels)
    disambig: list[int]  # 0: none, k: #k after the spelling
    separator: list[int]  # token ids written between words (may be empty)
    skipped: list[str]

    @property
    def num_disambig(self) -> int:
        """Highest disambiguation symbol in use, #0 (G's back-off) included."""
        return max(self.disambig, default=0)


def _separator(tokenizer: Tokenizer, pair: Sequence[tuple[str, list[int]]]) -> list[int]:
    """The tokens the tokenizer writes between two words (char: ``|``; bpe, phone: none).

    Found by encoding two words and removing their spellings, so it is what the model was trained on.
    """
    if len(pair) < 2 or tokenizer.word_boundary is None:
        return []
    (a, sa), (b, sb) = pair[0], pair[1]
    try:
        both = tokenizer.encode(f"{a} {b}")
    except (UserError, ValueError, KeyError, LookupError):
        return []
    if len(both) >= len(sa) + len(sb) and both[: len(sa)] == sa and both[len(both) - len(sb) :] == sb:
        return both[len(sa) : len(both) - len(sb)]
    log.debug("%s tokenizer: %r is not its words' spellings joined; no separator", tokenizer.kind, both)
    return []


def _make_lexicon(tokenizer: Tokenizer, words: Sequence[str], source: Path) -> _Lexicon:
    spelled: list[tuple[str, list[int]]] = []
    skipped: list[str] = []
    lexicon = getattr(tokenizer, "lexicon", None)  # the phone tokenizer's CMUdict + espeak-ng G2P
    missing = [w for w in words if w not in lexicon] if hasattr(lexicon, "add_g2p") else []
    if missing:
        # one espeak-ng run for all words CMUdict lacks, instead of one run (~30 ms) per word in spell()
        try:
            lexicon.add_g2p(missing)
        except (UserError, ValueError, OSError, RuntimeError) as exc:
            log.debug("batch G2P failed (%s); spelling word by word", exc)
    for word in words:
        try:
            ids = [tokenizer.token_to_id(t) for t in tokenizer.spell(word)]
        except (UserError, ValueError, KeyError, LookupError) as exc:
            log.debug("cannot spell %r: %s", word, exc)
            skipped.append(word)
            continue
        if not ids or tokenizer.blank_id in ids:
            skipped.append(word)
            continue
        spelled.append((word, ids))
    if skipped:
        shown = " ".join(skipped[:20]) + (f" ... (+{len(skipped) - 20})" if len(skipped) > 20 else "")
        log.warning(
            "%s: left out %d word(s) the %s tokenizer cannot spell: %s",
            source,
            len(skipped),
            tokenizer.kind,
            shown,
        )
    if not spelled:
        raise WfstError(f"{source}: the {tokenizer.kind} tokenizer cannot spell any of its words")
    separator = _separator(tokenizer, spelled[:2] if len(spelled) > 1 else spelled * 2)
    # Kaldi's add_lex_disambig: L ∘ G is determinisable only if one token string means one word sequence.
    # Spellings shared by several words (phone homophones) each end in their own #k. Without a separator,
    # "A N" could also be "AN", so a spelling that is a proper prefix of another gets one too; with a
    # separator between words the boundaries are in the tokens already.
    counts = Counter(tuple(ids) for _, ids in spelled)
    prefixes = set() if separator else {tuple(ids[:i]) for _, ids in spelled for i in range(1, len(ids))}
    last_used: dict[tuple[int, ...], int] = defaultdict(int)
    disambig = []
    for _, ids in spelled:
        key = tuple(ids)
        if key in prefixes or counts[key] > 1:
            last_used[key] += 1
            disambig.append(last_used[key])
        else:
            disambig.append(0)
    return _Lexicon(
        words=[w for w, _ in spelled],
        spellings=[ids for _, ids in spelled],
        disambig=disambig,
        separator=separator,
        skipped=skipped,
    )


# ---- graph construction -------------------------------------------------------------------------------


def _ctc_topology(num_tokens: int, disambig_labels: Sequence[int]):
    """Standard CTC topology over graph labels 1..num_tokens (token id + 1; blank is label 1)."""
    import kaldifst

    fst = kaldifst.StdVectorFst()
    for _ in range(num_tokens):
        fst.add_state()
    fst.start = 0  # "the last frame was blank": any token may follow, a repeat included
    for i in range(num_tokens):
        fst.set_final(i, 0.0)
        for j in range(num_tokens):
            # state j = last frame's token; blank (j == 0) and repeats (j == i) emit nothing
            out = 0 if j in (0, i) else j + 1
            fst.add_arc(i, kaldifst.StdArc(j + 1, out, 0.0, j))
        for d in disambig_labels:  # #k:#k, so L's disambiguation symbols pass through (Kaldi's H~)
            fst.add_arc(i, kaldifst.StdArc(d, d, 0.0, i))
    return fst


def _lexicon_fst(lex: _Lexicon, first_disambig: int, word_backoff: int):
    """L over graph labels (token id + 1, disambiguation #k = first_disambig + k) to word symbols.

    Without a separator: one loop state, every word a path from it back to it. With one (char's "|"):
    words start at ``boundary`` (the start) and end at ``after_word``, which returns to ``boundary`` only
    through the separator, so the separator is required between words exactly as the training targets
    have it; a self-loop on ``boundary`` also accepts a leading, trailing or doubled one. Both states are
    final, and both pass G's back-off symbol #0 (G may back off before a word or before ``</s>``).
    """
    import kaldifst

    fst = kaldifst.StdVectorFst()
    boundary = fst.add_state()
    fst.start = boundary
    fst.set_final(boundary, 0.0)
    after_word = boundary
    if lex.separator:
        after_word = fst.add_state()
        fst.set_final(after_word, 0.0)

    def add_path(src: int, dst: int, labels: Sequence[int], word: int) -> None:
        for n, label in enumerate(labels):
            nxt = dst if n == len(labels) - 1 else fst.add_state()
            fst.add_arc(src, kaldifst.StdArc(label, word if n == 0 else 0, 0.0, nxt))
            src = nxt

    for word_id, (ids, k) in enumerate(zip(lex.spellings, lex.disambig, strict=True), 1):
        labels = [i + 1 for i in ids] + ([first_disambig + k] if k else [])
        add_path(boundary, after_word, labels, word_id)
    if lex.separator:
        separator = [t + 1 for t in lex.separator]
        add_path(after_word, boundary, separator, 0)
        add_path(boundary, boundary, separator, 0)
    for state in {boundary, after_word}:
        fst.add_arc(state, kaldifst.StdArc(first_disambig, word_backoff, 0.0, state))
    return fst


_ARPA2FST = (
    "import sys, kaldilm; kaldilm.arpa2fst(sys.argv[1], output_fst=sys.argv[2], disambig_symbol=sys.argv[3], "
    "read_symbol_table=sys.argv[4], max_arpa_warnings=0)"
)


def _arpa_to_fst(arpa: Path, symbols: Path, out: Path) -> None:
    """G from an ARPA file with kaldilm, in a child process.

    kaldilm aborts the whole process on a malformed ARPA file; in a child that becomes a WfstError naming
    the file. (The child also frees the text copy of G that ``arpa2fst`` returns.) ARPA words missing
    from ``symbols`` (``<unk>``, words the tokenizer cannot spell) have their n-grams skipped.
    """
    argv = [sys.executable, "-c", _ARPA2FST, str(arpa), str(out), BACKOFF, str(symbols)]
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if proc.returncode != 0 or not out.is_file():
        lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        # kaldilm logs "file:function:line" then "[E] message"; the messages are what the user needs
        tail = [line for line in lines if not line.startswith("/")][-4:]
        raise WfstError(
            f"{arpa}: kaldilm's arpa2fst failed (exit status {proc.returncode}): " + " | ".join(tail)
        )


def _compile(tokenizer: Tokenizer, lex: _Lexicon, arpa: Path, symbols: Path, tmp: Path):
    import kaldifst

    num_tokens = len(tokenizer.tokens)
    first_disambig = num_tokens + 1  # graph label of token #0
    disambig_labels = [first_disambig + k for k in range(lex.num_disambig + 1)]
    word_backoff = len(lex.words) + 1

    start = time.perf_counter()
    g_path = tmp / "G.fst"
    _arpa_to_fst(arpa, symbols, g_path)
    G = kaldifst.StdVectorFst.read(str(g_path))
    if G is None or G.num_states == 0:
        raise WfstError(f"{arpa}: arpa2fst made no usable G")
    log.info("G: %d states, %d arcs (%.1f s)", G.num_states, _num_arcs(G), time.perf_counter() - start)

    start = time.perf_counter()
    L = _lexicon_fst(lex, first_disambig, word_backoff)
    kaldifst.arcsort(L, sort_type="olabel")
    kaldifst.arcsort(G, sort_type="ilabel")
    LG = kaldifst.compose(L, G)
    del G
    if kaldifst.determinize_star(LG):
        raise WfstError(f"{arpa}: determinising L∘G stopped early")
    kaldifst.minimize_encoded(LG)
    kaldifst.arcsort(LG, sort_type="ilabel")
    log.info("LG: %d states, %d arcs (%.1f s)", LG.num_states, _num_arcs(LG), time.perf_counter() - start)

    start = time.perf_counter()
    T = _ctc_topology(num_tokens, disambig_labels)
    kaldifst.arcsort(T, sort_type="olabel")
    TLG = kaldifst.compose(T, LG)
    del LG, T
    # T reads every label (disambiguation symbols included) deterministically and LG is deterministic
    # without input epsilons, so T ∘ LG is already deterministic: determinising it again would only
    # cost time (the longest step of the build). Checked, in case a future L or G breaks the argument.
    if TLG.properties(_I_DETERMINISTIC | _NON_I_DETERMINISTIC, True) & _I_DETERMINISTIC == 0:
        log.warning("T∘LG is not deterministic; determinising it")
        if kaldifst.determinize_star(TLG):
            raise WfstError(f"{arpa}: determinising T∘LG stopped early")
    kaldifst.minimize_encoded(TLG)
    # disambiguation symbols have done their job: relabel them epsilon, by composing with a one-state
    # relabeller on the input side (far faster than touching millions of arcs from Python)
    relabel = kaldifst.StdVectorFst()
    state = relabel.add_state()
    relabel.start = state
    relabel.set_final(state, 0.0)
    for label in range(1, num_tokens + 1):
        relabel.add_arc(state, kaldifst.StdArc(label, label, 0.0, state))
    for label in disambig_labels:
        relabel.add_arc(state, kaldifst.StdArc(0, label, 0.0, state))
    kaldifst.arcsort(relabel, sort_type="olabel")
    TLG = kaldifst.compose(relabel, TLG)
    kaldifst.arcsort(TLG, sort_type="ilabel")
    log.info("TLG: %d states (%.1f s)", TLG.num_states, time.perf_counter() - start)
    return TLG


def _input_stamp(path: Path) -> dict[str, Any]:
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _same_input(path: Path, recorded: dict[str, Any] | None) -> bool:
    """Whether ``path`` is the file recorded in a manifest: same size and time, or else same content."""
    if not isinstance(recorded, dict):
        return False
    stamp = _input_stamp(path)
    if stamp["size"] != recorded.get("size"):
        return False
    if stamp["mtime_ns"] == recorded.get("mtime_ns"):
        return True  # make's rule; hashing a multi-GB ARPA on every decode would be the slow part
    return sha256_file(path) == recorded.get("sha256")


def _up_to_date(out_dir: Path, tokenizer: Tokenizer, arpa: Path, vocab: Path) -> bool:
    manifest = out_dir / MANIFEST_FILE
    if not all((out_dir / name).is_file() for name in (MANIFEST_FILE, GRAPH_FILE, WORDS_FILE, TOKENS_FILE)):
        return False
    try:
        recorded = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    inputs = recorded.get("inputs", {}) if isinstance(recorded, dict) else {}
    return (
        recorded.get("format") == GRAPH_FORMAT
        and recorded.get("tokenizer") == _tokenizer_fingerprint(tokenizer)
        and _same_input(arpa, inputs.get("lm.arpa"))
        and _same_input(vocab, inputs.get("words.txt"))
    )


def build_tlg(tokenizer: Tokenizer, lm_dir: Path, out_dir: Path | None = None) -> Path:
    """Build (or reuse) the TLG graph of ``tokenizer`` and the LM in ``lm_dir``; returns the graph folder.

    ``lm_dir`` is an ``asr lm build`` folder (``lm.arpa`` and ``words.txt``, one word a line). The graph
    goes to ``out_dir`` (default :func:`default_graph_dir`); a folder whose manifest records the same
    tokenizer, ARPA and word list is returned as it is. Words the tokenizer cannot spell are left out
    with a warning. Raises :class:`WfstError` naming the file for a missing or unusable input.
    """
    lm_dir = Path(lm_dir)
    arpa, vocab = lm_dir / "lm.arpa", lm_dir / "words.txt"
    if not arpa.is_file():
        raise WfstError(f"{arpa}: ARPA language model not found (make it with `asr lm build`)")
    if not vocab.is_file():
        raise WfstError(f"{vocab}: LM vocabulary not found (make the LM folder with `asr lm build`)")
    out_dir = Path(out_dir) if out_dir is not None else default_graph_dir(tokenizer, lm_dir)
    if _up_to_date(out_dir, tokenizer, arpa, vocab):
        log.info("reusing the TLG graph in %s", out_dir)
        return out_dir
    words = read_vocabulary(vocab)
    stamps = {
        name: {**_input_stamp(p), "sha256": sha256_file(p)}
        for name, p in (("lm.arpa", arpa), ("words.txt", vocab))
    }

    start = time.perf_counter()
    log.info("building the TLG graph of the %s tokenizer and %s in %s", tokenizer.kind, arpa, out_dir)
    lex = _make_lexicon(tokenizer, words, vocab)
    log.info(
        "lexicon: %d words, %d disambiguation symbols, separator %s",
        len(lex.words),
        lex.num_disambig,
        [tokenizer.tokens[t] for t in lex.separator] or "none",
    )
    n = len(lex.words)
    word_table = [
        f"{EPS} 0",
        *(f"{w} {i}" for i, w in enumerate(lex.words, 1)),
        f"{BACKOFF} {n + 1}",
        f"<s> {n + 2}",
        f"</s> {n + 3}",
    ]
    token_table = [f"{t} {i}" for i, t in enumerate(tokenizer.tokens)]

    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        # no manifest while the files change: an interrupted rebuild must not look finished
        (out_dir / MANIFEST_FILE).unlink(missing_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=out_dir, prefix=".build-"))
    except OSError as exc:
        raise WfstError(f"{out_dir}: cannot write the graph folder ({exc.strerror or exc})") from exc
    try:
        _write_lines(tmp / WORDS_FILE, word_table)
        TLG = _compile(tokenizer, lex, arpa, tmp / WORDS_FILE, tmp)
        if not TLG.write(str(tmp / GRAPH_FILE)):
            raise WfstError(f"{out_dir / GRAPH_FILE}: cannot write the graph")
        os.replace(tmp / GRAPH_FILE, out_dir / GRAPH_FILE)
        os.replace(tmp / WORDS_FILE, out_dir / WORDS_FILE)
        _write_lines(out_dir / TOKENS_FILE, token_table)
        manifest = {
            "format": GRAPH_FORMAT,
            "tokenizer": _tokenizer_fingerprint(tokenizer),
            "kind": tokenizer.kind,
            "inputs": stamps,
            "topology": "standard CTC",
            "separator": [tokenizer.tokens[t] for t in lex.separator],
            "words": len(lex.words),
            "skipped_words": len(lex.skipped),
            "disambiguation_symbols": lex.num_disambig,
            "states": TLG.num_states,
            "arcs": _num_arcs(TLG),
            "seconds": round(time.perf_counter() - start, 3),
        }
        write_atomic(out_dir / MANIFEST_FILE, (json.dumps(manifest, indent=1) + "\n").encode("utf-8"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info(
        "wrote %s: %d states, %d arcs (%.1f s)",
        out_dir / GRAPH_FILE,
        manifest["states"],
        manifest["arcs"],
        manifest["seconds"],
    )
    return out_dir


# ---- loading a graph folder ---------------------------------------------------------------------------


def _load_graph(tokenizer: Tokenizer, graph_dir: Path):
    """(TLG as a kaldifst StdVectorFst, word symbol id -> word), after checking the folder's tables."""
    import kaldifst

    graph_dir = Path(graph_dir)
    path = graph_dir / GRAPH_FILE
    if not path.is_file():
        raise WfstError(f"{path}: TLG graph not found (build it with build_tlg / `asr decode --lm`)")
    tokens_path = graph_dir / TOKENS_FILE
    if not tokens_path.is_file():
        raise WfstError(f"{tokens_path}: the graph's token table not found")
    tokens = _read_tokens_table(tokens_path)
    if tokens != tokenizer.tokens:
        differ = next(
            (i for i, (a, b) in enumerate(zip(tokens, tokenizer.tokens, strict=False)) if a != b),
            min(len(tokens), len(tokenizer.tokens)),
        )
        raise WfstError(
            f"{tokens_path}: the graph was built for other tokens than this {tokenizer.kind} tokenizer's "
            f"({len(tokens)} vs {tokenizer.vocab_size} tokens, first difference at id {differ}); "
            "rebuild the graph for this tokenizer"
        )
    words_path = graph_dir / WORDS_FILE
    words = dict((i, s) for s, i in _read_symbols(words_path))
    graph = kaldifst.StdVectorFst.read(str(path))
    if graph is None or graph.num_states == 0 or graph.start < 0:
        raise WfstError(f"{path}: not a readable, non-empty OpenFst graph")
    return graph, words


def _empty_hypothesis(log_probs: Tensor, blank: int) -> list[Hypothesis]:
    token_conf, conf = path_confidences(log_probs, [], [], blank)
    return [Hypothesis("", [], [], 0.0, token_conf, conf)]


def _emission_scores(log_probs: Tensor, cfg: WfstConfig, vocab_size: int, blank: int) -> Tensor:
    if log_probs.dim() != 2 or log_probs.shape[1] != vocab_size:
        raise WfstError(
            f"log-probabilities of shape {tuple(log_probs.shape)} do not fit a graph of {vocab_size} tokens"
        )
    scores = log_probs.detach().to("cpu", torch.float32) * cfg.acoustic_scale
    if cfg.blank_penalty:
        scores[:, blank] -= cfg.blank_penalty * cfg.acoustic_scale
    return scores


# ---- searching with kaldi-decoder ---------------------------------------------------------------------


class WfstDecoder:
    """One-best search of a TLG graph with kaldi-decoder's FasterDecoder (CPU).

    ``__call__(log_probs [T, V])`` returns a one-best list: the words on the best path joined by spaces,
    its tokens (CTC-collapsed input labels) with the frame each starts at, ``score`` = minus the path's
    cost (scaled acoustic + LM), and posterior confidences along the path. An empty list means that no
    path survived the beam.
    """

    name = "wfst"

    def __init__(self, tokenizer: Tokenizer, graph_dir: Path, cfg: WfstConfig | None = None) -> None:
        import kaldi_decoder
        import kaldifst

        self.tokenizer = tokenizer
        self.cfg = cfg if cfg is not None else WfstConfig()
        self.graph_dir = Path(graph_dir)
        graph, self.words = _load_graph(tokenizer, self.graph_dir)
        # ConstFst: the decoder's arc lookups are faster on it, and it is smaller in memory
        self.graph = kaldifst.StdConstFst(graph)
        self.options = kaldi_decoder.FasterDecoderOptions(
            beam=float(self.cfg.beam), max_active=self.cfg.max_active, min_active=self.cfg.min_active
        )
        self._decoder = kaldi_decoder.FasterDecoder(self.graph, self.options)

    def __call__(self, log_probs: Tensor) -> list[Hypothesis]:
        import kaldi_decoder
        import kaldifst

        blank = self.tokenizer.blank_id
        scores = _emission_scores(log_probs, self.cfg, self.tokenizer.vocab_size, blank)
        if scores.shape[0] == 0:
            return _empty_hypothesis(log_probs, blank)
        # DecodableCtc copies the matrix; label l of the graph reads column l - 1
        decodable = kaldi_decoder.DecodableCtc(np.ascontiguousarray(scores.numpy()))
        self._decoder.decode(decodable)
        use_final = self._decoder.reached_final()
        if not use_final:
            log.debug("wfst: no final state within the beam; taking the best partial path")
        ok, path = self._decoder.get_best_path(use_final_probs=use_final)
        if not ok or path.num_states == 0:
            log.warning("wfst: no path through the graph survived the beam (%d frames)", scores.shape[0])
            return []
        ok, ilabels, olabels, weight = kaldifst.get_linear_symbol_sequence(path)
        # every frame is one arc with a non-zero input label (blank is 1); epsilons are dropped
        if not ok or len(ilabels) != scores.shape[0]:
            raise RuntimeError(
                f"wfst: best path has {len(ilabels)} frame labels for {scores.shape[0]} frames"
            )
        tokens, frames = collapse([label - 1 for label in ilabels], blank)
        text = " ".join(self.words.get(w, f"<{w}>") for w in olabels)
        token_conf, conf = path_confidences(log_probs, tokens, frames, blank)
        score = -(float(weight.value1) + float(weight.value2))
        return [Hypothesis(text, tokens, frames, score, token_conf, conf)]


# ---- searching with k2 --------------------------------------------------------------------------------


def k2_available() -> bool:
    """Whether k2 can be imported (it has no wheel for every torch; a broken build raises on import)."""
    try:
        import k2  # noqa: F401
    except Exception:  # ImportError, or OSError/RuntimeError from a k2 built for another torch or CUDA
        return False
    return True


def _k2_arcs(graph) -> tuple[Tensor, Tensor]:
    """A kaldifst graph's arcs in k2's layout: ``(arcs [N, 4] int32, aux_labels [N] int32)``.

    Rows are ``src, dst, label, score`` (the float score's bits in an int32, as ``k2.Fsa`` takes them),
    grouped by source state; the start state is renumbered 0, and final weights become arcs labelled -1
    into one extra, last state. Scores are negated costs. Labels are the graph's (token + 1, 0 epsilon).
    """
    num_states = graph.num_states
    start = graph.start
    order = [start, *(s for s in range(num_states) if s != start)]
    new_id = {s: i for i, s in enumerate(order)}
    final_state = num_states
    src, dst, labels, aux, scores = [], [], [], [], []
    for s in order:
        for ilabel, olabel, cost, nextstate in _graph_arcs(graph, s):
            src.append(new_id[s])
            dst.append(new_id[nextstate])
            labels.append(ilabel)
            aux.append(olabel)
            scores.append(-cost)
        cost = float(graph.final(s).value)
        if math.isfinite(cost):  # the tropical zero (infinity) means "not final"
            src.append(new_id[s])
            dst.append(final_state)
            labels.append(-1)
            aux.append(-1)
            scores.append(-cost)
    arcs = torch.stack(
        [
            torch.tensor(src, dtype=torch.int32),
            torch.tensor(dst, dtype=torch.int32),
            torch.tensor(labels, dtype=torch.int32),
            torch.tensor(scores, dtype=torch.float32).view(torch.int32),
        ],
        dim=1,
    )
    return arcs, torch.tensor(aux, dtype=torch.int32)


def _to_k2(graph, device: str | torch.device):
    """The kaldifst TLG as a k2 Fsa: labels are token ids (blank 0), words in ragged ``aux_labels``.

    k2's intersection needs an epsilon-free graph (it reads label 0 as the blank, consuming a frame): the
    epsilon arcs left by disambiguation symbols are removed with ``k2.remove_epsilon`` while label 0 still
    means epsilon (it moves their words onto neighbouring arcs, so ``aux_labels`` become ragged), and
    only then are labels shifted down to token ids.
    """
    import k2

    arcs, aux_labels = _k2_arcs(graph)
    fsa = k2.connect(k2.remove_epsilon(k2.Fsa(arcs, aux_labels=aux_labels)))
    labels = fsa.labels.clone()
    labels[labels > 0] -= 1  # graph label l is token l - 1; -1 (final) stays
    fsa.labels = labels  # k2 wants the setter, not in-place edits of fsa.labels
    return k2.arc_sort(fsa).to(device)


def _graph_arcs(graph, state: int) -> list[tuple[int, int, float, int]]:
    """``(ilabel, olabel, cost, nextstate)`` of the arcs leaving ``state`` of a kaldifst graph."""
    import kaldifst

    return [
        (a.ilabel, a.olabel, float(a.weight.value), a.nextstate) for a in kaldifst.ArcIterator(graph, state)
    ]


class K2WfstDecoder:
    """The same graph and interface as :class:`WfstDecoder`, searched with k2 (``intersect_dense_pruned``).

    Only usable where k2 imports (:func:`k2_available`); ``device`` may be a GPU. The lattice is pruned
    with ``search_beam = cfg.beam`` and ``output_beam = min(cfg.beam, 8)`` (icefall's default), and its
    shortest path is the one-best.
    """

    name = "wfst-k2"

    def __init__(
        self,
        tokenizer: Tokenizer,
        graph_dir: Path,
        cfg: WfstConfig | None = None,
        device: str | torch.device = "cpu",
    ) -> None:
        if not k2_available():
            raise WfstError("k2 is not installed (see pyproject.toml's k2 extra); use WfstDecoder instead")
        self.tokenizer = tokenizer
        self.cfg = cfg if cfg is not None else WfstConfig()
        self.graph_dir = Path(graph_dir)
        self.device = torch.device(device)
        graph, self.words = _load_graph(tokenizer, self.graph_dir)
        start = time.perf_counter()
        self.graph = _to_k2(graph, self.device)
        log.info("loaded %s into k2 (%.1f s)", self.graph_dir / GRAPH_FILE, time.perf_counter() - start)

    def __call__(self, log_probs: Tensor) -> list[Hypothesis]:
        import k2

        blank = self.tokenizer.blank_id
        scores = _emission_scores(log_probs, self.cfg, self.tokenizer.vocab_size, blank)
        num_frames = scores.shape[0]
        if num_frames == 0:
            return _empty_hypothesis(log_probs, blank)
        segments = torch.tensor([[0, 0, num_frames]], dtype=torch.int32)
        dense = k2.DenseFsaVec(scores.unsqueeze(0).to(self.device), segments)
        lattice = k2.intersect_dense_pruned(
            self.graph,
            dense,
            search_beam=self.cfg.beam,
            output_beam=min(self.cfg.beam, 8.0),
            min_active_states=self.cfg.min_active,
            max_active_states=self.cfg.max_active,
        )
        best = k2.shortest_path(lattice, use_double_scores=True)
        labels = best.labels.tolist()
        if not labels:
            log.warning("wfst-k2: no path through the graph survived the beam (%d frames)", num_frames)
            return []
        frame_labels = [label for label in labels if label != -1]  # one arc a frame, then the final arc
        if len(frame_labels) != num_frames:
            raise RuntimeError(f"wfst-k2: best path has {len(frame_labels)} arcs for {num_frames} frames")
        aux = best.aux_labels
        values = aux.values if isinstance(aux, k2.RaggedTensor) else aux
        word_ids = [w for w in values.tolist() if w > 0]
        tokens, frames = collapse(frame_labels, blank)
        text = " ".join(self.words.get(w, f"<{w}>") for w in word_ids)
        token_conf, conf = path_confidences(log_probs, tokens, frames, blank)
        score = float(best.get_tot_scores(use_double_scores=True, log_semiring=False)[0])
        return [Hypothesis(text, tokens, frames, score, token_conf, conf)]


__all__ = [
    "K2WfstDecoder",
    "WfstConfig",
    "WfstDecoder",
    "WfstError",
    "build_tlg",
    "default_graph_dir",
    "k2_available",
]

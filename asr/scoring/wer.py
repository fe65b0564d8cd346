"""Word error rate that agrees with NIST sclite: readers, explicit normalisation, alignment, report files.

The counts here are sclite's, so a number in a paper can be checked with ``sclite`` on the same ``.trn``
files (written by :func:`write_trn`). The steps:

1. :func:`read_transcripts` reads a Kaldi-style text file (``utt-id word word ...``, one utterance a line)
   or a lhotse cut manifest (``*.jsonl`` / ``*.jsonl.gz``: cut id -> the texts of its supervisions);
2. :class:`Normalization` says what is done to the words before they are compared (nothing by default),
   and is recorded in every result and every file written, so that two numbers are never compared
   without knowing whether they were scored the same way;
3. :func:`align` finds the alignment of least cost with sclite's default weights (correct 0,
   substitution 4, insertion 3, deletion 3). Plain Levenshtein (every error 1) can split the same
   errors differently (two substitutions where sclite finds a deletion, a match and an insertion) and,
   over long runs of errors, even count a different total;
4. :func:`compute_wer` sums the counts: WER = 100 (S + D + I) / N, N the number of reference words;
5. :func:`write_reports` writes icefall's ``recogs-``, ``errs-`` and ``wer-summary-`` files and sclite's
   ``ref-`` / ``hyp-`` ``.trn`` files, each atomically.

sclite compares words case-insensitively unless given ``-s``; here case is kept unless the normalisation
says otherwise, so compare with ``sclite -s`` (or score with ``case="upper"``).
"""

from __future__ import annotations

import dataclasses
import json
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from asr.errors import UserError
from asr.files import write_atomic

#: sclite's default alignment weights (``sclite -h`` has no option to change them for word alignment).
COST_CORRECT = 0
COST_SUB = 4
COST_INS = 3
COST_DEL = 3

#: How many ids of each kind a mismatch message lists before it only counts them.
_LIST_IDS = 10

#: Apostrophes kept by ``punctuation="remove"`` when they sit between two letters or digits (don't, rock'n'roll).
_APOSTROPHES = frozenset("'\u2019")

Op = Literal["C", "S", "D", "I"]
#: One aligned pair: (reference word or None, hypothesis word or None, operation).
AlignedPair = tuple[str | None, str | None, Op]


class ScoringError(UserError):
    """A user-facing problem with a reference or hypothesis (unreadable, duplicate or mismatched ids)."""


# -- normalisation --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Normalization:
    """What is done to every word of both reference and hypothesis before they are compared.

    ``case``: ``"keep"`` (the default), ``"upper"`` or ``"lower"``.
    ``punctuation``: ``"keep"`` (the default) or ``"remove"``: every Unicode punctuation character (category
    ``P*``) is deleted from inside the word, except an apostrophe between two letters or digits ("don't"
    stays, "'quoted'" becomes "quoted", "dogs'" becomes "dogs"). Characters are deleted, not replaced by a
    space, so the number of words never grows ("U.S." becomes "US", "well-known" becomes "wellknown"); a
    word made only of punctuation ("-", "...") disappears.
    """

    case: Literal["keep", "upper", "lower"] = "keep"
    punctuation: Literal["keep", "remove"] = "keep"

    def __post_init__(self) -> None:
        # checked here, not only in the CLI, so that a typo in a script fails instead of silently keeping case
        if self.case not in ("keep", "upper", "lower"):
            raise ScoringError(f"case must be keep, upper or lower, not {self.case!r}")
        if self.punctuation not in ("keep", "remove"):
            raise ScoringError(f"punctuation must be keep or remove, not {self.punctuation!r}")

    def __call__(self, words: Iterable[str]) -> list[str]:
        """The normalised words, empty ones dropped."""
        out = []
        for word in words:
            if self.punctuation == "remove":
                word = _strip_punctuation(word)
            if self.case == "upper":
                word = word.upper()
            elif self.case == "lower":
                word = word.lower()
            if word:
                out.append(word)
        return out

    def describe(self) -> str:
        """``case=keep punctuation=keep``: the line written into every report file."""
        return f"case={self.case} punctuation={self.punctuation}"

    def to_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)


def _strip_punctuation(word: str) -> str:
    kept = []
    for i, ch in enumerate(word):
        if not unicodedata.category(ch).startswith("P"):
            kept.append(ch)
        elif ch in _APOSTROPHES and 0 < i < len(word) - 1 and word[i - 1].isalnum() and word[i + 1].isalnum():
            kept.append(ch)
    return "".join(kept)


# -- readers --------------------------------------------------------------------------------------------
def read_transcripts(path: Path, field: str | None = None) -> dict[str, list[str]]:
    """Utterance id -> words, from a Kaldi-style text file or (``*.jsonl``, ``*.jsonl.gz``) a lhotse CutSet.

    The words are as written (normalisation comes later, in :func:`compute_wer`). An empty file gives an
    empty dict: :func:`score_files` decides whether that is an error. ``field``: read the cuts'
    supervision ``custom[field]`` lists (e.g. L2-ARCTIC's ``perceived_phones``) instead of their text.
    """
    path = Path(path)
    if not path.is_file():
        raise ScoringError(f"transcript file not found: {path}")
    if path.name.endswith((".jsonl", ".jsonl.gz")):
        return _read_cuts(path, field)
    if field is not None:
        raise ScoringError(f"{path}: a field ({field!r}) can only be read from a cut manifest")
    return _read_text(path)


def _read_text(path: Path) -> dict[str, list[str]]:
    texts: dict[str, list[str]] = {}
    # bytes, decoded line by line, so that a bad byte is reported with its line number
    for lineno, raw in enumerate(path.read_bytes().split(b"\n"), start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ScoringError(
                f"{path}:{lineno}: not valid UTF-8 (byte {exc.start + 1} of the line)"
            ) from None
        if lineno == 1:
            line = line.removeprefix("\ufeff")  # a byte-order mark would otherwise join the first id
        fields = line.split()
        if not fields:
            continue  # blank lines (and the one after the final newline) hold no utterance
        utt_id, words = fields[0], fields[1:]
        if utt_id in texts:
            raise ScoringError(f"{path}:{lineno}: duplicate utterance id {utt_id!r}")
        texts[utt_id] = words
    return texts


def _read_cuts(path: Path, field: str | None = None) -> dict[str, list[str]]:
    from lhotse import CutSet  # kept out of import time: the CLI and text files do not need it

    texts: dict[str, list[str]] = {}
    try:
        for cut in CutSet.from_file(path):
            if cut.id in texts:
                raise ScoringError(f"{path}: duplicate cut id {cut.id!r}")
            if field is None:
                texts[cut.id] = " ".join(s.text for s in cut.supervisions if s.text).split()
                continue
            if not all(field in (s.custom or {}) for s in cut.supervisions):
                raise ScoringError(f"{path}: cut {cut.id!r} has no supervision field {field!r}")
            texts[cut.id] = [str(w) for s in cut.supervisions for w in s.custom[field]]
    except UnicodeDecodeError:
        raise ScoringError(f"{path}:{_first_bad_line(path)}: not valid UTF-8") from None
    except (ValueError, KeyError, TypeError) as exc:  # bad JSON or a dict that is not a cut
        raise ScoringError(f"{path}: not a lhotse cut manifest ({type(exc).__name__}: {exc})") from None
    return texts


def _first_bad_line(path: Path) -> int | str:
    """The number of the first line of a (possibly gzipped) file that is not UTF-8; only read on failure."""
    import gzip

    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return lineno
    return "?"


# -- alignment ------------------------------------------------------------------------------------------
def align(ref: Sequence[str], hyp: Sequence[str]) -> list[AlignedPair]:
    """The alignment of least sclite cost (C 0, S 4, I 3, D 3) of ``hyp`` against ``ref``.

    Equal costs do not mean equal counts (3 substitutions cost as much as 2 deletions and 2 insertions
    around matches), so ties are broken as sclite breaks them: tracing back from the end, a diagonal step
    (correct or substitution) first, then an insertion, then a deletion. That order is the only one (of
    the 48 with either direction) that matched sclite 2.10 on 1 500 random pairs full of ties;
    tests/test_scoring.py checks it against sclite whenever sclite is installed.
    """
    n, m = len(ref), len(hyp)
    # cost[i][j]: least cost of aligning ref[:i] with hyp[:j]
    cost = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        cost[i][0] = i * COST_DEL
    for j in range(1, m + 1):
        cost[0][j] = j * COST_INS
    for i in range(1, n + 1):
        row, prev, r = cost[i], cost[i - 1], ref[i - 1]
        for j in range(1, m + 1):
            diag = prev[j - 1] + (COST_CORRECT if r == hyp[j - 1] else COST_SUB)
            row[j] = min(diag, prev[j] + COST_DEL, row[j - 1] + COST_INS)

    pairs: list[AlignedPair] = []
    i, j = n, m
    while i > 0 or j > 0:
        if i > 0 and j > 0:
            same = ref[i - 1] == hyp[j - 1]
            if cost[i][j] == cost[i - 1][j - 1] + (COST_CORRECT if same else COST_SUB):
                pairs.append((ref[i - 1], hyp[j - 1], "C" if same else "S"))
                i, j = i - 1, j - 1
                continue
        if j > 0 and cost[i][j] == cost[i][j - 1] + COST_INS:
            pairs.append((None, hyp[j - 1], "I"))
            j -= 1
        else:
            pairs.append((ref[i - 1], None, "D"))
            i -= 1
    pairs.reverse()
    return pairs


# -- scores ---------------------------------------------------------------------------------------------
@dataclass
class UttScore:
    """One utterance: its normalised words, their alignment and its error counts."""

    ref: list[str]
    hyp: list[str]
    alignment: list[AlignedPair]
    correct: int
    sub: int
    del_: int
    ins: int

    @property
    def errors(self) -> int:
        return self.sub + self.del_ + self.ins


@dataclass
class WerResult:
    """Totals over a test set and, per utterance id, the alignment they come from.

    ``wer`` is a percentage, 100 (S + D + I) / N. When no reference holds a word (N = 0) the ratio is
    undefined; ``wer`` is then 0 if the hypotheses are empty too and 100 otherwise, so that it stays a
    finite number (valid JSON, sortable summaries); ``ins`` says how many words were output.
    """

    wer: float
    sub: int
    del_: int
    ins: int
    correct: int
    ref_words: int
    utts: int
    normalization: Normalization
    utterances: dict[str, UttScore] = field(default_factory=dict)

    @property
    def errors(self) -> int:
        return self.sub + self.del_ + self.ins

    def summary_line(self) -> str:
        """Kaldi's ``%WER 12.34 [ 10 / 81, 2 ins, 3 del, 5 sub ]``."""
        return (
            f"%WER {self.wer:.2f} [ {self.errors} / {self.ref_words}, "
            f"{self.ins} ins, {self.del_} del, {self.sub} sub ]"
        )

    def to_dict(self) -> dict:
        """The totals as the CLI's ``--json`` prints them (``del``, not ``del_``)."""
        return {
            "wer": round(self.wer, 4),
            "sub": self.sub,
            "del": self.del_,
            "ins": self.ins,
            "ref_words": self.ref_words,
            "utts": self.utts,
            "normalization": self.normalization.to_dict(),
        }


def compute_wer(
    refs: Mapping[str, Sequence[str]],
    hyps: Mapping[str, Sequence[str]],
    normalization: Normalization | None = None,
) -> WerResult:
    """Score ``hyps`` against ``refs`` (utterance id -> words) after ``normalization`` (default: none).

    Both must hold exactly the same ids: a missing hypothesis is more often a crashed decoding job than
    an empty output, so it is an error, not a set of deletions (an empty word list is fine: all deletions).
    """
    normalization = normalization or Normalization()
    if not refs:
        raise ScoringError("no reference utterances to score")
    _check_ids(refs, hyps)
    utterances: dict[str, UttScore] = {}
    totals: Counter[str] = Counter()
    for utt_id in sorted(refs):
        ref, hyp = normalization(refs[utt_id]), normalization(hyps[utt_id])
        pairs = align(ref, hyp)
        ops = Counter(op for _, _, op in pairs)
        utterances[utt_id] = UttScore(ref, hyp, pairs, ops["C"], ops["S"], ops["D"], ops["I"])
        totals.update(ops)
        totals["N"] += len(ref)
    n, errors = totals["N"], totals["S"] + totals["D"] + totals["I"]
    if n:
        wer = 100.0 * errors / n
    else:
        wer = 0.0 if errors == 0 else 100.0  # see WerResult: undefined ratio, kept finite
    return WerResult(
        wer=wer,
        sub=totals["S"],
        del_=totals["D"],
        ins=totals["I"],
        correct=totals["C"],
        ref_words=n,
        utts=len(utterances),
        normalization=normalization,
        utterances=utterances,
    )


def _check_ids(refs: Mapping[str, object], hyps: Mapping[str, object]) -> None:
    missing = sorted(set(refs) - set(hyps))
    extra = sorted(set(hyps) - set(refs))
    if not missing and not extra:
        return
    parts = []
    for what, ids in (("missing from the hypothesis", missing), ("not in the reference", extra)):
        if ids:
            shown = ", ".join(ids[:_LIST_IDS]) + (", ..." if len(ids) > _LIST_IDS else "")
            parts.append(f"{len(ids)} utterance id(s) {what}: {shown}")
    raise ScoringError("reference and hypothesis ids differ: " + "; ".join(parts))


def score_files(
    ref_path: Path, hyp_path: Path, normalization: Normalization | None = None, ref_field: str | None = None
) -> WerResult:
    """Read both files (:func:`read_transcripts`; the reference's ``ref_field``) and score them; an empty
    reference is an error."""
    refs = read_transcripts(ref_path, ref_field)
    if not refs:
        raise ScoringError(f"{ref_path}: the reference holds no utterances")
    hyps = read_transcripts(hyp_path)
    try:
        return compute_wer(refs, hyps, normalization)
    except ScoringError as exc:
        raise ScoringError(f"{exc} (reference {ref_path}, hypothesis {hyp_path})") from None


# -- writers --------------------------------------------------------------------------------------------
def format_alignment(pairs: Iterable[AlignedPair]) -> str:
    """``a (b->c) (d->*) (*->e)``: correct words bare, errors as (ref->hyp), ``*`` for nothing."""
    out = []
    for ref, hyp, op in pairs:
        out.append(ref if op == "C" else f"({ref or '*'}->{hyp or '*'})")
    return " ".join(out)


def write_recogs(path: Path, result: WerResult) -> None:
    """icefall's ``recogs-<name>.txt``: ``id:\\tref=[...]`` and ``id:\\thyp=[...]`` per utterance."""
    lines = [f"# normalization: {result.normalization.describe()}"]
    for utt_id, utt in result.utterances.items():
        lines += [f"{utt_id}:\tref={utt.ref!r}", f"{utt_id}:\thyp={utt.hyp!r}"]
    _write_lines(path, lines)


def write_errs(path: Path, result: WerResult, top: int = 20) -> None:
    """``errs-<name>.txt``: the ``%WER`` line, every utterance's alignment, then the commonest errors."""
    subs: Counter[tuple[str, str]] = Counter()
    dels: Counter[str] = Counter()
    inss: Counter[str] = Counter()
    lines = [
        result.summary_line(),
        f"normalization: {result.normalization.describe()}",
        f"Errors: {result.ins} insertions, {result.del_} deletions, {result.sub} substitutions, "
        f"over {result.ref_words} reference words ({result.correct} correct)",
        "",
        "PER-UTT DETAILS: corr or (ref->hyp)",
    ]
    for utt_id, utt in result.utterances.items():
        lines.append(f"{utt_id}:\t{format_alignment(utt.alignment)}")
        for ref, hyp, op in utt.alignment:
            if op == "S":
                subs[(ref, hyp)] += 1
            elif op == "D":
                dels[ref] += 1
            elif op == "I":
                inss[hyp] += 1
    # most_common keeps first-seen order among equal counts; sort by word too so the file is reproducible
    lines += ["", f"SUBSTITUTIONS: count ref -> hyp (top {top})"]
    lines += [f"{c}\t{r} -> {h}" for (r, h), c in sorted(subs.items(), key=lambda kv: (-kv[1], kv[0]))[:top]]
    lines += ["", f"DELETIONS: count ref (top {top})"]
    lines += [f"{c}\t{w}" for w, c in sorted(dels.items(), key=lambda kv: (-kv[1], kv[0]))[:top]]
    lines += ["", f"INSERTIONS: count hyp (top {top})"]
    lines += [f"{c}\t{w}" for w, c in sorted(inss.items(), key=lambda kv: (-kv[1], kv[0]))[:top]]
    _write_lines(path, lines)


def write_wer_summary(path: Path, name: str, result: WerResult) -> None:
    """icefall's ``wer-summary-<name>.txt``: ``settings\\tWER``, ``<name>\\t12.34``, then the normalisation."""
    lines = [
        "settings\tWER",
        f"{name}\t{result.wer:.2f}",
        f"# normalization: {result.normalization.describe()}",
    ]
    _write_lines(path, lines)


def write_trn(path: Path, texts: Mapping[str, Sequence[str]], normalization: Normalization) -> None:
    """sclite's ``trn`` format: ``word word (utt-id)`` per line, after a ``;;`` comment (sclite skips it)."""
    lines = [f";; normalization: {normalization.describe()}"]
    lines += [" ".join([*texts[utt_id], f"({utt_id})"]) for utt_id in sorted(texts)]
    _write_lines(path, lines)


def write_reports(out_dir: Path, name: str, result: WerResult) -> list[Path]:
    """All five files for one test set and system, named after ``name``; returns their paths."""
    out_dir = Path(out_dir)
    paths = {
        "recogs": out_dir / f"recogs-{name}.txt",
        "errs": out_dir / f"errs-{name}.txt",
        "summary": out_dir / f"wer-summary-{name}.txt",
        "ref": out_dir / f"ref-{name}.trn",
        "hyp": out_dir / f"hyp-{name}.trn",
    }
    write_recogs(paths["recogs"], result)
    write_errs(paths["errs"], result)
    write_wer_summary(paths["summary"], name, result)
    # the .trn files hold the normalised words: sclite on them reproduces these counts
    norm = result.normalization
    write_trn(paths["ref"], {u: s.ref for u, s in result.utterances.items()}, norm)
    write_trn(paths["hyp"], {u: s.hyp for u, s in result.utterances.items()}, norm)
    return list(paths.values())


def _write_lines(path: Path, lines: Iterable[str]) -> None:
    write_atomic(Path(path), "".join(line + "\n" for line in lines).encode("utf-8"))


def character_error_rate(result: WerResult) -> dict[str, float | int]:
    """CER of the utterances ``result`` scored: each side's normalised words joined by single spaces and
    aligned character by character (the same alignment as words; the spaces between words count, so a
    split or merged word is one error). ``{"cer": %, "char_errors", "ref_chars"}``."""
    errors = total = 0
    for utt in result.utterances.values():
        ref, hyp = list(" ".join(utt.ref)), list(" ".join(utt.hyp))
        errors += sum(op != "C" for _, _, op in align(ref, hyp))
        total += len(ref)
    cer = 100.0 * errors / total if total else (0.0 if errors == 0 else 100.0)
    return {"cer": round(cer, 4), "char_errors": errors, "ref_chars": total}


def result_json(result: WerResult, cer: bool = False) -> str:
    """One line of JSON: :meth:`WerResult.to_dict` (``cer``: and :func:`character_error_rate`'s keys)."""
    out = result.to_dict()
    if cer:
        out |= character_error_rate(result)
    return json.dumps(out, ensure_ascii=False)

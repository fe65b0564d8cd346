"""L2-ARCTIC preparation with the manual mispronunciation annotations lhotse does not read.

A scan checks every utterance (audio, transcript, annotation TextGrid). If nothing is wrong,
recordings and supervisions come from ``lhotse.recipes.prepare_l2_arctic`` unchanged; otherwise
the same manifests (same ids ``<spk>-<stem>``, same fields) are built from the good files only and
every skipped file is listed in the summary. Supervisions of annotated utterances then get the
perceived word/phone alignment and, in ``custom``, canonical and perceived phones and the errors.

Splits follow the public MDD work on L2-ARCTIC: ``test`` = annotated utterances of the six test
speakers, ``train`` = annotated utterances of the other 18, ``unlabelled`` = unannotated utterances
of those 18 (the test speakers' unannotated utterances are not used).
"""

from __future__ import annotations

import logging
import re
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from asr.text.normalize import normalize_text
from asr.text.phones import ERR, SIL, normalize_phone, strip_stress

from .common import CorpusError, PrepareSummary, audio_problem, require_dir, save_part

if TYPE_CHECKING:  # lhotse (and torch) load lazily: the synthetic-corpus code imports this module too
    from lhotse import RecordingSet, SupervisionSegment, SupervisionSet
    from lhotse.supervision import AlignmentItem

log = logging.getLogger(__name__)
#: folder → (gender, L1), as in lhotse's table of the release.
SPEAKERS: dict[str, tuple[str, str]] = {
    "ABA": ("M", "Arabic"),
    "SKA": ("F", "Arabic"),
    "YBAA": ("M", "Arabic"),
    "ZHAA": ("F", "Arabic"),
    "BWC": ("M", "Chinese"),
    "LXC": ("F", "Chinese"),
    "NCC": ("F", "Chinese"),
    "TXHC": ("M", "Chinese"),
    "ASI": ("M", "Hindi"),
    "RRBI": ("M", "Hindi"),
    "SVBI": ("F", "Hindi"),
    "TNI": ("F", "Hindi"),
    "HJK": ("F", "Korean"),
    "HKK": ("M", "Korean"),
    "YDCK": ("F", "Korean"),
    "YKWK": ("M", "Korean"),
    "EBVS": ("M", "Spanish"),
    "ERMS": ("M", "Spanish"),
    "MBMPS": ("F", "Spanish"),
    "NJS": ("F", "Spanish"),
    "HQTV": ("M", "Vietnamese"),
    "PNV": ("F", "Vietnamese"),
    "THV": ("F", "Vietnamese"),
    "TLV": ("M", "Vietnamese"),
}
TEST_SPEAKERS = frozenset({"TLV", "NJS", "TNI", "TXHC", "ZHAA", "YKWK"})
PARTS = ("train", "test", "unlabelled")
_WORD_SILENCES = frozenset({"", "sil", "sp", "spn", "<sil>", "<unk>"})
_TOLERANCE_S = 0.02  # how far a phone may stick out of the words tier (annotators move boundaries)

Interval = tuple[float, float, str]


class AnnotationError(ValueError):
    """An annotation TextGrid that cannot be used; the message says why."""


@dataclass(frozen=True)
class PhoneLabel:
    """One phones-tier label, normalised: ``kind`` is ``""`` (correct), ``s``, ``d`` or ``a``."""

    canonical: str
    perceived: str
    kind: str = ""


def parse_phone_label(text: str) -> PhoneLabel:
    """``"AH0"`` / ``"DH,D,s"`` / ``"T,sil,d"`` / ``"sil,AH,a"`` (with the real files' ``*`` and stray
    spaces) → a :class:`PhoneLabel`. The kind follows from the phones; a pair that normalises to the
    same phone (``"AH0,AH*,s"``) counts as correct. Raises ValueError for unreadable labels."""
    parts = text.split(",")
    if len(parts) == 1:
        phone = normalize_phone(parts[0])
        return PhoneLabel(phone, phone)
    if len(parts) > 3 or (len(parts) == 3 and parts[2].strip().lower() not in ("s", "d", "a", "")):
        raise ValueError(f"unreadable phone label {text!r}")
    cpl, ppl = normalize_phone(parts[0]), normalize_phone(parts[1])
    if cpl == ppl:
        return PhoneLabel(cpl, ppl)
    return PhoneLabel(cpl, ppl, "a" if cpl == SIL else "d" if ppl == SIL else "s")


@dataclass(frozen=True)
class Tier:
    name: str
    xmin: float
    xmax: float
    intervals: tuple[Interval, ...]


def read_textgrid(path: Path) -> dict[str, Tier]:
    """Interval tiers of a TextGrid (long or short text format, UTF-8 or UTF-16), by lower-case name."""
    from praatio.utilities import textgrid_io

    raw = Path(path).read_bytes()
    text = raw.decode("utf-16") if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else raw.decode("utf-8-sig")
    parsed = textgrid_io.parseTextgridStr(text, includeEmptyIntervals=True)
    tiers = {}
    for tier in parsed["tiers"]:
        if tier["class"] != "IntervalTier":
            continue
        intervals = tuple((float(e[0]), float(e[1]), str(e[2]).strip()) for e in tier["entries"])
        tiers[tier["name"].strip().lower()] = Tier(
            tier["name"], float(tier["xmin"]), float(tier["xmax"]), intervals
        )
    return tiers


def _tier(tiers: dict[str, Tier], *names: str) -> Tier:
    for name in names:
        if name in tiers:
            return tiers[name]
    raise AnnotationError(f"no {names[0]!r} tier (tiers: {', '.join(tiers) or 'none'})")


def _letters(text: str) -> str:
    """Words reduced to their letters, so tokenisation differences (hyphens, case) do not count."""
    return re.sub(r"[^a-z]", "", normalize_text(text, upper=False))


@dataclass(frozen=True)
class Annotation:
    """A checked annotation: word intervals and the phone labels with times."""

    words: tuple[Interval, ...]
    phones: tuple[tuple[float, float, PhoneLabel], ...]

    def canonical_phones(self) -> list[str]:
        return [p.canonical for _, _, p in self.phones if p.canonical != SIL]

    def perceived_phones(self) -> list[str]:
        return [p.perceived for _, _, p in self.phones if p.perceived != SIL]

    def errors(self) -> list[dict]:
        """Errors in order; ``index`` is the position in the canonical phones (for an addition:
        the number of canonical phones before it, i.e. where it was inserted)."""
        out, index = [], 0
        for start, end, p in self.phones:
            if p.kind:
                out.append(
                    {
                        "index": index,
                        "canonical": p.canonical,
                        "perceived": p.perceived,
                        "type": p.kind,
                        "start": round(start, 6),
                        "end": round(end, 6),
                    }
                )
            if p.canonical != SIL:
                index += 1
        return out

    def alignment(self) -> dict[str, list[AlignmentItem]]:
        """lhotse alignments: words and the *perceived* phones (deletions have none)."""
        from lhotse.supervision import AlignmentItem

        def item(symbol: str, start: float, end: float) -> AlignmentItem:
            return AlignmentItem(symbol=symbol, start=round(start, 6), duration=round(end - start, 6))

        return {
            "word": [item(w, s, e) for s, e, w in self.words],
            "phone": [item(p.perceived, s, e) for s, e, p in self.phones if p.perceived != SIL],
        }


def read_annotation(path: Path, transcript: str) -> Annotation:
    """Read and check an annotation TextGrid against itself and the transcript.

    Raises :class:`AnnotationError` (unreadable file, missing tier, tiers ending at different
    times, phones outside the words, overlapping intervals, unreadable labels, words that are not
    the transcript's).
    """
    try:
        tiers = read_textgrid(path)
    except Exception as exc:  # praatio raises assorted errors on malformed files
        raise AnnotationError(f"unreadable TextGrid ({type(exc).__name__}: {str(exc)[:80]})") from exc
    words_tier, phones_tier = _tier(tiers, "words", "word"), _tier(tiers, "phones", "phone")
    if abs(words_tier.xmax - phones_tier.xmax) > 0.01:
        raise AnnotationError(
            f"words and phones tiers end at different times ({words_tier.xmax} vs {phones_tier.xmax})"
        )
    words = tuple(i for i in words_tier.intervals if i[2].lower() not in _WORD_SILENCES)
    phones = []
    for start, end, label in phones_tier.intervals:
        try:
            phones.append((start, end, parse_phone_label(label)))
        except ValueError as exc:
            raise AnnotationError(f"unreadable phone label {label!r} at {start:.3f} s") from exc
    for tier in (words_tier.intervals, phones_tier.intervals):
        if any(e < s for s, e, _ in tier) or any(
            b[0] < a[1] - 1e-6 for a, b in zip(tier, tier[1:], strict=False)
        ):
            raise AnnotationError("intervals overlap or are out of order")
    spoken = [(s, e, p) for s, e, p in phones if p.canonical != SIL or p.perceived != SIL]
    if not words or not spoken:
        raise AnnotationError("no words or no phones annotated")
    lo, hi = words[0][0] - _TOLERANCE_S, words[-1][1] + _TOLERANCE_S
    for s, e, p in spoken:
        if s < lo or e > hi:
            raise AnnotationError(
                f"phone {p.canonical}/{p.perceived} at {s:.3f}-{e:.3f} s lies outside the words tier"
            )
    if _letters(" ".join(w for _, _, w in words)) != _letters(transcript):
        raise AnnotationError("words tier does not match the transcript")
    return Annotation(words, tuple(phones))


@dataclass(frozen=True)
class Utterance:
    """One usable utterance found by the scan."""

    speaker: str  # folder name, upper case
    stem: str
    wav: str
    text: str
    annotation: Annotation | None
    canonical: tuple[str, ...] | None  # from textgrid/ (forced alignment), for unannotated ones

    @property
    def id(self) -> str:
        return f"{self.speaker.lower()}-{self.stem}"


def _forced_alignment_phones(path: Path) -> tuple[str, ...] | None:
    """Canonical phones of a ``textgrid/`` file, or None if it is missing or unreadable."""
    if not path.is_file():
        return None
    try:
        tier = _tier(read_textgrid(path), "phones", "phone")
        phones = (parse_phone_label(label).canonical for _, _, label in tier.intervals)
        return tuple(p for p in phones if p not in (SIL, ERR)) or None
    except Exception as exc:  # a bad forced alignment only costs us its phones: CMUdict stands in
        log.warning("cannot read %s (%s); using CMUdict phones", path, exc)
        return None


def scan_speaker(speaker_dir: Path) -> tuple[list[Utterance], list[tuple[str, str]]]:
    """Usable utterances of one speaker folder, and (path, reason) for every skipped one."""
    speaker_dir = Path(speaker_dir)
    good: list[Utterance] = []
    skipped: list[tuple[str, str]] = []
    stems = sorted(
        {p.stem for p in (speaker_dir / "wav").glob("*.wav")}
        | {p.stem for p in (speaker_dir / "transcript").glob("*.txt")}
    )
    for stem in stems:
        wav, trans = speaker_dir / "wav" / f"{stem}.wav", speaker_dir / "transcript" / f"{stem}.txt"
        problem = audio_problem(wav)
        if problem:
            skipped.append((str(wav), problem))
            continue
        if not trans.is_file():
            skipped.append((str(trans), "missing transcript"))
            continue
        try:
            text = trans.read_text(encoding="utf-8").strip()
        except UnicodeDecodeError:
            skipped.append((str(trans), "transcript is not UTF-8 text"))
            continue
        if not text:
            skipped.append((str(trans), "empty transcript"))
            continue
        annotation_path = speaker_dir / "annotation" / f"{stem}.TextGrid"
        annotation = None
        if annotation_path.is_file():
            try:
                annotation = read_annotation(annotation_path, text)
            except AnnotationError as exc:
                skipped.append((str(annotation_path), f"bad annotation: {exc}"))
                continue
        canonical = (
            None if annotation else _forced_alignment_phones(speaker_dir / "textgrid" / f"{stem}.TextGrid")
        )
        good.append(Utterance(speaker_dir.name, stem, str(wav), text, annotation, canonical))
    return good, skipped


def _manifests_by_hand(utterances: list[Utterance]) -> tuple[RecordingSet, SupervisionSet]:
    """What ``lhotse.recipes.prepare_l2_arctic`` would build, from the given utterances only."""
    from lhotse import Recording, RecordingSet, SupervisionSegment, SupervisionSet
    from lhotse.qa import fix_manifests, validate_recordings_and_supervisions

    recordings, supervisions = [], []
    for u in utterances:
        rec = Recording.from_file(u.wav, recording_id=u.id)
        gender, accent = SPEAKERS[u.speaker.upper()]
        recordings.append(rec)
        supervisions.append(
            SupervisionSegment(
                id=u.id,
                recording_id=u.id,
                start=0,
                duration=rec.duration,
                text=u.text,
                language="English",
                speaker=u.speaker.lower(),
                gender=gender,
                custom={"accent": accent},
            )
        )
    recordings, supervisions = fix_manifests(
        RecordingSet.from_recordings(recordings), SupervisionSet.from_segments(supervisions)
    )
    validate_recordings_and_supervisions(recordings, supervisions)
    return recordings, supervisions


def _lhotse_manifests(corpus_dir: Path, utterances: list[Utterance]) -> tuple[RecordingSet, SupervisionSet]:
    """lhotse's own recipe; falls back to :func:`_manifests_by_hand` if it trips on the folder."""
    from lhotse.recipes import prepare_l2_arctic

    try:
        read = prepare_l2_arctic(corpus_dir)["read"]
        return read["recordings"], read["supervisions"]
    except Exception as exc:  # e.g. stray .txt files outside the speaker folders
        log.warning(
            "lhotse's prepare_l2_arctic failed on %s (%s); building the manifests directly", corpus_dir, exc
        )
        return _manifests_by_hand(utterances)


def _canonical_from_lexicon(text: str) -> list[str]:
    from asr.text.lexicon import Lexicon

    return [
        strip_stress(p)
        for pron in Lexicon.from_cmudict().canonical(normalize_text(text, upper=False).split())
        for p in pron
    ]


def extend_supervision(sup: SupervisionSegment, utt: Utterance) -> SupervisionSegment:
    """Add the annotation (alignment, canonical/perceived phones, errors) to a supervision."""
    custom = dict(sup.custom or {})
    custom.setdefault("accent", SPEAKERS[utt.speaker.upper()][1])
    ann = utt.annotation
    if ann is None:
        canonical = list(utt.canonical) if utt.canonical else _canonical_from_lexicon(utt.text)
        return replace(sup, custom={**custom, "canonical_phones": canonical, "annotated": False})
    custom.update(
        canonical_phones=ann.canonical_phones(),
        perceived_phones=ann.perceived_phones(),
        errors=ann.errors(),
        annotated=True,
    )
    return replace(sup, alignment=ann.alignment(), custom=custom)


def part_of(utt: Utterance) -> str | None:
    """``train`` / ``test`` / ``unlabelled``, or None (unannotated utterances of test speakers)."""
    test = utt.speaker.upper() in TEST_SPEAKERS
    if utt.annotation is not None:
        return "test" if test else "train"
    return None if test else "unlabelled"


def prepare_l2arctic(corpus_dir: Path, out_dir: Path, num_jobs: int = 1) -> PrepareSummary:
    """Write ``l2arctic_{recordings,supervisions,cuts}_{train,test,unlabelled}.jsonl.gz``.

    ``corpus_dir`` is the ``L2-ARCTIC`` folder holding the speaker folders (ABA, SKA, …).
    """
    corpus_dir = require_dir(corpus_dir, "L2-ARCTIC folder")
    speaker_dirs = sorted(p for p in corpus_dir.iterdir() if p.is_dir() and p.name.upper() in SPEAKERS)
    if not speaker_dirs:
        raise CorpusError(f"no L2-ARCTIC speaker folders (ABA, SKA, ...) in {corpus_dir}")
    summary = PrepareSummary("l2arctic")
    if num_jobs > 1:
        with ProcessPoolExecutor(num_jobs) as pool:
            scans = list(pool.map(scan_speaker, speaker_dirs))
    else:
        scans = [scan_speaker(d) for d in speaker_dirs]
    utterances = [u for good, _ in scans for u in good]
    for _, skipped in scans:
        for path, reason in skipped:
            summary.skip(path, reason)
    if not utterances:
        raise CorpusError(f"no usable utterances in {corpus_dir}")
    if summary.skipped:
        recordings, supervisions = _manifests_by_hand(utterances)
    else:
        recordings, supervisions = _lhotse_manifests(corpus_dir, utterances)
    by_id = {u.id: u for u in utterances}
    for part in PARTS:
        ids = {i for i, u in by_id.items() if part_of(u) == part}
        sups = [extend_supervision(s, by_id[s.id]) for s in supervisions if s.id in ids]
        if not sups:
            log.warning("L2-ARCTIC part %s is empty; not written", part)
            continue
        recs = [r for r in recordings if r.id in ids]
        save_part("l2arctic", part, recs, sups, out_dir, summary)
    return summary

"""speechocean762 (Zhang et al., Interspeech 2021; OpenSLR 101): real Mandarin-L1 learners reading English.

The corpus's own layout (the full release, its GitHub copy and the shared sample all use it)::

    WAVE/SPEAKERnnnn/<utt>.WAV          16 kHz mono
    train/ test/                        Kaldi files: text, wav.scp, utt2spk, spk2age, spk2gender
    resource/text-phone                 canonical ARPAbet per word: "<utt>.<word index> W_B IY0_E"
    resource/scores.json                the experts' mean scores (full release only)
    resource/scores-detail.json         the five experts' scores (full release only)
    expert-scores-mi1/utt2score         the MI-1 sample of the same annotation (``<utt>\\t<json>``)

Every supervision gets, in ``custom``: ``canonical_phones`` (stress stripped, as L2-ARCTIC's),
``canonical_words`` (per word), ``age``, and ``scores`` where the utterance was scored, in one shape
whatever the source (:func:`normalise_scores`). The corpus's speaker split is kept: the test speakers never
occur in train.
"""

from __future__ import annotations

import json
import logging
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path
from statistics import mean
from typing import Any

from asr.files import sha256_file
from asr.text.phones import is_phone, strip_stress

from .common import CorpusError, PrepareSummary, audio_problem, require_dir, save_part

log = logging.getLogger(__name__)

PARTS = ("train", "test")
PREFIX = "speechocean762"
URL = "https://www.openslr.org/resources/101/speechocean762.tar.gz"
SENTENCE_ASPECTS = ("accuracy", "completeness", "fluency", "prosodic", "total")
WORD_ASPECTS = ("accuracy", "stress", "total")
_TOKEN = re.compile(r"^([\(\{\[])?([A-Za-z]+)[0-9]?([\)\}\]])?$")


@dataclass(frozen=True)
class ExpertPhone:
    """One phone of an expert's word transcription (MI-1 / scores-detail notation)."""

    phone: str
    score: int | None  # 2 correct, 1 heavy accent, 0 wrong or missing; None for an inserted phone

    @property
    def inserted(self) -> bool:
        return self.score is None


def parse_expert_phones(text: str) -> list[ExpertPhone]:
    """``"B (EH) {R} [L]"`` → phones with scores: plain 2, ``{X}`` 1, ``(X)`` 0, ``[X]`` inserted.

    A bracket may hold several phones (``"(TH IY M)"``, ``"{EY T}"``): each gets its mark. Raises
    ValueError for an unreadable token or unbalanced brackets."""
    closing_of = {"(": ")", "{": "}", "[": "]"}
    out, open_mark = [], None
    for token in text.split():
        m = _TOKEN.match(token)
        if not m or (m.group(1) and open_mark) or (m.group(3) and not (m.group(1) or open_mark)):
            raise ValueError(f"unreadable expert phone {token!r} in {text!r}")
        mark = m.group(1) or open_mark
        if m.group(3) and closing_of[mark] != m.group(3):
            raise ValueError(f"unbalanced brackets at {token!r} in {text!r}")
        out.append(ExpertPhone(m.group(2).upper(), {None: 2, "{": 1, "(": 0, "[": None}[mark]))
        open_mark = None if m.group(3) else mark
    if open_mark:
        raise ValueError(f"unclosed {open_mark!r} in {text!r}")
    return out


def _mean(values: Any, where: str) -> float:
    """A field that is either one number (scores.json) or the experts' list (scores-detail, MI-1)."""
    if isinstance(values, list):
        if not values or not all(isinstance(v, (int, float)) for v in values):
            raise ValueError(f"{where}: expected numbers, got {values!r}")
        return round(mean(float(v) for v in values), 4)
    if not isinstance(values, (int, float)):
        raise ValueError(f"{where}: expected a number, got {values!r}")
    return float(values)


def _word_scores(word: dict, canonical: list[str], where: str) -> dict:
    """One word's scores in the normalised shape (see :func:`normalise_scores`)."""
    out: dict[str, Any] = {"text": str(word.get("text", "")).upper()}
    for aspect in WORD_ASPECTS:
        if aspect not in word:
            raise ValueError(f"{where}: no word field {aspect!r}")
        out[aspect] = _mean(word[aspect], f"{where}.{aspect}")
    if "phones-accuracy" not in word:
        phones = word.get("phones")
        if not isinstance(phones, list) or not all(isinstance(p, str) for p in phones):
            raise ValueError(f"{where}: expected one phone transcription per expert, got {phones!r}")
        # per expert: one transcription string each (scores-detail.json, MI-1)
        experts = [parse_expert_phones(p) for p in phones]
        out["experts"] = len(experts)
        out["expert_phones"] = list(phones)
        out["wrong_votes"] = sum(any(p.score == 0 for p in e) for e in experts)
        out["insertion_votes"] = sum(any(p.inserted for p in e) for e in experts)
        # per canonical phone: the mean over the experts whose transcription has one phone per canonical one
        aligned = [[p.score for p in e if not p.inserted] for e in experts]
        aligned = [a for a in aligned if len(a) == len(canonical)]
        out["phone_accuracy"] = (
            [round(mean(a[i] for a in aligned), 4) for i in range(len(canonical))] if aligned else None
        )
    else:  # scores.json: the experts' means
        accuracy = word.get("phones-accuracy")
        if not isinstance(accuracy, list) or len(accuracy) != len(canonical):
            raise ValueError(
                f"{where}: phones-accuracy {accuracy!r} does not match the {len(canonical)} canonical phones"
            )
        out["phone_accuracy"] = [float(a) for a in accuracy]
        out["mispronunciations"] = list(word.get("mispronunciations", []))
        out["wrong_votes"] = None
    return out


def normalise_scores(raw: dict, canonical_words: list[list[str]], source: str, where: str) -> dict:
    """One utterance's expert scores, whatever the file, as::

        {"source": "scores.json" | "scores-detail.json" | "expert-scores-mi1",
         "accuracy": .., "completeness": .., "fluency": .., "prosodic": .., "total": ..,   # experts' mean
         "words": [{"text", "accuracy", "stress", "total",
                    "phone_accuracy": [0-2 per canonical phone, experts' mean] or None,
                    "wrong_votes": experts who scored a phone of the word 0 (None: only means known),
                    ...}]}

    Completeness is on the corpus's 0-1 scale (share of words pronounced well). Raises ValueError naming
    ``where`` and the field for anything unreadable.
    """
    out: dict[str, Any] = {"source": source}
    for aspect in SENTENCE_ASPECTS:
        if aspect not in raw:
            raise ValueError(f"{where}: no field {aspect!r}")
        out[aspect] = _mean(raw[aspect], f"{where}.{aspect}")
    words = raw.get("words")
    if not isinstance(words, list) or len(words) != len(canonical_words):
        n = len(words) if isinstance(words, list) else "no"
        raise ValueError(f"{where}: {n} scored words but {len(canonical_words)} words in the transcript")
    out["words"] = [
        _word_scores(w, c, f"{where}.words[{i}]")
        for i, (w, c) in enumerate(zip(words, canonical_words, strict=True))
    ]
    return out


def read_kaldi_map(path: Path) -> dict[str, str]:
    """``<key> <value...>`` lines (tab or space) → dict; a line without a value raises CorpusError."""
    out = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        key, _, value = line.strip().replace("\t", " ").partition(" ")
        if not value.strip():
            raise CorpusError(f"{path}:{n}: no value for {key!r}")
        out[key] = value.strip()
    return out


def read_text_phone(path: Path) -> dict[str, dict[int, list[str]]]:
    """``resource/text-phone`` → ``{utt: {word index: [canonical phones with stress]}}``."""
    out: dict[str, dict[int, list[str]]] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        key, *phones = line.split()
        utt, _, index = key.rpartition(".")
        if not utt or not index.isdigit() or not phones:
            raise CorpusError(f"{path}:{n}: expected '<utt>.<word index> PHONE_B ...', got {line.strip()!r}")
        out.setdefault(utt, {})[int(index)] = [p.rsplit("_", 1)[0] for p in phones]
    return out


def read_score_file(path: Path) -> tuple[dict[str, dict], str]:
    """One score file as ``({utt: raw}, source)``: scores.json / scores-detail.json (one object of
    utterance ids) or the MI-1 ``utt2score`` (``<utt>\t<json>`` per line). Unreadable: :class:`CorpusError`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{path}: not readable text ({exc})") from None
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CorpusError(f"{path}: not readable JSON ({exc})") from None
        if not isinstance(data, dict):
            raise CorpusError(f"{path}: expected an object of utterance ids")
        return _completeness_to_unit_scale(data), path.name
    data = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        utt, _, blob = line.partition("\t")
        try:
            data[utt.strip()] = json.loads(blob)
        except json.JSONDecodeError as exc:
            raise CorpusError(f"{path}:{n}: not readable JSON after the utterance id ({exc})") from None
    return data, "expert-scores-mi1"


def _completeness_to_unit_scale(data: dict) -> dict:
    """The corpus's README gives completeness on 0-1 (scores-detail.json and MI-1 hold it so), but
    scores.json writes it on 0-10 (10.0 for a complete sentence): a file of means with any completeness
    above 1 is put on 0-1, so every source has one scale."""
    means = [
        u["completeness"]
        for u in data.values()
        if isinstance(u, dict) and isinstance(u.get("completeness"), (int, float))
    ]
    if not means or max(means) <= 1:
        return data
    return {
        utt: {**u, "completeness": u["completeness"] / 10}
        if isinstance(u, dict) and isinstance(u.get("completeness"), (int, float))
        else u
        for utt, u in data.items()
    }


def read_scores(corpus_dir: Path) -> tuple[dict[str, dict], str | None]:
    """The scores the folder has, most detailed first: resource/scores-detail.json, resource/scores.json,
    expert-scores-mi1/utt2score. Returns ``({utt: raw}, source)``; ``({}, None)`` when there are none."""
    for path in (
        corpus_dir / "resource" / "scores-detail.json",
        corpus_dir / "resource" / "scores.json",
        corpus_dir / "expert-scores-mi1" / "utt2score",
    ):
        if path.is_file():
            return read_score_file(path)
    return {}, None


@dataclass
class _Utterance:
    id: str
    part: str
    wav: Path
    text: str
    speaker: str
    gender: str | None
    age: int | None
    canonical_words: list[list[str]]
    scores: dict | None


def _scan_part(
    corpus_dir: Path, part: str, text_phone: dict, scores: dict, source: str | None, summary: PrepareSummary
) -> list[_Utterance]:
    folder = corpus_dir / part
    for name in ("text", "wav.scp", "utt2spk"):
        if not (folder / name).is_file():
            raise CorpusError(
                f"{folder / name} not found (a speechocean762 {part}/ folder holds text, wav.scp, utt2spk)"
            )
    text = read_kaldi_map(folder / "text")
    wavs = read_kaldi_map(folder / "wav.scp")
    spk = read_kaldi_map(folder / "utt2spk")
    age = read_kaldi_map(folder / "spk2age") if (folder / "spk2age").is_file() else {}
    gender = read_kaldi_map(folder / "spk2gender") if (folder / "spk2gender").is_file() else {}
    good = []
    for utt, rel in sorted(wavs.items()):
        wav = corpus_dir / rel
        where = f"{folder / 'wav.scp'}: {utt}"
        if utt not in text or utt not in spk:
            summary.skip(where, f"no {'text' if utt not in text else 'utt2spk'} entry")
            continue
        if (problem := audio_problem(wav)) is not None:
            summary.skip(wav, problem)
            continue
        words = text[utt].split()
        by_index = text_phone.get(utt, {})
        if sorted(by_index) != list(range(len(words))):
            summary.skip(
                where,
                f"resource/text-phone has words {sorted(by_index)} for the {len(words)} words of the text",
            )
            continue
        canonical = [by_index[i] for i in range(len(words))]
        bad = [p for w in canonical for p in w if not is_phone(strip_stress(p))]
        if bad:
            summary.skip(
                where, f"unknown canonical phone(s) {' '.join(sorted(set(bad)))} in resource/text-phone"
            )
            continue
        score = None
        if utt in scores:
            try:
                score = normalise_scores(scores[utt], canonical, source or "", f"{source}: {utt}")
            except ValueError as exc:
                summary.skip(where, f"bad scores ({exc})")
                continue
        speaker = spk[utt]
        years = age.get(speaker)
        good.append(
            _Utterance(
                utt,
                part,
                wav,
                " ".join(words),
                speaker,
                gender.get(speaker, "").upper() or None,
                int(years) if years and years.isdigit() else None,
                canonical,
                score,
            )
        )
    return good


def prepare_speechocean762(corpus_dir: Path, out_dir: Path, num_jobs: int = 1) -> PrepareSummary:
    """Write ``speechocean762_{recordings,supervisions,cuts}_{train,test}.jsonl.gz`` (see the module docs).

    ``corpus_dir`` holds WAVE/, train/, test/ and resource/. Unusable utterances (missing or broken
    audio, no canonical phones, unreadable scores) are skipped and listed in the summary; a missing
    folder or file the whole corpus needs raises :class:`CorpusError`. ``num_jobs`` is accepted for the
    CLI's symmetry; reading the headers is fast enough in one thread.
    """
    from lhotse import Recording, SupervisionSegment

    corpus_dir = require_dir(corpus_dir, "speechocean762 folder")
    text_phone_path = corpus_dir / "resource" / "text-phone"
    if not text_phone_path.is_file():
        raise CorpusError(f"{text_phone_path} not found (speechocean762's canonical phones)")
    parts = [p for p in PARTS if (corpus_dir / p).is_dir()]
    if not parts:
        raise CorpusError(f"no train/ or test/ folder in {corpus_dir}")
    text_phone = read_text_phone(text_phone_path)
    scores, source = read_scores(corpus_dir)
    summary = PrepareSummary(PREFIX)
    by_part = {p: _scan_part(corpus_dir, p, text_phone, scores, source, summary) for p in parts}
    # the split is by speaker (test speakers must never reach training): checked on the Kaldi files themselves
    speakers = {p: set(read_kaldi_map(corpus_dir / p / "utt2spk").values()) for p in parts}
    if len(parts) == 2 and (shared := speakers["train"] & speakers["test"]):
        raise CorpusError(f"{corpus_dir}: speakers {sorted(shared)[:5]} are in both train/ and test/")
    if not any(by_part.values()):
        raise CorpusError(f"no usable utterances in {corpus_dir}")
    for part, utterances in by_part.items():
        recordings, supervisions = [], []
        for u in utterances:
            rec = Recording.from_file(u.wav, recording_id=u.id)
            custom: dict[str, Any] = {
                "canonical_phones": [strip_stress(p) for w in u.canonical_words for p in w],
                "canonical_words": [[strip_stress(p) for p in w] for w in u.canonical_words],
                "age": u.age,
                "accent": "Mandarin",
                "corpus": PREFIX,
            }
            if u.scores is not None:
                custom["scores"] = u.scores
            recordings.append(rec)
            supervisions.append(
                SupervisionSegment(
                    id=u.id,
                    recording_id=u.id,
                    start=0,
                    duration=rec.duration,
                    text=u.text,
                    language="English",
                    speaker=u.speaker,
                    gender=u.gender,
                    custom=custom,
                )
            )
        if not supervisions:
            log.warning("speechocean762 part %s has no usable utterances; not written", part)
            continue
        save_part(PREFIX, part, recordings, supervisions, out_dir, summary)
    return summary


def download_speechocean762(target_dir: Path, url: str = URL, sha256: str | None = None) -> Path:
    """Download and unpack OpenSLR resource 101 into ``target_dir/speechocean762``; returns that folder.

    Skipped when the folder is complete (``.completed``). The download resumes a partial archive (lhotse's
    ``resumable_download``). OpenSLR publishes no digest for this archive, so the first complete download's
    SHA-256 is written beside it (``speechocean762.tar.gz.sha256``) and every later use checks against it;
    ``sha256`` pins an expected value instead. The archive is read to its end before unpacking, so a
    truncated file is an error, not half a corpus.
    """
    from lhotse.utils import resumable_download

    target_dir = Path(target_dir)
    corpus = target_dir / "speechocean762"
    if (corpus / ".completed").is_file():
        return corpus
    target_dir.mkdir(parents=True, exist_ok=True)
    archive = target_dir / "speechocean762.tar.gz"
    resumable_download(url, archive)
    receipt = archive.with_name(archive.name + ".sha256")
    actual = sha256_file(archive)
    expected = sha256 or (receipt.read_text().split()[0] if receipt.is_file() else None)
    if expected and actual != expected:
        raise CorpusError(
            f"{archive}: SHA-256 {actual} is not the expected {expected} (delete it to download again)"
        )
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(target_dir, filter="data")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise CorpusError(
            f"{archive}: not a complete tar.gz archive ({exc}); delete it to download again"
        ) from None
    receipt.write_text(f"{actual}  {archive.name}\n")
    if not (corpus / "resource" / "text-phone").is_file():
        raise CorpusError(f"{archive} did not unpack into {corpus} with resource/text-phone")
    (corpus / ".completed").touch()
    return corpus

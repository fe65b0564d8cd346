"""Offline pseudo-labelling: a teacher decodes unlabelled cuts, rules filter the results, a manifest is written.

The noisy-student recipe (Park et al., 2020): decode the unlabelled set with the teacher and an LM, keep
utterances the teacher is sure of, train a student on them mixed with the labelled set. This module does
the first two steps for any :class:`~asr.decoding.Decoder` (greedy, LM beam, WFST):

* cuts are processed in fixed *chunks* (``chunk_size`` cuts, in manifest order); chunk ``k`` is done by
  shard ``k mod num_shards`` (processes or GPUs, e.g. torchrun ranks) and written atomically, so a killed
  run resumes at the first unfinished chunk and shards never write the same file;
* every cut gets a *decision*: kept, or dropped with its reason (audio unusable, empty hypothesis, low
  confidence, low length-normalised score, too few or too many tokens per second);
* when every chunk is done, the pieces are merged into ``cuts.jsonl.gz`` (kept cuts, each with one
  supervision holding the pseudo-label), ``decisions.jsonl`` (every cut), ``nbest.jsonl`` and
  ``summary.json`` (counts by reason). No kept cut at all is an error with those counts.

A pseudo-label is stored as the supervision's ``text`` for text units; for phone units the phones go to
``custom["phones"]`` (the field :func:`asr.objectives.ctc.transcript_ids` reads first) and the text, if
the cut had one (a prompt), is kept.
"""

from __future__ import annotations

import gzip
import json
import logging
import math
import os
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from itertools import islice
from pathlib import Path

from lhotse import CutSet, SupervisionSegment
from lhotse.cut import Cut
from lhotse.utils import fastcopy
from tqdm.auto import tqdm

from asr.data.common import save_manifest
from asr.data.dataset import AudioDataset
from asr.decoding.emissions import Decoder, iter_emissions
from asr.decoding.hypothesis import Hypothesis, write_nbest
from asr.errors import UserError
from asr.files import write_atomic

log = logging.getLogger(__name__)

FRAME_SECONDS = 0.02  # the encoder's frame rate (score per frame normalises by it)
_EMPTY = Hypothesis("", [], [], 0.0)


class PseudoLabelError(UserError):
    """Pseudo-labelling cannot give a usable manifest (e.g. every cut filtered out)."""


@dataclass
class FilterConfig:
    """Which pseudo-labels to keep; ``None`` switches a rule off. Defaults keep every non-empty one."""

    min_confidence: float | None = None  # utterance confidence: geometric mean of its tokens' posteriors
    min_score_per_frame: float | None = None  # decoder score / frames (length-normalised log-likelihood)
    min_tokens_per_second: float | None = None  # catches hypotheses that skipped speech
    max_tokens_per_second: float | None = None  # catches hallucinated / looping hypotheses
    drop_empty: bool = True

    def __post_init__(self) -> None:
        lo, hi = self.min_tokens_per_second, self.max_tokens_per_second
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(f"min_tokens_per_second ({lo}) > max_tokens_per_second ({hi})")
        if self.min_confidence is not None and not 0 <= self.min_confidence <= 1:
            raise ValueError(f"min_confidence must be in [0, 1], got {self.min_confidence}")


def filter_reason(hyp: Hypothesis | None, duration: float, cfg: FilterConfig) -> str | None:
    """Why ``hyp`` (the best hypothesis of a ``duration``-second cut; None: no usable audio) is dropped, or None."""
    if hyp is None:
        return "unusable audio"
    if not hyp.tokens:
        return "empty" if cfg.drop_empty else None
    if cfg.min_confidence is not None and hyp.confidence < cfg.min_confidence:
        return "low confidence"
    frames = max(1, round(duration / FRAME_SECONDS))
    if cfg.min_score_per_frame is not None and hyp.score / frames < cfg.min_score_per_frame:
        return "low score per frame"
    rate = len(hyp.tokens) / max(duration, 1e-9)
    if cfg.min_tokens_per_second is not None and rate < cfg.min_tokens_per_second:
        return "too few tokens per second"
    if cfg.max_tokens_per_second is not None and rate > cfg.max_tokens_per_second:
        return "too many tokens per second"
    return None


def labelled_cut(cut: Cut, hyp: Hypothesis, units: str, teacher: str) -> Cut:
    """``cut`` with one supervision spanning it that holds ``hyp`` as its transcript (see the module docstring)."""
    info = {"confidence": round(hyp.confidence, 6), "score": round(hyp.score, 4), "teacher": teacher}
    old = cut.supervisions
    if units == "phone":
        text = " ".join(s.text for s in old if s.text) or None
        custom = {"phones": hyp.text.split(), "pseudo_label": info}
    else:
        text, custom = hyp.text, {"pseudo_label": info}
    sup = SupervisionSegment(
        id=cut.id,
        recording_id=cut.recording_id,
        start=0.0,
        duration=cut.duration,
        channel=getattr(cut, "channel", 0),
        text=text,
        speaker=old[0].speaker if old else None,
        language=old[0].language if old else None,
        custom=custom,
    )
    return fastcopy(cut, supervisions=[sup])


class _ReasonDataset(AudioDataset):
    """An :class:`AudioDataset` that remembers why each dropped cut was dropped."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.reasons: dict[str, str] = {}

    def _skip(self, cut, reason: str) -> None:
        super()._skip(cut, reason)
        self.reasons[cut.id] = reason


@dataclass
class Shard:
    """This process's share: chunks ``index, index + count, …``."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise ValueError(f"shard index must be in [0, {self.count}), got {self.index}")

    @classmethod
    def from_env(cls) -> Shard:
        """torchrun's ``RANK``/``WORLD_SIZE`` (one process: shard 0 of 1)."""
        return cls(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)))


def _chunks(cuts: Iterable[Cut], size: int) -> Iterator[list[Cut]]:
    it = iter(cuts)
    while chunk := list(islice(it, size)):
        yield chunk


def _part(out_dir: Path, k: int, what: str) -> Path:
    return out_dir / "parts" / f"{k:05d}.{what}"


def pseudo_label(
    model,
    tokenizer,
    decoder: Decoder,
    cuts: CutSet,
    out_dir: Path,
    cfg: FilterConfig | None = None,
    *,
    teacher: str = "",
    chunk_size: int = 200,
    max_duration: float = 120.0,
    shard: Shard | None = None,
    progress: bool = True,
) -> dict | None:
    """Decode ``cuts`` with ``model`` + ``decoder``, filter by ``cfg`` and write the results to ``out_dir``.

    Returns the summary (also ``out_dir/summary.json``) once every chunk is done, or ``None`` when this shard
    finished its chunks but others have not (rerun any shard, or :func:`merge`, after they finish).
    Resumes: chunks already written are skipped.
    """
    cfg = cfg or FilterConfig()
    shard = shard or Shard()
    out_dir = Path(out_dir)
    (out_dir / "parts").mkdir(parents=True, exist_ok=True)
    settings = {"filter": asdict(cfg), "teacher": teacher, "chunk_size": chunk_size, "units": tokenizer.kind}
    _check_settings(out_dir, settings)
    dataset = _ReasonDataset(min_samples=model.min_samples)
    start, done_seconds = time.perf_counter(), 0.0
    chunks = list(enumerate(_chunks(cuts, chunk_size)))
    mine = [(k, c) for k, c in chunks if k % shard.count == shard.index]
    todo = [(k, c) for k, c in mine if not _part(out_dir, k, "decisions.jsonl").is_file()]
    if len(todo) < len(mine):
        log.info(
            "%s: %d of this shard's %d chunks already done; resuming",
            out_dir,
            len(mine) - len(todo),
            len(mine),
        )
    bar = tqdm(total=sum(len(c) for _, c in todo), desc="pseudo-label", unit="cut", disable=not progress)
    for k, chunk in todo:
        decisions, kept, nbest = [], [], {}
        # the network sees the chunk by duration; decisions and manifest keep the input's order
        emissions = dict(
            iter_emissions(model, CutSet.from_cuts(chunk), max_duration, progress=False, dataset=dataset)
        )
        for cut in chunk:
            cut_id, log_probs = cut.id, emissions.pop(cut.id)
            hyps = decoder(log_probs) if log_probs is not None else []
            best = hyps[0] if hyps else None
            if log_probs is None:  # the loader's own reason (unreadable, silent, too short)
                reason = dataset.reasons.get(cut_id, "unusable audio")
            else:  # no hypothesis at all counts as an empty one
                reason = filter_reason(best or _EMPTY, cut.duration, cfg)
            decision = {
                "id": cut_id,
                "duration": round(cut.duration, 3),
                "kept": reason is None,
                "reason": reason,
            }
            if best is not None:
                decision.update(
                    text=best.text, confidence=round(best.confidence, 6), score=round(best.score, 4)
                )
                nbest[cut_id] = hyps
            decisions.append(decision)
            if reason is None:
                kept.append(labelled_cut(cut, best or _EMPTY, tokenizer.kind, teacher))
            done_seconds += cut.duration
            bar.update(1)
        # the cuts and n-best first, the decisions last: a chunk counts as done only when all three exist
        save_manifest(kept, _part(out_dir, k, "cuts.jsonl.gz"))
        write_nbest(nbest, _part(out_dir, k, "nbest.jsonl"), tokenizer.tokens)
        write_atomic(
            _part(out_dir, k, "decisions.jsonl"), "".join(json.dumps(d) + "\n" for d in decisions).encode()
        )
        elapsed = time.perf_counter() - start
        bar.set_postfix(audio_s_per_s=f"{done_seconds / max(elapsed, 1e-9):.1f}", refresh=False)
    bar.close()
    elapsed = time.perf_counter() - start
    if todo:
        log.info(
            "pseudo-labelled %.0f s of audio in %.1f s (%.1f audio-s/s)",
            done_seconds,
            elapsed,
            done_seconds / max(elapsed, 1e-9),
        )
    _record_speed(out_dir, shard, done_seconds, elapsed)
    if not all(_part(out_dir, k, "decisions.jsonl").is_file() for k, _ in chunks):
        log.info(
            "%s: other shards' chunks are not all done yet; the manifest is merged when they are", out_dir
        )
        return None
    return merge(out_dir, len(chunks))


def _check_settings(out_dir: Path, settings: dict) -> None:
    path = out_dir / "settings.json"
    if path.is_file():
        old = json.loads(path.read_text())
        if old != settings:
            raise PseudoLabelError(
                f"{out_dir} holds pseudo-labels made with other settings ({old} vs {settings}); "
                "use another output folder or delete it"
            )
    else:
        write_atomic(path, (json.dumps(settings, indent=1) + "\n").encode())


def _record_speed(out_dir: Path, shard: Shard, seconds: float, elapsed: float) -> None:
    if seconds > 0:
        path = out_dir / "parts" / f"speed-{shard.index}-of-{shard.count}.json"
        rate = {
            "audio_seconds": seconds,
            "wall_seconds": elapsed,
            "audio_seconds_per_second": seconds / elapsed,
        }
        write_atomic(path, (json.dumps(rate) + "\n").encode())


def merge(out_dir: Path, num_chunks: int) -> dict:
    """Join the chunk files of ``out_dir`` into the final manifest, decisions, n-best and summary."""
    out_dir = Path(out_dir)
    cuts_lines, decision_lines, nbest_lines = [], [], []
    for k in range(num_chunks):
        cuts_lines.append(gzip.decompress(_part(out_dir, k, "cuts.jsonl.gz").read_bytes()).decode())
        decision_lines.append(_part(out_dir, k, "decisions.jsonl").read_text())
        nbest_lines.append(_part(out_dir, k, "nbest.jsonl").read_text())
    decisions = [json.loads(line) for text in decision_lines for line in text.splitlines() if line]
    reasons = Counter(d["reason"] for d in decisions if not d["kept"])
    kept = [d for d in decisions if d["kept"]]
    speeds = [json.loads(p.read_text()) for p in sorted((out_dir / "parts").glob("speed-*.json"))]
    summary = {
        "cuts": len(decisions),
        "kept": len(kept),
        "dropped": sum(reasons.values()),
        "dropped_by_reason": dict(sorted(reasons.items())),
        "seconds": round(sum(d["duration"] for d in decisions), 3),
        "kept_seconds": round(sum(d["duration"] for d in kept), 3),
        "mean_confidence_kept": round(sum(d["confidence"] for d in kept) / len(kept), 4)
        if kept
        else math.nan,
        "audio_seconds_per_second": _rate(speeds),
        "settings": json.loads((out_dir / "settings.json").read_text()),
    }
    write_atomic(out_dir / "decisions.jsonl", "".join(decision_lines).encode())
    write_atomic(out_dir / "nbest.jsonl", "".join(nbest_lines).encode())
    write_atomic(out_dir / "summary.json", (json.dumps(summary, indent=1) + "\n").encode())
    if not kept:
        raise PseudoLabelError(
            f"every one of the {len(decisions)} cuts was filtered out ({dict(reasons)}); relax the filter "
            f"or use a better teacher (details: {out_dir / 'decisions.jsonl'})"
        )
    write_atomic(out_dir / "cuts.jsonl.gz", gzip.compress("".join(cuts_lines).encode(), mtime=0))
    log.info(
        "pseudo-labels: kept %d of %d cuts (%.0f of %.0f s); dropped: %s",
        len(kept),
        len(decisions),
        summary["kept_seconds"],
        summary["seconds"],
        dict(reasons) or "none",
    )
    return summary


def _rate(speeds: list[dict]) -> float | None:
    """Audio-seconds per wall-second of the runs that decoded (shards in parallel: the sum of their rates)."""
    return round(sum(s["audio_seconds_per_second"] for s in speeds), 2) if speeds else None

"""From lhotse cuts to padded tensors: the pretraining cut list, the audio dataset and its ``Batch``.

``pretraining_cuts`` turns a Libri-light (or any) manifest into the cuts self-supervised training reads:
the voice-activity segments, at most ``max_duration`` seconds each, at 16 kHz. A lhotse sampler groups
them into batches of about equal total duration, and :class:`AudioDataset` loads and pads one such group
into a :class:`Batch`, dropping (and counting) cuts whose audio is unusable instead of crashing a run
that may be days long.

Cuts come from a manifest file or from a Lhotse Shar folder (``cuts.000000.jsonl.gz`` beside
``recording.000000.tar`` ..., as ``lhotse shar export`` and ``CutSet.to_shar`` write it): each cut's
audio is then read sequentially from its shard rather than from one file per recording, and under DDP
each rank reads only its own shards (:func:`shar_cuts`).
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import torch
from lhotse import CutSet
from lhotse.cut import Cut
from lhotse.lazy import LazyFlattener, LazyMapper

from .common import CorpusError

log = logging.getLogger(__name__)

SAMPLING_RATE = 16000
LABEL_PAD = -100  # ignore_index of torch's cross-entropy


@dataclass
class Batch:
    """A padded batch of 16 kHz mono audio, with optional frame-level targets."""

    audio: torch.Tensor  # [B, S] float32, 16 kHz, zero-padded
    audio_lengths: torch.Tensor  # [B] int64, samples
    cut_ids: list[str]
    # e.g. "hubert_labels": LongTensor [B, T] padded with -100 (T frames of 20 ms), set when cuts carry them
    targets: dict[str, torch.Tensor] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        """Seconds of real (unpadded) audio in the batch."""
        return float(self.audio_lengths.sum()) / SAMPLING_RATE

    def __len__(self) -> int:
        return len(self.cut_ids)

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Batch:
        """The same batch with every tensor on ``device``."""
        return Batch(
            audio=self.audio.to(device, non_blocking=non_blocking),
            audio_lengths=self.audio_lengths.to(device, non_blocking=non_blocking),
            cut_ids=list(self.cut_ids),
            targets={k: v.to(device, non_blocking=non_blocking) for k, v in self.targets.items()},
        )


def _pad(rows: Sequence[torch.Tensor], value: float | int) -> torch.Tensor:
    out = rows[0].new_full((len(rows), max(len(r) for r in rows)), value)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


class AudioDataset(torch.utils.data.Dataset):
    """Map a lhotse sampler's ``CutSet`` to a :class:`Batch` (or ``None`` when no cut in it is usable).

    A cut is dropped, with a warning, and counted in ``self.skipped[reason]`` when its audio cannot be
    read, holds NaN/inf samples, is silent (peak below ``silence_threshold``), is shorter than
    ``min_samples`` (the encoder's receptive field), or lacks a label field other cuts of the batch carry.
    Multi-channel audio is averaged to mono. Temporal-array fields named in ``label_fields`` (e.g.
    ``hubert_labels``, one integer per 20 ms frame) become ``targets[name]``, padded with -100. With
    ``tokenize`` (cut -> token ids of its transcript, e.g. a tokenizer's ``encode`` of the supervision
    texts), ``targets["tokens"]`` holds the transcripts, padded with -100; a cut whose transcript is empty
    is dropped and counted, and a transcript the tokenizer cannot encode raises its error (a user mistake
    naming the cut, not something to skip silently). ``tokenize`` returning ``None`` marks an *unlabelled*
    cut (semi-supervised training): its row of ``targets["tokens"]`` is empty. ``reference`` (cut -> token
    ids or ``None``) fills ``targets["reference"]`` the same way, for monitoring what is not trained on.
    """

    def __init__(
        self,
        min_samples: int = 400,
        label_fields: Iterable[str] = ("hubert_labels",),
        silence_threshold: float = 1e-5,
        sampling_rate: int = SAMPLING_RATE,
        tokenize: Callable[[Cut], list[int] | None] | None = None,
        reference: Callable[[Cut], list[int] | None] | None = None,
    ) -> None:
        self.min_samples = min_samples
        self.tokenize = tokenize
        self.reference = reference
        self.label_fields = tuple(label_fields)
        self.silence_threshold = silence_threshold
        self.sampling_rate = sampling_rate
        self.skipped: Counter[str] = Counter()

    def _skip(self, cut: Cut, reason: str) -> None:
        self.skipped[reason] += 1
        log.warning("dropping cut %s from its batch: %s", cut.id, reason)

    def _load_audio(self, cut: Cut) -> torch.Tensor | None:
        try:
            samples = cut.resample(self.sampling_rate).load_audio()
        except Exception as exc:  # any decoder/IO error: one bad file must not stop training
            self._skip(cut, f"unreadable audio ({type(exc).__name__})")
            return None
        audio = torch.from_numpy(np.asarray(samples, dtype=np.float32))
        if audio.ndim == 2:
            audio = audio.mean(dim=0)
        if audio.numel() < self.min_samples:
            self._skip(cut, "too short")
            return None
        if not torch.isfinite(audio).all():
            self._skip(cut, "non-finite samples")
            return None
        if audio.abs().max() < self.silence_threshold:
            self._skip(cut, "silent")
            return None
        return audio

    def __getitem__(self, cuts: CutSet) -> Batch | None:
        loaded: list[tuple[str, torch.Tensor, dict[str, torch.Tensor]]] = []
        for cut in cuts:
            audio = self._load_audio(cut)
            if audio is None:
                continue
            labels = {}
            if self.tokenize is not None:
                ids = self.tokenize(cut)
                if ids is not None and not ids:
                    self._skip(cut, "empty transcript")
                    continue
                # None: an unlabelled cut (semi-supervised training), an empty row of targets["tokens"]
                labels["tokens"] = torch.tensor(ids or [], dtype=torch.long)
            if self.reference is not None:  # for monitoring only (e.g. the error rate of pseudo-labels)
                labels["reference"] = torch.tensor(self.reference(cut) or [], dtype=torch.long)
            for name in self.label_fields:
                if not cut.has_custom(name):
                    continue
                try:
                    labels[name] = torch.from_numpy(np.asarray(cut.load_custom(name))).long().reshape(-1)
                except Exception as exc:
                    self._skip(cut, f"unreadable {name} ({type(exc).__name__})")
                    audio = None
                    break
            if audio is not None:
                loaded.append((cut.id, audio, labels))
        # Targets are all-or-nothing per batch: a cut lacking a field its neighbours carry is dropped.
        names = sorted({n for _, _, labels in loaded for n in labels})
        kept = []
        for cut_id, audio, labels in loaded:
            missing = [n for n in names if n not in labels]
            if missing:
                self.skipped[f"missing {missing[0]}"] += 1
                log.warning("dropping cut %s from its batch: missing %s", cut_id, ", ".join(missing))
            else:
                kept.append((cut_id, audio, labels))
        if not kept:
            self.skipped["empty batch"] += 1
            return None
        return Batch(
            audio=_pad([a for _, a, _ in kept], 0.0),
            audio_lengths=torch.tensor([len(a) for _, a, _ in kept], dtype=torch.int64),
            cut_ids=[c for c, _, _ in kept],
            targets={n: _pad([labels[n] for _, _, labels in kept], LABEL_PAD) for n in names},
        )


def shar_fields(in_dir: Path) -> dict[str, list[Path]]:
    """The shards of a Lhotse Shar folder by field: ``{"cuts": [cuts.000000.jsonl.gz, ...], "recording": [...]}``.

    Every field must have one shard per ``cuts`` shard (sorted by name, so the n-th of each belong together);
    a folder without ``cuts`` shards, or with a field missing shards, is a :class:`CorpusError` naming it.
    """
    fields: dict[str, list[Path]] = {}
    for path in sorted(p for p in Path(in_dir).iterdir() if p.is_file() and not p.name.startswith(".")):
        fields.setdefault(path.name.split(".")[0], []).append(path)
    cuts = [p for p in fields.get("cuts", []) if ".jsonl" in p.name]
    if not cuts:
        raise CorpusError(f"no Lhotse Shar shards (cuts.000000.jsonl.gz, ...) in {in_dir}")
    fields["cuts"] = cuts
    for field_name, paths in fields.items():
        if len(paths) != len(cuts):
            raise CorpusError(
                f"{in_dir}: {len(paths)} {field_name} shards for {len(cuts)} cuts shards (an export cut short?)"
            )
    return fields


def shar_cuts(in_dir: str | Path, rank: int = 0, world_size: int = 1) -> CutSet:
    """The cuts of a Lhotse Shar folder, lazily, each with its audio (and other fields) read from its shard.

    With ``world_size > 1`` the shards are dealt out: rank ``r`` reads shards ``r, r + world_size, ...`` only,
    so no rank reads another's audio (with one shared stream every rank would read every shard). Fewer
    shards than ranks is a :class:`CorpusError`: export with a smaller shard size.
    """
    in_dir = Path(in_dir)
    fields = shar_fields(in_dir)
    count = len(fields["cuts"])
    if count < world_size:
        raise CorpusError(
            f"{in_dir} holds {count} Lhotse Shar shards, fewer than the {world_size} ranks reading it; "
            "export it with a smaller shard size"
        )
    mine = {name: paths[rank::world_size] for name, paths in fields.items()}
    log.info(
        "reading Lhotse Shar: %d of %d shards (rank %d of %d) from %s",
        len(mine["cuts"]),
        count,
        rank,
        world_size,
        in_dir,
    )
    return CutSet.from_shar(fields=mine)


def load_cuts(path: str | Path, rank: int = 0, world_size: int = 1) -> CutSet:
    """Open a cut manifest, or a Lhotse Shar folder (:func:`shar_cuts`, rank ``rank``'s shards), lazily.

    A missing or empty manifest or folder is a :class:`CorpusError` naming it.
    """
    path = Path(path)
    if path.is_dir():
        cuts = shar_cuts(path, rank, world_size)
        if _is_empty(cuts):
            raise CorpusError(f"the Lhotse Shar shards in {path} hold no cuts")
        return cuts
    if not path.is_file():
        raise CorpusError(f"cut manifest not found: {path}")
    try:
        cuts = CutSet.from_jsonl_lazy(path) if ".jsonl" in path.name else CutSet.from_file(path)
    except Exception as exc:
        raise CorpusError(f"cannot read cut manifest {path}: {exc}") from exc
    if _is_empty(cuts):
        raise CorpusError(f"cut manifest is empty: {path}")
    return cuts


def _is_empty(cuts: CutSet) -> bool:
    return next(iter(cuts), None) is None


def _pretraining_pieces(cut: Cut, max_duration: float, min_duration: float, sampling_rate: int) -> list[Cut]:
    # Recordings with voice-activity supervisions (Libri-light) keep only the speech; others stay whole.
    pieces = list(cut.trim_to_supervisions(keep_overlapping=False)) if cut.supervisions else [cut]
    out = []
    for piece in pieces:
        # Equal windows rather than max_duration + remainder: a 16 s segment gives 2 x 8 s, not 15.6 + 0.4.
        n = max(1, math.ceil(piece.duration / max_duration - 1e-9))
        width = piece.duration / n
        for i in range(n):
            window = (
                piece
                if n == 1
                else piece.truncate(offset=i * width, duration=width).with_id(f"{piece.id}_{i}")
            )
            if window.duration >= min_duration:
                # No supervisions: a window is all speech already, and this makes the function idempotent
                # (windows labelled by `asr hubert-kmeans label` pass through `asr pretrain` unchanged).
                out.append(window.drop_supervisions().resample(sampling_rate))
    return out


def pretraining_cuts(
    cuts: CutSet | str | Path,
    max_duration: float = 15.6,
    min_duration: float = 1.0,
    sampling_rate: int = SAMPLING_RATE,
    rank: int = 0,
    world_size: int = 1,
) -> CutSet:
    """The cuts self-supervised pretraining reads, lazily derived from ``cuts`` (a CutSet, a manifest path,
    or a Lhotse Shar folder, of which rank ``rank`` of ``world_size`` reads its own shards: see :func:`shar_cuts`).

    Cuts with supervisions (Libri-light's voice-activity segments, which carry no text) are trimmed to
    them; anything longer than ``max_duration`` seconds is split into equal windows no longer than that;
    pieces shorter than ``min_duration`` are dropped; audio is resampled to ``sampling_rate`` on loading.
    Cut ids stay deterministic (supervision id, plus ``_<i>`` for windows); windows carry no supervisions,
    so applying the function to its own output changes nothing. An empty input is a
    :class:`CorpusError` naming the manifest.
    """
    if max_duration <= 0 or min_duration > max_duration:
        raise ValueError(f"need 0 < min_duration <= max_duration, got {min_duration} and {max_duration}")
    if isinstance(cuts, (str, Path)):
        cuts = load_cuts(cuts, rank, world_size)
    elif _is_empty(cuts):
        raise CorpusError("the cut set given for pretraining is empty")
    pieces = partial(
        _pretraining_pieces, max_duration=max_duration, min_duration=min_duration, sampling_rate=sampling_rate
    )
    return CutSet(LazyFlattener(LazyMapper(cuts, pieces)))


def unlabelled_cuts(path: str | Path, max_duration: float = 15.6) -> CutSet:
    """The utterances of an unlabelled manifest (eager): cuts with transcribed supervisions stay whole (their
    text is kept only for monitoring), others (Libri-light's voice-activity segments) are cut to speech
    segments of at most ``max_duration`` seconds (:func:`pretraining_cuts`)."""
    out = []
    for cut in load_cuts(path):
        if cut.supervisions and all(s.text for s in cut.supervisions):
            out.append(cut)
        else:
            # min_duration 0: no segment vanishes here; one too short to decode is dropped, with its
            # reason, where pseudo-labelling accounts for every cut
            out.extend(pretraining_cuts(CutSet.from_cuts([cut]), max_duration=max_duration, min_duration=0.0))
    return CutSet.from_cuts(out)


#: Cuts sorted by duration together: enough to fill batches with like lengths, few enough to hold in memory.
SORT_WINDOW = 5000


def by_duration(cuts: Iterable[Cut], window: int = SORT_WINDOW) -> Iterator[CutSet]:
    """``cuts`` in windows of ``window`` cuts, each sorted by duration.

    Batching cuts of like duration wastes little on padding; in manifest order, batches carry much padding
    and the network spends its time on it.
    """
    chunk: list[Cut] = []
    for cut in cuts:
        chunk.append(cut)
        if len(chunk) == window:
            yield CutSet.from_cuts(sorted(chunk, key=lambda c: c.duration))
            chunk = []
    if chunk:
        yield CutSet.from_cuts(sorted(chunk, key=lambda c: c.duration))


def speaker_balanced(cuts: CutSet, minutes: float | None = None, count: int | None = None) -> CutSet:
    """A fixed, cheap dev subset that hears every speaker: cuts taken round-robin over the speakers
    (each speaker's cuts in manifest order, speakers in order of first appearance) until ``minutes``
    of audio or ``count`` cuts. The first cuts of a manifest are usually one or two speakers, whose
    voices would then stand for the whole dev set. Cuts without a supervision share one group."""
    if minutes is None and count is None:
        raise ValueError("speaker_balanced needs minutes or count")
    by_speaker: dict[str | None, list] = {}
    for cut in cuts:
        speaker = cut.supervisions[0].speaker if cut.supervisions else None
        by_speaker.setdefault(speaker, []).append(cut)
    queues = [iter(group) for group in by_speaker.values()]
    kept, seconds = [], 0.0
    while queues:
        for queue in list(queues):
            if (minutes is not None and seconds >= minutes * 60.0) or (
                count is not None and len(kept) >= count
            ):
                return CutSet.from_cuts(kept)
            cut = next(queue, None)
            if cut is None:
                queues.remove(queue)
                continue
            kept.append(cut)
            seconds += cut.duration
    return CutSet.from_cuts(kept)

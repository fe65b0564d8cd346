"""The stream of batches one rank trains on, and where in it a run stands.

Batches come from lhotse's ``DynamicBucketingSampler`` built for world size 1, epoch after epoch
(``set_epoch`` reshuffles), so the *global* sequence of batches depends only on the cuts, the seed and
``max_duration`` — not on how many processes train. Rank ``r`` of ``W`` takes the global batches
``r, r + W, r + 2W, …`` (lhotse's own DDP mode also deals out consecutive batches, but its bucket
synchronisation makes the global sequence depend on ``W``). Hence one process with ``grad_accum = W``
sees exactly the batches that ``W`` DDP ranks see in one step, and a rank's place in the stream is just
the ``(epoch, index)`` of the last batch it consumed, which a checkpoint stores and a resumed run
fast-forwards to (reading manifests only, no audio). Unlike the sampler's own ``state_dict``, this
position counts batches the loop *consumed*, not those DataLoader workers prefetched.

Cuts read from Lhotse Shar shards are the exception (``own_cuts``): there each rank's cuts are its own
shards (:func:`asr.data.dataset.shar_cuts`), so its sampler runs over them alone and the rank takes every
batch of that stream; ranks read disjoint audio instead of each reading all of it, at the price of the
stream depending on the world size (a resume with the same world size is still exact, its fast-forward
reading the rank's shards up to where it stopped).
"""

from __future__ import annotations

import functools
import random
import warnings
from collections import Counter
from collections.abc import Iterator

import numpy as np
import torch
from lhotse import CutSet
from lhotse.dataset import DynamicBucketingSampler

from .config import AugmentConfig

Position = tuple[int, int]  # (epoch, index of the batch within the epoch's global sequence)


def make_sampler(cuts: CutSet, max_duration: float, shuffle: bool, seed: int, num_buckets: int):
    """The world-size-independent lhotse sampler over ``cuts``.

    ``num_buckets`` is capped at the number of cuts of an eager cut set: lhotse refuses more buckets than
    cuts, and a tiny labelled split (a few utterances) is a legitimate input.
    """
    try:
        num_buckets = max(1, min(num_buckets, len(cuts)))
    except TypeError:  # lazy cut sets have no length; they are large anyway
        pass
    with warnings.catch_warnings():
        # Eager (in-memory) cut sets are fine for the sizes that are eager; lazy ones stream.
        warnings.filterwarnings("ignore", message=".*eagerly read CutSet.*")
        return DynamicBucketingSampler(
            cuts,
            max_duration=max_duration,
            shuffle=shuffle,
            seed=seed,
            num_buckets=num_buckets,
            world_size=1,
            rank=0,
            drop_last=False,
        )


class BatchStream:
    """Endless ``(cuts, position)`` for one rank: every ``stride``-th global batch from ``start`` on.

    Counting global batches from ``start`` (inclusive) as 0, 1, 2, …, the stream yields those with
    count ``>= offset`` and ``(count - offset) % stride == 0``.
    """

    def __init__(self, sampler, start: Position = (0, 0), offset: int = 0, stride: int = 1) -> None:
        self.sampler = sampler
        self.start = tuple(start)
        self.offset = offset
        self.stride = stride

    def __iter__(self) -> Iterator[tuple[CutSet, Position]]:
        epoch, count = self.start[0], 0
        while True:
            self.sampler.set_epoch(epoch)
            empty = True
            for index, cuts in enumerate(self.sampler):
                empty = False
                if (epoch, index) < self.start:
                    continue  # fast-forward: the sampler reads manifests only
                if count >= self.offset and (count - self.offset) % self.stride == 0:
                    yield cuts, (epoch, index)
                count += 1
            if empty:
                raise RuntimeError("the sampler yields no batches: is the cut set empty after filtering?")
            epoch += 1


def resume_stream(
    sampler, last: list[Position] | None, saved_world: int, rank: int, world: int, own_cuts: bool = False
) -> BatchStream:
    """Where rank ``rank`` of ``world`` continues, given each saved rank's last consumed position.

    ``own_cuts``: the sampler runs over this rank's own cuts (Lhotse Shar shards dealt out by rank), so
    the rank takes all of its batches; another world size deals the shards out anew, so the run then
    continues with the next epoch.
    """
    if own_cuts:
        if not last:
            return BatchStream(sampler)
        if saved_world == world:
            epoch, index = last[rank]
            return BatchStream(sampler, (epoch, index + 1))
        return BatchStream(sampler, (max(p[0] for p in last) + 1, 0))
    if not last:
        return BatchStream(sampler, (0, 0), offset=rank, stride=world)
    if saved_world == world:
        epoch, index = last[rank]
        return BatchStream(sampler, (epoch, index + 1), offset=world - 1, stride=world)
    # Another world size: continue after the furthest batch any rank read (exact when no batch was skipped).
    epoch, index = max(tuple(p) for p in last)
    return BatchStream(sampler, (epoch, index + 1), offset=rank, stride=world)


class CountingReader(torch.utils.data.Dataset):
    """Wrap a dataset so each item also reports the cuts it dropped and the batch's position.

    DataLoader workers hold copies of the dataset, so its ``skipped`` counter cannot be read from the
    training process; the per-batch difference travels back with the batch instead.
    """

    def __init__(self, dataset, augment: AugmentConfig | None = None, seed: int = 0) -> None:
        self.dataset = dataset
        self.augment = augment if augment is not None and augment.active else None
        self.seed = seed

    def __getitem__(self, item: tuple[CutSet, Position]):
        cuts, position = item
        if self.augment is not None:  # seeded by the batch's place: same draws after a resume, any workers
            cuts = augment_cuts(cuts, self.augment, random.Random(f"{self.seed}/{position[0]}/{position[1]}"))
        counter = getattr(self.dataset, "skipped", None)
        before = Counter(counter) if counter is not None else Counter()
        batch = self.dataset[cuts]
        after = Counter(counter) if counter is not None else Counter()
        return batch, dict(after - before), position


def augment_cuts(cuts: CutSet, cfg: AugmentConfig, rng: random.Random) -> CutSet:
    """``cuts`` through lhotse's cut transforms (speed, volume, reverberation, noise), as ``cfg`` says.

    The transforms are lazy: the audio is changed when the dataset loads it. Supervisions (and their
    alignments) follow lhotse's own bookkeeping, e.g. a 1.1x speed-up shortens them by 1/1.1.
    """
    from lhotse.dataset import CutMix, PerturbSpeed, PerturbVolume, ReverbWithImpulseResponse

    if cfg.p_speed > 0:
        cuts = PerturbSpeed(list(cfg.speed_factors), cfg.p_speed, randgen=rng, preserve_id=True)(cuts)
    if cfg.p_volume > 0:
        low, high = cfg.volume_range
        cuts = PerturbVolume(cfg.p_volume, low, high, randgen=rng, preserve_id=True)(cuts)
    if cfg.p_reverb > 0:  # no RIR recordings: lhotse draws a synthetic room response per cut
        cuts = ReverbWithImpulseResponse(p=cfg.p_reverb, randgen=rng, preserve_id=True)(cuts)
    if cfg.p_noise > 0:
        mix = CutMix(
            _noise_cuts(cfg.noise_cuts),
            snr=cfg.noise_snr,
            p=cfg.p_noise,
            pad_to_longest=False,
            preserve_id=True,
            seed=rng,
            random_mix_offset=True,
        )
        cuts = mix(cuts)
    return cuts


@functools.cache
def _noise_cuts(path: str) -> CutSet:
    """Noise to mix in: the cut manifest at ``path``, or 10 s of synthetic pink noise held in memory."""
    if path:
        return CutSet.from_file(path)
    import io

    import soundfile as sf
    from lhotse import Recording

    rate = 16000
    white = np.random.default_rng(0).standard_normal(10 * rate)
    pink = np.fft.irfft(np.fft.rfft(white) / np.sqrt(np.arange(1, 5 * rate + 2)), n=10 * rate)  # 1/f power
    buf = io.BytesIO()
    sf.write(buf, (0.5 * pink / np.abs(pink).max()).astype(np.float32), rate, format="WAV", subtype="FLOAT")
    return CutSet.from_cuts([Recording.from_bytes(buf.getvalue(), "synthetic-pink-noise").to_cut()])


def identity(x):
    """DataLoader collate_fn: batches are already collated by the dataset."""
    return x

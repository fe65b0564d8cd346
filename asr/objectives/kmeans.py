"""HuBERT's targets: k-means cluster ids of frame features, one per 20 ms encoder frame.

HuBERT (Hsu et al., 2021) learns by predicting, at masked frames, the cluster a frame's features fall in.
Iteration 1 clusters 39-dimensional MFCCs (13 coefficients + Δ + ΔΔ) into 100 clusters; iteration 2
clusters the output of an intermediate Transformer block of the iteration-1 model (the 6th of BASE's 12)
into 500 clusters. The steps here are the recipe's:

1. :func:`fit_kmeans` streams cuts, featurises them (:class:`MfccFeaturizer` or :class:`LayerFeaturizer`) and
   fits scikit-learn's ``MiniBatchKMeans`` (k-means++ initialisation, the recipe's n_init = 20, batch of
   10 000 frames, no reassignment) on a capped uniform random sample of the frames;
2. :func:`save_centres` keeps only the cluster centres, as ``.npz`` (loading it runs no pickled code);
3. :func:`label_cuts` assigns every frame to its nearest centre (:func:`assign`) and stores the labels with
   the cuts as a lhotse ``TemporalArray`` custom field ``"hubert_labels"`` (frame shift 0.02 s, time on
   axis 0, ``.npy`` files), checking that each cut gets exactly as many labels as the encoder has frames.

MFCCs come every 10 ms; the encoder's frames every 20 ms. Encoder frame t (wav2vec 2.0 CNN) sees samples
[320 t, 320 t + 400), centred where MFCC frame 2t (samples [160·2t, 160·2t + 400)) is centred. So 20 ms
frame t is the centred average ``(m[2t-1] + 2 m[2t] + m[2t+1]) / 4`` of the 10 ms frames (a small low-pass
before keeping every other frame; the edges repeat the first / last frame), then trimmed or padded (by
repeating the last frame) to exactly the encoder's frame count. For the CNN front-end the count already
matches: ``1 + (S - 400) // 320`` both ways. The fbank front-end's frame t sees samples [320 t, 320 t + 1040)
(two valid convolutions over 25 ms log-mel frames), centred on MFCC frame 2t + 2: its labels are taken
there (:func:`label_offset`), not 20 ms early.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from asr.files import atomic_writer
from asr.models import Encoder

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
FRAME_SHIFT = 0.02  # seconds per encoder frame (and per label)
LABELS_FIELD = "hubert_labels"


# -- features -------------------------------------------------------------------------------------------
def mfcc_features(audio: Tensor, num_frames: int | None = None, offset: int = 0) -> np.ndarray:
    """13 MFCCs + Δ + ΔΔ at 20 ms, [T, 39] float32, for a 16 kHz waveform [S].

    Kaldi-compatible MFCCs (25 ms window, 10 ms shift, no energy, no dither), deltas over 5 frames, then
    brought to 20 ms as the module docstring describes. ``offset`` (10 ms frames) moves label t's centre to
    MFCC frame ``2t + offset``, where the encoder's frame t is centred (:func:`label_offset`). ``num_frames``
    (usually ``encoder.num_frames(S)``) trims or pads the result to that many frames.
    """
    import torchaudio  # kept out of import time; torchaudio lives behind asr.models and this module

    audio = torch.as_tensor(audio, dtype=torch.float32).flatten()
    if audio.numel() < 400:  # shorter than one 25 ms window
        mfcc = torch.zeros(0, 39)
    else:
        # as HuBERT's recipe: the waveform in [-1, 1] (its scale only shifts c0), no energy, Kaldi's defaults
        ceps = torchaudio.compliance.kaldi.mfcc(audio[None], sample_frequency=SAMPLE_RATE, use_energy=False)
        ceps_t = ceps.T  # [13, T10]: compute_deltas works along the last axis
        delta = torchaudio.functional.compute_deltas(ceps_t)
        delta2 = torchaudio.functional.compute_deltas(delta)
        mfcc = torch.cat([ceps_t, delta, delta2]).T  # [T10, 39]
    feats = _to_20ms(mfcc, offset)
    if num_frames is not None:
        feats = _fit_length(feats, int(num_frames))
    return feats.numpy().astype(np.float32, copy=False)


def _to_20ms(frames: Tensor, offset: int = 0) -> Tensor:
    """[T10, D] 10 ms frames -> 20 ms frames: frame t = (m[c-1] + 2 m[c] + m[c+1]) / 4 with c = 2t + offset."""
    if len(frames) == 0:
        return frames
    padded = torch.cat([frames[:1], frames, frames[-1:]])  # repeat the edges
    smooth = 0.25 * padded[:-2] + 0.5 * padded[1:-1] + 0.25 * padded[2:]
    return smooth[offset::2]


def label_offset(encoder: Encoder) -> int:
    """10 ms MFCC frames between the first MFCC frame's centre and the encoder's first frame's centre.

    Both front-ends' frame t covers samples ``[320 t, 320 t + min_samples)``: centred at ``min_samples / 2 +
    320 t``, and MFCC frame k at ``200 + 160 k``. The wav2vec 2.0 CNN (``min_samples`` 400) lines up with MFCC
    frame 2t (offset 0); the fbank front-end's two convolutions (``min_samples`` 1040) with frame 2t + 2.
    """
    return max(0, round((encoder.min_samples / 2 - 200) / 160))


def _fit_length(feats: Tensor, num_frames: int) -> Tensor:
    """Trim or pad (repeating the last frame) ``feats`` [T, D] to ``num_frames`` rows."""
    if len(feats) >= num_frames:
        return feats[:num_frames]
    if len(feats) == 0:
        return torch.zeros(num_frames, feats.shape[1], dtype=feats.dtype)
    return torch.cat([feats, feats[-1:].expand(num_frames - len(feats), -1)])


@torch.inference_mode()  # faster than no_grad; the features leave as numpy arrays
def model_features(encoder: Encoder, layer: int, audio: Tensor) -> np.ndarray:
    """Output of block ``layer`` (1-based: HuBERT BASE iteration 2 uses 6) for a 16 kHz waveform [S]: [T, D].

    The encoder runs in eval mode (no dropout, no layer drop), without masking; its mode is restored after.
    """
    if not 1 <= layer <= len(encoder.layers):
        raise ValueError(f"layer must be in 1..{len(encoder.layers)}, got {layer}")
    device = next(encoder.parameters()).device
    audio = torch.as_tensor(audio, dtype=torch.float32).flatten()[None].to(device)
    was_training = encoder.training
    encoder.eval()
    try:
        # blocks above `layer` would be computed for nothing
        out = encoder(audio, torch.tensor([audio.shape[1]], device=device), num_layers=layer)
    finally:
        encoder.train(was_training)
    return out.output[0].float().cpu().numpy()


class MfccFeaturizer:
    """HuBERT iteration 1: :func:`mfcc_features` with one row per frame of ``encoder``."""

    def __init__(self, encoder: Encoder):
        self._num_frames = encoder.num_frames
        self.offset = label_offset(encoder)
        self.dim = 39

    def num_frames(self, num_samples: int) -> int:
        """The encoder's frame count for ``num_samples`` samples."""
        return int(self._num_frames(torch.tensor(num_samples)))

    def __call__(self, audio: Tensor) -> np.ndarray:
        return mfcc_features(audio, self.num_frames(len(audio)), self.offset)


class LayerFeaturizer:
    """HuBERT iteration 2+: :func:`model_features` of block ``layer`` of a (pretrained) ``encoder``.

    The labels are for a model with the same front-end (so the same frame count), not for ``encoder`` itself.
    """

    def __init__(self, encoder: Encoder, layer: int):
        self.encoder, self.layer = encoder, layer
        self.dim = encoder.dim

    def num_frames(self, num_samples: int) -> int:
        return int(self.encoder.num_frames(torch.tensor(num_samples)))

    def __call__(self, audio: Tensor) -> np.ndarray:
        return model_features(self.encoder, self.layer, audio)


Featurizer = MfccFeaturizer | LayerFeaturizer  # anything with __call__(audio [S]) -> [T, D] and num_frames(S)


def load_mono_16k(cut) -> Tensor:
    """A cut's audio as float32 [S] at 16 kHz, as training loads it (resampled, channels averaged)."""
    if cut.sampling_rate != SAMPLE_RATE:
        cut = cut.resample(SAMPLE_RATE)
    samples = np.asarray(cut.load_audio(), dtype=np.float32)
    if samples.ndim == 2:
        samples = samples.mean(axis=0)
    return torch.from_numpy(np.ascontiguousarray(samples))


# -- k-means --------------------------------------------------------------------------------------------
def sample_frames(
    cuts: Iterable, featurizer: Callable[[Tensor], np.ndarray], max_frames: int, seed: int = 0
) -> np.ndarray:
    """A uniform random sample of at most ``max_frames`` feature frames from ``cuts`` (reservoir sampling)."""
    rng = np.random.default_rng(seed)
    reservoir: np.ndarray | None = None
    seen = 0
    for cut in cuts:
        feats = np.asarray(featurizer(load_mono_16k(cut)), dtype=np.float32)
        if len(feats) == 0:
            continue
        if reservoir is None:
            reservoir = np.empty((max_frames, feats.shape[1]), dtype=np.float32)
        index = seen + np.arange(len(feats))  # global index of each new frame
        take = min(max(max_frames - seen, 0), len(feats))
        reservoir[seen : seen + take] = feats[:take]  # the reservoir fills up first ...
        # ... then frame i replaces a random slot with probability max_frames / (i + 1) (Algorithm R)
        slot = rng.integers(0, index[take:] + 1)
        keep = slot < max_frames
        reservoir[slot[keep]] = feats[take:][keep]
        seen += len(feats)
    if reservoir is None:
        raise ValueError("no frames to cluster: the cuts are empty or shorter than one encoder frame")
    return reservoir[: min(seen, max_frames)]


def fit_kmeans(
    cuts: Iterable,
    featurizer: Callable[[Tensor], np.ndarray],
    k: int = 100,
    max_frames: int = 250_000,
    seed: int = 0,
    n_init: int = 20,
    batch_size: int = 10_000,
    max_iter: int = 100,
):
    """Fit ``MiniBatchKMeans`` with ``k`` clusters on up to ``max_frames`` frames sampled from ``cuts``.

    Defaults follow HuBERT's k-means recipe: k-means++ initialisation, ``n_init=20``, mini-batches of 10 000
    frames, ``max_iter=100``, no early stop on inertia (``tol=0``, ``max_no_improvement=100``) and no
    reassignment of small clusters. Returns the fitted estimator (``cluster_centers_`` [k, D]).
    """
    from sklearn.cluster import MiniBatchKMeans

    sample = sample_frames(cuts, featurizer, max_frames, seed)
    if len(sample) < k:
        raise ValueError(f"only {len(sample)} frames to cluster into k={k} clusters")
    kmeans = MiniBatchKMeans(
        n_clusters=k,
        init="k-means++",
        n_init=n_init,
        batch_size=min(batch_size, len(sample)),
        max_iter=max_iter,
        tol=0.0,
        max_no_improvement=100,
        reassignment_ratio=0.0,
        compute_labels=False,
        random_state=seed,
    )
    kmeans.fit(sample)
    log.info("k-means: %d clusters on %d frames, inertia %.4g", k, len(sample), kmeans.inertia_)
    return kmeans


def save_centres(kmeans_or_centres, path: Path) -> Path:
    """Write cluster centres [k, D] (a fitted k-means or an array) to ``path`` (``.npz``), atomically."""
    centres = np.asarray(getattr(kmeans_or_centres, "cluster_centers_", kmeans_or_centres), dtype=np.float32)
    with atomic_writer(path) as f:
        np.savez(f, centres=centres)
    return Path(path)


def load_centres(path: Path) -> np.ndarray:
    """The cluster centres [k, D] saved by :func:`save_centres` (no pickle)."""
    with np.load(Path(path), allow_pickle=False) as data:
        return data["centres"]


def assign(features: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Index of the nearest centre (Euclidean) for each row of ``features`` [T, D]: [T] int64."""
    features = np.asarray(features, dtype=np.float32)
    centres = np.asarray(centres, dtype=np.float32)
    if features.ndim != 2 or features.shape[1] != centres.shape[1]:
        raise ValueError(f"features of shape {features.shape} do not match centres of shape {centres.shape}")
    # |x - c|^2 = |x|^2 - 2 x.c + |c|^2; |x|^2 is the same for every centre
    dist = -2.0 * features @ centres.T + (centres**2).sum(axis=1)[None, :]
    return dist.argmin(axis=1).astype(np.int64)


# -- labelling ------------------------------------------------------------------------------------------
def label_cuts(
    cuts: Iterable,
    featurizer: Featurizer,
    centres: np.ndarray,
    out_dir: Path,
    manifest_name: str = "cuts.jsonl.gz",
):
    """Attach k-means labels to every cut as the custom ``TemporalArray`` field ``"hubert_labels"``.

    Label the cuts training reads (e.g. :func:`asr.data.dataset.pretraining_cuts`' windows): a cut's labels
    are its own frames, so re-cutting labelled cuts later would not line them up with the new frames.
    Labels (int16 when k fits, else int32) are written as ``.npy`` files under ``out_dir/hubert_labels/``
    and the labelled cuts, in input order, to ``out_dir/manifest_name`` (atomically, via a temporary file).
    Each cut must get exactly ``featurizer.num_frames(samples)`` labels, the encoder's frame count for its
    audio; a mismatch raises ``ValueError`` naming the cut. Returns the labelled ``CutSet``.
    """
    from lhotse import CutSet, NumpyFilesWriter

    from asr.data.common import save_manifest

    centres = np.asarray(centres, dtype=np.float32)
    dtype = np.int16 if len(centres) <= np.iinfo(np.int16).max else np.int32
    out_dir = Path(out_dir)
    labelled = []
    with NumpyFilesWriter(out_dir / LABELS_FIELD) as writer:
        for cut in cuts:
            audio = load_mono_16k(cut)
            labels = assign(featurizer(audio), centres).astype(dtype)
            expected = featurizer.num_frames(len(audio))
            if len(labels) != expected:
                raise ValueError(f"cut {cut.id}: {len(labels)} labels for {expected} encoder frames")
            # Cut ids may hold "/" (Libri-light's do): quote them into one file name, reversibly.
            key = urllib.parse.quote(cut.id, safe="")
            array = writer.store_array(key, labels, FRAME_SHIFT, temporal_dim=0, start=cut.start)
            labelled.append(cut.with_custom(LABELS_FIELD, array))
    result = CutSet.from_cuts(labelled)
    save_manifest(result, out_dir / manifest_name)
    return result


def load_labels(cut) -> np.ndarray:
    """A labelled cut's k-means labels [T] as int64."""
    return np.asarray(cut.load_custom(LABELS_FIELD), dtype=np.int64)

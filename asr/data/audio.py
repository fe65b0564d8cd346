"""Reading one user-supplied audio file for inference: any format soundfile reads, checked, 16 kHz mono.

Training reads audio through lhotse manifests; the pronunciation tools (``asr mdd diagnose``, the app)
read a single file a person recorded or uploaded, so every problem becomes an :class:`AudioError`
saying what is wrong with which file instead of a decoder traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from asr.errors import UserError
from asr.text.espeak import resample

SAMPLE_RATE = 16_000


class AudioError(UserError):
    """Audio that cannot be analysed; the message names the file and says why."""


@dataclass(frozen=True)
class AudioLimits:
    """What one analysis accepts. Longer or larger input is refused before it is decoded in full."""

    max_seconds: float = 30.0
    max_bytes: int = 20 * 1024 * 1024
    #: Peak amplitude below which a recording counts as silent (float samples in [-1, 1]).
    silence_peak: float = 1e-3


@dataclass
class Audio:
    """16 kHz mono float32 samples and what was noticed on the way (``clipped``: share of samples at full scale)."""

    samples: np.ndarray
    source_rate: int
    source_channels: int
    clipped: float = 0.0

    @property
    def duration(self) -> float:
        return len(self.samples) / SAMPLE_RATE


def to_mono_16k(samples: np.ndarray, sample_rate: int, name: str = "audio") -> Audio:
    """Samples ``[n]`` or ``[n, channels]`` (float or integer PCM) at any rate → :class:`Audio`.

    Channels are averaged; integer PCM is scaled to [-1, 1]. Raises :class:`AudioError` for empty or
    non-finite audio.
    """
    samples = np.asarray(samples)
    if samples.dtype.kind in "iu":
        info = np.iinfo(samples.dtype)
        samples = (samples.astype(np.float64) - (info.max + info.min + 1) / 2) / (info.max + 1)
    samples = samples.astype(np.float32, copy=False)
    channels = 1 if samples.ndim == 1 else samples.shape[1]
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    elif samples.ndim != 1:
        raise AudioError(f"{name}: expected samples of shape [n] or [n, channels], got {list(samples.shape)}")
    if samples.size == 0:
        raise AudioError(f"{name}: the audio holds no samples")
    if not np.isfinite(samples).all():
        raise AudioError(f"{name}: the audio holds NaN or infinite samples")
    if sample_rate <= 0:
        raise AudioError(f"{name}: invalid sample rate {sample_rate}")
    clipped = float(np.mean(np.abs(samples) >= 0.999))
    if sample_rate != SAMPLE_RATE:
        samples = resample(samples, int(sample_rate), SAMPLE_RATE)
    return Audio(samples, int(sample_rate), channels, clipped)


def read_audio(path: str | Path, limits: AudioLimits | None = None) -> Audio:
    """Read ``path`` (wav/flac/ogg/mp3/... at any rate and channel count) as 16 kHz mono.

    Raises :class:`AudioError` naming the file when it is missing, empty, not audio, corrupt, over the
    size or duration limit, or holds no samples.
    """
    import soundfile as sf

    limits = limits or AudioLimits()
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: no such audio file")
    size = path.stat().st_size
    if size == 0:
        raise AudioError(f"{path.name}: the file is empty")
    if size > limits.max_bytes:
        raise AudioError(
            f"{path.name}: the file is {size / 2**20:.1f} MB; the limit is {limits.max_bytes / 2**20:.0f} MB"
        )
    try:
        info = sf.info(str(path))
        if info.frames > 0 and info.duration > limits.max_seconds:
            raise AudioError(
                f"{path.name}: the recording is {info.duration:.1f} s long; the limit is "
                f"{limits.max_seconds:g} s"
            )
        samples, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except AudioError:
        raise
    except Exception as exc:  # libsndfile: unknown format, corrupt header, truncated data
        reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise AudioError(
            f"{path.name}: not a readable audio file (wav, flac, ogg or mp3): {reason}"
        ) from None
    if len(samples) / rate > limits.max_seconds:  # headers without a frame count (e.g. some mp3s)
        raise AudioError(
            f"{path.name}: the recording is {len(samples) / rate:.1f} s long; the limit is "
            f"{limits.max_seconds:g} s"
        )
    return to_mono_16k(samples, rate, path.name)

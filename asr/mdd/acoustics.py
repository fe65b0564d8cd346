"""Pitch and energy contours of a recording, the measurements fluency, stress and prosody are judged on.

F0 comes from Praat's autocorrelation pitch tracker (Boersma 1993) through parselmouth, the only use of
parselmouth in the project (:func:`_praat_f0`). Energy is the RMS of a short rectangular window in dB
relative to full scale. Both are sampled on one regular grid: frame ``k`` is centred at ``(k + 0.5) · hop``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from asr.errors import UserError

#: Praat's pitch search range (Hz): below the lowest and above the highest F0 of speaking voices.
PITCH_FLOOR, PITCH_CEILING = 75.0, 500.0
#: The energy window (s): two periods of a 75 Hz voice, so energy does not follow the glottal pulses.
ENERGY_WINDOW = 0.025
#: The energy of digital silence (dB): the RMS floor, so that log10 never sees 0.
SILENCE_DB = -100.0


class AcousticsError(UserError):
    """Audio the contours cannot be computed from, or a missing analysis library."""


@dataclass
class Contours:
    """Frame-wise F0 and energy of one recording on a regular time grid."""

    #: frame centres (s)
    times: np.ndarray
    #: fundamental frequency (Hz), NaN where unvoiced
    f0: np.ndarray
    #: RMS energy (dB re full scale), :data:`SILENCE_DB` at its lowest
    energy_db: np.ndarray
    #: length of the window each energy value is measured over (s): a frame below a level means its whole
    #: window is, so a low stretch reaches ``window / 2`` beyond its outer frame centres
    window: float = ENERGY_WINDOW

    @property
    def hop(self) -> float:
        """The frame step (s)."""
        return float(self.times[1] - self.times[0]) if len(self.times) > 1 else 0.01


def contours(samples: np.ndarray, sample_rate: int = 16000, hop: float = 0.01) -> Contours:
    """F0 (Praat autocorrelation, 75-500 Hz) and RMS energy (dB) of mono ``samples`` every ``hop`` seconds."""
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim != 1:
        raise AcousticsError(f"contours need mono audio; got an array of shape {x.shape}")
    if hop <= 0 or sample_rate <= 0:
        raise AcousticsError(f"hop ({hop}) and sample rate ({sample_rate}) must be positive")
    n = int(len(x) / sample_rate / hop)
    times = (np.arange(n) + 0.5) * hop
    window = max(ENERGY_WINDOW, hop)
    return Contours(
        times, _praat_f0(x, sample_rate, hop, times), _energy_db(x, sample_rate, times, window), window
    )


def _praat_f0(x: np.ndarray, sample_rate: int, hop: float, times: np.ndarray) -> np.ndarray:
    """Praat's F0 at ``times``, interpolated linearly between its frames (NaN next to an unvoiced frame)."""
    try:
        import parselmouth
    except ImportError as exc:
        raise AcousticsError("praat-parselmouth is not installed; run scripts/setup.sh") from exc
    # Praat needs three periods of the floor in one window; shorter audio has no voiced frame anyway
    if len(x) < 3 * sample_rate / PITCH_FLOOR or not len(times):
        return np.full(len(times), np.nan)
    pitch = parselmouth.Sound(x, sampling_frequency=sample_rate).to_pitch_ac(
        time_step=hop, pitch_floor=PITCH_FLOOR, pitch_ceiling=PITCH_CEILING
    )
    values = pitch.selected_array["frequency"]  # 0 where unvoiced
    values = np.where(values > 0, values, np.nan)
    return np.interp(times, pitch.xs(), values, left=np.nan, right=np.nan)


def _energy_db(x: np.ndarray, sample_rate: int, times: np.ndarray, window: float) -> np.ndarray:
    """RMS in dB over ``window`` centred on each time (cut at the ends of the audio)."""
    squares = np.concatenate([[0.0], np.cumsum(x * x)])
    half = window * sample_rate / 2
    lo = np.clip(np.rint(times * sample_rate - half).astype(int), 0, len(x))
    hi = np.clip(np.rint(times * sample_rate + half).astype(int), 0, len(x))
    power = (squares[hi] - squares[lo]) / np.maximum(hi - lo, 1)
    return 10 * np.log10(np.maximum(power, 10 ** (SILENCE_DB / 10)))


def semitones(f0: np.ndarray | float, reference_hz: float) -> np.ndarray:
    """``12 · log2(f0 / reference_hz)``; NaN (unvoiced) and non-positive F0 give NaN."""
    f = np.asarray(f0, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(f > 0, 12 * np.log2(f / reference_hz), np.nan)


def span_mean(c: Contours, start: float, end: float, field: str | np.ndarray = "f0") -> float:
    """Mean of a contour over the frames centred in ``[start, end)``, NaNs ignored; NaN when none is left.

    ``field`` names a contour (``"f0"``, ``"energy_db"``) or gives per-frame values on ``c.times``
    (semitones, say).
    """
    values = getattr(c, field) if isinstance(field, str) else np.asarray(field, dtype=np.float64)
    inside = values[(c.times >= start) & (c.times < end)]
    inside = inside[~np.isnan(inside)]
    return float(inside.mean()) if len(inside) else float("nan")


def downsample(c: Contours, hop: float) -> Contours:
    """Block means of ``c`` at (about) ``hop`` seconds a frame, for plotting: F0 NaN-aware (a block without a
    voiced frame stays NaN), energy averaged in dB."""
    k = max(1, round(hop / c.hop))
    n = len(c.times) // k
    if k == 1 or n == 0:
        return c

    def blocks(v: np.ndarray) -> np.ndarray:
        return v[: n * k].reshape(n, k)

    f0 = blocks(c.f0)
    voiced = (~np.isnan(f0)).sum(axis=1)
    mean_f0 = np.where(voiced > 0, np.nansum(f0, axis=1) / np.maximum(voiced, 1), np.nan)
    return Contours(
        blocks(c.times).mean(axis=1), mean_f0, blocks(c.energy_db).mean(axis=1), c.window + (k - 1) * c.hop
    )


__all__ = [
    "AcousticsError",
    "Contours",
    "contours",
    "downsample",
    "semitones",
    "span_mean",
]

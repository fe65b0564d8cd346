"""Helpers for the synthetic corpora: voices, noise, atomic writes, and parallel tasks."""

from __future__ import annotations

import io
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TypeVar

import numpy as np
import soundfile as sf
from tqdm.auto import tqdm

from asr.files import write_atomic
from asr.text.espeak import Voice

T = TypeVar("T")
R = TypeVar("R")

#: espeak-ng voices that speak English; the ``en-us`` voice is the one whose phoneme mnemonics
#: :data:`asr.text.phones.ARPABET_TO_ESPEAK` targets, so phoneme input always uses it.
ENGLISH_VOICES = (
    "en-us",
    "en",
    "en-GB-scotland",
    "en-GB-x-gbclan",
    "en-GB-x-rp",
    "en-GB-x-gbcwmd",
    "en-029",
    "en-US-nyc",
)
MALE_VARIANTS = (
    "m1",
    "m2",
    "m3",
    "m4",
    "m5",
    "m6",
    "m7",
    "m8",
    "adam",
    "david",
    "edward",
    "john",
    "max",
    "michel",
    "norbert",
    "paul",
    "pedro",
    "Mr serious",
    "Andy",
    "Michael",
    "Hugo",
)
FEMALE_VARIANTS = (
    "f1",
    "f2",
    "f3",
    "f4",
    "f5",
    "Annie",
    "Alicia",
    "belinda",
    "linda",
    "anika",
    "aunty",
    "grandma",
    "Andrea",
)


def make_voice(
    rng: np.random.Generator,
    gender: str,
    held_out: bool = False,
    name: str | None = None,
    faster: bool = False,
) -> Voice:
    """Draw a speaker's voice. ``held_out`` voices use variants that training speakers never get
    (the last third of each list), for the 'other' subsets' unseen voices."""
    variants = MALE_VARIANTS if gender == "M" else FEMALE_VARIANTS
    cut = len(variants) * 2 // 3
    pool = variants[cut:] if held_out else variants[:cut]
    base = name or str(rng.choice(ENGLISH_VOICES))
    rate = int(rng.integers(190, 240) if faster else rng.integers(140, 185))
    return Voice(
        name=base,
        variant=str(rng.choice(pool)),
        rate=rate,
        pitch=int(rng.integers(25, 75)),
        range=int(rng.integers(30, 80)),
        word_gap=int(rng.integers(0, 2)),
    )


def add_noise(samples: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """Add pink-ish noise (white noise through a one-pole low-pass) at ``snr_db``."""
    from scipy.signal import lfilter

    white = rng.standard_normal(len(samples)).astype(np.float32)
    noise = lfilter([1.0], [1.0, -0.9], white).astype(np.float32)
    p_signal = float(np.mean(samples**2)) + 1e-12
    p_noise = float(np.mean(noise**2)) + 1e-12
    scale = np.sqrt(p_signal / (p_noise * 10 ** (snr_db / 10)))
    return (samples + scale * noise).astype(np.float32)


def to_pcm16(samples: np.ndarray, peak: float = 0.9) -> np.ndarray:
    """Scale to a fixed peak (loudness varies little between espeak voices) and convert to int16."""
    top = float(np.max(np.abs(samples))) if len(samples) else 0.0
    if top > 0:
        samples = samples * (peak / top)
    return np.clip(np.round(samples * 32767), -32768, 32767).astype(np.int16)


def write_audio(path: Path, samples: np.ndarray, sample_rate: int) -> None:
    """Write 16-bit PCM audio (FLAC or WAV, by the suffix) atomically and deterministically."""
    buf = io.BytesIO()
    fmt = {".flac": "FLAC", ".wav": "WAV"}[path.suffix.lower()]
    sf.write(buf, to_pcm16(samples), sample_rate, format=fmt, subtype="PCM_16")
    write_atomic(path, buf.getvalue())


def write_text(path: Path, text: str) -> None:
    write_atomic(path, text.encode("utf-8"))


def run_tasks(fn: Callable[[T], R], tasks: list[T], num_jobs: int, desc: str) -> list[R]:
    """``[fn(t) for t in tasks]`` over ``num_jobs`` worker processes, in task order, with progress.

    Each task draws its random numbers from its own seed, so results do not depend on ``num_jobs``.
    """
    if num_jobs <= 1:
        return [fn(t) for t in tqdm(tasks, desc=desc)]
    with ProcessPoolExecutor(min(num_jobs, len(tasks))) as pool:
        return list(tqdm(pool.map(fn, tasks), total=len(tasks), desc=desc))

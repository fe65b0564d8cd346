"""A spoken-digits corpus (icefall's *yesno*, a little larger): the smallest task a CTC model can learn.

Random sequences of the ten digit words, spoken by a few espeak-ng voices; test sequences never occur in
training. A character CTC model trained from scratch for a few CPU minutes recognises them, which makes
it the end-to-end check that training, decoding and scoring fit together (``tests/test_learning.py``)
and the corpus of ``bench/finetune.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from asr.text.espeak import IsolatedSynthesizer, Voice

from .audio import write_audio

DIGITS = ("ZERO", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE")
SAMPLE_RATE = 16000


def _sequences(
    rng: np.random.Generator, count: int, exclude: set[str], min_len: int, max_len: int
) -> list[str]:
    out: list[str] = []
    while len(out) < count:
        words = rng.choice(DIGITS, size=int(rng.integers(min_len, max_len + 1)))
        text = " ".join(str(w) for w in words)
        if text not in exclude:
            exclude.add(text)
            out.append(text)
    return out


def synth_digits(
    out_dir: Path,
    num_train: int = 100,
    num_test: int = 20,
    seed: int = 0,
    min_words: int = 2,
    max_words: int = 5,
) -> dict[str, Path]:
    """Write ``out_dir/{train,test}/*.flac`` and lhotse cut manifests; returns ``{"train": path, "test": path}``.

    Deterministic for ``seed``; four voices (two male, two female variants of en-us) at varied rates, the
    same voices in train and test (the task is the words, not speaker generalisation).
    """
    from lhotse import CutSet, Recording, SupervisionSegment

    out_dir = Path(out_dir)
    rng = np.random.default_rng(seed)
    voices = [
        Voice("en-us", v, rate=int(rng.integers(150, 190)), pitch=int(rng.integers(30, 70)))
        for v in ("m1", "m3", "f1", "f3")
    ]
    seen: set[str] = set()
    splits = {
        "train": _sequences(rng, num_train, seen, min_words, max_words),
        "test": _sequences(rng, num_test, seen, min_words, max_words),
    }
    manifests: dict[str, Path] = {}
    with IsolatedSynthesizer() as tts:
        for split, texts in splits.items():
            (out_dir / split).mkdir(parents=True, exist_ok=True)
            cuts = []
            for i, text in enumerate(texts):
                utt = f"digits-{split}-{i:04d}"
                path = out_dir / split / f"{utt}.flac"
                syn = tts.synthesize(text.lower(), voices[i % len(voices)], sample_rate=SAMPLE_RATE)
                write_audio(path, syn.samples, SAMPLE_RATE)
                recording = Recording.from_file(path, recording_id=utt)
                sup = SupervisionSegment(utt, utt, 0.0, recording.duration, text=text, language="English")
                cuts.append(_cut(recording, sup))
            manifests[split] = out_dir / f"digits_cuts_{split}.jsonl.gz"
            CutSet.from_cuts(cuts).to_file(manifests[split])
    return manifests


def _cut(recording, supervision):
    from lhotse import MonoCut

    return MonoCut(
        id=recording.id,
        start=0.0,
        duration=recording.duration,
        channel=0,
        recording=recording,
        supervisions=[supervision],
    )

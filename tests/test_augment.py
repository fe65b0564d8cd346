"""Training-time augmentation with lhotse's cut transforms (asr.training.data.augment_cuts)."""

from __future__ import annotations

import io
import random

import numpy as np
import pytest
import soundfile as sf
from lhotse import CutSet, Recording, SupervisionSegment

from asr.training.config import AugmentConfig, TrainConfig
from asr.training.data import CountingReader, augment_cuts


def _cuts() -> CutSet:
    rate, rng = 16000, np.random.default_rng(0)
    out = []
    for k in range(3):
        t = np.arange(2 * rate) / rate
        audio = (0.3 * np.sin(2 * np.pi * 220 * (k + 1) * t) + 0.01 * rng.standard_normal(len(t))).astype(
            np.float32
        )
        buf = io.BytesIO()
        sf.write(buf, audio, rate, format="WAV", subtype="FLOAT")
        cut = Recording.from_bytes(buf.getvalue(), f"rec{k}").to_cut()
        cut.supervisions = [SupervisionSegment(f"sup{k}", f"rec{k}", 0.5, 1.0, text="HELLO WORLD")]
        out.append(cut)
    return CutSet.from_cuts(out)


@pytest.mark.parametrize("name", ["speed", "volume", "reverb", "noise"])
def test_each_transform_changes_audio_and_keeps_supervisions_consistent(name: str):
    cfg = AugmentConfig(**{f"p_{name}": 1.0}, speed_factors=(1.1,))
    cuts = _cuts()
    aug = augment_cuts(cuts, cfg, random.Random(0))
    for before, after in zip(cuts, aug, strict=True):
        assert after.id == before.id  # ids kept: labels and pseudo-labels are looked up by them
        a, b = before.load_audio(), after.load_audio()
        assert np.isfinite(b).all()
        if name == "speed":
            assert abs(after.duration - before.duration / 1.1) < 0.01
            sup = after.supervisions[0]
            assert abs(sup.start - 0.5 / 1.1) < 0.01 and abs(sup.duration - 1.0 / 1.1) < 0.01
        else:
            assert after.duration == before.duration and b.shape == a.shape
            assert after.supervisions[0].start == 0.5 and after.supervisions[0].duration == 1.0
            assert not np.allclose(a, b, atol=1e-4)
        sup = after.supervisions[0]
        assert sup.text == "HELLO WORLD" and sup.end <= after.duration + 1e-6


def test_draws_follow_the_batch_position_and_default_is_off():
    assert TrainConfig().augment is None
    assert TrainConfig(augment={"p_volume": 0.5}).augment == AugmentConfig(p_volume=0.5)
    with pytest.raises(ValueError, match="p_noise"):
        AugmentConfig(p_noise=2.0)

    class Echo:
        def __getitem__(self, cuts):
            return [c.load_audio() for c in cuts]

    cfg = AugmentConfig(p_volume=1.0, p_noise=1.0)
    reader = CountingReader(Echo(), augment=cfg, seed=1)
    first, _, _ = reader[(_cuts(), (0, 3))]
    again, _, _ = CountingReader(Echo(), augment=cfg, seed=1)[(_cuts(), (0, 3))]
    other, _, _ = reader[(_cuts(), (0, 4))]
    assert all(np.array_equal(x, y) for x, y in zip(first, again, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(first, other, strict=True))
    plain, _, _ = CountingReader(Echo())[(_cuts(), (0, 3))]
    assert all(np.array_equal(x, c.load_audio()) for x, c in zip(plain, _cuts(), strict=True))

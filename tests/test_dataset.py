"""AudioDataset (padding, labels, bad cuts dropped and counted) and pretraining_cuts (trim, split, resample)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch
from lhotse import CutSet, MonoCut, Recording, RecordingSet, SupervisionSegment, SupervisionSet

from asr.data.common import CorpusError
from asr.data.dataset import AudioDataset, load_cuts, pretraining_cuts, speaker_balanced


def _recording(path, samples: np.ndarray, sr: int = 16000, subtype: str = "FLOAT") -> Recording:
    sf.write(str(path), samples, sr, subtype=subtype)
    return Recording.from_file(path, recording_id=path.stem)


def _tone(seconds: float, sr: int = 16000, freq: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture()
def mixed_cuts(tmp_path) -> CutSet:
    nan = _tone(0.5)
    nan[100] = np.nan
    recordings = [
        _recording(tmp_path / "good1.wav", _tone(0.5)),
        _recording(tmp_path / "nan.wav", nan),
        _recording(tmp_path / "good2.wav", _tone(0.3, freq=330.0)),
        _recording(tmp_path / "silent.wav", np.zeros(8000, dtype=np.float32)),
        _recording(tmp_path / "short.wav", _tone(0.01)),
        _recording(tmp_path / "broken.wav", _tone(0.5)),
    ]
    (tmp_path / "broken.wav").write_bytes(b"RIFF not really a wav file")
    return CutSet.from_cuts(r.to_cut() for r in recordings)


def test_batch_pads_with_zeros_after_each_cuts_own_samples(tmp_path):
    """The dataset's batch of known audio: row i is the file's samples as soundfile reads them, then zeros."""
    rng = np.random.default_rng(0)
    lengths = [7000, 16000, 401]
    paths = []
    for i, n in enumerate(lengths):  # noise that never rests at zero, so that padding shows
        samples = (rng.uniform(0.1, 0.9, n) * rng.choice([-1, 1], n)).astype(np.float32)
        paths.append(tmp_path / f"c{i}.wav")
        sf.write(str(paths[-1]), samples, 16000, subtype="FLOAT")
    cuts = CutSet.from_cuts(Recording.from_file(p, recording_id=p.stem).to_cut() for p in paths)
    batch = AudioDataset()[cuts]
    assert batch.cut_ids == ["c0", "c1", "c2"] and batch.audio_lengths.tolist() == lengths
    assert batch.audio.dtype == torch.float32 and batch.audio.shape == (3, 16000)
    for row, (path, n) in enumerate(zip(paths, lengths, strict=True)):
        source, rate = sf.read(str(path), dtype="float32")
        assert rate == 16000 and len(source) == n
        assert torch.equal(batch.audio[row, :n], torch.from_numpy(source)), path.name
        assert torch.count_nonzero(batch.audio[row, n:]) == 0, path.name
    assert batch.duration == pytest.approx(sum(lengths) / 16000)
    moved = batch.to("cpu")
    assert torch.equal(moved.audio, batch.audio) and moved.cut_ids == batch.cut_ids


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # audioread, tried on the broken file
def test_bad_cuts_are_dropped_and_counted(mixed_cuts):
    dataset = AudioDataset(min_samples=400)
    batch = dataset[mixed_cuts]
    assert batch.cut_ids == ["good1", "good2"]
    assert batch.audio.dtype == torch.float32 and batch.audio.shape == (2, 8000)
    assert batch.audio_lengths.tolist() == [8000, 4800]
    assert torch.all(batch.audio[1, 4800:] == 0)
    assert batch.targets == {}
    assert dataset.skipped["non-finite samples"] == 1
    assert dataset.skipped["silent"] == 1
    assert dataset.skipped["too short"] == 1
    assert sum(n for r, n in dataset.skipped.items() if r.startswith("unreadable audio")) == 1

    # A batch of bad cuts only is None, counted as an empty batch.
    bad = mixed_cuts.filter(lambda c: c.id in {"nan", "silent"}).to_eager()
    assert dataset[bad] is None
    assert dataset.skipped["empty batch"] == 1
    assert dataset.skipped["silent"] == 2


def test_hubert_labels_are_padded_with_minus_100(tmp_path):
    cuts = [
        _recording(tmp_path / "a.wav", _tone(1.0)).to_cut(),
        _recording(tmp_path / "b.wav", _tone(0.5)).to_cut(),
    ]
    labelled = CutSet.from_cuts(
        c.attach_tensor(
            "hubert_labels",
            np.arange(round(c.duration / 0.02), dtype=np.int64) % 7,
            frame_shift=0.02,
            temporal_dim=0,
        )
        for c in cuts
    )
    batch = AudioDataset()[labelled]
    labels = batch.targets["hubert_labels"]
    assert labels.dtype == torch.int64 and labels.shape == (2, 50)
    assert labels[0].tolist() == [i % 7 for i in range(50)]
    assert labels[1, :25].tolist() == [i % 7 for i in range(25)] and torch.all(labels[1, 25:] == -100)
    # Labels follow a cut that is truncated (lhotse slices temporal arrays with the audio).
    half = labelled[0].truncate(offset=0.2, duration=0.4)
    assert AudioDataset()[CutSet.from_cuts([half])].targets["hubert_labels"][0].tolist() == [
        i % 7 for i in range(10, 30)
    ]


def test_pretraining_cuts_trim_split_drop_and_resample(tmp_path):
    long = _recording(tmp_path / "long.flac", _tone(20.0), subtype="PCM_16")
    plain = _recording(tmp_path / "plain.flac", _tone(2.0, sr=8000), sr=8000, subtype="PCM_16")
    sups = [
        SupervisionSegment("long-0", "long", start=0.5, duration=1.5),
        SupervisionSegment("long-1", "long", start=2.2, duration=0.5),  # too short: dropped
        SupervisionSegment("long-2", "long", start=3.0, duration=17.0),  # > 15.6 s: two 8.5 s windows
    ]
    cuts = CutSet.from_cuts(
        list(
            CutSet.from_manifests(
                recordings=RecordingSet.from_recordings([long]),
                supervisions=SupervisionSet.from_segments(sups),
            )
        )
        + [plain.to_cut()]
    )
    out = pretraining_cuts(cuts, max_duration=15.6, min_duration=1.0)
    got = {c.id: c for c in out}
    assert sorted(got) == ["long-0", "long-2_0", "long-2_1", "plain"]
    assert got["long-0"].duration == pytest.approx(1.5)
    assert got["long-2_0"].duration == pytest.approx(8.5) and got["long-2_1"].start == pytest.approx(11.5)
    assert all(c.sampling_rate == 16000 for c in out)
    assert got["plain"].load_audio().shape == (1, 32000)
    assert [c.id for c in out] == [c.id for c in pretraining_cuts(cuts)]  # deterministic ids and order
    # The dataset reads them.
    batch = AudioDataset()[CutSet.from_cuts([got["long-0"], got["plain"]])]
    assert batch.audio_lengths.tolist() == [24000, 32000]


def test_empty_manifest_is_an_error_naming_the_file(tmp_path):
    path = tmp_path / "librilight_cuts_small.jsonl.gz"
    CutSet.from_cuts([]).to_file(path)
    with pytest.raises(CorpusError, match="librilight_cuts_small.jsonl.gz"):
        load_cuts(path)
    with pytest.raises(CorpusError, match="empty"):
        pretraining_cuts(path)
    with pytest.raises(CorpusError, match="not found.*missing.jsonl.gz"):
        pretraining_cuts(tmp_path / "missing.jsonl.gz")


def test_speaker_balanced_dev_subset_hears_every_speaker():
    # manifest order: all of speaker a, then b, then c (as LibriSpeech manifests are)
    def cut(spk: str, i: int):
        rec = Recording(id=f"{spk}{i}", sources=[], sampling_rate=16000, num_samples=160000, duration=10.0)
        sup = SupervisionSegment(id=rec.id, recording_id=rec.id, start=0, duration=10.0, speaker=spk)
        return MonoCut(id=rec.id, start=0, duration=10.0, channel=0, recording=rec, supervisions=[sup])

    cuts = CutSet.from_cuts(cut(spk, i) for spk in "abc" for i in range(4))
    first_minute = speaker_balanced(cuts, minutes=1.0)
    assert [c.id for c in first_minute] == ["a0", "b0", "c0", "a1", "b1", "c1"]
    assert [c.id for c in speaker_balanced(cuts, count=4)] == ["a0", "b0", "c0", "a1"]
    assert len(speaker_balanced(cuts, count=100)) == 12  # every cut once, none twice
    with pytest.raises(ValueError):
        speaker_balanced(cuts)

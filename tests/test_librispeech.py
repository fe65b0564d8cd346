"""Synthetic LibriSpeech and Libri-light: lhotse's own recipes parse them; our preparation agrees."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest
import soundfile as sf
from lhotse import CutSet, load_manifest
from lhotse.recipes import prepare_librispeech as lhotse_prepare_librispeech
from lhotse.recipes.librilight import _prepare_subset

from asr.data.common import CorpusError
from asr.data.librilight import prepare_librilight
from asr.data.librispeech import prepare_librilight_finetuning, prepare_librispeech

PARTS = ["train-clean-100", "dev-clean", "test-clean", "dev-other", "test-other"]


def test_layout_is_librispeechs(tiny_librispeech: Path):
    assert sorted(p.name for p in tiny_librispeech.iterdir() if p.is_dir()) == sorted(PARTS)
    for trans in tiny_librispeech.rglob("*.trans.txt"):
        spk, chapter = trans.name.split(".")[0].split("-")
        assert trans.parent.name == chapter and trans.parent.parent.name == spk
        for line in trans.read_text().splitlines():
            utt, text = line.split(" ", 1)
            assert utt.startswith(f"{spk}-{chapter}-") and text == text.upper()
            info = sf.info(str(trans.parent / f"{utt}.flac"))
            assert info.samplerate == 16000 and info.channels == 1 and info.format == "FLAC"


def test_lhotse_recipe_parses_it_and_durations_round_trip(tiny_librispeech: Path):
    manifests = lhotse_prepare_librispeech(tiny_librispeech, dataset_parts=PARTS)
    assert set(manifests) == set(PARTS)
    texts = {
        line.split(" ", 1)[0]: line.split(" ", 1)[1]
        for t in tiny_librispeech.rglob("*.trans.txt")
        for line in t.read_text().splitlines()
    }
    for part in PARTS:
        recs, sups = manifests[part]["recordings"], manifests[part]["supervisions"]
        assert len(recs) > 0
        for sup in sups:
            assert sup.text == texts[sup.id]
            rec = recs[sup.recording_id]
            assert abs(rec.duration - sf.info(rec.sources[0].source).duration) < 1e-3
            assert rec.load_audio().shape[1] == rec.num_samples


def test_dev_test_text_and_speakers_are_unseen_in_training(tiny_librispeech: Path):
    def read(part):
        lines = [
            line
            for t in (tiny_librispeech / part).rglob("*.trans.txt")
            for line in t.read_text().splitlines()
        ]
        return {line.split(" ", 1)[1] for line in lines}, {line.split("-")[0] for line in lines}

    train_text, train_spk = read("train-clean-100")
    for part in PARTS[1:]:
        text, spk = read(part)
        assert not spk & train_spk
        assert not text & train_text


def test_prepare_writes_manifests_that_load(tiny_librispeech: Path, tmp_path: Path):
    summary = prepare_librispeech(tiny_librispeech, tmp_path)
    assert not summary.skipped and set(summary.prepared) == set(PARTS)
    cuts = CutSet.from_file(tmp_path / "librispeech_cuts_dev-clean.jsonl.gz")
    assert len(cuts) == summary.prepared["dev-clean"]
    assert all(c.supervisions[0].text for c in cuts)


def test_same_seed_same_bytes_other_seed_other_corpus(tiny_librispeech: Path, tmp_path: Path):
    from data_prep.librispeech import synth_librispeech

    a = prepare_librispeech(tiny_librispeech, tmp_path / "a")
    again = synth_librispeech(tmp_path / "again", "tiny", seed=0, num_jobs=2)  # other worker split
    # same seed: identical audio and transcripts, file by file
    files = sorted(p.relative_to(tiny_librispeech) for p in tiny_librispeech.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for rel in files:
        assert (tiny_librispeech / rel).read_bytes() == (again / rel).read_bytes(), rel
    # and preparing the same corpus twice gives byte-identical manifests
    b = prepare_librispeech(tiny_librispeech, tmp_path / "b")
    assert a.prepared == b.prepared
    for m in (tmp_path / "a").iterdir():
        assert m.read_bytes() == (tmp_path / "b" / m.name).read_bytes(), m.name
    other = synth_librispeech(tmp_path / "other", "tiny", seed=1)
    texts = [sorted(p.read_text() for p in root.rglob("*.trans.txt")) for root in (tiny_librispeech, other)]
    assert texts[0] != texts[1]


def _corrupt_copy(src: Path, dst: Path) -> dict[str, Path]:
    shutil.copytree(src, dst)
    flacs = sorted(dst.joinpath("train-clean-100").rglob("*.flac"))
    flacs[0].write_bytes(b"")  # empty file
    flacs[1].write_bytes(b"fLaC" + b"\x00" * 50)  # corrupt header
    trans = sorted(dst.joinpath("dev-clean").rglob("*.trans.txt"))[0]
    lines = trans.read_text().splitlines()
    utt = lines[0].split()[0]
    trans.write_text("\n".join([utt] + lines[1:]) + "\n")  # empty transcript
    return {"empty": flacs[0], "corrupt": flacs[1], "no_text": trans}


def test_bad_inputs_are_skipped_and_reported(tiny_librispeech: Path, tmp_path: Path):
    bad = _corrupt_copy(tiny_librispeech, tmp_path / "LibriSpeech")
    summary = prepare_librispeech(tmp_path / "LibriSpeech", tmp_path / "out")
    reasons = dict(summary.skipped)
    assert reasons[str(bad["empty"])] == "empty audio file"
    assert reasons[str(bad["corrupt"])].startswith("unreadable audio")
    assert any(p.startswith(str(bad["no_text"])) and "empty transcript" in r for p, r in summary.skipped)
    assert len(summary.skipped) == 3
    report = summary.report()
    assert "skipped 3 item(s)" in report and str(bad["empty"]) in report
    ok = prepare_librispeech(tiny_librispeech, tmp_path / "clean")
    assert summary.prepared["train-clean-100"] == ok.prepared["train-clean-100"] - 2
    assert summary.prepared["dev-clean"] == ok.prepared["dev-clean"] - 1


def test_missing_corpus_is_a_one_line_error(tmp_path: Path):
    with pytest.raises(CorpusError, match=str(tmp_path / "nope")):
        prepare_librispeech(tmp_path / "nope", tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match="no LibriSpeech parts"):
        prepare_librispeech(tmp_path / "empty", tmp_path / "out")


def test_librilight_unlabelled_parses_with_lhotse(tiny_librilight: Path, tmp_path: Path):
    recordings, supervisions = _prepare_subset("small", tiny_librilight)
    assert len(recordings) > 0 and len(supervisions) > len(recordings)
    for sup in supervisions:
        assert 0 <= sup.start and sup.end <= recordings[sup.recording_id].duration + 1e-6
    summary = prepare_librilight(tiny_librilight, tmp_path)
    assert summary.prepared["small"] == len(supervisions)
    assert len(load_manifest(tmp_path / "librilight_recordings_small.jsonl.gz")) == len(recordings)


def test_librilight_bad_side_file_is_skipped(tiny_librilight: Path, tmp_path: Path):
    copy = tmp_path / "ll"
    shutil.copytree(tiny_librilight / "small", copy / "small")
    victim = sorted(copy.rglob("*.json"))[0]
    victim.write_text("{not json")
    summary = prepare_librilight(copy, tmp_path / "out")
    assert [p for p, _ in summary.skipped] == [str(victim.with_suffix(".flac"))]
    assert "not valid JSON" in summary.skipped[0][1]


def test_finetuning_splits_nest_like_the_release(tiny_librilight: Path, tmp_path: Path):
    ft = tiny_librilight / "librispeech_finetuning"
    assert sorted(p.name for p in (ft / "1h").iterdir()) == [str(i) for i in range(6)]
    assert sorted(p.name for p in (ft / "9h").iterdir()) == ["clean", "other"]
    prepare_librilight_finetuning(ft, tmp_path)
    ids = {
        s: {c.id for c in load_manifest(tmp_path / f"librispeech_finetuning_supervisions_{s}.jsonl.gz")}
        for s in ("10min", "1h", "10h")
    }
    assert ids["10min"] < ids["1h"] < ids["10h"]
    dur = {
        s: sum(c.duration for c in CutSet.from_file(tmp_path / f"librispeech_finetuning_cuts_{s}.jsonl.gz"))
        for s in ("10min", "1h")
    }
    assert 5 < dur["1h"] / dur["10min"] < 7  # six folds of equal size


def test_manifest_gzip_has_no_timestamp(tiny_librispeech: Path, tmp_path: Path):
    prepare_librispeech(tiny_librispeech, tmp_path, parts=["dev-clean"])
    raw = (tmp_path / "librispeech_cuts_dev-clean.jsonl.gz").read_bytes()
    assert raw[4:8] == b"\x00\x00\x00\x00"  # gzip MTIME field
    assert gzip.decompress(raw).count(b"\n") > 0

"""``asr pretrain`` and ``asr hubert-kmeans``: every objective through the CLI, resume, one-line user errors, and
Lhotse Shar folders as input (the same audio as the manifest; shards dealt out by rank under torchrun)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from conftest import run_cli as asr
from conftest import tiny_encoder_settings, torchrun_asr, write_tone_cuts
from lhotse import CutSet

from asr.cli import pretrain as pretrain_cli
from asr.training import load_checkpoint

# conftest's ~60 k-parameter encoder and a few steps: each run takes seconds on one CPU thread.
TINY = {
    "model": tiny_encoder_settings(),
    "objective": {},
    "train": {
        "max_duration": 6.0,
        "lr": 2e-3,
        "warmup_steps": 1,
        "checkpoint_every": 2,
        "log_every": 1,
        "device": "cpu",
        "num_buckets": 2,
    },
}
OBJECTIVE_SETTINGS = {  # keep every objective cheap: fewer distractors / copies than the papers
    "wav2vec2": {"num_negatives": 10},
    "hubert": {},
    "data2vec": {"top_k": 2},
    "data2vec2": {"top_k": 2, "num_copies": 2},
}


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def cuts_path(tmp_path_factory) -> Path:
    """Ten 1.5-2.5 s cuts."""
    return write_tone_cuts(tmp_path_factory.mktemp("audio"), 10, 1.5, 2.5)


def settings_file(path: Path, which: str = "wav2vec2", **extra) -> Path:
    """TINY plus ``which`` objective's settings; ``extra`` updates sections (model=..., train=...)."""
    settings = {section: dict(values) for section, values in TINY.items()}
    settings["objective"].update(OBJECTIVE_SETTINGS[which])
    for section, values in extra.items():
        settings[section].update(values)
    path.write_text(yaml.safe_dump(settings))
    return path


def test_cli_choices_are_the_librarys():
    from asr.models import encoder
    from asr.objectives import OBJECTIVES

    assert pretrain_cli.OBJECTIVES == OBJECTIVES
    assert pretrain_cli.FRONTENDS == encoder.FRONTENDS and pretrain_cli.BODIES == encoder.BODIES
    assert pretrain_cli.SIZES == tuple(encoder._PRESETS)


@pytest.mark.parametrize("objective", ["wav2vec2", "data2vec", "data2vec2"])
def test_pretrain_runs_writes_settings_and_resumes(tmp_path, cuts_path, objective):
    conf = settings_file(tmp_path / "conf.yaml", objective)
    exp = tmp_path / "exp"
    code, out = asr(
        "pretrain",
        "--objective",
        objective,
        "--cuts",
        cuts_path,
        "--exp-dir",
        exp,
        "--config",
        conf,
        "--max-steps",
        2,
        "--no-progress",
    )
    assert code == 0, out
    assert "step 2 (resumed from 0)" in out
    written = yaml.safe_load((exp / "pretrain.yaml").read_text())
    assert written["objective"] == objective and written["model"]["dim"] == 32
    assert written["train"]["max_steps"] == 2 and written["train"]["lr"] == 2e-3  # option beats file
    # A second call with more steps continues from the checkpoint.
    code, out = asr(
        "pretrain",
        "--objective",
        objective,
        "--cuts",
        cuts_path,
        "--exp-dir",
        exp,
        "--config",
        conf,
        "--max-steps",
        3,
        "--no-progress",
    )
    assert code == 0 and "step 3 (resumed from 2)" in out, out
    final = load_checkpoint(exp / "encoder.pt")
    assert final["objective"] == objective and final["step"] == 3
    # The encoder it wrote loads strictly into a fresh Encoder (what fine-tuning does).
    from asr.models import load_encoder

    encoder = load_encoder(exp / "encoder.pt")
    assert encoder.cfg.dim == 32
    assert torch.equal(encoder.state_dict()["mask_embedding"], final["encoder"]["mask_embedding"])


def test_hubert_two_iterations_through_the_cli(tmp_path, cuts_path):
    conf = settings_file(tmp_path / "conf.yaml", "hubert")
    it1, it2 = tmp_path / "iter1", tmp_path / "iter2"
    code, out = asr(
        "hubert-kmeans",
        "fit",
        "--cuts",
        cuts_path,
        "--features",
        "mfcc",
        "-k",
        8,
        "--n-init",
        2,
        "--out",
        it1 / "centres.npz",
    )
    assert code == 0 and "8 centres of dimension 39" in out, out
    code, out = asr(
        "hubert-kmeans",
        "label",
        "--cuts",
        cuts_path,
        "--centres",
        it1 / "centres.npz",
        "--out-dir",
        it1 / "labels",
    )
    assert code == 0 and "labelled 10 cuts" in out, out
    labelled = it1 / "labels" / "cuts.jsonl.gz"
    # Wrong k for the labels: refused before training, naming the manifest and the fix.
    code, out = asr(
        "pretrain",
        "--objective",
        "hubert",
        "--cuts",
        labelled,
        "--exp-dir",
        tmp_path / "bad",
        "--config",
        conf,
        "--num-clusters",
        2,
        "--max-steps",
        1,
        "--no-progress",
    )
    assert code == 2 and "--num-clusters" in out and str(labelled) in out, out
    code, out = asr(
        "pretrain",
        "--objective",
        "hubert",
        "--cuts",
        labelled,
        "--exp-dir",
        it1 / "exp",
        "--config",
        conf,
        "--num-clusters",
        8,
        "--max-steps",
        2,
        "--no-progress",
    )
    assert code == 0, out
    # Iteration 2 clusters block 1 of the iteration-1 encoder (32 dimensions).
    code, out = asr(
        "hubert-kmeans",
        "fit",
        "--cuts",
        cuts_path,
        "--features",
        it1 / "exp" / "encoder.pt",
        "--layer",
        1,
        "-k",
        12,
        "--n-init",
        2,
        "--out",
        it2 / "centres.npz",
    )
    assert code == 0 and "12 centres of dimension 32" in out, out
    code, out = asr(
        "hubert-kmeans",
        "label",
        "--cuts",
        cuts_path,
        "--centres",
        it2 / "centres.npz",
        "--features",
        it1 / "exp" / "encoder.pt",
        "--layer",
        1,
        "--out-dir",
        it2 / "labels",
    )
    assert code == 0, out
    code, out = asr(
        "pretrain",
        "--objective",
        "hubert",
        "--cuts",
        it2 / "labels" / "cuts.jsonl.gz",
        "--exp-dir",
        it2 / "exp",
        "--config",
        conf,
        "--num-clusters",
        12,
        "--max-steps",
        2,
        "--no-progress",
    )
    assert code == 0 and "step 2" in out, out


def test_user_mistakes_are_one_line_errors(tmp_path, cuts_path):
    conf = settings_file(tmp_path / "conf.yaml")
    exp = tmp_path / "exp"
    base = ("pretrain", "--objective", "wav2vec2", "--cuts", cuts_path, "--exp-dir", exp, "--no-progress")

    bad = settings_file(tmp_path / "bad.yaml", train={"max_stepz": 3})
    code, out = asr(*base, "--config", bad)
    assert code == 2 and "bad.yaml" in out and "max_stepz" in out, out

    bad = settings_file(tmp_path / "bad_obj.yaml", objective={"mask_prob": -1.0})
    code, out = asr(*base, "--config", bad)
    assert code == 2 and "objective" in out and "mask_prob" in out, out

    bad = tmp_path / "sections.yaml"
    bad.write_text("modle: {dim: 8}\n")
    code, out = asr(*base, "--config", bad)
    assert code == 2 and "modle" in out, out

    code, out = asr(
        "pretrain",
        "--objective",
        "wav2vec2",
        "--cuts",
        tmp_path / "none.jsonl.gz",
        "--exp-dir",
        exp,
        "--config",
        conf,
    )
    assert code == 2 and "none.jsonl.gz" in out, out

    code, out = asr(
        "pretrain",
        "--objective",
        "hubert",
        "--cuts",
        cuts_path,
        "--exp-dir",
        exp,
        "--config",
        settings_file(tmp_path / "hubert.yaml", "hubert"),
        "--max-steps",
        1,
    )
    assert code == 2 and "hubert_labels" in out and "asr hubert-kmeans label" in out, out

    code, out = asr(*base, "--config", conf, "--max-steps", 1)
    assert code == 0, out
    code, out = asr(*base, "--config", conf, "--max-steps", 2, "--no-resume")
    assert code == 2 and "checkpoint" in out.lower(), out
    # Another objective in the same experiment folder is refused by the checkpoint check.
    code, out = asr(
        "pretrain",
        "--objective",
        "data2vec",
        "--cuts",
        cuts_path,
        "--exp-dir",
        exp,
        "--config",
        settings_file(tmp_path / "d2v.yaml", "data2vec"),
        "--max-steps",
        2,
    )
    assert code == 2 and "wav2vec2" in out, out

    code, out = asr(
        "hubert-kmeans",
        "fit",
        "--cuts",
        cuts_path,
        "--features",
        tmp_path / "no.pt",
        "--out",
        tmp_path / "c.npz",
    )
    assert code == 2 and "no.pt" in out, out
    assert "Traceback" not in out


def test_pretrain_under_torchrun_with_two_cpu_ranks(tmp_path, cuts_path):
    exp = tmp_path / "exp"
    cmd = torchrun_asr(
        "pretrain",
        "--objective",
        "data2vec",
        "--cuts",
        str(cuts_path),
        "--exp-dir",
        str(exp),
        "--config",
        str(settings_file(tmp_path / "c.yaml", "data2vec")),
        "--max-steps",
        "2",
        "--device",
        "cpu",
        "--no-progress",
    )
    # Each worker ends with os._exit, skipping interpreter finalisation (asr/cli/__main__.py says why):
    # an atexit hook, planted through sitecustomize, must not run.
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import atexit, os, pathlib\n"
        "if 'TORCHELASTIC_RUN_ID' in os.environ:\n"
        "    atexit.register(lambda: pathlib.Path(os.environ['ATEXIT_DIR'], os.environ['RANK']).touch())\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(site), "ATEXIT_DIR": str(tmp_path)}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("data2vec: step 2 (resumed from 0)") == 2  # one line per rank
    state = load_checkpoint(exp / "checkpoint-2.pt")
    assert (
        state["data"]["world_size"] == 2
        and (exp / "encoder.pt").exists()
        and (exp / "pretrain.yaml").exists()
    )
    assert not (tmp_path / "0").exists() and not (tmp_path / "1").exists()
    # ... and keeps the command's exit status: a user error is still status 2 with its one-line message
    cmd[cmd.index("--cuts") + 1] = str(tmp_path / "none.jsonl.gz")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode != 0 and "exitcode: 2" in proc.stderr, proc.stderr[-3000:]
    assert (
        "Error: cut manifest not found" in proc.stderr and "Traceback" not in proc.stderr.split("exitcode")[0]
    )


# -- Lhotse Shar folders as --cuts ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shar_dir(tmp_path_factory, cuts_path) -> Path:
    """The ten tone cuts' pretraining windows exported to Lhotse Shar: 4 shards (3 + 3 + 3 + 1), FLAC audio."""
    from asr.data.dataset import pretraining_cuts

    out = tmp_path_factory.mktemp("shar")
    pretraining_cuts(cuts_path).to_shar(out, fields={"recording": "flac"}, shard_size=3)
    return out


def test_a_shar_folder_reads_the_audio_the_manifest_does(shar_dir, cuts_path):
    from asr.data.dataset import AudioDataset, pretraining_cuts

    assert len(list(shar_dir.glob("cuts.*.jsonl.gz"))) == len(list(shar_dir.glob("recording.*.tar"))) == 4
    manifest = {c.id: c for c in pretraining_cuts(cuts_path)}
    shar = list(pretraining_cuts(shar_dir))
    assert [c.id for c in shar] == list(manifest)  # the export's order, every window once
    for cut in shar:
        assert cut.recording.sources[0].type == "memory"  # read from the shard, not the original file
        assert np.array_equal(cut.load_audio(), manifest[cut.id].load_audio())  # 16-bit FLAC both ways
    batch = AudioDataset()[CutSet.from_cuts(shar[:2])]
    assert batch.cut_ids == [c.id for c in shar[:2]]
    want = np.concatenate([manifest[c.id].load_audio()[0] for c in shar[:2]])
    got = torch.cat([batch.audio[i, :n] for i, n in enumerate(batch.audio_lengths.tolist())]).numpy()
    assert np.array_equal(got, want)


def test_shar_shards_are_dealt_out_by_rank(shar_dir, tmp_path):
    from asr.data.common import CorpusError
    from asr.data.dataset import pretraining_cuts

    every = [c.id for c in pretraining_cuts(shar_dir)]
    ranks = [[c.id for c in pretraining_cuts(shar_dir, rank=r, world_size=2)] for r in (0, 1)]
    assert len(ranks[0]) == 6 and len(ranks[1]) == 4  # shards 0 and 2, shards 1 and 3
    assert sorted(ranks[0] + ranks[1]) == sorted(every)
    with pytest.raises(CorpusError, match="4 Lhotse Shar shards, fewer than the 5 ranks"):
        pretraining_cuts(shar_dir, rank=0, world_size=5)
    with pytest.raises(CorpusError, match=f"no Lhotse Shar shards .* in {tmp_path}"):
        pretraining_cuts(tmp_path)
    cut_short = tmp_path / "cut_short"
    cut_short.mkdir()
    for path in shar_dir.iterdir():
        if path.name != "recording.000003.tar":
            (cut_short / path.name).write_bytes(path.read_bytes())
    with pytest.raises(CorpusError, match="3 recording shards for 4 cuts shards"):
        pretraining_cuts(cut_short)


def test_ranks_with_their_own_shards_take_every_batch_of_their_stream():
    from itertools import islice

    from asr.training.data import resume_stream

    class Sampler:  # epochs of 3 batches named by (epoch, index), like a lhotse sampler after set_epoch
        epoch = 0

        def set_epoch(self, epoch: int) -> None:
            self.epoch = epoch

        def __iter__(self):
            return iter([f"{self.epoch}.{i}" for i in range(3)])

    take = lambda stream, n: [b for b, _ in islice(stream, n)]  # noqa: E731
    assert take(resume_stream(Sampler(), None, 1, 1, 2, own_cuts=True), 4) == ["0.0", "0.1", "0.2", "1.0"]
    last = [(0, 1), (1, 0)]  # each rank's last consumed batch of its own stream
    assert take(resume_stream(Sampler(), last, 2, 0, 2, own_cuts=True), 2) == ["0.2", "1.0"]
    assert take(resume_stream(Sampler(), last, 2, 1, 2, own_cuts=True), 2) == ["1.1", "1.2"]
    # another world size deals the shards out anew: the run goes on with the next epoch
    assert take(resume_stream(Sampler(), last, 2, 0, 4, own_cuts=True), 1) == ["2.0"]


def test_pretrain_on_a_shar_folder_and_its_errors(tmp_path, shar_dir):
    conf = settings_file(tmp_path / "conf.yaml", "data2vec")
    exp = tmp_path / "exp"
    code, out = asr(
        "pretrain",
        "--objective",
        "data2vec",
        "--cuts",
        shar_dir,
        "--exp-dir",
        exp,
        "--config",
        conf,
        "--max-steps",
        2,
        "--no-progress",
    )
    assert code == 0 and "step 2 (resumed from 0)" in out, out
    written = yaml.safe_load((exp / "pretrain.yaml").read_text())
    assert written["cuts"] == str(shar_dir) and written["cuts_format"] == "shar"
    empty = tmp_path / "empty"
    empty.mkdir()
    code, out = asr(
        "pretrain",
        "--objective",
        "data2vec",
        "--cuts",
        empty,
        "--exp-dir",
        tmp_path / "e",
        "--config",
        conf,
        "--max-steps",
        1,
    )
    assert code == 2 and f"Error: no Lhotse Shar shards (cuts.000000.jsonl.gz, ...) in {empty}" in out, out
    assert "Traceback" not in out


def test_pretrain_on_a_shar_folder_under_torchrun_reads_each_shard_once(tmp_path, shar_dir):
    exp = tmp_path / "exp"
    cmd = torchrun_asr(
        "pretrain",
        "--objective",
        "data2vec",
        "--cuts",
        str(shar_dir),
        "--exp-dir",
        str(exp),
        "--config",
        str(settings_file(tmp_path / "c.yaml", "data2vec")),
        "--max-steps",
        "2",
        "--device",
        "cpu",
        "--no-progress",
    )
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("data2vec: step 2 (resumed from 0)") == 2
    for rank in (0, 1):
        assert f"reading Lhotse Shar: 2 of 4 shards (rank {rank} of 2) from {shar_dir}" in proc.stderr
    assert load_checkpoint(exp / "checkpoint-2.pt")["data"]["world_size"] == 2

"""The training loop with a toy objective: learning, exact resume after SIGKILL, DDP = accumulation, checkpoints."""

from __future__ import annotations

import math
import multiprocessing
import os
import signal
from dataclasses import dataclass, replace

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import write_tone_cuts
from lhotse import CutSet, Recording
from torch import nn

from asr.data.common import CorpusError
from asr.data.dataset import Batch
from asr.objectives.base import LossOutput, Objective
from asr.training import CheckpointError, TrainConfig, load_checkpoint, lr_scale, run_distributed, train

WIN, HOP = 400, 320  # 25 ms windows every 20 ms


@dataclass
class ToyConfig:
    channels: int = 8
    dropout: float = 0.1


class ToyEncoder(nn.Module):
    frame_shift = 0.02
    min_samples = WIN

    def __init__(self, cfg: ToyConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.conv = nn.Conv1d(1, cfg.channels, WIN, stride=HOP)


class ToyObjective(Objective):
    """Predict each frame's log energy from a strided conv; dropout exercises the loop's reseeding."""

    name = "toy"

    def __init__(self, cfg: ToyConfig | None = None, extra: bool = False) -> None:
        super().__init__()
        cfg = cfg or ToyConfig()
        self.encoder = ToyEncoder(cfg)
        self.drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(cfg.channels, 1)
        if extra:
            self.extra = nn.Linear(2, 2)
        self.kill_at: int | None = None  # SIGKILL this process after that optimiser step
        self.nan_at: int | None = None  # return a NaN loss in that step
        self.steps_seen: list[int] = []

    def forward(self, batch: Batch) -> LossOutput:
        x = torch.relu(self.encoder.conv(batch.audio.unsqueeze(1))).transpose(1, 2)
        pred = self.head(self.drop(x)).squeeze(-1)
        target = batch.audio.unfold(1, WIN, HOP).pow(2).mean(-1).add(1e-4).log() / 5 + 1
        frames = (batch.audio_lengths - WIN) // HOP + 1
        mask = torch.arange(pred.shape[1]) < frames[:, None]
        loss = ((pred - target) ** 2 * mask).sum() / mask.sum()
        if self.nan_at == len(self.steps_seen) + 1:
            loss = loss * float("nan")
        return LossOutput(loss, int(mask.sum()), {"frames": float(mask.sum())})

    def step_end(self, step: int) -> None:
        self.steps_seen.append(step)
        if step == self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)


def _objective(**kwargs) -> ToyObjective:
    torch.manual_seed(0)
    return ToyObjective(**kwargs)


@pytest.fixture(scope="module")
def cuts_file(tmp_path_factory) -> str:
    """24 cuts of 0.3-1.2 s."""
    return str(write_tone_cuts(tmp_path_factory.mktemp("audio"), 24, 0.3, 1.2))


def _cfg(exp_dir, **kw) -> TrainConfig:
    base = dict(
        exp_dir=str(exp_dir),
        max_steps=8,
        max_duration=1.5,
        lr=3e-3,
        warmup_steps=2,
        checkpoint_every=2,
        keep_last=2,
        log_every=2,
        device="cpu",
        num_buckets=2,
        progress=False,
    )
    return TrainConfig(**{**base, **kw})


def _run(cuts_file: str, cfg: TrainConfig, threads: int, kill_at: int | None = None):
    """Train a fresh toy objective (picklable entry point for spawned processes)."""
    torch.set_num_threads(threads)
    objective = _objective()
    objective.kill_at = kill_at
    return train(objective, CutSet.from_file(cuts_file), cfg)


def test_lr_schedules():
    cfg = TrainConfig(max_steps=100, warmup_steps=10, schedule="linear")
    assert lr_scale(0, cfg) == pytest.approx(0.1) and lr_scale(9, cfg) == 1.0
    assert lr_scale(55, cfg) == pytest.approx(0.5) and lr_scale(100, cfg) == 0.0
    cos = replace(cfg, schedule="cosine")
    assert lr_scale(55, cos) == pytest.approx(0.5) and lr_scale(100, cos) == pytest.approx(0.0)
    tri = replace(cfg, schedule="tri_stage")  # 10 warm-up, 40 hold, 50 decay
    assert lr_scale(0, tri) == pytest.approx(0.01) and lr_scale(10, tri) == 1.0 and lr_scale(49, tri) == 1.0
    assert lr_scale(75, tri) == pytest.approx(math.sqrt(0.05)) and lr_scale(100, tri) == pytest.approx(0.05)
    with pytest.raises(ValueError, match="schedule"):
        TrainConfig(schedule="step")


def test_loss_falls_nan_step_skipped_and_files_written(tmp_path, cuts_file):
    objective = _objective()
    objective.nan_at = 5
    cfg = _cfg(tmp_path / "exp", max_steps=30, lr=2e-2, warmup_steps=3, checkpoint_every=10)
    result = train(objective, CutSet.from_file(cuts_file), cfg)
    assert result.step == 30 and sorted(result.losses) == list(range(1, 31))
    first, last = (
        np.mean([result.losses[s] for s in (1, 2, 3)]),
        np.mean([result.losses[s] for s in (28, 29, 30)]),
    )
    assert last < 0.5 * first
    assert math.isnan(result.losses[5]) and result.skipped_updates == {"non-finite loss": 1}
    assert all(torch.isfinite(p).all() for p in objective.parameters())
    assert objective.steps_seen == list(range(1, 31))  # step_end after every step
    exp = tmp_path / "exp"
    assert sorted(p.name for p in exp.glob("checkpoint-*.pt")) == ["checkpoint-20.pt", "checkpoint-30.pt"]
    state = load_checkpoint(exp / "checkpoint-30.pt")  # weights_only=True
    assert state["step"] == 30 and state["objective"] == "toy"
    assert state["encoder_config"] == {"channels": 8, "dropout": 0.1}
    assert set(state) >= {"model", "optimizer", "scheduler", "scaler", "rng", "data", "config"}
    enc = torch.load(exp / "encoder.pt", weights_only=True)
    assert set(enc["encoder"]) == {"conv.weight", "conv.bias"} and enc["encoder_config"]["channels"] == 8
    assert list((exp / "tensorboard").iterdir()) and not list(exp.glob(".*.tmp"))
    # Running again finds the final checkpoint and does nothing more.
    again = train(_objective(), CutSet.from_file(cuts_file), cfg)
    assert again.step == 30 and again.losses == {} and again.resumed_from == 30


def test_max_seconds_stops_with_a_checkpoint_and_a_rerun_goes_on(tmp_path, cuts_file):
    cfg = _cfg(tmp_path / "exp", max_steps=8, checkpoint_every=100, max_seconds=1e-9)
    first = train(_objective(), CutSet.from_file(cuts_file), cfg)
    assert first.step == 1 and first.audio_seconds > 0 and first.train_seconds > 0
    assert (tmp_path / "exp" / "checkpoint-1.pt").exists() and (tmp_path / "exp" / "encoder.pt").exists()
    rest = train(_objective(), CutSet.from_file(cuts_file), replace(cfg, max_seconds=0.0))
    assert rest.resumed_from == 1 and rest.step == 8 and sorted(rest.losses) == list(range(2, 9))
    reference = train(
        _objective(),
        CutSet.from_file(cuts_file),
        replace(cfg, exp_dir=str(tmp_path / "ref"), max_seconds=0.0),
    )
    assert rest.losses == {s: v for s, v in reference.losses.items() if s > 1}


def test_killed_run_resumes_exactly(tmp_path, cuts_file):
    threads = torch.get_num_threads()
    reference = _run(cuts_file, _cfg(tmp_path / "ref"), threads)
    # SIGKILL after step 5: checkpoint-4 is the newest on disk.
    ctx = multiprocessing.get_context("spawn")
    proc = ctx.Process(target=_run, args=(cuts_file, _cfg(tmp_path / "exp"), threads, 5))
    proc.start()
    proc.join(120)
    assert proc.exitcode == -signal.SIGKILL
    assert sorted(p.name for p in (tmp_path / "exp").glob("checkpoint-*.pt")) == [
        "checkpoint-2.pt",
        "checkpoint-4.pt",
    ]
    # Resume with DataLoader workers prefetching ahead: the stored data position is what was consumed.
    resumed = _run(cuts_file, _cfg(tmp_path / "exp", num_workers=2), threads)
    assert resumed.resumed_from == 4 and sorted(resumed.losses) == [5, 6, 7, 8]
    assert resumed.losses == {s: reference.losses[s] for s in (5, 6, 7, 8)}  # bitwise
    a = torch.load(tmp_path / "ref" / "encoder.pt", weights_only=True)["encoder"]
    b = torch.load(tmp_path / "exp" / "encoder.pt", weights_only=True)["encoder"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_two_process_ddp_equals_one_process_with_accumulation(tmp_path, cuts_file):
    cfg = _cfg(tmp_path / "ddp", max_steps=4, checkpoint_every=4)
    ranks = run_distributed(_run, 2, cuts_file, cfg, 1)
    single = _run(
        cuts_file, replace(cfg, exp_dir=str(tmp_path / "one"), grad_accum=2), torch.get_num_threads()
    )
    assert ranks[0].losses == ranks[1].losses  # each rank reports the global mean
    assert ranks[0].losses.keys() == single.losses.keys()
    assert np.allclose(list(ranks[0].losses.values()), list(single.losses.values()), rtol=1e-5)
    a = load_checkpoint(tmp_path / "ddp" / "checkpoint-4.pt")
    b = load_checkpoint(tmp_path / "one" / "checkpoint-4.pt")
    assert a["data"]["world_size"] == 2 and len(a["data"]["last"]) == 2
    for k in b["model"]:
        assert torch.allclose(a["model"][k], b["model"][k], rtol=1e-5, atol=1e-6), k


def test_resume_refuses_mismatches(tmp_path, cuts_file):
    cuts = CutSet.from_file(cuts_file)
    cfg = _cfg(tmp_path / "exp", max_steps=2)
    train(_objective(), cuts, cfg)
    with pytest.raises(CheckpointError, match=r"missing keys: extra\.bias, extra\.weight"):
        train(_objective(extra=True), cuts, replace(cfg, max_steps=3))
    with pytest.raises(CheckpointError, match="channels: 8 -> 4"):
        train(_objective(cfg=ToyConfig(channels=4)), cuts, replace(cfg, max_steps=3))
    other = _objective()
    other.name = "other"
    with pytest.raises(CheckpointError, match="objective 'toy', not 'other'"):
        train(other, cuts, replace(cfg, max_steps=3))
    with pytest.raises(CheckpointError, match="already holds checkpoints"):
        train(_objective(), cuts, cfg, resume=False)
    with pytest.raises(CorpusError, match="empty"):
        train(_objective(), CutSet.from_cuts([]), _cfg(tmp_path / "empty"))


class _FakeSampler:
    """Epochs of 5 batches named by (epoch, index), like a lhotse sampler after set_epoch."""

    epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        return iter([f"{self.epoch}.{i}" for i in range(5)])


def test_rank_streams_interleave_the_global_stream_and_resume():
    from itertools import islice

    from asr.training.data import BatchStream, resume_stream

    take = lambda stream, n: [b for b, _ in islice(stream, n)]  # noqa: E731
    glob = take(BatchStream(_FakeSampler()), 12)
    assert glob[4:7] == ["0.4", "1.0", "1.1"]
    r0 = list(islice(resume_stream(_FakeSampler(), None, 1, 0, 2), 6))
    r1 = list(islice(resume_stream(_FakeSampler(), None, 1, 1, 2), 6))
    assert [b for b, _ in r0] == glob[0::2] and [b for b, _ in r1] == glob[1::2]
    # Each rank continues after the last batch it consumed, across the epoch boundary.
    last = [r0[2][1], r1[2][1]]  # (0, 4) and (1, 0)
    assert take(resume_stream(_FakeSampler(), last, 2, 0, 2), 3) == glob[6::2][:3]
    assert take(resume_stream(_FakeSampler(), last, 2, 1, 2), 3) == glob[7::2][:3]
    # Another world size continues the global stream after the furthest batch read.
    assert take(resume_stream(_FakeSampler(), last, 2, 0, 1), 3) == glob[6:9]


def test_precision(tmp_path, cuts_file):
    cuts = CutSet.from_file(cuts_file)
    with pytest.raises(ValueError, match="fp16.*CUDA"):
        train(_objective(), cuts, _cfg(tmp_path / "fp16", precision="fp16", device="cpu"))
    result = train(_objective(), cuts, _cfg(tmp_path / "bf16", precision="bf16", max_steps=2))
    assert all(math.isfinite(v) for v in result.losses.values())


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # lhotse's bucket estimate on two cuts
def test_bad_cuts_are_skipped_and_counted_by_the_loop(tmp_path, cuts_file):
    good = list(CutSet.from_file(cuts_file))[:4]
    nan = np.full(8000, 0.1, dtype=np.float32)
    nan[10] = np.nan
    bad = []
    for name, audio in [("nan", nan), ("silent", np.zeros(8000, dtype=np.float32))]:
        sf.write(str(tmp_path / f"{name}.wav"), audio, 16000, subtype="FLOAT")
        bad.append(Recording.from_file(tmp_path / f"{name}.wav").to_cut())
    result = train(_objective(), CutSet.from_cuts(good + bad), _cfg(tmp_path / "exp", max_steps=6))
    assert result.step == 6 and all(math.isfinite(v) for v in result.losses.values())
    assert result.skipped["non-finite samples"] >= 1 and result.skipped["silent"] >= 1
    with pytest.raises(RuntimeError, match="no usable audio"):
        train(_objective(), CutSet.from_cuts(bad), _cfg(tmp_path / "bad", max_steps=2))

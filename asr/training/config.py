"""The training loop's settings and what a run returns."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

SCHEDULES = ("linear", "cosine", "tri_stage")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


@dataclass
class TrainConfig:
    """Settings of :func:`asr.training.train`; the defaults fit a laptop CPU and a few minutes of audio.

    One optimiser step sees ``grad_accum`` micro-batches on each of the ``world_size`` DDP ranks, each
    micro-batch holding at most ``max_duration`` seconds of audio: the global batch is
    ``max_duration * grad_accum * world_size`` seconds (wav2vec 2.0 BASE: 1.6 h ≈ 64 GPUs x 87.5 s).
    """

    exp_dir: str = "exp/pretrain"
    max_steps: int = 1000
    max_duration: float = 60.0  # seconds of audio per micro-batch (per rank)
    grad_accum: int = 1
    lr: float = 5e-4  # peak learning rate
    betas: tuple[float, float] = (0.9, 0.98)
    eps: float = 1e-6
    weight_decay: float = 0.01  # applied to matrices/kernels only, not to biases, norms or embeddings vectors
    warmup_steps: int = 100
    schedule: str = "linear"  # "linear" | "cosine" (both decay to 0 at max_steps) | "tri_stage"
    tri_stage_ratios: tuple[float, float, float] = (
        0.1,
        0.4,
        0.5,
    )  # warm-up / hold / decay shares of max_steps
    init_lr_scale: float = 0.01  # tri_stage: warm-up starts at lr * init_lr_scale
    final_lr_scale: float = 0.05  # tri_stage: exponential decay ends at lr * final_lr_scale
    clip_norm: float = 10.0  # max global gradient norm; <= 0 turns clipping off (the norm is still logged)
    precision: str = (
        "auto"  # "auto" (bf16 autocast on a GPU that has it, else fp32) | "fp32" | "bf16" | "fp16"
    )
    max_seconds: float = (
        0.0  # stop (with a checkpoint) after the step that reaches this wall time; 0: no limit
    )
    checkpoint_every: int = 500
    keep_last: int = 3  # periodic checkpoints kept; <= 0 keeps all
    log_every: int = 10
    valid_every: int = 0  # updates between learning-curve points when the caller validates; 0: never
    seed: int = 0
    num_workers: int = 0  # DataLoader worker processes reading audio
    device: str = "auto"  # "auto" (CUDA if available) | "cpu" | "cuda"
    shuffle: bool = True
    num_buckets: int = 10  # duration buckets of lhotse's DynamicBucketingSampler
    # DDP: must be True when some parameters get no gradient in a step (layer drop skips whole blocks);
    # None: True when the encoder config has layer_drop > 0 or the objective says it may skip parameters.
    find_unused_parameters: bool | None = None
    progress: bool = True  # tqdm bar on rank 0

    def __post_init__(self) -> None:
        self.exp_dir = str(self.exp_dir)
        self.betas = tuple(self.betas)
        self.tri_stage_ratios = tuple(self.tri_stage_ratios)
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.max_steps < 1 or self.grad_accum < 1 or self.checkpoint_every < 1 or self.log_every < 1:
            raise ValueError("max_steps, grad_accum, checkpoint_every and log_every must be >= 1")
        if self.valid_every < 0:
            raise ValueError(f"valid_every must be >= 0 (0: never), got {self.valid_every}")
        if self.max_seconds < 0:
            raise ValueError(f"max_seconds must be >= 0 (0: no limit), got {self.max_seconds}")
        if self.max_duration <= 0:
            raise ValueError(f"max_duration must be > 0 seconds, got {self.max_duration}")
        if self.schedule == "tri_stage" and abs(sum(self.tri_stage_ratios) - 1.0) > 1e-6:
            raise ValueError(f"tri_stage_ratios must sum to 1, got {self.tri_stage_ratios}")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")


@dataclass
class TrainResult:
    """What :func:`asr.training.train` did (totals over all DDP ranks)."""

    step: int  # optimiser steps done, including those of resumed runs
    losses: dict[int, float] = field(
        default_factory=dict
    )  # step -> mean loss, for the steps run in this call
    skipped: Counter = field(default_factory=Counter)  # dropped cuts and empty batches by reason (all runs)
    skipped_updates: Counter = field(default_factory=Counter)  # steps whose update was skipped, by reason
    resumed_from: int = 0  # step of the checkpoint this call resumed from (0: fresh start)
    audio_seconds: float = 0.0  # audio the steps of this call read (all ranks)
    train_seconds: float = 0.0  # wall time of those steps
    metrics: dict[str, float] = field(
        default_factory=dict
    )  # the objective's metrics at the last step (rank 0)

"""The training loop's settings and what a run returns."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

SCHEDULES = ("linear", "cosine", "tri_stage")


@dataclass
class AugmentConfig:
    """Training-time augmentation with lhotse's own cut transforms (:func:`asr.training.data.augment_cuts`).

    Each transform is applied to a cut with its probability ``p_*`` (0 turns it off): speed perturbation
    (one of ``speed_factors``; lhotse rescales the supervisions with the audio), volume (a scale drawn
    from ``volume_range``), reverberation with lhotse's synthetic room impulse responses (no RIR corpus
    needed) and additive noise at an SNR drawn from ``noise_snr`` (``noise_cuts``: a cut manifest of noise,
    e.g. MUSAN; empty: a few seconds of synthetic pink noise). Cut ids are kept. Speed perturbation does
    not stretch frame-level ``custom`` arrays (HuBERT labels): use it for CTC fine-tuning, not HuBERT.
    """

    p_speed: float = 0.0
    speed_factors: tuple[float, ...] = (0.9, 1.1)
    p_volume: float = 0.0
    volume_range: tuple[float, float] = (0.5, 1.5)
    p_reverb: float = 0.0
    p_noise: float = 0.0
    noise_snr: tuple[float, float] = (10.0, 30.0)
    noise_cuts: str = ""

    def __post_init__(self) -> None:
        self.speed_factors = tuple(float(f) for f in self.speed_factors)
        self.volume_range = tuple(self.volume_range)
        self.noise_snr = tuple(self.noise_snr)
        for name in ("p_speed", "p_volume", "p_reverb", "p_noise"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"augment.{name} must be in [0, 1], got {getattr(self, name)}")
        if not self.speed_factors or min(self.speed_factors) <= 0:
            raise ValueError(f"augment.speed_factors must be positive, got {self.speed_factors}")
        if len(self.volume_range) != 2 or not 0 < self.volume_range[0] <= self.volume_range[1]:
            raise ValueError(
                f"augment.volume_range must be (low, high) with 0 < low <= high, got {self.volume_range}"
            )
        if len(self.noise_snr) != 2 or self.noise_snr[0] > self.noise_snr[1]:
            raise ValueError(f"augment.noise_snr must be (low, high) in dB, got {self.noise_snr}")

    @property
    def active(self) -> bool:
        return max(self.p_speed, self.p_volume, self.p_reverb, self.p_noise) > 0


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
    # lhotse augmentation of the training cuts (AugmentConfig or its dict); None: off (the default)
    augment: AugmentConfig | None = None

    def __post_init__(self) -> None:
        self.exp_dir = str(self.exp_dir)
        self.betas = tuple(self.betas)
        self.tri_stage_ratios = tuple(self.tri_stage_ratios)
        if isinstance(self.augment, dict):  # from YAML settings
            self.augment = AugmentConfig(**self.augment)
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

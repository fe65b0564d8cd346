"""Learning-rate schedules as a multiplier of the peak rate for the optimiser step about to be taken."""

from __future__ import annotations

import math

from .config import TrainConfig


def lr_scale(step: int, cfg: TrainConfig) -> float:
    """Multiplier of ``cfg.lr`` for optimiser step ``step`` (0 for the first step).

    * ``linear``: linear warm-up over ``warmup_steps``, then linear decay to 0 at ``max_steps``
      (wav2vec 2.0 / HuBERT pretraining's polynomial decay with power 1);
    * ``cosine``: the same warm-up, then half a cosine to 0;
    * ``tri_stage``: wav2vec 2.0 fine-tuning's schedule: linear warm-up from ``init_lr_scale``, hold at
      the peak, exponential decay to ``final_lr_scale``, in the shares ``tri_stage_ratios`` of ``max_steps``.
    """
    if cfg.schedule == "tri_stage":
        return _tri_stage(step, cfg)
    warmup = max(0, min(cfg.warmup_steps, cfg.max_steps))
    if step < warmup:
        return (step + 1) / warmup  # +1: the first step already moves the weights
    progress = min(1.0, (step - warmup) / max(1, cfg.max_steps - warmup))
    if cfg.schedule == "linear":
        return 1.0 - progress
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def _tri_stage(step: int, cfg: TrainConfig) -> float:
    warmup = round(cfg.tri_stage_ratios[0] * cfg.max_steps)
    hold = round(cfg.tri_stage_ratios[1] * cfg.max_steps)
    decay = max(1, cfg.max_steps - warmup - hold)
    if step < warmup:
        return cfg.init_lr_scale + (1.0 - cfg.init_lr_scale) * step / warmup
    if step < warmup + hold:
        return 1.0
    t = min(step - warmup - hold, decay)
    return math.exp(math.log(cfg.final_lr_scale) * t / decay)

"""The one training loop: every objective, every precision, one process or many.

Per optimiser step: ``grad_accum`` micro-batches, each preceded by reseeding torch/numpy/random from
``(seed, step, global micro-batch index)``; forward under autocast; backward of ``loss / grad_accum``
(DDP averages over ranks on the last one); gradient clipping; the update, unless a loss or the gradient
is not finite (then the step is skipped and counted); the learning-rate schedule; ``objective.step_end``.
Checkpoints every ``checkpoint_every`` steps hold all that a resumed run needs to repeat the
uninterrupted one exactly; ``encoder.pt`` at the end holds what fine-tuning needs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from lhotse import CutSet
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from asr.data.common import CorpusError
from asr.data.dataset import AudioDataset
from asr.files import CheckpointError, load_model_strict, save_atomic, write_atomic

from . import checkpoint as ckpt
from . import distributed
from .config import TrainConfig, TrainResult
from .data import CountingReader, identity, make_sampler, resume_stream
from .schedule import lr_scale

log = logging.getLogger(__name__)

# Config fields whose change alters the batches or updates a resumed run sees (warned about, allowed).
_DATA_FIELDS = ("seed", "max_duration", "shuffle", "num_buckets", "grad_accum", "lr", "schedule", "max_steps")
# Encoder config fields that may change between runs of one experiment (regularisation, not shape).
_TUNABLE = ("drop", "feature_grad_mult")  # dropout, attention_dropout, layer_drop, ...


def reseed(seed: int, step: int, index: int) -> None:
    """Seed torch (CPU and CUDA), numpy and ``random`` from ``(seed, step, index)``.

    Reseeding before every micro-batch makes the randomness of step ``step`` independent of what ran
    before: a resumed run draws the same masks and dropout as the uninterrupted one, and micro-batch
    ``index = k * world_size + rank`` of a DDP step draws what micro-batch ``index`` of a single
    process with ``world_size`` times the accumulation draws.
    """
    words = np.random.SeedSequence([seed, step, index]).generate_state(3, dtype=np.uint32)
    torch.manual_seed(int(words[0]) << 32 | int(words[1]))
    np.random.seed(int(words[2]))
    random.seed(int(words[0]) << 32 | int(words[2]))


def _autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    if precision == "auto":
        cuda_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
        return torch.bfloat16 if cuda_bf16 else None
    if precision == "fp16" and device.type != "cuda":
        raise ValueError("precision 'fp16' needs a CUDA device (use 'bf16' or 'fp32' on the CPU)")
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def _config_dict(obj) -> dict:
    cfg = getattr(obj, "cfg", None)
    return ckpt.plain(cfg) if dataclasses.is_dataclass(cfg) else {}


def _diff(old: dict, new: dict) -> list[str]:
    return [
        f"{k}: {old.get(k)!r} -> {new.get(k)!r}"
        for k in sorted(set(old) | set(new))
        if old.get(k) != new.get(k)
    ]


def _param_groups(objective: nn.Module, weight_decay: float, lr: float) -> list[dict]:
    """Optimiser groups: weight decay on matrices and kernels only (biases, norm gains and embedding vectors
    are not shrunk), and per group the objective's learning-rate multiplier (:meth:`Objective.lr_scales`)."""
    scales = getattr(objective, "lr_scales", dict)()
    groups: dict[tuple[bool, float], list] = {}
    for name, p in objective.named_parameters():
        if not p.requires_grad:
            continue
        prefix = max((k for k in scales if name.startswith(k)), key=len, default=None)
        scale = float(scales[prefix]) if prefix is not None else 1.0
        groups.setdefault((p.ndim >= 2, scale), []).append(p)
    if not groups:
        raise ValueError("the objective has no parameters that require gradients")
    # decayed groups first, then by multiplier: with every multiplier 1, the two groups of earlier versions
    return [
        {"params": params, "weight_decay": weight_decay if decay else 0.0, "lr": lr * scale}
        for (decay, scale), params in sorted(groups.items(), key=lambda kv: (not kv[0][0], -kv[0][1]))
    ]


def train(
    objective: nn.Module,
    cuts: CutSet,
    cfg: TrainConfig,
    resume: bool = True,
    dataset: torch.utils.data.Dataset | None = None,
    own_cuts: bool = False,
    validate: Callable[[], dict[str, float]] | None = None,
) -> TrainResult:
    """Train ``objective`` on ``cuts`` for ``cfg.max_steps`` optimiser steps; resume from ``cfg.exp_dir``.

    ``objective`` is an :class:`asr.objectives.Objective` (``forward(batch) -> LossOutput``,
    ``step_end(step)``, ``encoder_state_dict()``); ``cuts`` are 16 kHz cuts (see
    :func:`asr.data.dataset.pretraining_cuts`); ``dataset`` maps a CutSet to a ``Batch`` (default:
    :class:`AudioDataset` dropping cuts shorter than the encoder's ``min_samples``). With ``resume``
    the newest checkpoint in ``exp_dir`` is loaded (strictly); without it, an ``exp_dir`` that already
    holds checkpoints is an error. Under torchrun (or :func:`asr.training.run_distributed`) every rank
    calls this; only rank 0 writes files. Every rank passes the same ``cuts`` and takes its share of the
    batches, unless ``own_cuts``: then each rank's ``cuts`` are its own part of the data (its Lhotse Shar
    shards, :func:`asr.data.dataset.shar_cuts`) and it trains on all of them (see :mod:`asr.training.data`).

    ``validate`` (rank 0 only) measures the model on held-out data every ``cfg.valid_every`` updates and
    after the last one, e.g. :class:`asr.decoding.validation.GreedyValidator`: its numbers go to TensorBoard
    under ``valid/`` and, with the step, to ``exp_dir/valid.jsonl`` (the learning curve). It runs with the
    objective in eval mode and does not change the training's random streams (the loop reseeds before
    every micro-batch), so a run with validation trains exactly as one without.
    """
    info = distributed.setup(cfg.device)
    finished = False
    try:
        result = _Run(objective, cuts, cfg, info, dataset, own_cuts, validate).run(resume)
        finished = True
        return result
    finally:
        distributed.cleanup(info, barrier=finished)


class _Run:
    def __init__(
        self,
        objective,
        cuts,
        cfg: TrainConfig,
        info: distributed.DistInfo,
        dataset,
        own_cuts: bool = False,
        validate=None,
    ) -> None:
        if next(iter(cuts), None) is None:
            raise CorpusError("the cut set given for training is empty")
        self.cfg, self.info, self.cuts, self.own_cuts = cfg, info, cuts, own_cuts
        self.validate = validate if cfg.valid_every > 0 else None
        self.exp_dir = Path(cfg.exp_dir)
        self.device = info.device
        self.objective = objective.to(self.device)
        self.name = getattr(objective, "name", type(objective).__name__)
        encoder = getattr(objective, "encoder", None)
        self.encoder_config = _config_dict(encoder) if encoder is not None else {}
        self.objective_config = _config_dict(objective)
        if dataset is None:
            dataset = AudioDataset(min_samples=int(getattr(encoder, "min_samples", 1) or 1))
        self.dataset = dataset
        self.amp_dtype = _autocast_dtype(cfg.precision, self.device)
        self.params = [p for p in objective.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(
            _param_groups(objective, cfg.weight_decay, cfg.lr), lr=cfg.lr, betas=cfg.betas, eps=cfg.eps
        )
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda s: lr_scale(s, cfg))
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp_dtype == torch.float16)
        self.step = 0
        self.last_position: tuple[int, int] | None = None
        self.saved_positions: list | None = None
        self.saved_world = info.world_size
        self.skipped: Counter = Counter()
        self.skipped_updates: Counter = Counter()
        self.writer = None
        self.audio_seconds = self.train_seconds = self.valid_seconds = 0.0
        self.last_metrics: dict[str, float] = {}

    # ---------------------------------------------------------------- resume and checkpoints

    def _restore(self) -> int:
        found = ckpt.load_latest(self.exp_dir)
        if found is None:
            return 0
        path, state = found
        self._check_compatible(path, state)
        load_model_strict(self.objective, state["model"], path)
        try:
            self.optimizer.load_state_dict(state["optimizer"])
        except (ValueError, KeyError) as exc:
            raise CheckpointError(f"{path}: optimiser state does not fit this model ({exc})") from exc
        self.scheduler.load_state_dict(state["scheduler"])
        for group, lr in zip(self.optimizer.param_groups, self.scheduler.get_last_lr(), strict=True):
            group["lr"] = lr
        if self.scaler.is_enabled() and state["scaler"]:
            self.scaler.load_state_dict(state["scaler"])
        ckpt.set_rng_state(state["rng"])
        self.step = int(state["step"])
        data = state["data"]
        self.saved_world = int(data["world_size"])
        self.saved_positions = [tuple(p) for p in data["last"]]
        same_world = self.saved_world == self.info.world_size
        if same_world:
            self.skipped.update(data["skipped"][self.info.rank])
            self.skipped_updates.update(data["skipped_updates"][self.info.rank])
        elif self.info.is_main:
            for s in data["skipped"]:
                self.skipped.update(s)
            for s in data["skipped_updates"]:
                self.skipped_updates.update(s)
        if self.info.is_main:
            log.info("resumed from %s (step %d)", path, self.step)
        return self.step

    def _check_compatible(self, path: Path, state: dict) -> None:
        if state.get("format") != ckpt.FORMAT_VERSION:
            raise CheckpointError(f"{path}: not a training checkpoint of format {ckpt.FORMAT_VERSION}")
        if state["objective"] != self.name:
            raise CheckpointError(
                f"{path} was written for objective {state['objective']!r}, not {self.name!r}; "
                "use another exp_dir"
            )
        changed = _diff(state["encoder_config"], self.encoder_config)
        fixed = [c for c in changed if not any(t in c.split(":")[0] for t in _TUNABLE)]
        if fixed:
            raise CheckpointError(
                f"{path}: the encoder config differs from the checkpoint's: {'; '.join(fixed)}"
            )
        notes = changed + _diff(state["objective_config"], self.objective_config)
        old_cfg, new_cfg = state["config"], ckpt.plain(self.cfg)
        notes += [d for d in _diff(old_cfg, new_cfg) if d.split(":")[0] in _DATA_FIELDS]
        if state["data"]["world_size"] != self.info.world_size:
            notes.append(f"world_size: {state['data']['world_size']} -> {self.info.world_size}")
        if notes and self.info.is_main:
            log.warning(
                "resuming %s with changed settings (the run will not repeat an uninterrupted one "
                "exactly): %s",
                path,
                "; ".join(notes),
            )

    def _save(self) -> None:
        # Every rank reports where it is in the data; rank 0 writes.
        gathered = distributed.all_gather_objects(
            (self.last_position, dict(self.skipped), dict(self.skipped_updates)), self.info
        )
        if not self.info.is_main:
            return
        state = {
            "format": ckpt.FORMAT_VERSION,
            "step": self.step,
            "objective": self.name,
            "encoder_config": self.encoder_config,
            "objective_config": self.objective_config,
            "config": ckpt.plain(self.cfg),
            "model": self.objective.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": ckpt.rng_state(),
            "data": {
                "world_size": self.info.world_size,
                "last": [list(p) for p, _, _ in gathered],
                "skipped": [s for _, s, _ in gathered],
                "skipped_updates": [u for _, _, u in gathered],
            },
        }
        save_atomic(state, ckpt.checkpoint_path(self.exp_dir, self.step))
        ckpt.prune_checkpoints(self.exp_dir, self.cfg.keep_last)

    def _save_encoder(self) -> None:
        if not self.info.is_main:
            return
        state_dict_fn = getattr(self.objective, "encoder_state_dict", None)
        encoder_state = state_dict_fn() if state_dict_fn else self.objective.state_dict()
        save_atomic(
            {
                "encoder": {k: v.detach().cpu() for k, v in encoder_state.items()},
                "encoder_config": self.encoder_config,
                "objective": self.name,
                "step": self.step,
            },
            self.exp_dir / "encoder.pt",
        )

    # ---------------------------------------------------------------- data

    def _loader_iter(self):
        cfg, info = self.cfg, self.info
        sampler = make_sampler(self.cuts, cfg.max_duration, cfg.shuffle, cfg.seed, cfg.num_buckets)
        stream = resume_stream(
            sampler, self.saved_positions, self.saved_world, info.rank, info.world_size, self.own_cuts
        )
        self.start_epoch = stream.start[0]
        loader = torch.utils.data.DataLoader(
            CountingReader(self.dataset, cfg.augment, cfg.seed),
            sampler=stream,
            batch_size=None,
            collate_fn=identity,
            num_workers=cfg.num_workers,
            persistent_workers=cfg.num_workers > 0,
        )
        return iter(loader)

    def _next_batch(self):
        while True:
            batch, dropped, position = next(self.batches)
            self.skipped.update(dropped)
            self.last_position = position
            if batch is not None:
                self.last_good_epoch = position[0]
                return batch
            if position[0] >= self.last_good_epoch + 2:
                raise RuntimeError(
                    f"no usable audio in two passes over the data (dropped: {dict(self.skipped)})"
                )

    # ---------------------------------------------------------------- the loop

    def run(self, resume: bool) -> TrainResult:
        cfg, info = self.cfg, self.info
        if info.is_main:
            self.exp_dir.mkdir(parents=True, exist_ok=True)
            ckpt.remove_stale_temporaries(self.exp_dir)
        if resume:
            self._restore()
        elif ckpt.list_checkpoints(self.exp_dir):
            raise CheckpointError(
                f"{self.exp_dir} already holds checkpoints; resume, or train in another exp_dir"
            )
        resumed_from = self.step
        model = self.objective
        if info.distributed:
            model = DistributedDataParallel(
                self.objective,
                device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=self._find_unused(),
            )
        self.objective.train()
        losses: dict[int, float] = {}
        if self.step < cfg.max_steps:
            self.batches = self._loader_iter()
            self.last_good_epoch = self.start_epoch
            losses = self._loop(model)
            del self.batches
        if info.is_main:
            self._save_encoder()
        skipped, updates = Counter(), Counter()
        for s, u in distributed.all_gather_objects((dict(self.skipped), dict(self.skipped_updates)), info):
            skipped.update(s)
            updates.update(u)
        return TrainResult(
            self.step,
            losses,
            skipped,
            updates,
            resumed_from,
            self.audio_seconds,
            self.train_seconds,
            self.last_metrics,
        )

    def _find_unused(self) -> bool:
        if self.cfg.find_unused_parameters is not None:
            return self.cfg.find_unused_parameters
        if getattr(self.objective, "may_skip_parameters", False):  # e.g. CTC with a frozen encoder
            return True
        return float(self.encoder_config.get("layer_drop", 0.0) or 0.0) > 0.0

    def _writer(self):
        if self.writer is None:
            from torch.utils.tensorboard import SummaryWriter  # slow import, rank 0 only

            # purge_step drops what a killed run logged after the checkpoint we resumed from.
            self.writer = SummaryWriter(str(self.exp_dir / "tensorboard"), purge_step=self.step + 1)
        return self.writer

    def _loop(self, model: nn.Module) -> dict[int, float]:
        cfg, info = self.cfg, self.info
        accum, world = cfg.grad_accum, info.world_size
        autocast = (
            torch.autocast(self.device.type, dtype=self.amp_dtype)
            if self.amp_dtype
            else contextlib.nullcontext()
        )
        losses: dict[int, float] = {}
        window_seconds, window_start = 0.0, time.perf_counter()
        loop_start = window_start
        bar = tqdm(
            total=cfg.max_steps,
            initial=self.step,
            disable=not (info.is_main and cfg.progress),
            dynamic_ncols=True,
            desc="train",
        )
        if info.is_main:
            self._writer()
        while self.step < cfg.max_steps:
            loss_sum, bad, seconds, targets = 0.0, 0, 0.0, 0
            metrics: dict[str, float] = defaultdict(float)
            lr = self.optimizer.param_groups[0]["lr"]
            for k in range(accum):
                batch = self._next_batch().to(self.device, non_blocking=True)
                reseed(cfg.seed, self.step, k * world + info.rank)
                sync = k == accum - 1 or not info.distributed
                with contextlib.nullcontext() if sync else model.no_sync():
                    with autocast:
                        out = model(batch)
                    loss = out.loss.float()
                    self.scaler.scale(loss / accum).backward()
                value = loss.item()
                bad += not math.isfinite(value)
                loss_sum += value
                seconds += batch.duration
                targets += int(out.num_targets)
                for name, v in out.metrics.items():
                    metrics[name] += float(v) / accum
            stats = torch.tensor([loss_sum, bad, seconds, targets], dtype=torch.float64, device=self.device)
            if info.distributed:
                torch.distributed.all_reduce(stats)
            self.scaler.unscale_(self.optimizer)
            grads = [p.grad for p in self.params if p.grad is not None]
            if cfg.clip_norm > 0:
                grad_norm = torch.nn.utils.clip_grad_norm_(self.params, cfg.clip_norm)
            else:
                grad_norm = torch.nn.utils.get_total_norm(grads) if grads else torch.tensor(0.0)
            grad_norm = float(grad_norm)
            reason = None
            if stats[1] > 0:
                reason = "non-finite loss"
            elif not math.isfinite(grad_norm):
                reason = "non-finite gradient"
            if reason:
                self.skipped_updates[reason] += 1
                log.warning("step %d: %s, update skipped", self.step + 1, reason)
                self.scaler.update()  # lowers the fp16 loss scale after an overflow; no-op otherwise
            else:
                self.scaler.step(self.optimizer)
                self.scaler.update()
            self.optimizer.zero_grad(set_to_none=True)
            self.scheduler.step()
            self.step += 1
            self.objective.step_end(self.step)
            loss_mean = float(stats[0]) / (accum * world)
            losses[self.step] = loss_mean
            self.last_metrics = dict(metrics)
            window_seconds += float(stats[2])
            self.audio_seconds += float(stats[2])
            self.train_seconds = time.perf_counter() - loop_start - self.valid_seconds
            elapsed = time.perf_counter() - window_start
            rate = window_seconds / elapsed if elapsed > 0 else 0.0
            bar.set_postfix(loss=f"{loss_mean:.4g}", audio_s_per_s=f"{rate:.1f}", refresh=False)
            bar.update(1)
            out_of_time = self._out_of_time()
            last = self.step == cfg.max_steps or out_of_time
            if info.is_main and (self.step % cfg.log_every == 0 or last):
                self._log(loss_mean, lr, grad_norm, rate, float(stats[3]), metrics)
                window_seconds, window_start = 0.0, time.perf_counter()
            if self.validate is not None and info.is_main and (self.step % cfg.valid_every == 0 or last):
                self._validate()
                window_start = time.perf_counter()  # the throughput counts training only
            if self.step % cfg.checkpoint_every == 0 or last:
                self._save()
            if out_of_time:
                log.info(
                    "step %d: max_seconds (%g s) reached; stopping (resume to go on)",
                    self.step,
                    cfg.max_seconds,
                )
                break
        bar.close()
        if self.writer is not None:
            self.writer.close()
        return losses

    def _validate(self) -> None:
        start = time.perf_counter()
        self.objective.eval()
        try:
            with torch.no_grad():
                values = {k: float(v) for k, v in self.validate().items()}
        finally:
            self.objective.train()
        seconds = time.perf_counter() - start
        w, step = self._writer(), self.step
        for name, value in values.items():
            w.add_scalar(f"valid/{name}", value, step)
        w.flush()
        log.info(
            "step %d valid %s (%.1f s)", step, " ".join(f"{k}={v:.4g}" for k, v in values.items()), seconds
        )
        # the curve as a file too; a resumed run drops the points a killed run wrote after its checkpoint
        path = self.exp_dir / "valid.jsonl"
        lines = path.read_text().splitlines() if path.is_file() else []
        lines = [ln for ln in lines if ln.strip() and json.loads(ln)["step"] < step]
        lines.append(json.dumps({"step": step, "train_seconds": round(self.train_seconds, 1), **values}))
        write_atomic(path, ("\n".join(lines) + "\n").encode())
        self.valid_seconds += seconds

    def _out_of_time(self) -> bool:
        """Whether ``max_seconds`` is spent; under DDP rank 0's clock decides for every rank."""
        if self.cfg.max_seconds <= 0:
            return False
        flag = torch.tensor([float(self.train_seconds >= self.cfg.max_seconds)], device=self.device)
        if self.info.distributed:
            torch.distributed.broadcast(flag, src=0)
        return bool(flag.item())

    def _log(
        self, loss: float, lr: float, grad_norm: float, rate: float, targets: float, metrics: dict
    ) -> None:
        w, step = self._writer(), self.step
        w.add_scalar("train/loss", loss, step)
        w.add_scalar("train/lr", lr, step)
        w.add_scalar("train/grad_norm", grad_norm, step)
        w.add_scalar("train/audio_seconds_per_second", rate, step)
        w.add_scalar("train/num_targets", targets, step)
        for name, value in metrics.items():
            w.add_scalar(f"train/{name}", value, step)
        for reason, n in self.skipped_updates.items():
            w.add_scalar(f"skipped_updates/{reason.replace(' ', '_')}", n, step)
        for reason, n in self.skipped.items():  # this rank's dropped cuts
            w.add_scalar(f"skipped_cuts/{reason.split(' (')[0].replace(' ', '_')}", n, step)
        w.flush()
        extra = " ".join(f"{k}={v:.4g}" for k, v in metrics.items())
        msg = "step %d loss %.4f lr %.3g grad_norm %.3g audio_s/s %.1f %s"
        log.info(msg, step, loss, lr, grad_norm, rate, extra)

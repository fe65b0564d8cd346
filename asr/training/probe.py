"""A frozen-encoder probe (SUPERB's phoneme recognition task, scaled down): what do the features know?

The encoder is frozen and run once, in eval mode, over the probe's training and dev cuts; its hidden states
(the body's input and every block's output) are kept in memory. A featurizer (softmax weights over
those layers, each layer-normalised, as SUPERB's weighted sum) and a linear CTC head are then trained on
the cached states for a fixed number of updates, and the phone error rate of greedy decoding on the dev
cuts is the probe's score. Nothing but the head and the layer weights learns, so the score compares
encoders (random weights, each self-supervised objective, each HuBERT iteration) with one another:
phone information a linear map can read out, at the same budget for every encoder.

Caching makes a probe cheap (one forward pass over the audio, then seconds of head training), so it can
be run after every pretraining, and along a pretraining run's checkpoints.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from lhotse import CutSet
from lhotse.dataset import DynamicCutSampler
from rapidfuzz.distance import Levenshtein
from torch import Tensor, nn

from asr.data.dataset import AudioDataset, by_duration
from asr.files import write_atomic
from asr.models import Encoder
from asr.objectives.ctc import ctc_losses, transcript_ids

log = logging.getLogger(__name__)


@dataclass
class ProbeConfig:
    """The probe's head training; the same for every encoder it compares."""

    steps: int = 1500
    lr: float = 5e-3  # Adam, linear warm-up then cosine decay to 0
    warmup_steps: int = 100
    batch_frames: int = 1500  # encoder frames per update (30 s of 20 ms frames)
    eval_every: int = 250  # learning-curve points on the dev cuts
    seed: int = 0
    max_duration: float = 120.0  # seconds of audio per forward batch while caching

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_frames < 1 or self.eval_every < 1:
            raise ValueError("steps, batch_frames and eval_every must be >= 1")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")


@dataclass
class ProbeResult:
    """What a probe measured (``probe.json``)."""

    per: float  # greedy phone error rate (%) on the dev cuts after the last update
    dev_loss: float  # dev CTC loss per phone
    train_loss: float  # mean training loss of the last 100 updates
    layer_weights: list[float]  # softmax weights: body input, then block 1..L
    curve: list[dict] = field(default_factory=list)  # {"step", "per", "dev_loss"}
    train_utterances: int = 0
    dev_utterances: int = 0
    dev_speakers: int = 0  # distinct speakers among the dev cuts (0: not recorded)
    seconds: dict[str, float] = field(default_factory=dict)  # caching and head training
    config: dict = field(default_factory=dict)
    encoder: dict = field(default_factory=dict)  # what was probed (the caller's description: path, step, ...)


@torch.inference_mode()
def hidden_states(encoder: Encoder, cuts: CutSet, tokenizer, max_duration: float = 120.0):
    """``[(states [L+1, T, D] float16, phone ids)]`` of every usable cut: the body's input and each block's output."""
    encoder.eval()
    device = next(encoder.parameters()).device
    dataset = AudioDataset(min_samples=encoder.min_samples, label_fields=())
    out = []
    for window in by_duration(cuts):
        sampler = DynamicCutSampler(window, max_duration=max_duration, shuffle=False, world_size=1, rank=0)
        for batch_cuts in sampler:
            batch = dataset[batch_cuts]
            if batch is None:
                continue
            features, frames = encoder.frontend(batch.audio.to(device), batch.audio_lengths.to(device))
            x = encoder.add_positions(encoder.project(features), frames)
            layers = [x, *encoder.body(x, frames, return_layers=True).layers]
            stacked = torch.stack(layers, dim=1)  # [B, L+1, T, D]
            by_id = {c.id: c for c in batch_cuts}
            for i, cut_id in enumerate(batch.cut_ids):
                ids = transcript_ids(tokenizer, by_id[cut_id])
                n = int(frames[i])
                if ids and n > 0:
                    out.append((stacked[i, :, :n].to(torch.float16).cpu(), ids))
    return out


class LinearProbe(nn.Module):
    """SUPERB's featurizer (softmax-weighted sum of layer-normalised hidden states) and a linear CTC head."""

    def __init__(self, num_layers: int, dim: int, vocab_size: int) -> None:
        super().__init__()
        self.layer_logits = nn.Parameter(torch.zeros(num_layers))
        self.head = nn.Linear(dim, vocab_size)

    def forward(self, states: Tensor) -> Tensor:
        """[B, L+1, T, D] -> [B, T, V] log-probabilities."""
        states = F.layer_norm(states.float(), states.shape[-1:])
        weights = self.layer_logits.softmax(0)
        mixed = (weights[None, :, None, None] * states).sum(1)
        return self.head(mixed).log_softmax(-1)

    def layer_weights(self) -> list[float]:
        return [round(float(w), 4) for w in self.layer_logits.detach().softmax(0)]


def _batches(items: list, batch_frames: int, rng: np.random.Generator):
    """Endless batches of about ``batch_frames`` frames, utterances of like length together."""
    order = sorted(range(len(items)), key=lambda i: items[i][0].shape[1])
    groups, group, frames = [], [], 0
    for i in order:
        group.append(i)
        frames += items[i][0].shape[1]
        if frames >= batch_frames:
            groups.append(group)
            group, frames = [], 0
    if group:
        groups.append(group)
    while True:
        for g in rng.permutation(len(groups)):
            yield [items[i] for i in groups[g]]


def _pad(batch: list) -> tuple[Tensor, Tensor, Tensor]:
    states = [s for s, _ in batch]
    frames = torch.tensor([s.shape[1] for s in states])
    layers, dim = states[0].shape[0], states[0].shape[2]
    x = torch.zeros(len(batch), layers, int(frames.max()), dim, dtype=states[0].dtype)
    for i, s in enumerate(states):
        x[i, :, : s.shape[1]] = s
    tokens = torch.full((len(batch), max(len(t) for _, t in batch)), -100, dtype=torch.long)
    for i, (_, t) in enumerate(batch):
        tokens[i, : len(t)] = torch.tensor(t)
    return x, frames, tokens


@torch.no_grad()
def evaluate(probe: LinearProbe, items: list, batch_frames: int = 6000) -> tuple[float, float]:
    """(greedy PER %, CTC loss per phone) of ``probe`` on cached ``items``."""
    errors = length = 0
    loss = 0.0
    for batch in _chunks(items, batch_frames):
        x, frames, tokens = _pad(batch)
        log_probs = probe(x)
        loss += float(ctc_losses(log_probs, frames, tokens).sum())
        best = log_probs.argmax(-1)
        for i, (_, ref) in enumerate(batch):
            ids = [t for t in torch.unique_consecutive(best[i, : int(frames[i])]).tolist() if t != 0]
            errors += Levenshtein.distance(ref, ids)
            length += len(ref)
    return 100.0 * errors / max(length, 1), loss / max(length, 1)


def _chunks(items: list, batch_frames: int):
    chunk, frames = [], 0
    for item in sorted(items, key=lambda it: it[0].shape[1]):
        chunk.append(item)
        frames += item[0].shape[1]
        if frames >= batch_frames:
            yield chunk
            chunk, frames = [], 0
    if chunk:
        yield chunk


def run_probe(
    encoder: Encoder,
    train_cuts: CutSet,
    dev_cuts: CutSet,
    tokenizer,
    cfg: ProbeConfig | None = None,
    out_dir: Path | None = None,
    describe: dict | None = None,
) -> ProbeResult:
    """Probe ``encoder`` (frozen): train the head on ``train_cuts``' phones, score greedy PER on ``dev_cuts``.

    ``tokenizer`` is a phone tokenizer (targets: a cut's phone fields, else its text through the lexicon).
    With ``out_dir``, ``probe.json`` (the :class:`ProbeResult`) is written there atomically; ``describe``
    (e.g. the encoder's path and pretraining updates) is recorded in it.
    """
    cfg = cfg or ProbeConfig()
    if tokenizer.kind != "phone":
        raise ValueError(f"the probe predicts phones; got a {tokenizer.kind} tokenizer")
    start = time.perf_counter()
    train_items = hidden_states(encoder, train_cuts, tokenizer, cfg.max_duration)
    dev_items = hidden_states(encoder, dev_cuts, tokenizer, cfg.max_duration)
    if not train_items or not dev_items:
        raise ValueError("the probe needs usable training and dev cuts with phone targets")
    cached = time.perf_counter() - start
    layers, dim = train_items[0][0].shape[0], train_items[0][0].shape[2]
    torch.manual_seed(cfg.seed)
    probe = LinearProbe(layers, dim, tokenizer.vocab_size)
    optimizer = torch.optim.Adam(probe.parameters(), lr=cfg.lr)

    def scale(step: int) -> float:
        if step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, scale)
    batches = _batches(train_items, cfg.batch_frames, np.random.default_rng(cfg.seed))
    recent: list[float] = []
    curve = []
    head_start = time.perf_counter()
    for step in range(1, cfg.steps + 1):
        x, frames, tokens = _pad(next(batches))
        loss = ctc_losses(probe(x), frames, tokens).sum() / (tokens >= 0).sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        recent = (recent + [float(loss.detach())])[-100:]
        if step % cfg.eval_every == 0 or step == cfg.steps:
            per, dev_loss = evaluate(probe, dev_items)
            curve.append(
                {
                    "step": step,
                    "per": round(per, 2),
                    "dev_loss": round(dev_loss, 4),
                    "train_loss": round(sum(recent) / len(recent), 4),
                }
            )
            log.info(
                "probe step %d: train loss %.3f, dev loss %.3f, dev PER %.1f %%",
                step,
                curve[-1]["train_loss"],
                dev_loss,
                per,
            )
    result = ProbeResult(
        per=curve[-1]["per"],
        dev_loss=curve[-1]["dev_loss"],
        train_loss=curve[-1]["train_loss"],
        layer_weights=probe.layer_weights(),
        curve=curve,
        train_utterances=len(train_items),
        dev_utterances=len(dev_items),
        dev_speakers=len({s.speaker for c in dev_cuts for s in c.supervisions[:1]}),
        seconds={"cache": round(cached, 1), "head": round(time.perf_counter() - head_start, 1)},
        config=dataclasses.asdict(cfg),
        encoder=dict(describe or {}),
    )
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        write_atomic(
            Path(out_dir) / "probe.json", (json.dumps(dataclasses.asdict(result), indent=1) + "\n").encode()
        )
    return result

"""HuBERT pretraining (Hsu, Bolte, Tsai, Lakhotia, Salakhutdinov & Mohamed, 2021): masked cluster prediction.

Every 20 ms frame carries a hidden unit z_t ∈ {1..C}, its k-means cluster (:mod:`asr.objectives.kmeans`:
MFCC clusters in iteration 1, clusters of an iteration-1 model's 6th block in iteration 2). The encoder
sees the waveform with span-masked frames (:mod:`asr.objectives.masking`, p = 8 % starts, spans of 10, as
wav2vec 2.0 masks) and must predict z_t from its output o_t (§II-B, II-C):

    p(c | o_t) = exp(sim(A o_t, e_c) / τ) / Σ_{c'} exp(sim(A o_t, e_c') / τ),    sim = cosine, τ = 0.1

with A a projection to ``final_dim`` and e_c a learned embedding per cluster. The loss is the
cross-entropy at masked frames M, optionally plus unmasked ones (§II-C: L = α L_m + (1 - α) L_u):

    loss = masked_weight · mean_{t ∈ M} -log p(z_t | o_t) + unmasked_weight · mean_{t ∉ M} -log p(z_t | o_t)
           + λ · mean(z²)

each term a mean over its own frames. The defaults, α = 1 and 0, predict masked frames only (the paper's
best setting); like wav2vec 2.0 the reference configuration adds an L2 penalty (λ = 10) on the front-end
output. Frames whose label is -100 (padding) are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from asr.data.dataset import Batch
from asr.models import Encoder

from .base import LossOutput, Objective, config_from
from .kmeans import LABELS_FIELD
from .masking import check_span_settings, span_mask

IGNORE = -100


@dataclass
class HubertConfig:
    """HuBERT BASE's pretraining settings (paper §IV-C and the reference configuration)."""

    mask_prob: float = 0.8  # p * M: p = 8 % of the frames start a span
    mask_span: int = 10  # M
    min_masks: int = 2
    final_dim: int = 256  # projection and cluster-embedding size; LARGE / X-LARGE: 768 / 1024
    logit_temperature: float = 0.1  # τ
    masked_weight: float = 1.0  # α: cross-entropy at masked frames
    unmasked_weight: float = 0.0  # cross-entropy at unmasked frames (0: masked prediction only)
    feature_penalty_weight: float = 10.0  # λ, on the mean square of the front-end output

    def __post_init__(self) -> None:
        check_span_settings(self.mask_prob, self.mask_span, self.min_masks)


class HubertObjective(Objective):
    """An :class:`Encoder` plus HuBERT's projection and cluster embeddings; targets from ``batch.targets``."""

    name = "hubert"

    def __init__(self, encoder: Encoder, num_clusters: int, cfg: HubertConfig | None = None):
        super().__init__()
        self.encoder = encoder
        self.cfg = cfg = cfg or HubertConfig()
        self.num_clusters = num_clusters
        self.final_proj = nn.Linear(encoder.dim, cfg.final_dim)
        self.label_embeddings = nn.Parameter(torch.empty(num_clusters, cfg.final_dim).uniform_())

    def logits(self, output: Tensor) -> Tensor:
        """[..., D] encoder output -> [..., C] cosine similarities to the cluster embeddings over τ."""
        x = self.final_proj(output)
        with torch.autocast(x.device.type, enabled=False):  # logits of up to 1 / τ = 10: keep float32
            x = F.normalize(x.float(), dim=-1)
            e = F.normalize(self.label_embeddings.float(), dim=-1)
            return x @ e.T / self.cfg.logit_temperature

    def forward(self, batch: Batch) -> LossOutput:
        cfg, enc = self.cfg, self.encoder
        features, frames = enc.frontend(batch.audio, batch.audio_lengths)  # [B, T, F], zero at padding
        num_frames = features.shape[1]
        labels = self._labels(batch, frames, num_frames)
        valid = labels != IGNORE
        feature_penalty = features.float().pow(2).sum() / (valid.sum().clamp_min(1) * features.shape[-1])

        mask = span_mask((features.shape[0], num_frames), frames, cfg.mask_prob, cfg.mask_span, cfg.min_masks)
        x = enc.project(features)
        x = torch.where(mask[..., None], enc.mask_embedding.to(x.dtype), x)
        output = enc.body(enc.add_positions(x, frames), frames).output  # [B, T, D]

        loss = cfg.feature_penalty_weight * feature_penalty
        metrics: dict[str, float] = {"feature_penalty": feature_penalty.item()}
        num_targets = 0
        for part, where, weight in (
            ("masked", mask & valid, cfg.masked_weight),
            ("unmasked", ~mask & valid, cfg.unmasked_weight),
        ):
            count = int(where.sum())
            if count == 0:
                continue
            logits = self.logits(output[where])  # [N, C]
            target = labels[where]
            if weight > 0:  # the unmasked term is only a metric unless weighted
                ce = F.cross_entropy(logits, target)
                loss = loss + weight * ce
                num_targets += count
                metrics[f"{part}_loss"] = ce.item()
            with torch.no_grad():
                metrics[f"{part}_accuracy"] = (logits.argmax(dim=-1) == target).float().mean().item()
        if num_targets == 0:  # keep every parameter in the graph (DDP) when nothing is predicted
            loss = (
                loss + output.sum() * 0.0 + sum(p.sum() for p in self.parameters() if p.requires_grad) * 0.0
            )
        metrics["mask_share"] = int((mask & valid).sum()) / max(int(valid.sum()), 1)
        return LossOutput(loss=loss, num_targets=num_targets, metrics=metrics)

    def _labels(self, batch: Batch, frames: Tensor, num_frames: int) -> Tensor:
        """``batch.targets["hubert_labels"]`` as [B, T], checked against the encoder's frame counts."""
        if LABELS_FIELD not in batch.targets:
            raise KeyError(
                f"HuBERT needs k-means labels: the batch has no {LABELS_FIELD!r} targets "
                "(label the cuts with asr.objectives.kmeans.label_cuts)"
            )
        labels = batch.targets[LABELS_FIELD].to(device=frames.device, dtype=torch.long)
        if labels.shape[1] < num_frames:
            labels = F.pad(labels, (0, num_frames - labels.shape[1]), value=IGNORE)
        labels = labels[:, :num_frames]
        counts = (labels != IGNORE).sum(dim=1)
        bad = (counts != frames).nonzero().flatten().tolist()
        counts, frames = counts.tolist(), frames.tolist()
        if bad:
            detail = ", ".join(f"{batch.cut_ids[i]} ({counts[i]} labels, {frames[i]} frames)" for i in bad)
            raise ValueError(f"HuBERT labels do not line up with the encoder frames: {detail}")
        if int(labels.max()) >= self.num_clusters:
            raise ValueError(f"label {int(labels.max())} out of range for {self.num_clusters} clusters")
        return labels


def build(encoder: Encoder, num_clusters: int = 100, **overrides) -> HubertObjective:
    """HuBERT on ``encoder`` predicting ``num_clusters`` k-means units; ``overrides``: HubertConfig fields."""
    return HubertObjective(encoder, num_clusters, config_from(HubertConfig, overrides))

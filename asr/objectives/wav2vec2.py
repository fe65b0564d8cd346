"""wav2vec 2.0 pretraining (Baevski, Zhou, Mohamed & Auli, 2020): a contrastive task over quantised latents.

The encoder's convolutional front-end turns the waveform into latent speech representations z_t. A span
mask (:mod:`asr.objectives.masking`) replaces some projected latents with a learned mask embedding before
the Transformer, whose outputs are the context representations c_t. The *unmasked* latents are discretised
by a Gumbel-softmax product quantiser (G codebooks of V entries; §3.2) into q_t. For each masked step t the
model must pick q_t among K + 1 candidates, the true one and K distractors Q_t drawn uniformly from the
other masked steps of the same utterance (§3.3):

    L_m = -log( exp(sim(c_t, q_t) / κ) / Σ_{q̃ ∈ {q_t} ∪ Q_t} exp(sim(c_t, q̃) / κ) ),   sim = cosine

where c_t and q_t are first projected to the same ``final_dim``. A diversity loss encourages equal use of
the codebook entries, ``L_d = (G V - Σ_g exp(H(p̄_g))) / (G V)`` with p̄_g the softmax over group g's
entries averaged over the batch's masked steps (the reference implementation's form of the paper's
negative-entropy term: zero when every entry is used equally, close to one when one entry per group is),
and an L2 penalty on the front-end's output keeps the latents' scale in check (§4.2).

How the terms combine (this is the reference implementation's weighting, written as a mean):

    loss = mean_t L_m(t)  +  α · L_d  +  λ · mean(z²)

The contrastive term is a mean over the masked steps; L_d and the feature penalty are per-batch scalars,
which equals summing L_m over masked steps, adding ``N (α L_d + λ P)`` and dividing by N, what fairseq does.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from asr.data.dataset import Batch
from asr.models import Encoder

from .base import LossOutput, Objective, config_from
from .masking import check_span_settings, span_mask


@dataclass
class Wav2Vec2Config:
    """wav2vec 2.0 BASE's pretraining settings (paper §4.2 and the reference configuration)."""

    mask_prob: float = 0.65  # p * M: p = 0.065 of the frames start a span
    mask_span: int = 10  # M
    min_masks: int = 2
    codebooks: int = 2  # G
    codebook_entries: int = 320  # V
    codevector_dim: int = 256  # concatenated codeword size (G entries of codevector_dim / G each); LARGE: 768
    final_dim: int = 256  # both c_t and q_t are projected to this size before the similarity; LARGE: 768
    num_negatives: int = 100  # K distractors, from other masked frames of the same utterance
    logit_temperature: float = 0.1  # κ
    gumbel_start: float = 2.0  # Gumbel-softmax temperature τ, annealed per update ...
    gumbel_end: float = 0.5  # ... down to this floor ...
    gumbel_decay: float = 0.999995  # ... by this factor each update
    diversity_weight: float = 0.1  # α
    feature_penalty_weight: float = 10.0  # λ, on the mean square of the front-end output
    dropout_features: float = 0.1  # dropout on the latents before quantisation (reference implementation)

    def __post_init__(self) -> None:
        check_span_settings(self.mask_prob, self.mask_span, self.min_masks)
        if self.codevector_dim % self.codebooks:
            raise ValueError(f"codevector_dim {self.codevector_dim} is not a multiple of G={self.codebooks}")

    def gumbel_temperature(self, step: int) -> float:
        """τ after ``step`` updates: ``max(start · decay^step, end)``."""
        return max(self.gumbel_start * self.gumbel_decay**step, self.gumbel_end)


@dataclass
class QuantizerOutput:
    quantized: Tensor  # [N, codevector_dim] concatenated codewords (one per group)
    onehot: Tensor  # [N, G, V] the chosen entries (hard one-hot in training and in eval)
    probs: Tensor  # [N, G, V] softmax over each group's entries (no Gumbel noise)
    code_perplexity: Tensor  # Σ_g exp(H) of the averaged hard choices: how many entries are in use
    prob_perplexity: Tensor  # Σ_g exp(H(p̄_g)) of the averaged softmax: what the diversity loss sees


class GumbelVectorQuantizer(nn.Module):
    """Product quantisation with Gumbel softmax (§3.2): G codebooks of V entries, one entry chosen per group.

    The logits l ∈ R^{G×V} come from a linear map of the latent. In training the choice is the
    straight-through Gumbel softmax: the forward pass uses the hard one-hot of argmax(l + g), the backward
    pass the gradient of softmax((l + g) / τ), with g = -log(-log(u)). In eval mode it is argmax(l).
    """

    def __init__(self, in_dim: int, groups: int, entries: int, codevector_dim: int):
        super().__init__()
        self.groups, self.entries = groups, entries
        self.weight_proj = nn.Linear(in_dim, groups * entries)
        self.codevectors = nn.Parameter(torch.empty(groups, entries, codevector_dim // groups))
        nn.init.normal_(self.weight_proj.weight, 0.0, 1.0)  # as the reference does: confident choices
        nn.init.zeros_(self.weight_proj.bias)
        nn.init.uniform_(self.codevectors)

    @property
    def num_codes(self) -> int:
        return self.groups * self.entries

    def forward(self, x: Tensor, temperature: float) -> QuantizerOutput:
        """x [N, in_dim] -> codewords [N, codevector_dim] (+ choices and perplexities), in float32."""
        with torch.autocast(x.device.type, enabled=False):  # Gumbel noise and perplexities want float32
            return self._quantize(x.float(), temperature)

    def _quantize(self, x: Tensor, temperature: float) -> QuantizerOutput:
        logits = self.weight_proj(x).view(-1, self.groups, self.entries)
        probs = logits.softmax(dim=-1)
        if self.training:
            onehot = F.gumbel_softmax(logits, tau=temperature, hard=True, dim=-1)  # straight-through
        else:
            onehot = F.one_hot(logits.argmax(dim=-1), self.entries).to(logits.dtype)
        quantized = torch.einsum("ngv,gvd->ngd", onehot, self.codevectors).flatten(1)
        return QuantizerOutput(
            quantized=quantized,
            onehot=onehot,
            probs=probs,
            code_perplexity=_perplexity(onehot.detach().mean(dim=0)),
            prob_perplexity=_perplexity(probs.mean(dim=0)),
        )


def _perplexity(avg_probs: Tensor) -> Tensor:
    """Σ_g exp(entropy of avg_probs[g]) for [G, V] distributions: between G and G·V."""
    entropy = -(avg_probs * torch.log(avg_probs + 1e-7)).sum(dim=-1)
    return torch.exp(entropy).sum()


def candidate_similarities(
    c: Tensor, targets: Tensor, candidates: Tensor, max_entries: int = 1 << 24
) -> Tensor:
    """``[N, K]``: ``c[n] · targets[candidates[n, k]]`` for ``c``, ``targets`` [N, f].

    Gathering ``targets[candidates]`` ([N, K, f]) has a slow backward on a CPU (``index_put_`` with
    accumulation). Up to ``max_entries`` similarities, all ``N x N`` are computed in one product and the
    candidates' picked (backward: a scatter into [N, N]); beyond, the candidates are gathered with
    ``index_select`` (backward ``index_add_``, cheaper than advanced indexing).
    """
    if c.shape[0] ** 2 <= max_entries:
        return (c @ targets.T).gather(1, candidates)
    gathered = targets.index_select(0, candidates.reshape(-1)).view(*candidates.shape, -1)
    return torch.einsum("nf,nkf->nk", c, gathered)


def sample_negatives(counts: Tensor, num_negatives: int) -> Tensor:
    """Indices of distractors into the flattened masked frames of a batch: [N, K].

    ``counts[b]`` is the number of masked frames of utterance b, whose frames are rows
    ``offset[b] .. offset[b] + counts[b] - 1`` of the flattened list. Each frame gets K indices drawn
    uniformly, with replacement (as the reference implementation does), among the *other* masked frames of
    its own utterance. An utterance with a single masked frame has no distractor: its row points to itself
    and the caller must drop it (see :meth:`Wav2Vec2Objective.forward`).
    """
    device = counts.device
    offsets = torch.cumsum(counts, 0) - counts
    utt = torch.repeat_interleave(torch.arange(len(counts), device=device), counts)  # [N]
    own = torch.arange(int(counts.sum()), device=device) - offsets[utt]  # index within the utterance
    others = (counts[utt] - 1).clamp_min(1)  # how many other masked frames there are
    draw = (torch.rand(len(utt), num_negatives, device=device) * others[:, None]).long()
    draw = draw + (draw >= own[:, None]).long()  # skip the frame itself
    draw = torch.where((counts[utt] > 1)[:, None], draw, own[:, None])
    return offsets[utt][:, None] + draw


class Wav2Vec2Objective(Objective):
    """An :class:`Encoder` plus wav2vec 2.0's quantiser, projections and losses."""

    name = "wav2vec2"

    def __init__(self, encoder: Encoder, cfg: Wav2Vec2Config | None = None):
        super().__init__()
        self.encoder = encoder
        self.cfg = cfg = cfg or Wav2Vec2Config()
        self.dropout_features = nn.Dropout(cfg.dropout_features)
        self.quantizer = GumbelVectorQuantizer(
            encoder.feature_dim, cfg.codebooks, cfg.codebook_entries, cfg.codevector_dim
        )
        self.project_q = nn.Linear(cfg.codevector_dim, cfg.final_dim)
        self.final_proj = nn.Linear(encoder.dim, cfg.final_dim)
        # a buffer, so that a checkpoint resumes with the annealed temperature
        self.register_buffer("gumbel_temperature", torch.tensor(cfg.gumbel_start, dtype=torch.float64))

    def step_end(self, step: int) -> None:
        """Anneal the Gumbel temperature to its value after ``step`` updates."""
        self.gumbel_temperature.fill_(self.cfg.gumbel_temperature(step))

    def forward(self, batch: Batch) -> LossOutput:
        cfg, enc = self.cfg, self.encoder
        features, frames = enc.frontend(batch.audio, batch.audio_lengths)  # z: [B, T, F], zero at padding
        valid = torch.arange(features.shape[1], device=frames.device)[None, :] < frames[:, None]
        num_valid = valid.sum().clamp_min(1)
        feature_penalty = features.float().pow(2).sum() / (num_valid * features.shape[-1])

        mask = span_mask(tuple(features.shape[:2]), frames, cfg.mask_prob, cfg.mask_span, cfg.min_masks)
        # only utterances with >= 2 masked frames have distractors; the rest take no part in the loss
        counts = mask.sum(dim=1)
        mask &= (counts > 1)[:, None]
        counts = mask.sum(dim=1)
        num_masked = int(counts.sum())

        x = enc.project(features)
        x = torch.where(mask[..., None], enc.mask_embedding.to(x.dtype), x)
        context = enc.body(enc.add_positions(x, frames), frames).output  # c: [B, T, D]

        if num_masked == 0:  # nothing to predict (only very short utterances): every parameter still in the
            # graph, with zero gradient, so that DDP's reducer sees them all
            unused = sum(p.sum() for p in self.parameters() if p.requires_grad) * 0.0
            loss = cfg.feature_penalty_weight * feature_penalty + context.sum() * 0.0 + unused
            return LossOutput(loss=loss, num_targets=0, metrics=self._metrics())

        # quantise the unmasked latents of the masked frames: the targets (LayerNorm as before the projection)
        latents = self.dropout_features(enc.feature_projection.layer_norm(features[mask]))
        q = self.quantizer(latents, float(self.gumbel_temperature))
        targets = self.project_q(q.quantized).float()  # [N, f]
        c = self.final_proj(context[mask]).float()  # [N, f]

        negatives = sample_negatives(counts, cfg.num_negatives)  # [N, K]
        # cosine similarity of c_t with its target and K distractors: normalise once, then one batched dot
        # product (cheaper on a CPU than broadcasting F.cosine_similarity over [N, 1 + K, f])
        candidates = torch.cat([torch.arange(num_masked, device=c.device)[:, None], negatives], dim=1)
        c, targets = F.normalize(c, dim=-1, eps=1e-8), F.normalize(targets, dim=-1, eps=1e-8)
        logits = candidate_similarities(c, targets, candidates) / cfg.logit_temperature
        # a distractor with the positive's code in every group is the same vector: it cannot be told apart
        codes = q.onehot.argmax(dim=-1)  # [N, G]
        same = (codes[negatives] == codes[:, None]).all(dim=-1)
        logits[:, 1:] = logits[:, 1:].masked_fill(same, float("-inf"))
        contrastive = F.cross_entropy(logits, torch.zeros(num_masked, dtype=torch.long, device=logits.device))

        num_codes = self.quantizer.num_codes
        diversity = (num_codes - q.prob_perplexity) / num_codes
        loss = contrastive + cfg.diversity_weight * diversity + cfg.feature_penalty_weight * feature_penalty

        with torch.no_grad():
            accuracy = (logits.argmax(dim=-1) == 0).float().mean()
        return LossOutput(
            loss=loss,
            num_targets=num_masked,
            metrics=self._metrics(
                contrastive_loss=contrastive.item(),
                diversity_loss=diversity.item(),
                feature_penalty=feature_penalty.item(),
                accuracy=accuracy.item(),
                code_perplexity=q.code_perplexity.item(),
                prob_perplexity=q.prob_perplexity.item(),
                mask_share=num_masked / max(int(num_valid), 1),
            ),
        )

    def _metrics(self, **values: float) -> dict[str, float]:
        return {**values, "gumbel_temperature": float(self.gumbel_temperature)}


def build(encoder: Encoder, **overrides) -> Wav2Vec2Objective:
    """wav2vec 2.0 on ``encoder``; ``overrides`` set :class:`Wav2Vec2Config` fields."""
    return Wav2Vec2Objective(encoder, config_from(Wav2Vec2Config, overrides))


__all__ = [
    "GumbelVectorQuantizer",
    "QuantizerOutput",
    "Wav2Vec2Config",
    "Wav2Vec2Objective",
    "build",
    "sample_negatives",
]

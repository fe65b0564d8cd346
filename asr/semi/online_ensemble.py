"""Online-ensemble dynamic pseudo-labelling: CTC on labelled cuts and on unlabelled cuts labelled on the fly.

Momentum pseudo-labelling (Higuchi et al., 2021) as Yang et al. (2022) use it for mispronunciation
detection: an *online* model is trained with gradients; one or more *momentum* (EMA) copies of it follow
its weights, ``θ_m ← α θ_m + (1 − α) θ_online`` after every update. For each unlabelled utterance the
ensemble (the momentum models, optionally with the online model), without augmentation and in eval mode,
gives CTC posteriors; their mean (in probability) is decoded — greedily, or by any
:class:`~asr.decoding.Decoder` such as LM beam search — into hard targets, and the online model learns
them *with* augmentation. The pseudo-labels therefore improve as training goes.

* **Decay**: with ``half_life`` h (a share of the post-warm-up updates N), ``α = exp(ln 0.5 / (h N))``, so
  after N updates the seed model keeps ``0.5^(1/h)`` of its weight (h = 1: half, Higuchi et al.'s
  schedule). Several half-lives give several momentum models: fast ones track the online model, slow
  ones stay close to the seed.
* **Warm-up**: during the first ``warmup_steps`` updates unlabelled rows get no loss (their pseudo-labels are
  still made, for the error-rate metric) and the momentum models copy the online model, so they start
  from the labelled-only model (the paper's seed).
* **Confidence masking**: an unlabelled utterance whose pseudo-label confidence (geometric mean of its
  tokens' ensemble posteriors, :func:`~asr.decoding.hypothesis.path_confidences`) is below
  ``min_confidence``, or whose pseudo-label is empty, gets no loss.
* The momentum models' tensors are updated *in place* (Yang et al.'s public code assigned to
  ``state_dict()`` items, which are detached copies, so its teacher never moved).

Labelled and unlabelled cuts share batches; the unlabelled share of the audio is set when the cut list is
built (:func:`mix_cuts`). An unlabelled cut has an empty row in ``targets["tokens"]``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from asr.data.dataset import LABEL_PAD, Batch, unlabelled_cuts
from asr.decoding.hypothesis import collapse, path_confidences
from asr.objectives.base import LossOutput, Objective
from asr.objectives.ctc import TOKENS_FIELD, CTCObjective, ctc_losses, save_ctc_model
from asr.objectives.ema import EMATeacher
from asr.scoring.wer import align
from asr.training.config import TrainConfig
from asr.training.pretrain import SettingsError

REFERENCE_FIELD = "reference"  # optional true token ids of unlabelled cuts: only for the error-rate metric


@dataclass
class OnlineEnsembleConfig:
    """Settings of :class:`OnlineEnsembleObjective`; defaults are Higuchi et al.'s single momentum model."""

    half_lives: tuple[float, ...] = (1.0,)  # one momentum model per value, in shares of the updates
    include_online: bool = False  # the online model (eval mode, no augmentation) joins the ensemble
    warmup_steps: int = 0  # labelled-only updates first (momentum models copy the online model meanwhile)
    total_steps: int = 1000  # the run's updates (``train.max_steps``): sets α from the half-lives
    unlabelled_weight: float = 1.0  # loss weight of an unlabelled utterance's tokens
    min_confidence: float = 0.0  # pseudo-labels less confident than this are masked out of the loss

    def __post_init__(self) -> None:
        self.half_lives = tuple(float(h) for h in self.half_lives)
        if not self.half_lives and not self.include_online:
            raise ValueError("the ensemble is empty: give half_lives or include_online")
        if any(h <= 0 for h in self.half_lives):
            raise ValueError(f"half_lives must be > 0, got {self.half_lives}")
        if not 0 <= self.warmup_steps < self.total_steps:
            raise ValueError(
                f"need 0 <= warmup_steps < total_steps, got {self.warmup_steps} and {self.total_steps}"
            )
        if self.unlabelled_weight < 0 or not 0 <= self.min_confidence <= 1:
            raise ValueError("unlabelled_weight must be >= 0 and min_confidence in [0, 1]")

    def decays(self) -> list[float]:
        """α of each momentum model: ``exp(ln 0.5 / (half_life * (total_steps - warmup_steps)))``."""
        steps = self.total_steps - self.warmup_steps
        return [math.exp(math.log(0.5) / (h * steps)) for h in self.half_lives]


@dataclass
class PseudoLabels:
    """The ensemble's targets for some rows of a batch."""

    tokens: list[list[int]]
    confidences: list[float]
    log_probs: Tensor  # [B, T, V] the ensemble's combined log-posteriors
    frames: Tensor  # [B]


def combine_posteriors(log_probs: list[Tensor]) -> Tensor:
    """The ensemble's log-posteriors: the log of the members' mean probabilities (same shapes)."""
    stacked = torch.stack([lp.float() for lp in log_probs])
    return torch.logsumexp(stacked, dim=0) - math.log(len(log_probs))


class OnlineEnsembleObjective(Objective):
    """A :class:`~asr.objectives.ctc.CTCObjective` (the online model) plus its momentum models.

    ``decoder`` (a [T, V] log-probs -> n-best callable) turns the ensemble's posteriors into targets;
    default: greedy (best path). Checkpoints hold the momentum models, so a resumed run is exact.
    """

    name = "ctc-online-ensemble"

    def __init__(
        self, ctc: CTCObjective, cfg: OnlineEnsembleConfig, decoder: Callable[[Tensor], list] | None = None
    ) -> None:
        super().__init__()
        self.cfg = cfg
        self.ctc = ctc
        self.decoder = decoder
        self.decay_rates = cfg.decays()
        self.teachers = torch.nn.ModuleList(EMATeacher(ctc.model) for _ in self.decay_rates)
        self.may_skip_parameters = ctc.may_skip_parameters

    @property
    def encoder(self):
        return self.ctc.encoder

    @property
    def model(self):
        """The online :class:`~asr.objectives.ctc.CTCModel` (what ``ctc_model.pt`` holds)."""
        return self.ctc.model

    def lr_scales(self) -> dict[str, float]:
        return {f"ctc.{prefix}": scale for prefix, scale in self.ctc.lr_scales().items()}

    def in_warmup(self) -> bool:
        return int(self.ctc.updates) < self.cfg.warmup_steps

    @torch.no_grad()
    def pseudo_labels(self, audio: Tensor, lengths: Tensor) -> PseudoLabels:
        """Targets for ``audio`` [B, S]: the ensemble's combined posteriors, decoded, with confidences."""
        members = [t.model.log_probs(audio, lengths) for t in self.teachers]
        if self.cfg.include_online:
            online = self.ctc.model
            was_training = online.training
            online.eval()
            try:
                members.append(online.log_probs(audio, lengths))
            finally:
                online.train(was_training)
        frames = members[0][1]
        log_probs = combine_posteriors([lp for lp, _ in members])
        tokens, confidences = [], []
        for row, n in zip(log_probs.cpu(), frames.tolist(), strict=True):
            row = row[:n]
            if self.decoder is None:
                ids, starts = collapse(row.argmax(dim=-1).tolist())
            else:
                nbest = self.decoder(row)
                ids, starts = (nbest[0].tokens, nbest[0].frames) if nbest else ([], [])
            tokens.append(list(ids))
            confidences.append(path_confidences(row, ids, starts)[1] if ids else 0.0)
        return PseudoLabels(tokens, confidences, log_probs, frames)

    def forward(self, batch: Batch) -> LossOutput:
        if TOKENS_FIELD not in batch.targets:
            raise KeyError(f"CTC needs transcripts: the batch has no {TOKENS_FIELD!r} targets")
        cfg = self.cfg
        tokens = batch.targets[TOKENS_FIELD]
        labelled = (tokens >= 0).sum(dim=1) > 0
        unlabelled = (~labelled).nonzero().flatten().tolist()
        weights = labelled.float()
        metrics: dict[str, float] = {"unlabelled_share": len(unlabelled) / max(len(batch), 1)}
        if unlabelled:  # labelled in warm-up too (no loss then): the error-rate metric covers the whole run
            rows = torch.tensor(unlabelled, device=batch.audio.device)
            audio, lengths = batch.audio[rows], batch.audio_lengths[rows]
            labels = self.pseudo_labels(audio[:, : int(lengths.max())], lengths)
            width = max([tokens.shape[1], *map(len, labels.tokens)])
            tokens = torch.cat(
                [tokens, tokens.new_full((len(tokens), width - tokens.shape[1]), LABEL_PAD)], 1
            )
            for row, ids, confidence in zip(unlabelled, labels.tokens, labels.confidences, strict=True):
                tokens[row] = LABEL_PAD
                if ids and confidence >= cfg.min_confidence:
                    tokens[row, : len(ids)] = torch.tensor(ids)
                    weights[row] = 0.0 if self.in_warmup() else cfg.unlabelled_weight
            kept = [
                bool(ids) and c >= cfg.min_confidence
                for ids, c in zip(labels.tokens, labels.confidences, strict=True)
            ]
            metrics["pseudo_label_kept"] = sum(kept) / len(kept)
            metrics["pseudo_label_confidence"] = sum(labels.confidences) / len(unlabelled)
            if REFERENCE_FIELD in batch.targets:
                rate = token_error_rate(batch.targets[REFERENCE_FIELD][unlabelled], labels.tokens)
                if rate is not None:
                    metrics["pseudo_label_error_rate"] = rate
        log_probs, frames = self.ctc.augmented_log_probs(batch)
        losses = ctc_losses(log_probs, frames, tokens)
        weights = weights.to(losses.device)
        token_counts = (tokens >= 0).sum(dim=1).to(losses.device).float()
        denominator = (weights * token_counts).sum().clamp_min(1.0)
        # a batch whose every row is masked still gives a (zero) loss connected to the graph
        loss = (weights * losses).sum() / denominator
        metrics["encoder_frozen"] = float(self.ctc.encoder_frozen)
        return LossOutput(loss=loss, num_targets=int(token_counts[weights > 0].sum()), metrics=metrics)

    @torch.no_grad()
    def step_end(self, step: int) -> None:
        self.ctc.step_end(step)
        warm = step <= self.cfg.warmup_steps
        for teacher, decay in zip(self.teachers, self.decay_rates, strict=True):
            teacher.update(self.ctc.model, 0.0 if warm else decay)  # in place: the teachers really move

    def encoder_state_dict(self) -> dict:
        return self.ctc.encoder.state_dict()


def token_error_rate(references: Tensor, hypotheses: list[list[int]]) -> float | None:
    """Edit distance of ``hypotheses`` to the (-100 padded) ``references`` rows over their tokens; None if no reference."""
    errors = total = 0
    for ref_row, hyp in zip(references.tolist(), hypotheses, strict=True):
        ref = [t for t in ref_row if t >= 0]
        if not ref:
            continue
        errors += sum(op != "C" for _, _, op in align([str(t) for t in ref], [str(t) for t in hyp]))
        total += len(ref)
    return errors / total if total else None


def mix_cuts(labelled, unlabelled, labelled_share: float):
    """One cut list of ``labelled`` and ``unlabelled`` (eager CutSets) with about ``labelled_share`` of the audio labelled.

    The smaller side is repeated (whole copies, ids suffixed ``_rep<k>``) until the share is reached, rounding
    the number of copies; ``labelled_share <= 0`` is the plain union. Unlabelled cuts are marked by
    ``custom["unlabelled"] = True`` so that the dataset gives them no transcript.
    """
    from lhotse import CutSet

    unlabelled = CutSet.from_cuts(c.with_custom("unlabelled", True) for c in unlabelled)
    return CutSet.from_cuts(list(repeat_to_share(labelled, unlabelled, labelled_share)))


def repeat_to_share(first, second, share: float):
    """Cuts of ``first`` and ``second``, the smaller repeated so that ``first`` holds about ``share`` of the audio."""
    if share <= 0:
        return [*first, *second]
    if not 0 < share < 1:
        raise ValueError(f"the labelled share must be in (0, 1), got {share}")
    a, b = sum(c.duration for c in first), sum(c.duration for c in second)
    if a <= 0 or b <= 0:
        raise ValueError("both cut lists need audio to be mixed")
    want = share / (1 - share)  # a * k_a / (b * k_b)
    k_a, k_b = (max(1, round(want * b / a)), 1) if want * b >= a else (1, max(1, round(a / (want * b))))
    return [*_copies(first, k_a), *_copies(second, k_b)]


def _copies(cuts, k: int):
    if k == 1:
        return list(cuts)
    return [c.with_id(f"{c.id}_rep{i}") for i in range(k) for c in cuts]


@dataclass
class OnlineEnsembleFinetuning:
    """Online-ensemble pseudo-labelling as a fine-tuning method (:func:`asr.training.finetune.finetune`'s ``semi``).

    ``settings``: the settings file's ``semi`` section (:class:`OnlineEnsembleConfig` fields plus
    ``labelled_share``, the labelled share of the audio, default 0.5); ``decoder`` decodes the ensemble's
    posteriors (default greedy). The first momentum model is written as ``teacher_model.pt``.
    """

    unlabelled_path: Path
    settings: dict[str, Any] = field(default_factory=dict)
    decoder: Any = None
    source: str = "options"
    method: str = "online-ensemble"

    def prepare(self, objective: CTCObjective, labelled, cfg: TrainConfig):
        """The :class:`OnlineEnsembleObjective` around ``objective`` and the labelled + unlabelled cut list."""
        values = dict(self.settings)
        share = float(values.pop("labelled_share", 0.5))
        values.setdefault("total_steps", cfg.max_steps)
        try:
            semi_cfg = OnlineEnsembleConfig(**values)
            mixed = mix_cuts(labelled.to_eager(), unlabelled_cuts(self.unlabelled_path), share)
        except (TypeError, ValueError) as exc:
            raise SettingsError(f"{self.source}: semi: {exc}") from exc
        return OnlineEnsembleObjective(objective, semi_cfg, self.decoder), mixed

    def save(self, trainee: OnlineEnsembleObjective, exp_dir: Path, tokenizer_dir: Path, averaged: list[str]):
        """Write the first momentum model as ``exp_dir/teacher_model.pt``."""
        if len(trainee.teachers):
            save_ctc_model(
                trainee.teachers[0].model,
                Path(exp_dir) / "teacher_model.pt",
                tokenizer_dir,
                averaged=averaged,
            )

"""CTC fine-tuning of an encoder on labelled cuts (wav2vec 2.0 §4.3; Graves et al., 2006).

A linear head on the encoder's output predicts, at every 20 ms frame, a distribution over the tokenizer's
tokens (index 0 = the CTC blank); the loss is CTC over the whole transcript. The wav2vec 2.0 recipe for
fine-tuning a pretrained encoder on little labelled data is all here, each part configurable:

* **the front-end is never updated** (``freeze_frontend``): the CNN (or fbank convolutions) keeps its
  pretrained features;
* **the rest of the encoder is frozen for the first updates** (``freeze_encoder_steps``): only the new head
  learns until it is no longer random, so its gradients do not wreck the pretrained body;
* **SpecAugment-style masking in the encoder's feature space**: time spans of the projected features are
  replaced by the learned mask embedding (``mask_prob``, ``mask_span``: wav2vec 2.0's span sampler) and
  channel spans of the front-end features are zeroed (``channel_mask_prob``, ``channel_span``);
* layer drop and dropout come from the encoder's own config.

Training from scratch is the same objective with ``freeze_encoder_steps = 0`` and ``freeze_frontend=False``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from asr.data.dataset import Batch
from asr.files import CheckpointError, load_checkpoint, load_model_strict, save_atomic
from asr.models import Encoder
from asr.models.dropout import Dropout

from .base import LossOutput, Objective, config_from
from .masking import check_span_settings, span_mask

TOKENS_FIELD = "tokens"  # Batch.targets key of the transcripts' token ids (padded with -100)


@dataclass
class CTCConfig:
    """Fine-tuning settings; defaults are wav2vec 2.0's for its Libri-light (10 min - 10 h) fine-tuning."""

    freeze_frontend: bool = True
    freeze_encoder_steps: int = 0  # wav2vec 2.0 10 min / 1 h: 10 000 of 13 000 updates; 0: train all at once
    mask_prob: float = 0.5  # p * M of the span sampler: ~40 % of the frames masked
    mask_span: int = 10
    channel_mask_prob: float = 0.25  # share of front-end channels zeroed, in spans of channel_span
    channel_span: int = 64
    head_dropout: float = 0.0  # on the encoder output, before the head
    encoder_lr_scale: float = (
        1.0  # the encoder's learning rate relative to the head's (< 1: a gentler update)
    )

    def __post_init__(self) -> None:
        check_span_settings(self.mask_prob, self.mask_span)
        check_span_settings(self.channel_mask_prob, self.channel_span)
        if self.freeze_encoder_steps < 0:
            raise ValueError(f"freeze_encoder_steps must be >= 0, got {self.freeze_encoder_steps}")
        if self.encoder_lr_scale <= 0:
            raise ValueError(f"encoder_lr_scale must be > 0, got {self.encoder_lr_scale}")


class CTCModel(nn.Module):
    """An encoder and a linear CTC head: ``log_probs(audio, lengths) -> ([B, T, V] log-probabilities, frames)``.

    This is what decoding, export and the pronunciation app load; :class:`CTCObjective` trains it.
    """

    def __init__(self, encoder: Encoder, vocab_size: int, head_dropout: float = 0.0) -> None:
        super().__init__()
        if vocab_size < 2:
            raise ValueError(f"a CTC vocabulary needs the blank and at least one token, got {vocab_size}")
        self.encoder = encoder
        self.dropout = Dropout(head_dropout)
        self.head = nn.Linear(encoder.dim, vocab_size)

    @property
    def vocab_size(self) -> int:
        return self.head.out_features

    @property
    def min_samples(self) -> int:
        """The shortest input (in samples) the encoder gives a frame for."""
        return self.encoder.min_samples

    def log_probs(self, audio: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        out = self.encoder(audio, lengths)
        return self.head(self.dropout(out.output)).float().log_softmax(dim=-1), out.lengths


class CTCObjective(Objective):
    """CTC loss of a :class:`CTCModel` on ``batch.targets["tokens"]``, with wav2vec 2.0's fine-tuning recipe."""

    name = "ctc"

    def __init__(self, encoder: Encoder, vocab_size: int, cfg: CTCConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg = cfg or CTCConfig()
        self.model = CTCModel(encoder, vocab_size, cfg.head_dropout)
        if cfg.freeze_frontend:
            encoder.feature_extractor.requires_grad_(False)
        # a buffer: a resumed run knows whether the encoder is still frozen
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))
        # While frozen, the encoder's parameters get no gradient at all (not a zero one, which AdamW's weight
        # decay would still act on), so DDP must be told that some parameters may go unused.
        self.may_skip_parameters = cfg.freeze_encoder_steps > 0

    @property
    def encoder(self) -> Encoder:  # the model's (registered once, so checkpoints hold it once)
        return self.model.encoder

    @property
    def encoder_frozen(self) -> bool:
        return int(self.updates) < self.cfg.freeze_encoder_steps

    def augmented_log_probs(self, batch: Batch) -> tuple[Tensor, Tensor]:
        """[B, T, V] log-probabilities and frame counts of the batch's audio with the recipe's noise.

        In training mode: front-end channel masking and time masking with the mask embedding (both
        SpecAugment-style), dropout; the encoder runs without gradients while it is frozen.
        """
        cfg, enc = self.cfg, self.encoder
        with torch.no_grad() if self.encoder_frozen else torch.enable_grad():
            features, frames = enc.frontend(batch.audio, batch.audio_lengths)
            if self.training and cfg.channel_mask_prob > 0:
                channels = span_mask(
                    (features.shape[0], features.shape[2]),
                    torch.full((features.shape[0],), features.shape[2]),
                    cfg.channel_mask_prob,
                    cfg.channel_span,
                    min_masks=0,
                )
                features = features.masked_fill(channels[:, None, :].to(features.device), 0.0)
            x = enc.project(features)
            if self.training and cfg.mask_prob > 0:
                mask = span_mask(tuple(x.shape[:2]), frames, cfg.mask_prob, cfg.mask_span, min_masks=0)
                x = torch.where(mask[..., None].to(x.device), enc.mask_embedding.to(x.dtype), x)
            hidden = enc.body(enc.add_positions(x, frames), frames).output
        return self.model.head(self.model.dropout(hidden)).float().log_softmax(dim=-1), frames

    def forward(self, batch: Batch) -> LossOutput:
        if TOKENS_FIELD not in batch.targets:
            raise KeyError(f"CTC needs transcripts: the batch has no {TOKENS_FIELD!r} targets")
        log_probs, frames = self.augmented_log_probs(batch)
        tokens = batch.targets[TOKENS_FIELD].to(log_probs.device)
        token_lengths = (tokens >= 0).sum(dim=1)
        loss = ctc_losses(log_probs, frames, tokens).sum()
        num_tokens = int(token_lengths.sum())
        metrics = {
            "encoder_frozen": float(self.encoder_frozen),
            "frames_per_token": float(frames.sum()) / max(num_tokens, 1),
        }
        return LossOutput(loss=loss / max(num_tokens, 1), num_targets=num_tokens, metrics=metrics)

    def step_end(self, step: int) -> None:
        self.updates.fill_(step)

    def lr_scales(self) -> dict[str, float]:
        return {"model.encoder.": self.cfg.encoder_lr_scale} if self.cfg.encoder_lr_scale != 1.0 else {}


def ctc_losses(log_probs: Tensor, frames: Tensor, tokens: Tensor) -> Tensor:
    """[B] CTC losses (summed over each row's tokens) of ``log_probs`` [B, T, V] for ``tokens`` padded with -100.

    Frames too few for a transcript (CTC needs at least one frame per token, plus blanks between repeats)
    give an infinite loss: ``zero_infinity`` drops such a row instead of poisoning the update.
    """
    tokens = tokens.to(log_probs.device)
    return F.ctc_loss(
        log_probs.transpose(0, 1),
        tokens.clamp_min(0),
        frames,
        (tokens >= 0).sum(dim=1),
        blank=0,
        reduction="none",
        zero_infinity=True,
    )


#: Supervision ``custom`` fields holding phone targets, most specific first: ``asr pseudo-label``'s
#: ``phones``, then L2-ARCTIC's annotated ``perceived_phones``, then ``canonical_phones`` (what the speaker was
#: asked to say: speechocean762's weak labels); without any, phones come from the lexicon and the text.
PHONE_FIELDS = ("phones", "perceived_phones", "canonical_phones")


def transcript_ids(tokenizer, cut) -> list[int]:
    """The CTC targets of ``cut`` (errors name the cut).

    Text units: its supervision texts joined, normalised and encoded. Phone units: the phones of the
    first field of :data:`PHONE_FIELDS` that every supervision carries (what was *said*, for MDD), else
    the lexicon's pronunciation of the text.
    """
    sups = cut.supervisions
    if tokenizer.kind == "phone" and sups:
        for name in PHONE_FIELDS:
            if all(name in (s.custom or {}) for s in sups):
                return tokenizer.encode_phones([p for s in sups for p in s.custom[name]], utt_id=cut.id)
    text = tokenizer.normalize(" ".join(s.text or "" for s in sups))
    return tokenizer.encode(text, utt_id=cut.id)


def build(encoder: Encoder, vocab_size: int, **overrides) -> CTCObjective:
    """CTC fine-tuning of ``encoder`` for ``vocab_size`` tokens (blank included); ``overrides``: CTCConfig fields."""
    return CTCObjective(encoder, vocab_size, config_from(CTCConfig, overrides))


@torch.inference_mode()
def greedy_decode(log_probs: Tensor, lengths: Tensor, blank: int = 0) -> list[list[int]]:
    """Best path: the most likely token per frame, repeats merged, blanks removed; one id list per row."""
    best = log_probs.argmax(dim=-1).cpu()
    out = []
    for row, n in zip(best, lengths.tolist(), strict=True):
        ids = torch.unique_consecutive(row[:n]).tolist()
        out.append([i for i in ids if i != blank])
    return out


def save_ctc_model(model: CTCModel, path: Path, tokenizer_dir: str | Path, **extra) -> Path:
    """Write what decoding needs (weights, encoder config, vocabulary size, tokenizer folder) atomically."""
    from dataclasses import asdict

    state = {
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "encoder_config": asdict(model.encoder.cfg),
        "vocab_size": model.vocab_size,
        "tokenizer": str(tokenizer_dir),
        **extra,
    }
    save_atomic(state, Path(path))
    return Path(path)


def load_ctc_model(path: str | Path) -> tuple[CTCModel, Path]:
    """A :class:`CTCModel` (eval mode) and its tokenizer folder from :func:`save_ctc_model`'s file, strictly."""
    from asr.models import EncoderConfig, build_encoder

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such model file (asr finetune writes EXP_DIR/ctc_model.pt)")
    state = load_checkpoint(path)
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: not a CTC model file (holds a {type(state).__name__})")
    missing = {"model", "encoder_config", "vocab_size", "tokenizer"} - set(state)
    if missing:
        raise CheckpointError(f"{path}: not a CTC model file (missing {sorted(missing)})")
    model = CTCModel(build_encoder(EncoderConfig(**state["encoder_config"])), int(state["vocab_size"]))
    load_model_strict(model, state["model"], path)
    return model.eval(), Path(state["tokenizer"])

"""The one small interface between the training loop and a self-supervised objective.

The loop (:func:`asr.training.train`) knows nothing about wav2vec 2.0, HuBERT or data2vec: it calls
``objective(batch)`` for a :class:`LossOutput`, back-propagates ``loss``, steps the optimiser over the
parameters that require gradients and then calls :meth:`Objective.step_end`. Everything an objective
adds to the encoder (quantiser, projection heads, EMA teacher) lives inside the objective module, so
that ``state_dict()`` holds all of it and a resumed run continues exactly.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

import torch
from torch import nn

if TYPE_CHECKING:
    from asr.data.dataset import Batch
    from asr.models import Encoder


C = TypeVar("C")


def config_from(cls: type[C], overrides: dict) -> C:
    """``cls(**overrides)`` for a config dataclass; unknown field names are a ``ValueError`` naming them."""
    unknown = set(overrides) - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        raise ValueError(f"unknown {cls.__name__} field(s): {sorted(unknown)}")
    return cls(**overrides)


@dataclass
class LossOutput:
    """What one forward pass of an objective returns."""

    loss: torch.Tensor  # scalar to backpropagate: a MEAN over this batch's target frames
    num_targets: int  # frames/targets the mean was taken over (for logging)
    metrics: dict[str, float] = field(default_factory=dict)  # extra scalars for TensorBoard


class Objective(nn.Module):
    """An encoder plus what one training objective adds; the loop only calls these.

    Subclasses set ``name`` (the registry key, also stored in checkpoints so that a run is never
    resumed with another objective) and ``encoder`` and implement :meth:`forward`.

    Rules the loop relies on:

    * parameters that must not be optimised (an EMA teacher) have ``requires_grad=False``;
    * randomness (masks, distractors, Gumbel noise) uses torch's global RNG only: the loop reseeds it
      before every micro-batch, which makes a resumed run repeat the uninterrupted one exactly;
    * state that changes during training (EMA weights, a decayed temperature) is either in
      ``state_dict()`` (parameters/buffers) or a pure function of the step passed to :meth:`step_end`.
    """

    name: str = "objective"
    encoder: Encoder

    def forward(self, batch: Batch) -> LossOutput:  # pragma: no cover - abstract
        raise NotImplementedError

    def step_end(self, step: int) -> None:
        """Called after every optimiser step (``step`` = steps done so far): EMA update, temperature decay…"""

    def encoder_state_dict(self) -> dict:
        """The encoder's weights, for fine-tuning (written to ``encoder.pt`` at the end of training)."""
        return self.encoder.state_dict()

    def lr_scales(self) -> dict[str, float]:
        """Learning-rate multipliers by parameter-name prefix (the longest matching prefix wins; others 1).

        The loop puts each parameter in an optimiser group whose rate is the schedule's times its multiplier,
        e.g. a pretrained encoder fine-tuned more gently than its new head.
        """
        return {}

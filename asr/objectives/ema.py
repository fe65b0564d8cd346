"""The data2vec teacher: an exponential moving average (EMA) of the student, and the targets it makes.

data2vec (Baevski et al., 2022) and data2vec 2.0 (Baevski et al., 2023) regress the student's output onto
contextualised representations of the *unmasked* input computed by a teacher whose weights are an EMA of
the student's, ``Δ ← τ Δ + (1 − τ) θ``, with τ rising linearly from τ₀ to τₑ over the first τₙ updates and
constant afterwards. The targets are the average of the teacher's top K block outputs, each normalised
first; for speech the per-block normalisation is instance norm (over time, per channel, no parameters),
because neighbouring 20 ms frames are highly correlated.

The teacher lives inside the objective as a submodule, so its weights are in ``state_dict()`` (exact
resume), but its parameters have ``requires_grad=False``, so the training loop, which optimises
``[p for p in objective.parameters() if p.requires_grad]``, never touches them. It always runs in eval
mode (no dropout, no layer drop), as the reference implementation does.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import TYPE_CHECKING

import torch
from torch import nn

from .base import Objective

if TYPE_CHECKING:
    from asr.models import Encoder

LAYER_OUTPUTS = ("ffn", "block")


def ema_decay(step: int, start: float = 0.999, end: float = 0.9999, anneal_steps: int = 30000) -> float:
    """τ after ``step`` updates: linear from ``start`` (step 0) to ``end`` (step ``anneal_steps``), then ``end``.

    Defaults are data2vec's speech schedule (τ₀ = 0.999, τₑ = 0.9999, τₙ = 30 000); data2vec 2.0 speech
    uses ``end=0.99999, anneal_steps=75000``.
    """
    if anneal_steps <= 0 or step >= anneal_steps:
        return end
    return start + (end - start) * max(step, 0) / anneal_steps


class EMATeacher(nn.Module):
    """A frozen copy of a student module, updated as ``θ_t ← τ θ_t + (1 − τ) θ_s`` by :meth:`update`.

    ``shared`` names submodules (by their prefix in ``student.named_parameters()``, e.g. ``"feature_extractor"``)
    whose teacher weights are not averaged but *copied* from the student at every update: they are the
    parts the papers share between teacher and student, and copying keeps the teacher a complete,
    self-contained module that produces exactly what the shared student parts would (minus dropout).
    Buffers (e.g. batch-norm statistics) are always copied.
    """

    def __init__(self, student: nn.Module, shared: Iterable[str] = ()) -> None:
        super().__init__()
        self.model = copy.deepcopy(student)
        self.model.requires_grad_(False)
        for p in self.model.parameters():
            p.grad = None
        self.shared = tuple(s.rstrip(".") for s in shared)
        super().train(False)

    def train(self, mode: bool = True) -> EMATeacher:
        """The teacher stays in eval mode whatever the objective is set to (dropout and layer drop off)."""
        return super().train(False)

    def is_shared(self, name: str) -> bool:
        """Whether parameter ``name`` is copied from the student rather than averaged."""
        return any(name == s or name.startswith(s + ".") for s in self.shared)

    @torch.no_grad()
    def update(self, student: nn.Module, decay: float) -> None:
        """One EMA step towards ``student`` (same architecture as the teacher) with τ = ``decay``."""
        teacher_params = dict(self.model.named_parameters())
        for name, p in student.named_parameters():
            t = teacher_params[name]
            if self.is_shared(name) or decay <= 0.0:
                t.copy_(p)
            elif decay < 1.0:
                t.mul_(decay).add_(p.detach().to(t.dtype), alpha=1.0 - decay)
        teacher_buffers = dict(self.model.named_buffers())
        for name, b in student.named_buffers():
            teacher_buffers[name].copy_(b)

    def forward(self, *args, **kwargs):
        """Run the teacher model (callers wrap this in ``torch.no_grad()``)."""
        return self.model(*args, **kwargs)


def instance_norm(x: torch.Tensor, lengths: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Instance norm of ``x`` [B, T, D] over the valid frames of each row (per channel, no affine).

    Equals ``F.instance_norm`` on unpadded rows; padded frames are ignored in the statistics and set to 0.
    """
    valid = (torch.arange(x.size(1), device=x.device)[None, :] < lengths[:, None]).unsqueeze(-1).to(x.dtype)
    count = valid.sum(1, keepdim=True).clamp(min=1.0)
    mean = (x * valid).sum(1, keepdim=True) / count
    var = ((x - mean) * valid).pow(2).sum(1, keepdim=True) / count
    return (x - mean) * torch.rsqrt(var + eps) * valid


def average_top_layers(layers: list[torch.Tensor], lengths: torch.Tensor, top_k: int) -> torch.Tensor:
    """data2vec targets: the mean of the instance-normed outputs of the top ``top_k`` layers, in float32.

    No further normalisation of the average: the speech models use per-layer instance norm only.
    """
    if not 1 <= top_k <= len(layers):
        raise ValueError(f"top_k={top_k} but the teacher has {len(layers)} layers")
    top = layers[-top_k:]
    return sum(instance_norm(layer.float(), lengths) for layer in top) / len(top)


def _ffn(layer: nn.Module) -> nn.Module:
    """The feed-forward module whose output is added by a block's last residual connection."""
    if hasattr(layer, "feed_forward"):  # wav2vec 2.0 Transformer block
        return layer.feed_forward
    if hasattr(layer, "ffn2"):  # Conformer block: the second (macaron) half-step FFN
        return layer.ffn2
    raise TypeError(f"do not know where the feed-forward network of {type(layer).__name__} is")


@torch.no_grad()
def teacher_targets(
    teacher: Encoder, features: torch.Tensor, lengths: torch.Tensor, top_k: int, layer_output: str = "ffn"
) -> torch.Tensor:
    """[B, T, D] float32 targets from the teacher encoder run on unmasked front-end ``features`` [B, T, F].

    The front-end output comes from the student (the papers share the CNN feature encoder; its teacher copy
    is never run); the teacher projects it, adds positions and runs its blocks. ``layer_output="ffn"``
    takes each block's feed-forward output before the block's last residual connection, which the
    data2vec paper found to be the best target (and data2vec 2.0 kept); ``"block"`` takes block outputs.
    """
    if layer_output not in LAYER_OUTPUTS:
        raise ValueError(f"unknown layer_output {layer_output!r}; expected one of {LAYER_OUTPUTS}")
    x = teacher.add_positions(teacher.project(features), lengths)
    if layer_output == "block":
        layers = teacher.body(x, lengths, return_layers=True).layers
    else:
        layers = []
        hooks = [
            _ffn(layer).register_forward_hook(lambda _m, _i, out: layers.append(out))
            for layer in teacher.layers
        ]
        try:
            teacher.body(x, lengths)
        finally:
            for hook in hooks:
                hook.remove()
    return average_top_layers(layers, lengths, min(top_k, len(layers)))


def regression_loss(
    pred: torch.Tensor, target: torch.Tensor, beta: float = 0.0, scale: float | None = None
) -> torch.Tensor:
    """Per-frame data2vec loss [N] for predictions and targets [N, D], summed over D and scaled.

    ``beta == 0`` gives the squared error (L2) the speech models use; ``beta > 0`` the paper's Smooth L1,
    ``½(y − f)²/β`` if ``|y − f| < β`` else ``|y − f| − ½β``. ``scale`` defaults to ``1/√D`` as in the
    reference implementation, which keeps the summed loss of a D-dimensional target at a size that
    does not grow with the model width.
    """
    pred, target = pred.float(), target.float()
    if beta == 0.0:
        loss = (pred - target).pow(2)
    else:
        loss = nn.functional.smooth_l1_loss(pred, target, reduction="none", beta=beta)
    scale = pred.size(-1) ** -0.5 if scale is None else scale
    return loss.sum(-1) * scale


def frame_variance(x: torch.Tensor) -> float:
    """Mean over channels of the variance across frames of ``x`` [N, D]; near 0 means collapse."""
    if x.size(0) < 2:
        return 0.0
    return x.detach().float().var(dim=0).mean().item()


class EMATeacherObjective(Objective):
    """What data2vec and data2vec 2.0 share: an EMA teacher of the student encoder, updated after each step.

    Subclasses set ``encoder`` and ``cfg`` (with ``ema_start``, ``ema_end``, ``ema_anneal_steps``), then call
    :meth:`init_teacher`. The number of EMA updates is a buffer, so τ survives a checkpoint round trip.
    """

    def init_teacher(self, shared: Iterable[str]) -> None:
        self.teacher = EMATeacher(self.encoder, shared=shared)
        self.register_buffer("ema_updates", torch.zeros((), dtype=torch.long))

    def decay(self, step: int | None = None) -> float:
        """τ for ``step`` (default: the number of EMA updates done so far)."""
        step = int(self.ema_updates) if step is None else step
        return ema_decay(step, self.cfg.ema_start, self.cfg.ema_end, self.cfg.ema_anneal_steps)

    @torch.no_grad()
    def step_end(self, step: int) -> None:
        """EMA update of the teacher after optimiser step ``step``."""
        self.teacher.update(self.encoder, self.decay(step))
        self.ema_updates.fill_(step)

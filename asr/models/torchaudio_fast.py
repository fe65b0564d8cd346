"""The one place that reaches into torchaudio's layers: the encoder's CPU fast paths and their checks.

:class:`asr.models.encoder.Encoder` is built from torchaudio's layers (``torchaudio.models.conformer``,
``torchaudio.models.wav2vec2.components``) so that wav2vec 2.0 / HuBERT checkpoints load by renaming keys.
Some of their forwards are slow on a CPU, and the Conformer's lets padding leak into valid frames. The
functions here run the same layers with the same parameters another way, reading attributes that torchaudio
does not promise to keep. The encoder reads none of them itself: when torchaudio is upgraded or replaced,
this module (with its parity tests, ``tests/test_torchaudio_fast.py``) is the one place to change.

Written and checked against torchaudio 2.11.0 with torch 2.11.0 (:data:`CHECKED_TORCHAUDIO`). The encoder
calls :func:`use_fast_layers` at construction: it checks every attribute listed below on every torchaudio
layer of the model and raises :class:`TorchaudioLayoutError`, naming the layer and the attribute, where one
is missing or of another kind. Nothing falls back silently; the parity tests check that the re-implemented
forwards still compute torchaudio's.

What is read, and why
---------------------

``ConvolutionalPositionalEmbedding``: ``conv`` (a grouped ``nn.Conv1d``, kernel 128 / 16 groups, under
    weight norm ``conv.parametrizations.weight``) and ``num_remove`` (1 for an even kernel).
    :func:`positional_conv` is its forward with the convolution through the FFT (:mod:`asr.models.fft_conv`):
    oneDNN's grouped convolution with this kernel costs as much as the xs encoder's four blocks; the FFT
    takes a third to a fifth of that, forward and backward. :func:`init_positional_conv` sets the weight
    through weight norm's right inverse (wav2vec 2.0's initialisation).

``ConformerLayer``: ``ffn1``, ``ffn2``, ``self_attn_layer_norm``, ``self_attn``, ``self_attn_dropout``,
    ``final_layer_norm``, ``convolution_first``, and ``conv_module`` (torchaudio's private
    ``_ConvolutionModule``): its ``layer_norm`` and its ``sequential`` of exactly pointwise ``Conv1d``,
    ``GLU``, depthwise ``Conv1d``, ``BatchNorm1d`` (or ``GroupNorm``), activation, pointwise ``Conv1d``,
    ``Dropout``. :func:`conformer_layer` is its forward, batch-first, with
    (1) padded frames zeroed before the depthwise convolution and left out of the batch-norm statistics
    (:func:`masked_batch_norm`): torchaudio's forward lets them leak into valid frames, so an utterance's
    output depended on its batch-mates' lengths; (2) the depthwise convolution (kernel 31, about
    2 GFLOP/s in oneDNN) through the FFT; (3) in CPU training, the attention weights computed here
    (:func:`self_attention`) so that their dropout, a ``heads x T x T`` mask per utterance and the model's
    largest, draws the cheap mask.

``nn.MultiheadAttention`` (torch's, inside ``ConformerLayer``): ``in_proj_weight``, ``in_proj_bias``,
    ``out_proj``, ``num_heads``, ``dropout``, ``bias_k``, ``add_zero_attn``, ``batch_first`` (must be False:
    torchaudio calls it time-first) and the private ``_qkv_same_embed_dim``.

The ``nn.Dropout`` modules of torchaudio's blocks: ``FeatureProjection.dropout``,
    ``FeedForward.intermediate_dropout`` / ``output_dropout``, ``EncoderLayer.dropout``,
    ``ConformerLayer.self_attn_dropout`` and those in ``ffn1`` / ``ffn2`` / ``conv_module`` ``.sequential``.
    :func:`use_fast_dropout` swaps every plain ``nn.Dropout`` for :class:`asr.models.dropout.Dropout` (same
    ``p``, no state: checkpoints do not change): torch's CPU ``bernoulli_`` costs about 10 ns an element, a
    quarter of an xs Conformer's training step. (wav2vec 2.0's ``SelfAttention`` drops attention weights
    inside ``scaled_dot_product_attention``; that is left to torch.)

``ConvLayerBlock``: ``conv``, through :func:`block_conv`, for the encoder's Kaiming initialisation.

Elsewhere, and not speed-ups: ``asr.models.frontend`` builds its CNN with torchaudio's private
``_get_feature_extractor`` and runs ``ConvLayerBlock``'s ``conv`` / ``layer_norm`` / ``kernel_size`` /
``stride`` itself (its group norm over valid frames only); ``asr.models.pretrained`` and
``asr.models.hf_ctc`` use torchaudio's private importers ``_convert_state_dict`` and ``_get_config``;
``asr.objectives.ema`` takes data2vec targets from a block's ``feed_forward`` / ``ffn2``; ``asr.export.onnx``
swaps ``ConformerLayer.self_attn`` for a traceable copy, reading ``nn.MultiheadAttention``'s internals.
"""

from __future__ import annotations

import torch
import torchaudio
from torch import Tensor, nn
from torchaudio.models.conformer import ConformerLayer
from torchaudio.models.wav2vec2.components import (
    ConvLayerBlock,
    ConvolutionalPositionalEmbedding,
    EncoderLayer,
    FeatureProjection,
    FeedForward,
)

from . import dropout as fast_dropout
from . import fft_conv

CHECKED_TORCHAUDIO = "2.11.0"


class TorchaudioLayoutError(RuntimeError):
    """A torchaudio layer lacks an attribute the fast paths read (or holds something else there)."""


# -- the checks ---------------------------------------------------------------------------------------------
# (dotted path from the layer, the kind of object expected there); digits index an nn.Sequential
_CONV_SEQUENTIAL = (
    ("conv_module.sequential.0", nn.Conv1d),  # pointwise, to 2 x channels
    ("conv_module.sequential.1", nn.GLU),
    ("conv_module.sequential.2", nn.Conv1d),  # depthwise
    ("conv_module.sequential.3", (nn.BatchNorm1d, nn.GroupNorm)),
    ("conv_module.sequential.4", nn.Module),  # activation
    ("conv_module.sequential.5", nn.Conv1d),  # pointwise, back to the model width
    ("conv_module.sequential.6", nn.Dropout),
)
_ATTENTION = (
    ("self_attn", nn.MultiheadAttention),
    ("self_attn.in_proj_weight", Tensor),
    ("self_attn.in_proj_bias", (Tensor, type(None))),
    ("self_attn.out_proj", nn.Linear),
    ("self_attn.num_heads", int),
    ("self_attn.dropout", (float, int)),
    ("self_attn.bias_k", (Tensor, type(None))),
    ("self_attn.add_zero_attn", bool),
    ("self_attn.batch_first", bool),
    ("self_attn._qkv_same_embed_dim", bool),
)
_LAYOUTS: tuple[tuple[type, tuple[tuple[str, type | tuple[type, ...]], ...]], ...] = (
    (
        ConvolutionalPositionalEmbedding,
        (("conv", nn.Conv1d), ("conv.parametrizations.weight", nn.Module), ("num_remove", int)),
    ),
    (
        ConformerLayer,
        (
            ("ffn1", nn.Module),
            ("ffn1.sequential.3", nn.Dropout),
            ("ffn1.sequential.5", nn.Dropout),
            ("ffn2", nn.Module),
            ("ffn2.sequential.3", nn.Dropout),
            ("ffn2.sequential.5", nn.Dropout),
            ("self_attn_layer_norm", nn.Module),
            *_ATTENTION,
            ("self_attn_dropout", nn.Dropout),
            ("conv_module", nn.Module),
            ("conv_module.layer_norm", nn.Module),
            ("conv_module.sequential", nn.Sequential),
            *_CONV_SEQUENTIAL,
            ("final_layer_norm", nn.Module),
            ("convolution_first", bool),
        ),
    ),
    (FeatureProjection, (("dropout", nn.Dropout),)),
    (FeedForward, (("intermediate_dropout", nn.Dropout), ("output_dropout", nn.Dropout))),
    (EncoderLayer, (("dropout", nn.Dropout),)),
    (ConvLayerBlock, (("conv", nn.Conv1d),)),
)


def _fail(layer: nn.Module, path: str, problem: str) -> TorchaudioLayoutError:
    return TorchaudioLayoutError(
        f"torchaudio {torchaudio.__version__}: {type(layer).__name__}.{path} {problem}. The encoder's CPU "
        "fast paths read it: update asr/models/torchaudio_fast.py (written for torchaudio "
        f"{CHECKED_TORCHAUDIO}), the one place that reads torchaudio's layers."
    )


def _attribute(layer: nn.Module, path: str, kind: type | tuple[type, ...]) -> object:
    value: object = layer
    for name in path.split("."):
        if name.isdigit() and isinstance(value, nn.Sequential):
            if int(name) >= len(value):
                raise _fail(layer, path, f"does not exist (the Sequential has {len(value)} modules)")
            value = value[int(name)]
        elif hasattr(value, name):
            value = getattr(value, name)
        else:
            raise _fail(layer, path, "does not exist")
    if not isinstance(value, kind):
        kinds = kind if isinstance(kind, tuple) else (kind,)
        expected = " or ".join(k.__name__ for k in kinds)
        raise _fail(layer, path, f"is a {type(value).__name__}, expected {expected}")
    return value


def check_layer(layer: nn.Module) -> None:
    """Raise :class:`TorchaudioLayoutError` unless ``layer`` (one torchaudio layer this module knows) has
    every attribute the fast paths read; layers of other classes pass unchecked."""
    for cls, layout in _LAYOUTS:
        if isinstance(layer, cls):
            for path, kind in layout:
                _attribute(layer, path, kind)
    if isinstance(layer, ConformerLayer):
        if len(layer.conv_module.sequential) != len(_CONV_SEQUENTIAL):
            raise _fail(
                layer,
                "conv_module.sequential",
                f"has {len(layer.conv_module.sequential)} modules, expected {len(_CONV_SEQUENTIAL)}",
            )
        if layer.self_attn.batch_first:
            raise _fail(layer, "self_attn.batch_first", "is True, expected False (time-first attention)")


def check_layers(module: nn.Module) -> nn.Module:
    """:func:`check_layer` on every module inside ``module``; returns ``module``."""
    for layer in module.modules():
        check_layer(layer)
    return module


def use_fast_dropout(module: nn.Module) -> nn.Module:
    """Replace every plain ``nn.Dropout`` inside ``module`` (torchaudio's blocks included) by
    :class:`asr.models.dropout.Dropout`; returns ``module``."""
    for parent in module.modules():
        for name, child in parent.named_children():
            if type(child) is nn.Dropout:
                setattr(parent, name, fast_dropout.Dropout(child.p, child.inplace))
    return module


def use_fast_layers(module: nn.Module) -> nn.Module:
    """What the encoder calls once built: :func:`check_layers`, then :func:`use_fast_dropout`."""
    return use_fast_dropout(check_layers(module))


# -- wav2vec 2.0 layers -------------------------------------------------------------------------------------
def block_conv(block: ConvLayerBlock) -> nn.Conv1d:
    """The convolution of one of torchaudio's feature-encoder blocks."""
    return block.conv


@torch.no_grad()
def init_positional_conv(module: ConvolutionalPositionalEmbedding, std: float) -> None:
    """Positional convolution weight ~ N(0, std) (set through weight norm's right inverse: g, v), bias 0."""
    conv = module.conv
    conv.weight = torch.randn_like(conv.weight) * std
    conv.bias.zero_()


def positional_conv(module: ConvolutionalPositionalEmbedding, x: Tensor) -> Tensor:
    """``module(x)`` for ``x`` [B, T, D] (torchaudio's positional embedding), convolving through the FFT."""
    y = fft_conv.conv1d(module.conv, x.transpose(1, 2))
    if module.num_remove > 0:  # an even kernel gives one frame more
        y = y[..., : -module.num_remove]
    return nn.functional.gelu(y).transpose(1, 2)


# -- Conformer layers ---------------------------------------------------------------------------------------
def conformer_layer(layer: ConformerLayer, x: Tensor, key_pad: Tensor | None, pad: Tensor) -> Tensor:
    """torchaudio's ConformerLayer forward on batch-first ``x`` [B, T, D]; ``key_pad`` (True: ignored key, or
    None) masks attention, ``pad`` [B, T] (True: padded frame) is kept out of the depthwise convolution (and
    out of its batch-norm statistics), which torchaudio's own forward lets leak into valid frames."""
    x = x + 0.5 * layer.ffn1(x)
    if layer.convolution_first:
        x = x + _conformer_conv(layer.conv_module, x, pad)
    x = x + layer.self_attn_dropout(self_attention(layer.self_attn, layer.self_attn_layer_norm(x), key_pad))
    if not layer.convolution_first:
        x = x + _conformer_conv(layer.conv_module, x, pad)
    x = x + 0.5 * layer.ffn2(x)
    return layer.final_layer_norm(x)


def self_attention(attn: nn.Module, x: Tensor, key_pad: Tensor | None) -> Tensor:
    """``attn`` (time-first self-attention) on batch-first ``x`` [B, T, D]; keys at ``key_pad`` ignored.

    Training on a CPU, the attention weights are computed here, as ``nn.MultiheadAttention``'s own
    unfused path does, so that their dropout (a ``heads x T x T`` mask per utterance, the largest of
    the model) draws :mod:`asr.models.dropout`'s cheap mask. Otherwise the module runs (fused kernels; also
    any replacement with its call signature, such as the ONNX exporter's).
    """
    plain = isinstance(attn, nn.MultiheadAttention) and attn._qkv_same_embed_dim and attn.bias_k is None
    if not (
        attn.training and x.device.type == "cpu" and plain and attn.dropout > 0 and not attn.add_zero_attn
    ):
        y, _ = attn(*(x.transpose(0, 1),) * 3, key_padding_mask=key_pad, need_weights=False)  # time-first
        return y.transpose(0, 1)
    batch, frames, dim = x.shape
    heads = attn.num_heads
    qkv = nn.functional.linear(x, attn.in_proj_weight, attn.in_proj_bias)
    q, k, v = qkv.view(batch, frames, 3, heads, dim // heads).permute(2, 0, 3, 1, 4)  # [B, H, T, d] each
    scores = (q * (dim // heads) ** -0.5) @ k.transpose(-2, -1)
    if key_pad is not None:
        scores = scores.masked_fill(key_pad[:, None, None, :], float("-inf"))
    weights = fast_dropout.dropout(scores.softmax(dim=-1), attn.dropout, training=True)
    y = (weights @ v).transpose(1, 2).reshape(batch, frames, dim)
    return attn.out_proj(y)


def _conformer_conv(module: nn.Module, x: Tensor, pad: Tensor) -> Tensor:
    pointwise1, glu, depthwise, norm, activation, pointwise2, dropout = module.sequential
    y = glu(pointwise1(module.layer_norm(x).transpose(1, 2)))  # [B, C, T]
    y = y.masked_fill(pad[:, None, :], 0.0)  # zero padding = the convolution's own 'same' padding
    y = fft_conv.conv1d(depthwise, y)
    if isinstance(norm, nn.BatchNorm1d) and norm.training:
        y = masked_batch_norm(norm, y, ~pad)
    else:
        y = norm(y)
    return dropout(pointwise2(activation(y))).transpose(1, 2)


def masked_batch_norm(norm: nn.BatchNorm1d, y: Tensor, valid: Tensor) -> Tensor:
    """Training-mode ``norm`` on ``y`` [B, C, T], statistics over the ``valid`` [B, T] frames only; updates
    the running statistics as ``BatchNorm1d`` does."""
    y = y.float()  # statistics over up to ~1e5 frames: not in half precision
    v = valid[:, None, :].to(y.dtype)
    count = v.sum().clamp_min(2.0)
    mean = (y * v).sum((0, 2)) / count
    var = (((y - mean[None, :, None]) * v) ** 2).sum((0, 2)) / count
    if norm.track_running_stats and norm.running_mean is not None:
        with torch.no_grad():
            m = norm.momentum if norm.momentum is not None else 0.1
            norm.running_mean.lerp_(mean.detach().to(norm.running_mean.dtype), m)
            unbiased = var.detach() * count / (count - 1)
            norm.running_var.lerp_(unbiased.to(norm.running_var.dtype), m)
            norm.num_batches_tracked += 1
    y = (y - mean[None, :, None]) / torch.sqrt(var[None, :, None] + norm.eps)
    return y * norm.weight[None, :, None] + norm.bias[None, :, None]

"""asr.models.torchaudio_fast: each CPU fast path against the plain torchaudio (or torch) layer it replaces.

Parity: outputs and input gradients equal torchaudio's own forward to float32 rounding (eval mode; training
mode where nothing random runs), with and without padding where padding matters. The Conformer fast path
keeps padding out of valid frames, which torchaudio's forward does not: there its valid frames are compared
with torchaudio's forward on each unpadded utterance. The cheap dropout is checked statistically. A torchaudio
layer without an attribute the fast paths read is a loud error at construction.
"""

from __future__ import annotations

import math

import pytest
import torch
import torchaudio
from conftest import tiny_encoder
from torch import nn
from torchaudio.models.conformer import ConformerLayer
from torchaudio.models.wav2vec2.components import (
    ConvLayerBlock,
    ConvolutionalPositionalEmbedding,
    EncoderLayer,
    FeatureProjection,
    FeedForward,
    SelfAttention,
)

import asr.models.dropout as dropout_module
import asr.models.encoder as encoder_module
from asr.models import fft_conv
from asr.models import torchaudio_fast as fast
from asr.models.dropout import Dropout, keep_mask
from asr.models.torchaudio_fast import TorchaudioLayoutError

pytestmark = pytest.mark.usefixtures("one_thread")

TIGHT = dict(rtol=1e-4, atol=1e-5)  # float32 rounding of an FFT convolution
GRAD = dict(rtol=1e-4, atol=1e-4)


def tiny(body: str = "conformer", **kw):
    """conftest's tiny encoder with 16-channel convolutions and short positional / Conformer kernels."""
    settings = dict(channels=16, pos_conv_kernel=16, pos_conv_groups=4, conformer_kernel=7)
    return tiny_encoder("conv", body, **{**settings, **kw})


# -- the positional convolution ------------------------------------------------------------------------------
@pytest.mark.parametrize("kernel, groups", [(128, 16), (5, 4)])
def test_fft_positional_convolution_equals_torchaudios(kernel, groups):
    """The FFT path gives torchaudio's outputs and gradients (float32 rounding), even and odd kernels."""
    torch.manual_seed(0)
    module = ConvolutionalPositionalEmbedding(32, kernel, groups)
    with torch.no_grad():
        module.conv.bias.normal_()
    for frames in (1, 9, 200):
        x = torch.randn(3, frames, 32, requires_grad=True)
        direct = module(x)
        (grad_direct,) = torch.autograd.grad(direct.square().sum(), x)
        got = fast.positional_conv(module, x)
        (grad_fft,) = torch.autograd.grad(got.square().sum(), x)
        assert got.shape == direct.shape
        torch.testing.assert_close(got, direct, **TIGHT)
        torch.testing.assert_close(grad_fft, grad_direct, **GRAD)


@pytest.mark.parametrize("kernel", [128, 7])
def test_positional_convolution_of_zero_padded_input_is_torchaudios_on_each_utterance(kernel):
    """The encoder zeroes padding before the positional convolution: valid frames then see no padding."""
    torch.manual_seed(0)
    module = ConvolutionalPositionalEmbedding(32, kernel, 4)
    lengths = [150, 90, 1]
    x = torch.randn(len(lengths), max(lengths), 32)
    for b, n in enumerate(lengths):
        x[b, n:] = 0.0
    got = fast.positional_conv(module, x)
    for b, n in enumerate(lengths):
        torch.testing.assert_close(got[b, :n], module(x[b : b + 1, :n])[0], **TIGHT)


def test_init_positional_conv_goes_through_weight_norm():
    torch.manual_seed(0)
    module = ConvolutionalPositionalEmbedding(32, 16, 4)
    fast.init_positional_conv(module, 0.5)
    weight = module.conv.weight.detach()
    assert abs(weight.std().item() - 0.5) < 0.05 and torch.equal(module.conv.bias, torch.zeros(32))
    names = {name for name, _ in module.named_parameters()}
    assert {"conv.parametrizations.weight.original0", "conv.parametrizations.weight.original1"} <= names


@pytest.mark.parametrize(
    "conv",
    [
        torch.nn.Conv1d(16, 16, 31, padding=15, groups=16),  # the Conformer's depthwise convolution
        torch.nn.Conv1d(8, 12, 4, padding=3, groups=4),  # grouped, more outputs than inputs, even kernel
        torch.nn.Conv1d(8, 8, 3, padding=1, bias=False),
    ],
)
def test_fft_conv1d_equals_the_module(conv):
    torch.manual_seed(0)
    for frames in (1, 17, 300):
        x = torch.randn(2, conv.in_channels, frames, requires_grad=True)
        direct = conv(x)
        grads_direct = torch.autograd.grad(direct.square().sum(), [x, conv.weight])
        got = fft_conv.conv1d(conv, x)
        grads_fft = torch.autograd.grad(got.square().sum(), [x, conv.weight])
        torch.testing.assert_close(got, direct, **TIGHT)
        for a, b in zip(grads_fft, grads_direct, strict=True):
            torch.testing.assert_close(a, b, **GRAD)
    strided = torch.nn.Conv1d(4, 4, 3, stride=2)
    x = torch.randn(1, 4, 20)
    assert torch.equal(fft_conv.conv1d(strided, x), strided(x))  # not an FFT case: the module itself


# -- the Conformer layer -------------------------------------------------------------------------------------
def conformer(convolution_first: bool = False, dropout: float = 0.1, kernel: int = 31) -> ConformerLayer:
    """A torchaudio Conformer layer with non-trivial batch-norm statistics and affine parameters."""
    torch.manual_seed(0)
    layer = ConformerLayer(32, 64, 4, kernel, dropout=dropout, convolution_first=convolution_first)
    norm = layer.conv_module.sequential[3]
    with torch.no_grad():
        norm.running_mean.normal_(0.0, 0.5)
        norm.running_var.uniform_(0.5, 2.0)
        norm.weight.uniform_(0.5, 1.5)
        norm.bias.normal_(0.0, 0.3)
    return layer


def torchaudio_forward(layer: ConformerLayer, x: torch.Tensor, key_pad=None) -> torch.Tensor:
    return layer(x.transpose(0, 1), key_pad).transpose(0, 1)  # torchaudio's layers are time-first


def no_padding(x: torch.Tensor) -> torch.Tensor:
    return torch.zeros(x.shape[:2], dtype=torch.bool)


@pytest.mark.parametrize("convolution_first", [False, True])
def test_conformer_layer_equals_torchaudios_without_padding(convolution_first):
    layer = conformer(convolution_first).eval()
    x = torch.randn(3, 60, 32, requires_grad=True)
    direct = torchaudio_forward(layer, x)
    got = fast.conformer_layer(layer, x, None, no_padding(x))
    torch.testing.assert_close(got, direct, **TIGHT)
    weights = torch.randn_like(direct)
    (grad_direct,) = torch.autograd.grad((direct * weights).sum(), x)
    (grad_fast,) = torch.autograd.grad((got * weights).sum(), x)
    torch.testing.assert_close(grad_fast, grad_direct, **GRAD)


@pytest.mark.parametrize("convolution_first", [False, True])
def test_conformer_layer_valid_frames_equal_torchaudio_on_each_unpadded_utterance(convolution_first):
    layer = conformer(convolution_first).eval()
    lengths = [60, 41, 5]
    x = torch.randn(len(lengths), max(lengths), 32, requires_grad=True)
    pad = torch.arange(max(lengths))[None, :] >= torch.tensor(lengths)[:, None]
    got = fast.conformer_layer(layer, x, pad, pad)
    weights = torch.randn_like(got)
    (grad_fast,) = torch.autograd.grad((got * weights).masked_fill(pad[..., None], 0.0).sum(), x)
    for b, n in enumerate(lengths):
        alone = x[b : b + 1, :n].detach().requires_grad_()
        direct = torchaudio_forward(layer, alone)[0]
        torch.testing.assert_close(got[b, :n], direct, **TIGHT)
        (grad_direct,) = torch.autograd.grad((direct * weights[b, :n]).sum(), alone)
        torch.testing.assert_close(grad_fast[b, :n], grad_direct[0], **GRAD)
        assert torch.equal(grad_fast[b, n:], torch.zeros_like(grad_fast[b, n:]))  # padding has no effect
    # why the fast path exists: torchaudio's own forward on the padded batch lets padding into valid frames
    leaky = torchaudio_forward(layer, x.detach(), pad)
    assert not torch.allclose(leaky[1, : lengths[1]], got[1, : lengths[1]], **TIGHT)


@pytest.mark.parametrize("convolution_first", [False, True])
def test_conformer_layer_in_training_equals_torchaudios_without_padding(convolution_first):
    """Training mode without dropout: batch statistics and running statistics as torchaudio's BatchNorm1d."""
    layer, reference = (
        conformer(convolution_first, dropout=0.0).train(),
        conformer(convolution_first, 0.0).train(),
    )
    x = torch.randn(3, 50, 32, requires_grad=True)
    direct = torchaudio_forward(reference, x)
    got = fast.conformer_layer(layer, x, None, no_padding(x))
    torch.testing.assert_close(got, direct, **TIGHT)
    (grad_direct,) = torch.autograd.grad(direct.square().sum(), x)
    (grad_fast,) = torch.autograd.grad(got.square().sum(), x)
    torch.testing.assert_close(grad_fast, grad_direct, **GRAD)
    norm, plain = layer.conv_module.sequential[3], reference.conv_module.sequential[3]
    torch.testing.assert_close(norm.running_mean, plain.running_mean, **TIGHT)
    torch.testing.assert_close(norm.running_var, plain.running_var, **TIGHT)
    assert norm.num_batches_tracked.item() == plain.num_batches_tracked.item() == 1


@pytest.mark.parametrize("convolution_first", [False, True])
def test_conformer_layer_in_training_ignores_padding(convolution_first):
    """Equal lengths padded with noise: torchaudio's training forward on the unpadded batch (batch-norm
    statistics over the same frames, running statistics included)."""
    layer, reference = (
        conformer(convolution_first, dropout=0.0).train(),
        conformer(convolution_first, 0.0).train(),
    )
    valid = torch.randn(2, 40, 32, requires_grad=True)
    x = torch.cat([valid, 10 * torch.randn(2, 17, 32)], dim=1)
    pad = torch.arange(57)[None, :].expand(2, -1) >= 40
    got = fast.conformer_layer(layer, x, pad, pad)[:, :40]
    direct = torchaudio_forward(reference, valid)
    torch.testing.assert_close(got, direct, **TIGHT)
    (grad_direct,) = torch.autograd.grad(direct.square().sum(), valid)
    (grad_fast,) = torch.autograd.grad(got.square().sum(), valid)
    torch.testing.assert_close(grad_fast, grad_direct, **GRAD)
    norm, plain = layer.conv_module.sequential[3], reference.conv_module.sequential[3]
    torch.testing.assert_close(norm.running_mean, plain.running_mean, **TIGHT)
    torch.testing.assert_close(norm.running_var, plain.running_var, **TIGHT)


def test_masked_batch_norm_is_batch_norm_over_the_valid_frames():
    torch.manual_seed(0)
    norm, plain = nn.BatchNorm1d(8), nn.BatchNorm1d(8)
    with torch.no_grad():
        for bn in (norm, plain):
            bn.weight.copy_(torch.linspace(0.5, 1.5, 8))
            bn.bias.copy_(torch.linspace(-1.0, 1.0, 8))
    lengths = torch.tensor([30, 12, 3])
    valid = torch.arange(30)[None, :] < lengths[:, None]
    y = (
        (torch.randn(3, 8, 30) * 3 + 1).masked_fill(~valid[:, None, :], 100.0).requires_grad_()
    )  # loud padding
    got = fast.masked_batch_norm(norm, y, valid)
    frames = y.transpose(1, 2)[valid]  # [N, 8]: every valid frame, no padding
    direct = plain.train()(frames)
    torch.testing.assert_close(got.transpose(1, 2)[valid], direct, **TIGHT)
    (grad_fast,) = torch.autograd.grad(got.transpose(1, 2)[valid].square().sum(), y)
    (grad_direct,) = torch.autograd.grad(direct.square().sum(), y)
    torch.testing.assert_close(grad_fast, grad_direct, **GRAD)
    torch.testing.assert_close(norm.running_mean, plain.running_mean, **TIGHT)
    torch.testing.assert_close(norm.running_var, plain.running_var, **TIGHT)  # unbiased, as torch's
    assert norm.num_batches_tracked.item() == 1


def test_conformer_attention_computed_here_equals_torchs(monkeypatch):
    """The training-time attention (for its cheap dropout mask) is nn.MultiheadAttention's, mask included."""
    torch.manual_seed(0)
    attn = torch.nn.MultiheadAttention(32, 4, dropout=0.1)
    x = torch.randn(3, 7, 32, requires_grad=True)
    key_pad = torch.tensor([[False] * 7, [False] * 5 + [True] * 2, [False] + [True] * 6])
    expected, _ = attn.eval()(*(x.transpose(0, 1),) * 3, key_padding_mask=key_pad, need_weights=False)
    expected = expected.transpose(0, 1)
    drawn = []

    def no_dropout(weights, p, training):
        drawn.append((tuple(weights.shape), p, training))
        return weights

    monkeypatch.setattr(dropout_module, "dropout", no_dropout)
    got = fast.self_attention(attn.train(), x, key_pad)
    assert drawn == [((3, 4, 7, 7), 0.1, True)]  # the attention weights' dropout is the cheap one
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
    (grad_expected,) = torch.autograd.grad(expected.square().sum(), x)
    (grad_got,) = torch.autograd.grad(got.square().sum(), x)
    torch.testing.assert_close(grad_got, grad_expected, rtol=1e-5, atol=1e-5)


# -- the cheap dropout ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("p", [0.1, 1 / 3, 0.5, 0.9])
def test_fast_dropout_keep_rate_and_scaling(p):
    """Each element kept with probability 1 - p (p rounded to 1/32768), kept ones scaled by 1 / (1 - p)."""
    torch.manual_seed(0)
    n = 400_000
    x = torch.randn(n).abs() + 0.5  # no zeros: zero output <=> dropped
    y = Dropout(p)(x)
    kept = y != 0
    rate = round(p * 32768) / 32768
    sigma = math.sqrt(rate * (1 - rate) / n)
    assert abs(1 - kept.float().mean().item() - rate) < 5 * sigma
    torch.testing.assert_close(y[kept], x[kept] / (1 - p))
    assert abs(y.mean().item() / x.mean().item() - 1) < 5 * sigma / (1 - p)  # E[y] = x: inverted dropout
    for shape in ((3, 5, 7, 7), (1,), (4, 4001)):  # any shape (the mask is drawn four elements at a time)
        assert keep_mask(torch.Size(shape), p).shape == shape


def test_fast_dropout_in_eval_and_at_zero_is_the_identity():
    x = torch.randn(64, 33, requires_grad=True)
    assert torch.equal(Dropout(0.5).eval()(x), x)
    assert torch.equal(Dropout(0.0).train()(x), x)
    assert torch.equal(dropout_module.dropout(x, 0.3, training=False), x)
    assert torch.equal(Dropout(1.0).train()(x), torch.zeros_like(x))  # torch's own, at p = 1


def test_fast_dropout_is_seeded_by_torch_and_its_gradient_is_the_mask():
    x = torch.ones(4, 4001)
    torch.manual_seed(1)
    first = Dropout(0.3)(x)
    after_first = torch.rand(1)
    torch.manual_seed(1)
    assert torch.equal(first, Dropout(0.3)(x))  # torch.manual_seed makes it repeat
    assert torch.equal(after_first, torch.rand(1))  # ... because it draws from torch's generator
    torch.manual_seed(1)
    assert not torch.equal(after_first, torch.rand(1))  # (which it advances)
    a, b = Dropout(0.5)(x) != 0, Dropout(0.5)(x) != 0
    assert 0.45 < (a == b).float().mean().item() < 0.55  # successive masks are independent
    x = torch.ones(10_000, requires_grad=True)
    y = Dropout(0.25)(x)
    torch.testing.assert_close(y.unique(), torch.tensor([0.0, 4 / 3]))
    y.sum().backward()
    torch.testing.assert_close(x.grad, y.detach())


@pytest.mark.parametrize("body", ["transformer", "conformer"])
def test_every_torchaudio_dropout_becomes_the_cheap_one_with_its_p(body):
    enc = tiny(body, dropout=0.15, activation_dropout=0.05, dropout_input=0.2)
    assert not [name for name, m in enc.named_modules() if type(m) is nn.Dropout]
    drops = {name: m.p for name, m in enc.named_modules() if isinstance(m, Dropout)}
    if body == "conformer":  # 2 per feed-forward module, 1 after attention, 1 in the convolution module
        assert sum(name.startswith("layers.0.") for name in drops) == 6
        assert {p for name, p in drops.items() if name.startswith("layers.")} == {0.15}
    else:
        assert drops["layers.0.feed_forward.intermediate_dropout"] == 0.05
        assert drops["layers.0.feed_forward.output_dropout"] == drops["layers.0.dropout"] == 0.15
    assert drops["feature_projection.dropout"] == 0.2
    layer = ConformerLayer(32, 64, 4, 7, dropout=0.1)
    keys = list(layer.state_dict())
    assert list(fast.use_fast_layers(layer).state_dict()) == keys  # no state: checkpoints unchanged


# -- failing loudly ------------------------------------------------------------------------------------------
def _without(layer: nn.Module, path: str) -> nn.Module:
    *parents, name = path.split(".")
    owner = layer
    for part in parents:
        owner = getattr(owner, part)
    delattr(owner, name)
    return layer


def _replaced(layer: nn.Module, path: str, value) -> nn.Module:
    *parents, name = path.split(".")
    owner = layer
    for part in parents:
        owner = owner[int(part)] if part.isdigit() else getattr(owner, part)
    if name.isdigit():
        owner[int(name)] = value
    else:
        setattr(owner, name, value)
    return layer


def _conformer() -> ConformerLayer:
    return ConformerLayer(32, 64, 4, 7, dropout=0.1)


def _positional() -> ConvolutionalPositionalEmbedding:
    return ConvolutionalPositionalEmbedding(32, 16, 4)


def _no_weight_norm() -> ConvolutionalPositionalEmbedding:
    module = _positional()
    torch.nn.utils.parametrize.remove_parametrizations(module.conv, "weight")
    return module


def _longer_conv_module() -> ConformerLayer:
    layer = _conformer()
    layer.conv_module.sequential.append(nn.Identity())
    return layer


CHANGED_LAYERS = {
    "conformer without conv_module": (
        lambda: _without(_conformer(), "conv_module"),
        r"\.conv_module does not",
    ),
    "conformer without ffn2": (lambda: _without(_conformer(), "ffn2"), r"\.ffn2 does not exist"),
    "depthwise conv replaced": (
        lambda: _replaced(_conformer(), "conv_module.sequential.2", nn.Identity()),
        r"\.conv_module\.sequential\.2 is a Identity, expected Conv1d",
    ),
    "conv module longer": (_longer_conv_module, r"\.conv_module\.sequential has 8 modules, expected 7"),
    "attention without a private flag": (
        lambda: _without(_conformer(), "self_attn._qkv_same_embed_dim"),
        r"\.self_attn\._qkv_same_embed_dim does not exist",
    ),
    "batch-first attention": (
        lambda: _replaced(_conformer(), "self_attn.batch_first", True),
        r"\.self_attn\.batch_first is True",
    ),
    "functional dropout after attention": (
        lambda: _replaced(_conformer(), "self_attn_dropout", nn.Identity()),
        r"\.self_attn_dropout is a Identity, expected Dropout",
    ),
    "feed-forward dropout moved": (
        lambda: _replaced(_conformer(), "ffn1.sequential.3", nn.SiLU()),
        r"\.ffn1\.sequential\.3 is a SiLU",
    ),
    "positional embedding without num_remove": (
        lambda: _without(_positional(), "num_remove"),
        r"ConvolutionalPositionalEmbedding\.num_remove does not exist",
    ),
    "positional conv without weight norm": (
        _no_weight_norm,
        r"ConvolutionalPositionalEmbedding\.conv\.parametrizations\.weight does not exist",
    ),
    "wav2vec 2.0 feed-forward without its dropout module": (
        lambda: _replaced(FeedForward(32, 64, 0.1, 0.1), "intermediate_dropout", nn.Identity()),
        r"FeedForward\.intermediate_dropout is a Identity",
    ),
    "wav2vec 2.0 block without its dropout module": (
        lambda: _without(
            EncoderLayer(SelfAttention(32, 4), 0.1, False, FeedForward(32, 64, 0.0, 0.1)), "dropout"
        ),
        r"EncoderLayer\.dropout does not exist",
    ),
    "projection without its dropout module": (
        lambda: _without(FeatureProjection(16, 32, 0.1), "dropout"),
        r"FeatureProjection\.dropout does not exist",
    ),
    "conv block without conv": (
        lambda: _without(ConvLayerBlock(1, 16, 10, 5, False, None), "conv"),
        r"ConvLayerBlock\.conv does not exist",
    ),
}


@pytest.mark.parametrize("case", list(CHANGED_LAYERS))
def test_a_changed_torchaudio_layer_is_a_loud_error(case):
    make, message = CHANGED_LAYERS[case]
    layer = make()
    with pytest.raises(TorchaudioLayoutError, match=message) as error:
        fast.use_fast_layers(nn.Sequential(layer))
    assert "asr/models/torchaudio_fast.py" in str(error.value)
    assert f"torchaudio {torchaudio.__version__}" in str(error.value)


def test_the_layers_as_torchaudio_builds_them_pass_the_checks():
    for layer in (ConformerLayer(32, 64, 4, 31, dropout=0, convolution_first=True), _positional()):
        fast.check_layer(layer)
    for body in ("transformer", "conformer"):
        fast.check_layers(tiny(body, dropout=0))  # an int p (from JSON) is a p


def test_an_encoder_from_a_changed_torchaudio_is_refused_at_construction(monkeypatch):
    class RenamedConformerLayer(ConformerLayer):  # what a torchaudio upgrade renaming an attribute looks like
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.convolution = self.conv_module
            del self.conv_module

    monkeypatch.setattr(encoder_module, "ConformerLayer", RenamedConformerLayer)
    with pytest.raises(TorchaudioLayoutError, match=r"RenamedConformerLayer\.conv_module does not exist"):
        tiny("conformer")
    tiny("transformer")  # the other body does not use the layer

    class PlainPositionalEmbedding(ConvolutionalPositionalEmbedding):  # weight norm dropped
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            torch.nn.utils.parametrize.remove_parametrizations(self.conv, "weight")

    monkeypatch.setattr(encoder_module, "ConvolutionalPositionalEmbedding", PlainPositionalEmbedding)
    with pytest.raises(TorchaudioLayoutError, match=r"conv\.parametrizations\.weight does not exist"):
        tiny("transformer")

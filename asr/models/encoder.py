"""The speech encoder every objective trains: front-end -> projection -> positions -> Transformer/Conformer.

The module layout is torchaudio's ``Wav2Vec2Model`` flattened (``feature_extractor``, ``feature_projection``,
``pos_conv_embed``, ``layer_norm``, ``layers``), so wav2vec 2.0 / HuBERT checkpoints map onto it by renaming
prefixes (see ``asr.models.pretrained``). Where a torchaudio layer's own forward is slow on a CPU (or lets
padding leak), :mod:`asr.models.torchaudio_fast` runs it: the encoder reads none of the layers' attributes.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn
from torchaudio.models.conformer import ConformerLayer
from torchaudio.models.wav2vec2.components import (
    ConvLayerBlock,
    ConvolutionalPositionalEmbedding,
    EncoderLayer,
    FeatureProjection,
    FeedForward,
    SelfAttention,
)

from . import torchaudio_fast
from .frontend import ConvFrontend, ConvSpec, FbankFrontend, valid_mask

# wav2vec 2.0's feature encoder: 7 convolutions, receptive field 400 samples (25 ms), stride 320 (20 ms).
W2V2_CONV: ConvSpec = ((512, 10, 5),) + ((512, 3, 2),) * 4 + ((512, 2, 2),) * 2
# fbank: one stride-1 and one stride-2 convolution over 10 ms log-mel frames -> 20 ms.
FBANK_CONV: ConvSpec = ((512, 3, 1), (512, 3, 2))

FRONTENDS = ("conv", "fbank")
BODIES = ("transformer", "conformer")


@dataclass
class EncoderConfig:
    """Sizes and regularisation of an :class:`Encoder`; :func:`encoder_config` fills it from a preset."""

    frontend: str = "conv"  # "conv" (wav2vec 2.0 CNN on the waveform) | "fbank" (80 log-mel + conv x2)
    body: str = "transformer"  # "transformer" (wav2vec 2.0's) | "conformer" (torchaudio Conformer layers)
    dim: int = 256
    layers: int = 4
    heads: int = 4
    ffn_dim: int = 1024
    # front-ends
    conv_layers: ConvSpec = ((256, 10, 5),) + ((256, 3, 2),) * 4 + ((256, 2, 2),) * 2
    conv_norm: str = "group_norm"  # "group_norm" (BASE: first layer only) | "layer_norm" (LARGE: every layer)
    conv_bias: bool = False
    normalize_audio: bool = False  # per-utterance waveform normalisation (wav2vec 2.0 LARGE / LV-60k)
    fbank_layers: ConvSpec = ((256, 3, 1), (256, 3, 2))
    n_mels: int = 80
    feature_grad_mult: float = 1.0  # scales front-end gradients (wav2vec 2.0 BASE pretraining: 0.1)
    # body
    pos_conv_kernel: int = 128
    pos_conv_groups: int = 16
    layer_norm_first: bool = False  # pre-LN blocks (LARGE) vs post-LN blocks (BASE); transformer only
    conformer_kernel: int = 31
    dropout_input: float = 0.1  # after the projection
    dropout: float = 0.1
    attention_dropout: float = 0.1
    activation_dropout: float = 0.0
    layer_drop: float = 0.05

    def __post_init__(self) -> None:
        # JSON round trips turn tuples into lists; keep the specs hashable tuples.
        self.conv_layers = tuple(tuple(int(v) for v in s) for s in self.conv_layers)
        self.fbank_layers = tuple(tuple(int(v) for v in s) for s in self.fbank_layers)
        if self.frontend not in FRONTENDS:
            raise ValueError(f"unknown front-end {self.frontend!r}; expected one of {FRONTENDS}")
        if self.body not in BODIES:
            raise ValueError(f"unknown body {self.body!r}; expected one of {BODIES}")
        if self.conv_norm not in ("group_norm", "layer_norm"):
            raise ValueError(f"unknown conv_norm {self.conv_norm!r}; expected 'group_norm' or 'layer_norm'")
        if self.dim % self.heads:
            raise ValueError(f"dim {self.dim} is not divisible by heads {self.heads}")


# The transformer presets are wav2vec 2.0's BASE / LARGE (LV-60k variant: layer-norm CNN with bias, pre-LN).
_PRESETS: dict[str, dict] = {
    "xs": dict(dim=256, layers=4, heads=4, ffn_dim=1024),
    "base": dict(dim=768, layers=12, heads=12, ffn_dim=3072, conv_layers=W2V2_CONV, fbank_layers=FBANK_CONV),
    "large": dict(
        dim=1024,
        layers=24,
        heads=16,
        ffn_dim=4096,
        conv_layers=W2V2_CONV,
        fbank_layers=FBANK_CONV,
        conv_norm="layer_norm",
        conv_bias=True,
        normalize_audio=True,
        layer_norm_first=True,
        dropout=0.0,
        attention_dropout=0.0,
    ),
}


def encoder_config(
    size: str = "xs", frontend: str = "conv", body: str = "transformer", **overrides
) -> EncoderConfig:
    """A preset: "xs" (~5 M parameters, trains on a laptop CPU), "base" (~95 M), "large" (~317 M).

    The Conformer presets keep the width, depth and heads and shrink the feed-forward size so a block has as
    many parameters as the Transformer block it replaces (two half-step FFNs plus the convolution module).
    ``overrides`` set any :class:`EncoderConfig` field.
    """
    if size not in _PRESETS:
        raise ValueError(f"unknown encoder size {size!r}; expected one of {tuple(_PRESETS)}")
    values = dict(_PRESETS[size], frontend=frontend, body=body)
    if body == "conformer":
        # transformer block: 4 D^2 (attention) + 2 D F; conformer block: 4 D^2 + 3 D^2 (conv module) + 4 D F'
        dim, ffn = values["dim"], values["ffn_dim"]
        values["ffn_dim"] = max(32, round((2 * ffn - 3 * dim) / 4 / 32) * 32)
    unknown = set(overrides) - {f.name for f in dataclasses.fields(EncoderConfig)}
    if unknown:
        raise ValueError(f"unknown EncoderConfig field(s): {sorted(unknown)}")
    values.update(overrides)
    return EncoderConfig(**values)


@dataclass
class EncoderOutput:
    output: Tensor  # [B, T, D] final output (after the final layer norm, if any); zero at padded frames
    lengths: Tensor  # [B] valid frames
    layers: list[Tensor] = field(default_factory=list)  # [B, T, D] per block (empty unless return_layers)


def check_audio_batch(audio: Tensor, min_samples: int) -> None:
    """A [batch, samples] waveform batch long enough for the encoder's first frame, or a ValueError saying why."""
    if audio.ndim != 2:
        raise ValueError(f"expected audio of shape [batch, samples], got {list(audio.shape)}")
    if audio.shape[1] < min_samples:
        raise ValueError(f"audio of {audio.shape[1]} samples is shorter than min_samples={min_samples}")


class Encoder(nn.Module):
    """front-end -> LayerNorm + Linear projection -> (mask embedding) -> conv positions -> blocks."""

    frame_shift = 0.02

    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        self.cfg = cfg
        self.dim = cfg.dim
        if cfg.frontend == "conv":
            self.feature_extractor = ConvFrontend(
                cfg.conv_layers, cfg.conv_norm, cfg.conv_bias, cfg.normalize_audio
            )
        else:
            self.feature_extractor = FbankFrontend(cfg.fbank_layers, cfg.n_mels)
        self.feature_dim = self.feature_extractor.out_dim
        self.min_samples = self.feature_extractor.min_samples
        self.feature_projection = FeatureProjection(self.feature_dim, cfg.dim, cfg.dropout_input)
        self.mask_embedding = nn.Parameter(torch.empty(cfg.dim).uniform_())  # wav2vec 2.0's mask_emb init
        self.pos_conv_embed = ConvolutionalPositionalEmbedding(
            cfg.dim, cfg.pos_conv_kernel, cfg.pos_conv_groups
        )
        self.dropout = nn.Dropout(cfg.dropout)
        if cfg.body == "transformer":
            # BASE (post-LN blocks) normalises before the blocks, LARGE (pre-LN blocks) after them.
            self.layer_norm = nn.LayerNorm(cfg.dim)
            self.layers = nn.ModuleList(
                EncoderLayer(
                    SelfAttention(cfg.dim, cfg.heads, cfg.attention_dropout),
                    cfg.dropout,
                    cfg.layer_norm_first,
                    FeedForward(cfg.dim, cfg.ffn_dim, cfg.activation_dropout, cfg.dropout),
                )
                for _ in range(cfg.layers)
            )
        else:
            # Conformer blocks end in their own layer norm: no encoder-level one.
            self.layer_norm = None
            self.layers = nn.ModuleList(
                ConformerLayer(cfg.dim, cfg.ffn_dim, cfg.heads, cfg.conformer_kernel, dropout=cfg.dropout)
                for _ in range(cfg.layers)
            )
        torchaudio_fast.use_fast_layers(self)  # checks what the fast paths read; cheap dropout masks
        self.reset_parameters()

    # -- initialisation ---------------------------------------------------------------------------------
    @torch.no_grad()
    def reset_parameters(self) -> None:
        """wav2vec 2.0 / BERT init: N(0, 0.02) linears, Kaiming CNN, N(0, sqrt(4 / (k D))) positions."""
        for module in self.modules():
            if isinstance(module, nn.Linear):
                module.weight.normal_(0.0, 0.02)
                if module.bias is not None:
                    module.bias.zero_()
            elif isinstance(module, ConvLayerBlock):
                nn.init.kaiming_normal_(torchaudio_fast.block_conv(module).weight)
        std = math.sqrt(4.0 / (self.cfg.pos_conv_kernel * self.cfg.dim))
        torchaudio_fast.init_positional_conv(self.pos_conv_embed, std)
        self.mask_embedding.uniform_()

    # -- frames -----------------------------------------------------------------------------------------
    def num_frames(self, num_samples: Tensor) -> Tensor:
        """Exact number of frames the encoder produces for each sample count (0 below ``min_samples``)."""
        return self.feature_extractor.num_frames(torch.as_tensor(num_samples))

    def padding_mask(self, lengths: Tensor, max_len: int) -> Tensor:
        """[B, max_len] bool, True at padded frames."""
        return ~valid_mask(lengths, max_len)

    # -- the pieces -------------------------------------------------------------------------------------
    def frontend(self, audio: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """[B, S] waveform -> ([B, T, F] features, zero at padded frames; [B] frame counts)."""
        check_audio_batch(audio, self.min_samples)
        if lengths is None:
            lengths = torch.full((audio.shape[0],), audio.shape[1], dtype=torch.long, device=audio.device)
        mult = self.cfg.feature_grad_mult
        if mult == 0.0 and self.training:
            with torch.no_grad():
                features, frames = self.feature_extractor(audio, lengths)
        else:
            features, frames = self.feature_extractor(audio, lengths)
            if mult != 1.0 and self.training and features.requires_grad:
                features = features * mult + features.detach() * (1.0 - mult)  # same value, scaled gradient
        features = features.masked_fill(self.padding_mask(frames, features.shape[1])[..., None], 0.0)
        return features, frames

    def project(self, features: Tensor) -> Tensor:
        """[B, T, F] -> [B, T, D]: LayerNorm(F), Linear, dropout."""
        return self.feature_projection(features)

    def add_positions(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Add the convolutional positional embedding (+ BASE's pre-body layer norm) and dropout.

        The convolution spans padded frames; pass ``lengths`` (or zero the padding beforehand) so that valid
        frames do not depend on the padding.
        """
        if lengths is not None:
            x = x.masked_fill(self.padding_mask(lengths, x.shape[1])[..., None], 0.0)
        x = x + torchaudio_fast.positional_conv(self.pos_conv_embed, x)
        if self.layer_norm is not None and not self.cfg.layer_norm_first:
            x = self.layer_norm(x)
        return self.dropout(x)

    def body(
        self, x: Tensor, lengths: Tensor, return_layers: bool = False, num_layers: int | None = None
    ) -> EncoderOutput:
        """Run the blocks on positioned input [B, T, D]; padded frames are masked out of attention.

        ``num_layers`` stops after that many blocks (feature extraction from a middle block); the output is
        then that block's, without the final layer norm of pre-LN bodies.
        """
        pad = self.padding_mask(lengths, x.shape[1])
        # every query needs one key it may attend to: an empty utterance attends to its (padded) first frame
        key_pad = self.padding_mask(lengths.clamp_min(1), x.shape[1])
        has_pad = bool(key_pad.any())
        layers: list[Tensor] = []
        blocks = self.layers if num_layers is None else self.layers[:num_layers]
        for layer in blocks:
            if not (self.training and self.cfg.layer_drop > 0 and torch.rand(1).item() < self.cfg.layer_drop):
                if self.cfg.body == "transformer":
                    # SDPA boolean mask: True = may attend; shape [B, 1, T, T] as torchaudio wants
                    attn_mask = None
                    if has_pad:
                        attn_mask = (~key_pad)[:, None, None, :].expand(-1, 1, x.shape[1], -1)
                    x, _ = layer(x, attn_mask)
                else:
                    x = torchaudio_fast.conformer_layer(layer, x, key_pad if has_pad else None, pad)
                x = x.masked_fill(pad[..., None], 0.0)
            if return_layers:
                layers.append(x)
        if self.layer_norm is not None and self.cfg.layer_norm_first and num_layers is None:
            x = self.layer_norm(x).masked_fill(pad[..., None], 0.0)
        return EncoderOutput(output=x, lengths=lengths, layers=layers)

    def forward(
        self,
        audio: Tensor,
        lengths: Tensor | None = None,
        mask: Tensor | None = None,
        return_layers: bool = False,
        num_layers: int | None = None,
    ) -> EncoderOutput:
        """frontend -> project -> (masked frames := mask_embedding) -> add_positions -> body."""
        features, frames = self.frontend(audio, lengths)
        x = self.project(features)
        if mask is not None:
            x = torch.where(mask[..., None], self.mask_embedding.to(x.dtype), x)
        x = self.add_positions(x, frames)
        return self.body(x, frames, return_layers, num_layers)


def build_encoder(cfg: EncoderConfig) -> Encoder:
    """The encoder ``cfg`` describes, freshly initialised."""
    return Encoder(cfg)


def count_parameters(module: nn.Module) -> int:
    """Number of parameters (all, trainable or not)."""
    return sum(p.numel() for p in module.parameters())

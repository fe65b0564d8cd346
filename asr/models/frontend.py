"""Front-ends: 16 kHz waveform -> feature frames every 20 ms.

Both front-ends are padding-aware: a valid output frame only ever sees valid input samples, and the
per-utterance statistics (the wav2vec 2.0 BASE group norm, fbank mean/variance normalisation) are taken
over valid frames only, so an utterance gives the same features alone or in a padded batch.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torchaudio.models.wav2vec2.components import ConvLayerBlock, LayerNorm, _get_feature_extractor
from torchaudio.transforms import MelSpectrogram

ConvSpec = tuple[tuple[int, int, int], ...]  # (out_channels, kernel, stride) per convolution

SAMPLE_RATE = 16_000


def valid_mask(lengths: Tensor, max_len: int) -> Tensor:
    """[B, max_len] bool, True at the first ``lengths[b]`` positions."""
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


def conv_out_length(lengths: Tensor, spec: ConvSpec) -> Tensor:
    """Frames left after valid ('no padding') convolutions ``spec``; never negative."""
    for _, kernel, stride in spec:
        lengths = torch.clamp(torch.div(lengths - kernel, stride, rounding_mode="floor") + 1, min=0)
    return lengths


def conv_min_input(spec: ConvSpec, outputs: int = 1) -> int:
    """Shortest input that valid convolutions ``spec`` turn into ``outputs`` frames."""
    n = outputs
    for _, kernel, stride in reversed(spec):
        n = (n - 1) * stride + kernel
    return n


def _masked_mean_var(x: Tensor, valid: Tensor, dim: int) -> tuple[Tensor, Tensor]:
    """Mean and (biased) variance of ``x`` over ``dim`` at positions where ``valid`` (broadcastable) holds."""
    valid = valid.to(x.dtype)
    count = valid.sum(dim, keepdim=True).clamp_min(1.0)
    mean = (x * valid).sum(dim, keepdim=True) / count
    var = (((x - mean) * valid) ** 2).sum(dim, keepdim=True) / count
    return mean, var


def normalize_waveform(audio: Tensor, lengths: Tensor, eps: float = 1e-5) -> Tensor:
    """Zero mean, unit variance per utterance over its valid samples (wav2vec 2.0 LARGE's `normalize`)."""
    valid = valid_mask(lengths, audio.shape[1])
    mean, var = _masked_mean_var(audio.float(), valid, dim=1)
    return ((audio - mean) / torch.sqrt(var + eps)).masked_fill(~valid, 0.0)


class ConvFrontend(nn.Module):
    """wav2vec 2.0's convolutional feature encoder (torchaudio's blocks; 400-sample field, 20 ms hop).

    ``conv_layers`` has torchaudio's (and so, after key conversion, fairseq's and Hugging Face's) layout.
    """

    def __init__(self, spec: ConvSpec, norm: str = "group_norm", bias: bool = False, normalize: bool = False):
        super().__init__()
        self.spec = tuple(tuple(s) for s in spec)
        self.conv_layers = _get_feature_extractor(norm, [tuple(s) for s in spec], bias).conv_layers
        self.normalize = normalize
        self.out_dim = spec[-1][0]
        self.min_samples = conv_min_input(self.spec)

    def num_frames(self, num_samples: Tensor) -> Tensor:
        return conv_out_length(num_samples, self.spec)

    def forward(self, audio: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        if self.normalize:
            audio = normalize_waveform(audio, lengths)
        x = audio.unsqueeze(1)  # [B, 1, S]
        for block in self.conv_layers:
            x = block.conv(x)
            lengths = conv_out_length(lengths, ((0, block.kernel_size, block.stride),))
            norm = block.layer_norm
            if isinstance(norm, nn.GroupNorm):
                # BASE: one group per channel = per-utterance normalisation over time; statistics over
                # valid frames only (torchaudio/fairseq include the padding, so batch-mates would leak in).
                mean, var = _masked_mean_var(x.float(), valid_mask(lengths, x.shape[2])[:, None, :], dim=2)
                x = ((x - mean) / torch.sqrt(var + norm.eps)).to(x.dtype)
                x = x * norm.weight[:, None] + norm.bias[:, None]
            elif norm is not None:
                x = norm(x)  # per-frame layer norm: nothing to mask
            x = nn.functional.gelu(x)
        return x.transpose(1, 2), lengths


class ConvMelSpectrogram(nn.Module):
    """torchaudio's ``MelSpectrogram`` (power 2, ``center=False``, no padding) without ``torch.stft``.

    The one-sided DFT of each windowed frame is a strided convolution of the waveform with ``n_fft // 2 + 1``
    cosine and as many sine filters (the window folded in, the basis computed in float64), then the squared
    magnitude and the mel matrix. Why not ``torch.stft``: ONNX cannot express its complex output, and a
    different float32 rounding in the exported graph would shift near-silent log-mel bins by ~3e-4, more
    than the 1e-4 parity the ONNX path promises; with one formula in both, they agree to ~2e-5. The values
    equal torchaudio's to float32 rounding (~1e-5 relative on the log-mel features). Its buffers are not
    saved: they derive from ``mel``'s window and filterbank, which are.
    """

    def __init__(self, mel: nn.Module):
        super().__init__()
        spec, scale = mel.spectrogram, mel.mel_scale
        n_fft, win_length = spec.n_fft, spec.win_length
        if spec.center or spec.pad or spec.power != 2.0 or spec.normalized or not spec.onesided:
            raise ValueError(
                "ConvMelSpectrogram supports power-2, one-sided spectra without centring or padding"
            )
        window = torch.zeros(n_fft, dtype=torch.float64)  # torch.stft centres a shorter window in the frame
        left = (n_fft - win_length) // 2
        window[left : left + win_length] = spec.window.detach().cpu().double()
        bins = n_fft // 2 + 1
        angle = 2.0 * math.pi * torch.outer(torch.arange(bins), torch.arange(n_fft)).double() / n_fft
        basis = torch.cat([torch.cos(angle), -torch.sin(angle)]) * window  # [2 bins, n_fft]
        self.register_buffer("basis", basis[:, None, :].float(), persistent=False)
        self.register_buffer("fb", scale.fb.detach().cpu().t().contiguous().float(), persistent=False)
        self.hop_length = spec.hop_length
        self.bins = bins

    def forward(self, audio: Tensor) -> Tensor:
        """[B, S] -> [B, n_mels, frames]."""
        y = nn.functional.conv1d(audio[:, None, :], self.basis, stride=self.hop_length)  # [B, 2 bins, T]
        real, imag = y[:, : self.bins], y[:, self.bins :]
        return torch.matmul(self.fb, real * real + imag * imag)


class FbankFrontend(nn.Module):
    """80-dim log-mel filterbank (25 ms window, 10 ms hop), utterance mean/variance normalisation over valid
    frames, then a small convolutional subsampling (torchaudio's conv blocks, per-frame layer norm) to 20 ms.
    """

    win_length = 400  # 25 ms
    hop_length = 160  # 10 ms

    def __init__(self, spec: ConvSpec, n_mels: int = 80, bias: bool = True):
        super().__init__()
        self.spec = tuple(tuple(s) for s in spec)
        # center=False: frame t covers samples [160 t, 160 t + 400), so valid frames never touch padding.
        with torch.device("cpu"):  # its filterbank is computed eagerly (also when building on "meta")
            self.mel = MelSpectrogram(
                sample_rate=SAMPLE_RATE,
                n_fft=self.win_length,
                win_length=self.win_length,
                hop_length=self.hop_length,
                n_mels=n_mels,
                center=False,
            )
        self.spectrum = ConvMelSpectrogram(self.mel)  # what forward computes (see its docstring)
        blocks = []
        in_channels = n_mels
        for out_channels, kernel, stride in self.spec:
            blocks.append(
                ConvLayerBlock(in_channels, out_channels, kernel, stride, bias, LayerNorm(out_channels))
            )
            in_channels = out_channels
        self.conv_layers = nn.ModuleList(blocks)
        self.out_dim = in_channels
        self.min_samples = (conv_min_input(self.spec) - 1) * self.hop_length + self.win_length

    def _mel_frames(self, num_samples: Tensor) -> Tensor:
        return torch.clamp(
            torch.div(num_samples - self.win_length, self.hop_length, rounding_mode="floor") + 1, min=0
        )

    def num_frames(self, num_samples: Tensor) -> Tensor:
        return conv_out_length(self._mel_frames(num_samples), self.spec)

    def forward(self, audio: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        with torch.autocast(audio.device.type, enabled=False):  # log-mel in float32 under AMP
            mel = self.spectrum(audio.float())  # [B, n_mels, T]
            x = torch.log(mel + 1e-6)
            frames = self._mel_frames(lengths)
            valid = valid_mask(frames, x.shape[2])[:, None, :]
            mean, var = _masked_mean_var(x, valid, dim=2)
            x = ((x - mean) / torch.sqrt(var + 1e-5)).masked_fill(~valid, 0.0)
        for block in self.conv_layers:
            x, frames = block(x, frames)
        return x.transpose(1, 2), frames

"""1-D convolutions with long kernels computed through the FFT.

On a CPU, oneDNN runs the Conformer's depthwise convolution (kernel 31) at ~2 GFLOP/s and the wav2vec 2.0
positional convolution (kernel 128, 16 groups) costs as much as the xs encoder's four blocks. Through the FFT
both (forward and backward) take a third to a fifth of that time, with the module's own weights and results
equal to float32 rounding (~1e-6). :func:`conv1d` does this for float32 on the CPU only and runs the module
itself elsewhere: on a GPU (cuDNN is fast there, and cuFFT has no bfloat16 for autocast), where the FFT
form does not apply (strides, dilation, non-zero padding modes), and under the ONNX exporter, which has no
complex tensors, so exported graphs keep the plain convolution.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def conv1d(conv: nn.Conv1d, x: Tensor) -> Tensor:
    """``conv(x)`` for ``x`` [B, C, T], through the FFT on the CPU where that gives the same result."""
    if (
        x.device.type != "cpu"
        or x.dtype != torch.float32
        or torch.onnx.is_in_onnx_export()
        or conv.stride != (1,)
        or conv.dilation != (1,)
        or conv.padding_mode != "zeros"
        or isinstance(conv.padding, str)
    ):
        return conv(x)
    weight = conv.weight  # [out, in / groups, K] (through weight norm, where the module has it)
    out_channels, in_per_group, kernel = weight.shape
    groups = conv.groups
    out_per_group = out_channels // groups
    batch, _, frames = x.shape
    pad = conv.padding[0]
    padded = frames + 2 * pad
    size = 1 << (padded - 1).bit_length()  # >= the padded length: no circular wrap-around
    spectrum = torch.fft.rfft(nn.functional.pad(x, (pad, pad)), size)
    # cross-correlation (what conv1d computes) = product with the kernel's conjugate spectrum
    kernel_spectrum = torch.fft.rfft(weight, size).conj()
    if in_per_group == 1 and out_per_group == 1:  # depthwise
        y = spectrum * kernel_spectrum[:, 0]
    else:
        y = torch.einsum(
            "bgif,goif->bgof",
            spectrum.view(batch, groups, in_per_group, -1),
            kernel_spectrum.view(groups, out_per_group, in_per_group, -1),
        ).reshape(batch, out_channels, -1)
    y = torch.fft.irfft(y, size)[..., : padded - kernel + 1]
    if conv.bias is not None:
        y = y + conv.bias[:, None]
    return y

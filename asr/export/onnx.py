"""ONNX export of a :class:`~asr.objectives.ctc.CTCModel` and an onnxruntime model with the same interface.

``export_onnx`` traces ``CTCModel.log_probs`` with torch's TorchScript-based exporter (``dynamo=False``: it
needs neither ``onnxscript`` nor ``torch.export``'s guards on data-dependent shapes) into a graph with
dynamic batch and sample axes::

    audio    float32 [B, S]   ->  log_probs  float32 [B, T, V]   (log-softmax over the vocabulary)
    lengths  int64   [B]      ->  frames     int64   [B]         (valid frames per row)

The traced copy differs from the torch model in one place only: the Conformer's ``nn.MultiheadAttention``,
whose traced form fixes the sequence length, is replaced by the same computation written shape-free
(:class:`ExportSelfAttention`). The log-mel front-end already computes its spectrum as a convolution with
the windowed DFT basis (:class:`asr.models.frontend.ConvMelSpectrogram`, not ``torch.stft``, whose complex
output the exporter cannot express), so torch and onnxruntime run the same arithmetic. Everything else
(padding masks, the Conformer's key padding mask and padding-aware depthwise convolution, the masked
normalisations) is traced as is; a traced example batch with padding keeps the masks in the graph.

The file carries what decoding needs in its ``metadata_props`` (vocabulary size, ``min_samples``, sample
rate, encoder config, tokenizer folder, asr version), so :class:`OnnxCTCModel` stands in for the torch model
in :func:`asr.decoding.emissions.iter_emissions`.

This is the only module that imports ``onnx`` and ``onnxruntime``, and only inside the functions that use them.
"""

from __future__ import annotations

import copy
import dataclasses
import io
import json
import logging
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from asr.errors import UserError
from asr.files import atomic_writer

if TYPE_CHECKING:
    from asr.models.hf_ctc import HFCTCModel
    from asr.objectives.ctc import CTCModel

log = logging.getLogger(__name__)

FORMAT = "asr-ctc-onnx/1"  # metadata "asr_format": the graph's inputs, outputs and metadata keys
INPUTS = ("audio", "lengths")
OUTPUTS = ("log_probs", "frames")
PARITY_ATOL = 1e-4  # max |log-prob difference| over valid frames that export_onnx(check=True) accepts
_REQUIRED_METADATA = ("asr_format", "vocab_size", "min_samples", "sample_rate")


class ExportError(UserError):
    """An ONNX file that cannot be used (missing, unreadable, not ours) or an export that failed its check."""


class ExportSelfAttention(nn.Module):
    """``nn.MultiheadAttention`` (time-first self-attention, packed projections) as plain tensor operations.

    torch's TorchScript tracer records ``multi_head_attention_forward``'s sequence length as a constant (the
    graph then rejects any other length), so the traced copy runs the same computation written with shape-free
    reshapes: packed in-projection, ``scaled_dot_product_attention`` with the key padding mask as a boolean
    mask, out-projection. Called like the module it replaces; returns ``(output, None)``.
    """

    def __init__(self, attention: nn.MultiheadAttention):
        super().__init__()
        if (
            attention.batch_first
            or not attention._qkv_same_embed_dim
            or attention.bias_k is not None
            or attention.add_zero_attn
        ):
            raise ValueError("ExportSelfAttention supports time-first attention with packed projections only")
        self.num_heads = attention.num_heads
        self.head_dim = attention.head_dim
        self.in_proj_weight = attention.in_proj_weight
        self.in_proj_bias = attention.in_proj_bias
        self.out_proj = attention.out_proj

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask: Tensor | None = None,
        need_weights: bool = False,
    ) -> tuple[Tensor, None]:
        """Self-attention of ``query`` [T, B, E] (``key`` and ``value`` must be the same tensor)."""
        x = query.transpose(0, 1)  # [B, T, E]
        q, k, v = (
            t.unflatten(-1, (self.num_heads, self.head_dim)).transpose(1, 2)  # [B, H, T, d]
            for t in nn.functional.linear(x, self.in_proj_weight, self.in_proj_bias).chunk(3, dim=-1)
        )
        mask = None if key_padding_mask is None else ~key_padding_mask[:, None, None, :]  # True: may attend
        y = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.out_proj(y.transpose(1, 2).flatten(2)).transpose(0, 1), None


class _LogProbs(nn.Module):
    """The traced function: ``(audio, lengths) -> (log_probs, frames)``."""

    def __init__(self, model: CTCModel):
        super().__init__()
        self.model = model

    def forward(self, audio: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        return self.model.log_probs(audio, lengths)


def _export_copy(model: CTCModel) -> _LogProbs:
    """A CPU float32 eval-mode copy of ``model`` with export-friendly replacements (the model is untouched)."""
    model = copy.deepcopy(model).cpu().float().eval()
    for layer in model.encoder.layers:
        if isinstance(getattr(layer, "self_attn", None), nn.MultiheadAttention):  # Conformer blocks
            layer.self_attn = ExportSelfAttention(layer.self_attn)
    # (the positional convolution's weight norm stays: constant folding computes it once in the graph;
    # removing the parametrization would edit the class the deep copy shares with ``model``)
    return _LogProbs(model).eval()


def _metadata(model: CTCModel, tokenizer_dir: str | Path | None) -> dict[str, str]:
    from asr import __version__
    from asr.models.frontend import SAMPLE_RATE

    return {
        "asr_format": FORMAT,
        "vocab_size": str(model.vocab_size),
        "min_samples": str(model.min_samples),
        "sample_rate": str(SAMPLE_RATE),
        "frame_shift": str(model.encoder.frame_shift),
        "encoder_config": json.dumps(dataclasses.asdict(model.encoder.cfg)),
        "tokenizer_dir": "" if tokenizer_dir is None else str(tokenizer_dir),
        "asr_version": __version__,
    }


def _check_lengths(min_samples: int) -> list[list[int]]:
    """Utterance lengths of the parity check: one unpadded row, then three rows of different lengths."""
    base = max(16_000, 4 * min_samples)
    return [[base + 1_153], [base + 4_000, base // 2 + 1_001, min_samples + 17]]


def _session(model_bytes_or_path: bytes | str, num_threads: int | None = None, providers=None):
    import onnxruntime as ort

    options = ort.SessionOptions()
    if num_threads is not None:
        options.intra_op_num_threads = num_threads
        options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only
    return ort.InferenceSession(model_bytes_or_path, options, providers=providers or ["CPUExecutionProvider"])


@torch.inference_mode()
def parity(model: CTCModel, session, lengths_per_batch: list[list[int]], seed: int = 0) -> float:
    """Max |log-prob difference| over valid frames between ``model`` (torch, eager) and an onnxruntime
    ``session`` of its export, on random audio batches with the given utterance lengths (padded with noise).

    Raises :class:`ExportError` if the valid frame counts differ.
    """
    model = copy.deepcopy(model).cpu().float().eval()
    generator = torch.Generator().manual_seed(seed)
    worst = 0.0
    for lengths in lengths_per_batch:
        audio = 0.1 * torch.randn(len(lengths), max(lengths), generator=generator)
        lengths_t = torch.tensor(lengths, dtype=torch.long)
        want, want_frames = model.log_probs(audio, lengths_t)
        got, got_frames = session.run(list(OUTPUTS), {"audio": audio.numpy(), "lengths": lengths_t.numpy()})
        got, got_frames = torch.from_numpy(got), torch.from_numpy(got_frames)
        if got.shape != want.shape or not torch.equal(got_frames, want_frames):
            raise ExportError(
                f"ONNX export disagrees with torch on frames for lengths {lengths}: "
                f"{got_frames.tolist()} (shape {list(got.shape)}) vs {want_frames.tolist()} (shape {list(want.shape)})"
            )
        for row, n in enumerate(want_frames.tolist()):
            worst = max(worst, float((got[row, :n] - want[row, :n]).abs().max()) if n else 0.0)
    return worst


def export_onnx(
    model: CTCModel, out: Path, tokenizer_dir: str | Path | None = None, opset: int = 17, check: bool = True
) -> Path:
    """Write ``model.log_probs`` as an ONNX graph with dynamic batch and sample axes to ``out``, atomically.

    ``tokenizer_dir`` is recorded in the metadata for decoding. With ``check``, the graph passes
    ``onnx.checker`` and onnxruntime must agree with torch to :data:`PARITY_ATOL` on valid frames of random
    batches (one unpadded row; three rows of different lengths); otherwise nothing is written and
    :class:`ExportError` says by how much it missed.
    """
    import onnx

    out = Path(out)
    traced = _export_copy(model)
    min_samples = int(model.min_samples)
    # a padded example batch: the padding masks are data-dependent branches, taken when there is padding
    samples = max(16_000, 4 * min_samples)
    example = (
        0.1 * torch.randn(2, samples, generator=torch.Generator().manual_seed(0)),
        torch.tensor([samples, samples // 2], dtype=torch.long),
    )
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # the masks' branches, fixed by the example
        warnings.filterwarnings(
            "ignore", message=".*legacy TorchScript-based ONNX export", category=DeprecationWarning
        )
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.onnx")
        torch.onnx.export(
            traced,
            example,
            buffer,
            dynamo=False,
            opset_version=opset,
            input_names=list(INPUTS),
            output_names=list(OUTPUTS),
            dynamic_axes={
                "audio": {0: "batch", 1: "samples"},
                "lengths": {0: "batch"},
                "log_probs": {0: "batch", 1: "time"},
                "frames": {0: "batch"},
            },
            do_constant_folding=True,
        )
    proto = onnx.load_from_string(buffer.getvalue())
    onnx.helper.set_model_props(proto, _metadata(model, tokenizer_dir))
    proto.producer_name = "asr"
    proto.doc_string = "CTC log-probabilities: (audio [B, S] float32 16 kHz, lengths [B]) -> (log_probs [B, T, V], frames [B])"
    data = proto.SerializeToString()
    if check:
        onnx.checker.check_model(proto)
        session = _session(data, num_threads=torch.get_num_threads())
        diff = parity(model, session, _check_lengths(min_samples))
        if not diff <= PARITY_ATOL:
            raise ExportError(
                f"{out}: onnxruntime differs from torch by {diff:.2e} in log-probabilities (> {PARITY_ATOL:g}); "
                "nothing written"
            )
        log.info("ONNX export matches torch: max |log-prob difference| %.2e on valid frames", diff)
    with atomic_writer(out, fsync=True) as f:
        f.write(data)
    return out


class OnnxCTCModel:
    """An exported CTC model on onnxruntime with the torch model's decoding interface.

    ``log_probs(audio, lengths) -> (log_probs [B, T, V] float32, frames [B] int64)`` as CPU torch tensors,
    ``min_samples``, ``vocab_size``, ``tokenizer_dir``; usable by :func:`asr.decoding.emissions.iter_emissions`.
    ``num_threads`` sets onnxruntime's intra-op threads (default: its own, one per core); ``providers``
    its execution providers (default: CPU).
    """

    def __init__(self, path: str | Path, num_threads: int | None = None, providers=None):
        self.path = path = Path(path)
        if not path.is_file():
            raise ExportError(f"{path}: no such ONNX model file (asr export onnx writes one)")
        try:
            self.session = _session(str(path), num_threads, providers)
        except Exception as exc:  # onnxruntime's own classes: InvalidProtobuf, Fail, InvalidGraph, ...
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ExportError(f"{path}: not a readable ONNX model ({message})") from exc
        meta: dict[str, str] = dict(self.session.get_modelmeta().custom_metadata_map)
        missing = [k for k in _REQUIRED_METADATA if k not in meta]
        names = ([i.name for i in self.session.get_inputs()], [o.name for o in self.session.get_outputs()])
        if missing or names != (list(INPUTS), list(OUTPUTS)):
            raise ExportError(
                f"{path}: not an asr CTC model export (missing metadata {missing}, inputs/outputs {names}); "
                "make one with `asr export onnx`"
            )
        if meta["asr_format"] != FORMAT:
            raise ExportError(f"{path}: export format {meta['asr_format']!r}, this version reads {FORMAT!r}")
        self.metadata = meta

    @property
    def vocab_size(self) -> int:
        return int(self.metadata["vocab_size"])

    @property
    def min_samples(self) -> int:
        """The shortest input (in samples) the encoder gives a frame for."""
        return int(self.metadata["min_samples"])

    @property
    def sample_rate(self) -> int:
        return int(self.metadata["sample_rate"])

    @property
    def tokenizer_dir(self) -> Path | None:
        value = self.metadata.get("tokenizer_dir", "")
        return Path(value) if value else None

    @property
    def encoder_config(self) -> dict[str, Any]:
        """The exported encoder's :class:`~asr.models.EncoderConfig` fields (a dict)."""
        return json.loads(self.metadata.get("encoder_config", "{}"))

    def log_probs(self, audio: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        from asr.models.encoder import check_audio_batch

        check_audio_batch(audio, self.min_samples)
        if lengths is None:
            lengths = torch.full((audio.shape[0],), audio.shape[1], dtype=torch.long)
        feeds = {
            "audio": audio.detach().to("cpu", torch.float32).contiguous().numpy(),
            "lengths": lengths.detach().to("cpu", torch.int64).contiguous().numpy(),
        }
        log_probs, frames = self.session.run(list(OUTPUTS), feeds)
        return torch.from_numpy(log_probs), torch.from_numpy(frames)

    def __repr__(self) -> str:
        return f"OnnxCTCModel({str(self.path)!r}, vocab_size={self.vocab_size})"


def load_any_ctc_model(path: str | Path) -> tuple[CTCModel | OnnxCTCModel | HFCTCModel, Path | None]:
    """``(model, tokenizer folder)`` from an ONNX export (``*.onnx``: :class:`OnnxCTCModel`), a Hugging Face
    ``Wav2Vec2ForCTC`` folder (:func:`asr.models.hf_ctc.load_hf_ctc_model`) or a torch model file (anything
    else: :func:`asr.objectives.ctc.load_ctc_model`).

    A missing ``ctc_model.pt`` inside a Hugging Face folder (what an experiment-folder caller asks for) means
    that folder.
    """
    from asr.models.hf_ctc import is_hf_ctc_folder, load_hf_ctc_model

    path = Path(path)
    if not path.exists() and path.name == "ctc_model.pt" and is_hf_ctc_folder(path.parent):
        path = path.parent
    if is_hf_ctc_folder(path):
        return load_hf_ctc_model(path)
    if path.suffix.lower() == ".onnx":
        model = OnnxCTCModel(path)
        return model, model.tokenizer_dir
    from asr.objectives.ctc import load_ctc_model

    return load_ctc_model(path)


class ModelTokenizerError(UserError):
    """A CTC model without a tokenizer that fits it; the message names the model and the tokenizer folder."""


def load_ctc_model_and_tokenizer(path: str | Path, tokenizer_dir: str | Path | None = None):
    """``(model, tokenizer)`` for inference: :func:`load_any_ctc_model`, then the model's own tokenizer
    folder (or ``tokenizer_dir``), checked to have as many tokens as the model predicts."""
    from asr.text.tokenizer import load_tokenizer

    model, own = load_any_ctc_model(path)
    tokenizer_dir = tokenizer_dir or own
    if tokenizer_dir is None:
        raise ModelTokenizerError(f"{path} records no tokenizer folder: give one (--tokenizer)")
    tokenizer = load_tokenizer(tokenizer_dir)
    if tokenizer.vocab_size != model.vocab_size:
        raise ModelTokenizerError(
            f"{path} predicts {model.vocab_size} tokens but the tokenizer in {tokenizer_dir} "
            f"has {tokenizer.vocab_size}"
        )
    return model, tokenizer

"""ONNX export: onnxruntime agrees with torch on valid frames, for any batch size and length; files are checked."""

from __future__ import annotations

import copy
import dataclasses
import itertools
import re
from pathlib import Path

import pytest
import torch
from conftest import run_cli as asr
from conftest import tiny_encoder

from asr.export.onnx import (
    ExportError,
    OnnxCTCModel,
    export_onnx,
    load_any_ctc_model,
)
from asr.models import build_encoder, encoder_config
from asr.models.frontend import ConvMelSpectrogram
from asr.objectives.ctc import CTCModel, load_ctc_model, save_ctc_model

pytestmark = pytest.mark.usefixtures("one_thread")

ATOL = 1e-4
VOCAB = 29
#: over conftest's tiny encoder: 64 wide, a shorter positional convolution and Conformer kernel
SMALL = dict(dim=64, ffn_dim=128, pos_conv_kernel=32, conformer_kernel=15)
KINDS = [("fbank", "conformer"), ("conv", "transformer")]


def tiny_model(frontend: str, body: str, full_size: bool = False) -> CTCModel:
    """A small random model (``full_size``: the xs preset's) made less bland than at initialisation: a head
    with peaked outputs and Conformer batch norms with non-trivial statistics, so that every part of the graph
    shows in the log-probabilities."""
    if full_size:
        torch.manual_seed(0)
        encoder = build_encoder(encoder_config("xs", frontend, body, layer_drop=0.0))
    else:
        encoder = tiny_encoder(frontend, body, **SMALL)
    model = CTCModel(encoder, VOCAB)
    with torch.no_grad():
        model.head.weight.normal_(0.0, 0.3)
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm1d):
                module.running_mean.normal_(0.0, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    return model.eval()


@pytest.fixture(scope="module", params=KINDS, ids=lambda k: "+".join(k))
def exported(request, tmp_path_factory) -> tuple[CTCModel, OnnxCTCModel]:
    model = tiny_model(*request.param)
    path = export_onnx(model, tmp_path_factory.mktemp("onnx") / "model.onnx", tokenizer_dir="/some/tokenizer")
    return model, OnnxCTCModel(path, num_threads=1)


def batch_of(lengths: list[int], seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    audio = 0.1 * torch.randn(len(lengths), max(lengths), generator=generator)
    lengths_t = torch.tensor(lengths)
    audio = audio.masked_fill(
        torch.arange(audio.shape[1])[None, :] >= lengths_t[:, None], 0.0
    )  # zero padding
    return audio, lengths_t


def max_valid_difference(a: torch.Tensor, b: torch.Tensor, frames: torch.Tensor) -> float:
    return max(float((a[i, :n] - b[i, :n]).abs().max()) for i, n in enumerate(frames.tolist()))


@pytest.mark.parametrize("lengths", [[20_000], [24_000, 13_321, 4_000]], ids=["batch1", "batch3"])
def test_onnxruntime_matches_torch(exported, lengths):
    model, onnx_model = exported
    audio, lengths_t = batch_of(lengths, seed=len(lengths))
    with torch.inference_mode():
        want, want_frames = model.log_probs(audio, lengths_t)
    got, got_frames = onnx_model.log_probs(audio, lengths_t)
    assert got.dtype == torch.float32 and got_frames.dtype == torch.int64
    assert got.shape == want.shape and torch.equal(got_frames, want_frames)
    assert want.std() > 0.5  # peaked enough to be a real test
    assert max_valid_difference(got, want, want_frames) < ATOL


def test_full_size_xs_fbank_conformer(tmp_path):
    model = tiny_model("fbank", "conformer", full_size=True)  # the recipe's 4 M-parameter encoder
    onnx_model = OnnxCTCModel(export_onnx(model, tmp_path / "xs.onnx"), num_threads=1)
    audio, lengths = batch_of([32_000, 21_111, 5_000], seed=5)
    with torch.inference_mode():
        want, frames = model.log_probs(audio, lengths)
    got, got_frames = onnx_model.log_probs(audio, lengths)
    assert torch.equal(got_frames, frames) and max_valid_difference(got, want, frames) < ATOL


def test_padding_does_not_change_valid_frames(exported):
    _, onnx_model = exported
    lengths = [24_000, 13_321, 4_000]
    audio, lengths_t = batch_of(lengths, seed=7)
    batched, frames = onnx_model.log_probs(audio, lengths_t)
    for i, n in enumerate(lengths):
        alone, alone_frames = onnx_model.log_probs(audio[i : i + 1, :n], lengths_t[i : i + 1])
        assert int(alone_frames) == int(frames[i]) == alone.shape[1]
        torch.testing.assert_close(batched[i, : int(frames[i])], alone[0], atol=2e-5, rtol=0)


def test_metadata_and_interface(exported):
    model, onnx_model = exported
    assert onnx_model.vocab_size == VOCAB
    assert onnx_model.min_samples == model.min_samples
    assert onnx_model.sample_rate == 16_000
    assert onnx_model.tokenizer_dir == Path("/some/tokenizer")
    assert onnx_model.encoder_config == json_round_trip(dataclasses.asdict(model.encoder.cfg))
    assert onnx_model.metadata["asr_version"]
    with pytest.raises(ValueError, match="shorter than min_samples"):
        onnx_model.log_probs(torch.zeros(1, model.min_samples - 1), torch.tensor([model.min_samples - 1]))
    # no lengths: every row is full length
    audio, _ = batch_of([9_000, 9_000], seed=3)
    torch.testing.assert_close(
        onnx_model.log_probs(audio)[0], onnx_model.log_probs(audio, torch.tensor([9_000, 9_000]))[0]
    )


def json_round_trip(value):
    import json

    return json.loads(json.dumps(value))


def test_conv_mel_spectrogram_matches_torchaudio():
    """Equal to torchaudio's float32 to rounding: relative to each frame's energy; in the log of near-silent
    mel bins (where float32 FFT rounding shows), as close to the float64 result as torchaudio itself."""
    from torchaudio.transforms import MelSpectrogram

    mel = MelSpectrogram(
        sample_rate=16_000, n_fft=400, win_length=400, hop_length=160, n_mels=80, center=False
    )
    conv_mel = ConvMelSpectrogram(mel)
    exact = copy.deepcopy(mel).double()
    generator = torch.Generator().manual_seed(0)
    t = torch.arange(16_000) / 16_000
    tone = 0.5 * torch.sin(2 * torch.pi * 440 * t) * torch.sin(2 * torch.pi * 3 * t)
    for audio in (0.1 * torch.randn(3, 16_000, generator=generator), tone[None], 1e-3 * tone[None]):
        want, got, truth = mel(audio), conv_mel(audio), exact(audio.double())
        assert got.shape == want.shape
        energy = want.amax(dim=1, keepdim=True)  # per frame
        assert float(((got - want).abs() / energy).max()) < 1e-5
        log_truth = torch.log(truth + 1e-6)
        error = float((torch.log(got.double() + 1e-6) - log_truth).abs().max())
        assert error <= 2 * float((torch.log(want.double() + 1e-6) - log_truth).abs().max()) + 2e-5
        if audio.shape[0] == 3:  # noise: no near-silent bins
            assert float((torch.log(got + 1e-6) - torch.log(want + 1e-6)).abs().max()) < 5e-5


@pytest.mark.filterwarnings("ignore:You are using DynamicCutSampler with an eagerly read CutSet")
def test_emissions_of_cuts_agree(exported, tiny_librispeech):
    """Through the decoders' own loop, on speech: onnxruntime's log-probabilities equal the torch model's
    to 1e-4 (the front-end computes its spectrum with the same DFT convolution in both)."""
    from lhotse import CutSet

    from asr.data.librispeech import prepare_librispeech
    from asr.decoding.emissions import collect_emissions
    from asr.export.onnx import _export_copy

    out = tiny_librispeech.parent / "manifests-onnx"
    if not (out / "librispeech_cuts_dev-clean.jsonl.gz").exists():
        prepare_librispeech(tiny_librispeech, out, ["dev-clean"])
    cuts = CutSet.from_cuts(
        itertools.islice(CutSet.from_file(out / "librispeech_cuts_dev-clean.jsonl.gz"), 4)
    )
    model, onnx_model = exported
    got = collect_emissions(onnx_model, cuts, max_duration=30.0, progress=False)
    for reference, atol in ((_export_copy(model).model, ATOL), (model, ATOL)):
        want = collect_emissions(reference, cuts, max_duration=30.0, progress=False)
        assert list(got) == list(want) and len(want) == 4
        for cut_id, emissions in want.items():
            assert got[cut_id].shape == emissions.shape
            assert float((got[cut_id] - emissions).abs().max()) < atol


def test_cli_round_trip(tmp_path):
    model = tiny_model("fbank", "conformer")
    save_ctc_model(model, tmp_path / "ctc_model.pt", tmp_path / "chars")
    code, out = asr(
        "export", "onnx", "--model", tmp_path / "ctc_model.pt", "--out", tmp_path / "m" / "model.onnx"
    )
    assert code == 0 and "checked against torch" in out, out
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["model.onnx"]  # no temporary left
    onnx_model, tokenizer_dir = load_any_ctc_model(tmp_path / "m" / "model.onnx")
    assert isinstance(onnx_model, OnnxCTCModel) and tokenizer_dir == tmp_path / "chars"
    torch_model, torch_tokenizer = load_any_ctc_model(tmp_path / "ctc_model.pt")
    assert isinstance(torch_model, CTCModel) and torch_tokenizer == tokenizer_dir
    audio, lengths = batch_of([17_000, 9_999], seed=11)
    with torch.inference_mode():
        want, frames = torch_model.log_probs(audio, lengths)
    got, got_frames = onnx_model.log_probs(audio, lengths)
    assert torch.equal(got_frames, frames) and max_valid_difference(got, want, frames) < ATOL
    code, out = asr(
        "export",
        "onnx",
        "--model",
        tmp_path / "ctc_model.pt",
        "--out",
        tmp_path / "fast.onnx",
        "--opset",
        18,
        "--no-check",
    )
    assert code == 0 and "not checked" in out, out
    assert OnnxCTCModel(tmp_path / "fast.onnx").vocab_size == VOCAB


def test_failed_check_writes_nothing(tmp_path, monkeypatch):
    import asr.export.onnx as export_module

    monkeypatch.setattr(export_module, "PARITY_ATOL", -1.0)
    with pytest.raises(ExportError, match="differs from torch"):
        export_onnx(tiny_model("conv", "transformer"), tmp_path / "model.onnx")
    assert list(tmp_path.iterdir()) == []


def test_bad_files_are_user_errors(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    missing = tmp_path / "missing.onnx"
    with pytest.raises(ExportError, match=re.escape(str(missing))):
        OnnxCTCModel(missing)
    with pytest.raises(ExportError, match=re.escape(str(missing))):
        load_any_ctc_model(missing)
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"this is not a protobuf \x00\xff" * 10)
    with pytest.raises(ExportError, match=re.escape(f"{garbage}: not a readable ONNX model")):
        OnnxCTCModel(garbage)
    # a valid ONNX graph that is not one of ours
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None])],
    )
    foreign = tmp_path / "foreign.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), foreign)
    with pytest.raises(ExportError, match=re.escape(f"{foreign}: not an asr CTC model export")):
        OnnxCTCModel(foreign)
    # the CLI: one line, exit status 2, the file named
    code, out = asr("export", "onnx", "--model", tmp_path / "missing.pt", "--out", tmp_path / "x.onnx")
    assert code == 2 and "missing.pt" in out and "Traceback" not in out, out
    (tmp_path / "garbage.pt").write_bytes(b"not a torch file")
    code, out = asr("export", "onnx", "--model", tmp_path / "garbage.pt", "--out", tmp_path / "x.onnx")
    assert code == 2 and "garbage.pt" in out and "Traceback" not in out, out
    torch.save({"model": {}}, tmp_path / "encoder.pt")
    code, out = asr("export", "onnx", "--model", tmp_path / "encoder.pt", "--out", tmp_path / "x.onnx")
    assert code == 2 and "not a CTC model file" in out, out
    assert not (tmp_path / "x.onnx").exists()
    # load_ctc_model's own errors pass through load_any_ctc_model
    with pytest.raises(FileNotFoundError):
        load_ctc_model(tmp_path / "nothing.pt")
    with pytest.raises(FileNotFoundError):
        load_any_ctc_model(tmp_path / "nothing.pt")

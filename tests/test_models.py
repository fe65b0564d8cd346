"""asr.models: front-ends, bodies, presets, padding, strict loading and checkpoint import."""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import re

import pytest
import torch
from conftest import tiny_encoder
from torchaudio.models.wav2vec2 import wav2vec2_model

from asr.models import (
    EncoderConfig,
    PretrainedCheckpointError,
    build_encoder,
    count_parameters,
    encoder_config,
    load_pretrained_encoder,
)
from asr.models.pretrained import encoder_from_wav2vec2

COMBOS = [(f, b) for f in ("conv", "fbank") for b in ("transformer", "conformer")]


pytestmark = pytest.mark.usefixtures("one_thread")


#: conftest's tiny encoder, narrower still (16-channel front-ends), without dropout; tiny(frontend, body, **fields)
tiny = functools.partial(
    tiny_encoder, channels=16, pos_conv_kernel=16, pos_conv_groups=4, conformer_kernel=7, dropout=0.0
)


# -- frames -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("frontend", ["conv", "fbank"])
def test_num_frames_matches_frames_produced(frontend):
    enc = tiny(frontend).eval()
    m = enc.min_samples
    assert enc.num_frames(torch.tensor([m - 1, m])).tolist() == [0, 1]
    lengths = list(range(m, m + 700, 7)) + [m + 1, 16_000, 16_001, 16_319, 16_320, 16_321, 33_333]
    with torch.no_grad():
        for n in lengths:
            features, frames = enc.frontend(torch.randn(1, n), torch.tensor([n]))
            assert features.shape[1] == frames.item() == enc.num_frames(torch.tensor(n)).item(), n
        # in a padded batch every utterance gets its own exact count and the batch T is that of the longest
        batch = torch.tensor([m, 5000, 7777, 12_345])
        features, frames = enc.frontend(torch.randn(4, 12_345), batch)
    assert frames.tolist() == enc.num_frames(batch).tolist()
    assert features.shape[1] == frames.max().item()
    assert features.shape[2] == enc.feature_dim
    with pytest.raises(ValueError, match="min_samples"):
        enc.frontend(torch.randn(1, m - 1))


def test_frame_rate_is_20ms():
    for frontend in ("conv", "fbank"):
        enc = tiny(frontend)
        assert enc.frame_shift == 0.02
        # one frame per 320 samples, give or take the edges
        assert abs(enc.num_frames(torch.tensor(160_000)).item() - 500) <= 3


# -- presets ------------------------------------------------------------------------------------------------
def _params(size, frontend, body) -> int:
    with torch.device("meta"):
        return count_parameters(build_encoder(encoder_config(size, frontend, body)))


@pytest.mark.parametrize("frontend,body", COMBOS)
def test_preset_parameter_counts(frontend, body):
    assert 3e6 <= _params("xs", frontend, body) <= 6e6
    assert 90e6 <= _params("base", frontend, body) <= 100e6
    assert 305e6 <= _params("large", frontend, body) <= 325e6


def test_base_and_large_are_wav2vec2():
    """conv + transformer presets are exactly torchaudio's wav2vec 2.0 BASE / LARGE (LV-60k) plus mask_emb."""
    with torch.device("meta"):
        base = wav2vec2_model(
            "group_norm", None, False, 768, 0.1, 128, 16, 12, 12, 0.1, 3072, 0.0, 0.1, False, 0.05, None
        )
        large = wav2vec2_model(
            "layer_norm", None, True, 1024, 0.1, 128, 16, 24, 16, 0.0, 4096, 0.0, 0.0, True, 0.05, None
        )
    assert _params("base", "conv", "transformer") == count_parameters(base) + 768
    assert _params("large", "conv", "transformer") == count_parameters(large) + 1024


def test_config_validation_and_json_round_trip():
    cfg = encoder_config("base", "fbank", "conformer", layer_drop=0.0)
    assert (cfg.dim, cfg.layers, cfg.heads, cfg.frontend, cfg.body, cfg.layer_drop) == (
        768,
        12,
        12,
        "fbank",
        "conformer",
        0.0,
    )
    assert EncoderConfig(**json.loads(json.dumps(dataclasses.asdict(cfg)))) == cfg
    with pytest.raises(ValueError, match="size"):
        encoder_config("huge")
    with pytest.raises(ValueError, match="nope"):
        encoder_config("xs", nope=1)
    with pytest.raises(ValueError, match="front-end"):
        encoder_config("xs", frontend="mfcc")
    with pytest.raises(ValueError, match="body"):
        encoder_config("xs", body="lstm")
    with pytest.raises(ValueError, match="conv_norm"):
        encoder_config("xs", conv_norm="batch_norm")


# -- forward ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("frontend,body", COMBOS)
def test_padding_does_not_change_valid_frames(frontend, body):
    enc = tiny(frontend, body).eval()
    a, b = torch.randn(12_000), torch.randn(7_000)
    batch = torch.zeros(2, 12_000)
    batch[0], batch[1, :7_000] = a, b
    with torch.no_grad():
        out = enc(batch, torch.tensor([12_000, 7_000]), return_layers=True)
        alone = [enc(x[None], torch.tensor([len(x)]), return_layers=True) for x in (a, b)]
    assert out.lengths.tolist() == [alone[0].output.shape[1], alone[1].output.shape[1]]
    for i, single in enumerate(alone):
        t = single.output.shape[1]
        torch.testing.assert_close(out.output[i, :t], single.output[0], atol=1e-5, rtol=1e-4)
        assert len(out.layers) == len(single.layers) == 2
        for got, want in zip(out.layers, single.layers, strict=True):
            torch.testing.assert_close(got[i, :t], want[0], atol=1e-5, rtol=1e-4)
    assert out.output[1, out.lengths[1] :].abs().max() == 0  # padded frames are zero


def test_too_short_utterance_in_a_batch_gives_zero_frames():
    enc = tiny().eval()
    with torch.no_grad():
        out = enc(torch.randn(3, 8_000), torch.tensor([8_000, 100, 0]))
    assert out.lengths.tolist() == [enc.num_frames(torch.tensor(8_000)).item(), 0, 0]
    assert torch.isfinite(out.output).all() and out.output[1:].abs().max() == 0


def test_normalize_audio_is_per_utterance_and_padding_aware():
    enc = tiny(normalize_audio=True).eval()
    a = torch.randn(6_000)
    batch = torch.zeros(2, 9_000)
    batch[0, :6_000], batch[1] = 3.0 * a + 0.5, torch.randn(9_000)
    with torch.no_grad():
        alone = enc(a[None]).output
        batched = enc(batch, torch.tensor([6_000, 9_000])).output
    torch.testing.assert_close(batched[0, : alone.shape[1]], alone[0], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("frontend,body", COMBOS)
def test_pieces_compose_to_forward(frontend, body):
    enc = tiny(frontend, body).eval()
    audio, lengths = torch.randn(2, 9_000), torch.tensor([9_000, 6_000])
    with torch.no_grad():
        features, frames = enc.frontend(audio, lengths)
        mask = torch.zeros(features.shape[:2], dtype=torch.bool)
        mask[:, 3:8] = True
        x = enc.project(features)
        x = torch.where(mask[..., None], enc.mask_embedding, x)
        pieces = enc.body(enc.add_positions(x, frames), frames)
        whole = enc(audio, lengths, mask=mask)
    assert features.shape[-1] == enc.feature_dim and pieces.output.shape[-1] == enc.dim
    torch.testing.assert_close(pieces.output, whole.output)
    assert whole.layers == []


def test_mask_embedding_replaces_masked_frames():
    enc = tiny().eval()
    lengths = torch.tensor([8_000])
    with torch.no_grad():
        t = enc.num_frames(lengths).item()
        all_masked = torch.ones(1, t, dtype=torch.bool)
        x1 = enc(torch.randn(1, 8_000), lengths, mask=all_masked).output
        x2 = enc(torch.randn(1, 8_000), lengths, mask=all_masked).output
        x3 = enc(torch.randn(1, 8_000), lengths).output
    torch.testing.assert_close(x1, x2)  # nothing of the audio is left
    assert not torch.allclose(x1, x3)
    assert enc.mask_embedding.shape == (enc.dim,) and enc.mask_embedding.requires_grad


def test_layer_drop_and_gradients():
    enc = tiny(layer_drop=1.0).train()
    audio, lengths = torch.randn(2, 6_000), torch.tensor([6_000, 4_000])
    out = enc(audio, lengths, return_layers=True)
    features, frames = enc.frontend(audio, lengths)
    positioned = enc.add_positions(enc.project(features), frames)
    torch.testing.assert_close(out.output, positioned)  # every block dropped
    assert len(out.layers) == 2
    enc.eval()
    enc(audio, lengths).output.sum().backward()  # no layer drop in eval
    assert all(p.grad is not None for p in enc.parameters() if p is not enc.mask_embedding)


@pytest.mark.parametrize("body", ["transformer", "conformer"])
def test_num_layers_stops_at_a_middle_block(body):
    enc = tiny(body=body).eval()
    audio, lengths = torch.randn(2, 6_000), torch.tensor([6_000, 4_000])
    full = enc(audio, lengths, return_layers=True)
    first = enc(audio, lengths, num_layers=1)
    torch.testing.assert_close(first.output, full.layers[0])


def test_feature_grad_mult_scales_front_end_gradients():
    grads = []
    for mult in (1.0, 0.1):
        enc = tiny(feature_grad_mult=mult).train()
        enc(torch.randn(1, 5_000, generator=torch.Generator().manual_seed(1))).output.sum().backward()
        grads.append(
            (
                enc.feature_extractor.conv_layers[0].conv.weight.grad,
                enc.layers[0].attention.q_proj.weight.grad,
            )
        )
    torch.testing.assert_close(grads[1][0], 0.1 * grads[0][0])
    torch.testing.assert_close(grads[1][1], grads[0][1])


def test_conformer_batch_norm_trains_on_valid_frames():
    enc = tiny("conv", "conformer").train()
    bn = enc.layers[0].conv_module.sequential[3]
    before = bn.running_mean.clone()
    out = enc(torch.randn(2, 6_000), torch.tensor([6_000, 3_000]))
    assert torch.isfinite(out.output).all() and not torch.equal(before, bn.running_mean)
    assert bn.num_batches_tracked.item() == 1


def test_strict_loading_names_the_file_and_every_key_that_does_not_fit(tmp_path):
    """asr.files.load_model_strict and load_encoder: a checkpoint that does not fit is a CheckpointError naming
    the file and each missing, unexpected and reshaped key, and the model is left as it was."""
    from asr.files import CheckpointError, load_model_strict
    from asr.models import load_encoder

    source, target = tiny(seed=0), tiny(seed=1)
    load_model_strict(target, source.state_dict(), tmp_path / "fits.pt")
    for name, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[name], value), name
    state = source.state_dict()
    del state["layers.1.final_layer_norm.bias"]
    state["extra.weight"] = torch.zeros(1)
    state["layers.0.attention.k_proj.weight"] = torch.zeros(32, 16)
    target = tiny(seed=1)
    before = {k: v.clone() for k, v in target.state_dict().items()}
    with pytest.raises(CheckpointError) as raised:
        load_model_strict(target, state, tmp_path / "broken.pt")
    message = str(raised.value)
    assert message.startswith(f"{tmp_path / 'broken.pt'}: "), message
    assert "missing keys: layers.1.final_layer_norm.bias;" in message
    assert "unexpected keys: extra.weight;" in message
    reshaped = "layers.0.attention.k_proj.weight (32, 16) vs (32, 32)"
    assert f"shape mismatch (checkpoint vs model): {reshaped}" in message
    assert all(torch.equal(v, before[k]) for k, v in target.state_dict().items())  # nothing half-loaded
    # many keys: the first ten by name, then how many more
    state = {k: v for k, v in source.state_dict().items() if not k.startswith("layers.1.")}
    first = re.escape("missing keys: layers.1.attention.k_proj.bias, ")
    with pytest.raises(CheckpointError, match=rf"{first}.*\(6 more\)"):
        load_model_strict(tiny(), state, tmp_path / "one_layer.pt")
    # load_encoder reads an encoder.pt through it
    path = tmp_path / "encoder.pt"
    weights = source.state_dict()
    del weights["layer_norm.bias"]
    torch.save({"encoder": weights, "encoder_config": dataclasses.asdict(source.cfg), "step": 3}, path)
    with pytest.raises(CheckpointError, match=rf"^{re.escape(str(path))}: .*missing keys: layer_norm\.bias$"):
        load_encoder(path)


# -- checkpoint import --------------------------------------------------------------------------------------
def _audio(n: int = 8_000) -> torch.Tensor:
    return torch.randn(1, n, generator=torch.Generator().manual_seed(3))


HF_TINY = dict(
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=64,
    conv_dim=(16,) * 7,
    num_conv_pos_embeddings=16,
    num_conv_pos_embedding_groups=4,
)


@pytest.mark.parametrize(
    "kind,extra",
    [
        ("wav2vec2", {}),  # BASE layout: group norm CNN, post-LN blocks
        (
            "hubert",
            dict(feat_extract_norm="layer", conv_bias=True, do_stable_layer_norm=True),
        ),  # LARGE layout
    ],
)
def test_import_huggingface(tmp_path, kind, extra):
    transformers = pytest.importorskip("transformers")
    config_cls = transformers.Wav2Vec2Config if kind == "wav2vec2" else transformers.HubertConfig
    model_cls = transformers.Wav2Vec2Model if kind == "wav2vec2" else transformers.HubertModel
    torch.manual_seed(0)
    original = model_cls(config_cls(**HF_TINY, **extra)).eval()
    original.save_pretrained(tmp_path)
    enc = load_pretrained_encoder(tmp_path).eval()
    assert (enc.cfg.dim, enc.cfg.layers, enc.cfg.layer_norm_first) == (32, 2, kind == "hubert")
    with torch.no_grad():
        want = original(_audio()).last_hidden_state
        got = enc(_audio())
    torch.testing.assert_close(got.output, want, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(enc.mask_embedding.detach(), original.masked_spec_embed.detach())


def _to_fairseq_key(key: str) -> str:
    """torchaudio Wav2Vec2Model key -> fairseq name (the inverse of torchaudio's fairseq import mapping)."""
    rules = [
        (r"feature_extractor\.conv_layers\.(\d+)\.conv\.", r"feature_extractor.conv_layers.\1.0."),
        (r"feature_extractor\.conv_layers\.0\.layer_norm\.(\w+)$", r"feature_extractor.conv_layers.0.2.\1"),
        (r"encoder\.feature_projection\.projection\.", "post_extract_proj."),
        (r"encoder\.feature_projection\.layer_norm\.", "layer_norm."),
        (
            r"encoder\.transformer\.pos_conv_embed\.conv\.parametrizations\.weight\.original0",
            "encoder.pos_conv.0.weight_g",
        ),
        (
            r"encoder\.transformer\.pos_conv_embed\.conv\.parametrizations\.weight\.original1",
            "encoder.pos_conv.0.weight_v",
        ),
        (r"encoder\.transformer\.pos_conv_embed\.conv\.bias", "encoder.pos_conv.0.bias"),
        (r"encoder\.transformer\.layer_norm\.", "encoder.layer_norm."),
        (r"encoder\.transformer\.layers\.(\d+)\.attention\.", r"encoder.layers.\1.self_attn."),
        (r"encoder\.transformer\.layers\.(\d+)\.layer_norm\.", r"encoder.layers.\1.self_attn_layer_norm."),
        (
            r"encoder\.transformer\.layers\.(\d+)\.feed_forward\.intermediate_dense\.",
            r"encoder.layers.\1.fc1.",
        ),
        (r"encoder\.transformer\.layers\.(\d+)\.feed_forward\.output_dense\.", r"encoder.layers.\1.fc2."),
        (r"encoder\.transformer\.layers\.", "encoder.layers."),
    ]
    for pattern, repl in rules:
        new = re.sub(pattern, repl, key)
        if new != key:
            return new
    raise AssertionError(key)


FAIRSEQ_MODEL_CFG = dict(
    _name="wav2vec2",
    extractor_mode="default",
    conv_feature_layers="[(16, 10, 5)] + [(16, 3, 2)] * 4 + [(16, 2, 2)] * 2",
    conv_bias=False,
    encoder_embed_dim=32,
    encoder_layers=2,
    encoder_attention_heads=2,
    encoder_ffn_embed_dim=64,
    conv_pos=16,
    conv_pos_groups=4,
    layer_norm_first=False,
    dropout=0.1,
    encoder_layerdrop=0.05,
)


def _fake_fairseq(style: str):
    """A torchaudio model and a fairseq-format checkpoint of its weights (with pretraining extras)."""
    torch.manual_seed(0)
    source = wav2vec2_model(
        "group_norm",
        [(16, 10, 5)] + [(16, 3, 2)] * 4 + [(16, 2, 2)] * 2,
        False,
        32,
        0.1,
        16,
        4,
        2,
        2,
        0.1,
        64,
        0.0,
        0.1,
        False,
        0.05,
        None,
    ).eval()
    with torch.no_grad():  # non-trivial norm weights so that a mix-up would show
        for name, p in source.named_parameters():
            if "layer_norm" in name:
                p.add_(0.1 * torch.randn_like(p))
    model = {_to_fairseq_key(k): v for k, v in source.state_dict().items()}
    model |= {
        "mask_emb": torch.randn(32),
        "quantizer.vars": torch.randn(1, 8, 4),
        "project_q.weight": torch.randn(4, 4),
        "final_proj.weight": torch.randn(4, 32),
    }
    task = {"_name": "audio_pretraining", "normalize": False}
    if style == "cfg":
        return source, {"cfg": {"model": FAIRSEQ_MODEL_CFG, "task": task}, "model": model}
    if style == "args":
        return source, {
            "args": argparse.Namespace(arch="wav2vec2", **FAIRSEQ_MODEL_CFG, normalize=False),
            "model": model,
        }
    # fine-tuned: the pretrained model under w2v_encoder.w2v_model, plus a CTC projection
    tuned = {
        f"w2v_encoder.w2v_model.{k}": v
        for k, v in model.items()
        if not k.startswith(("quantizer", "project_q", "final_proj"))
    }
    tuned |= {"w2v_encoder.proj.weight": torch.randn(10, 32), "w2v_encoder.proj.bias": torch.randn(10)}
    cfg = {
        "model": {"_name": "wav2vec_ctc", "w2v_args": {"model": FAIRSEQ_MODEL_CFG, "task": task}},
        "task": task,
    }
    return source, {"cfg": cfg, "model": tuned}


@pytest.mark.parametrize("style", ["cfg", "args", "finetuned"])
def test_import_fairseq(tmp_path, style):
    source, checkpoint = _fake_fairseq(style)
    path = tmp_path / "checkpoint.pt"
    torch.save(checkpoint, path)
    enc = load_pretrained_encoder(path).eval()
    assert (enc.cfg.dim, enc.cfg.layers, enc.cfg.dropout, enc.cfg.layer_drop, enc.cfg.normalize_audio) == (
        32,
        2,
        0.1,
        0.05,
        False,
    )
    with torch.no_grad():
        want, _ = source(_audio())
        got = enc(_audio(), return_layers=True)
        want_layers, _ = source.extract_features(_audio())
    torch.testing.assert_close(got.output, want, atol=1e-5, rtol=1e-4)
    for g, w in zip(got.layers, want_layers, strict=True):
        torch.testing.assert_close(g, w, atol=1e-5, rtol=1e-4)
    mask_emb = checkpoint["model"].get("mask_emb", checkpoint["model"].get("w2v_encoder.w2v_model.mask_emb"))
    torch.testing.assert_close(enc.mask_embedding.detach(), mask_emb)
    # overrides for fine-tuning
    assert load_pretrained_encoder(path, layer_drop=0.1, feature_grad_mult=0.0).cfg.layer_drop == 0.1


def test_encoder_from_wav2vec2_is_strict():
    source, _ = _fake_fairseq("cfg")
    source.encoder.transformer.add_module("extra", torch.nn.Linear(2, 2))
    config = dict(
        extractor_mode="group_norm",
        extractor_conv_layer_config=[(16, 10, 5)] + [(16, 3, 2)] * 4 + [(16, 2, 2)] * 2,
        extractor_conv_bias=False,
        encoder_embed_dim=32,
        encoder_projection_dropout=0.1,
        encoder_pos_conv_kernel=16,
        encoder_pos_conv_groups=4,
        encoder_num_layers=2,
        encoder_num_heads=2,
        encoder_attention_dropout=0.1,
        encoder_ff_interm_features=64,
        encoder_ff_interm_dropout=0.0,
        encoder_dropout=0.1,
        encoder_layer_norm_first=False,
        encoder_layer_drop=0.05,
    )
    with pytest.raises(PretrainedCheckpointError, match="extra"):
        encoder_from_wav2vec2(source, config)
    del source.encoder.transformer.extra
    config["encoder_num_layers"] = 1  # a key mismatch: layers.1.* have no place
    with pytest.raises(RuntimeError, match=r"layers\.1\."):
        encoder_from_wav2vec2(source, config)


def test_import_errors_name_the_path(tmp_path):
    missing = tmp_path / "nope.pt"
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        load_pretrained_encoder(missing)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(PretrainedCheckpointError, match="notes.txt"):
        load_pretrained_encoder(text)
    with pytest.raises(PretrainedCheckpointError, match="config.json"):
        load_pretrained_encoder(tmp_path)
    bad = tmp_path / "bad.pt"
    torch.save({"weights": {}}, bad)
    with pytest.raises(PretrainedCheckpointError, match="bad.pt"):
        load_pretrained_encoder(bad)
    _, checkpoint = _fake_fairseq("cfg")
    checkpoint["model"]["encoder.mystery.weight"] = torch.zeros(1)
    torch.save(checkpoint, bad)
    with pytest.raises(PretrainedCheckpointError, match="mystery"):
        load_pretrained_encoder(bad)
    _, checkpoint = _fake_fairseq("cfg")
    checkpoint["cfg"]["model"] = {**FAIRSEQ_MODEL_CFG, "_name": "data2vec_audio"}
    torch.save(checkpoint, bad)
    with pytest.raises(PretrainedCheckpointError, match="data2vec_audio"):
        load_pretrained_encoder(bad)
    (tmp_path / "hf").mkdir()
    (tmp_path / "hf" / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(PretrainedCheckpointError, match="bert"):
        load_pretrained_encoder(tmp_path / "hf")

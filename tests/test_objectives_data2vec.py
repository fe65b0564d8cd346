"""data2vec and data2vec 2.0: the EMA teacher, the targets, the masks, and a few training steps each."""

from __future__ import annotations

import copy
import functools

import pytest
import torch
from conftest import tiny_encoder as shared_tiny_encoder
from torch import nn

from asr.data.dataset import Batch
from asr.objectives import data2vec, data2vec2
from asr.objectives.data2vec2 import block_mask
from asr.objectives.ema import EMATeacher, average_top_layers, ema_decay, instance_norm, teacher_targets

#: conftest's tiny encoder, 64 wide with 4 heads, without dropout (``frontend=``, ``body=``, ``seed=`` and
#: other fields may be given)
tiny_encoder = functools.partial(
    shared_tiny_encoder, dim=64, heads=4, ffn_dim=128, pos_conv_kernel=16, pos_conv_groups=4, dropout=0.0
)


@pytest.fixture(scope="module")
def speech() -> Batch:
    """Two espeak-ng utterances (1.6 s and 1.2 s) at 16 kHz, zero-padded."""
    from asr.text.espeak import IsolatedSynthesizer, Voice

    with IsolatedSynthesizer() as tts:
        waves = [
            tts.synthesize(text, Voice("en-us", variant), sample_rate=16000).samples[:n]
            for text, variant, n in (
                ("the quick brown fox jumps over the lazy dog", None, 25600),
                ("she sells sea shells by the sea shore", "m3", 19200),
            )
        ]
    lengths = torch.tensor([len(w) for w in waves])
    audio = torch.zeros(len(waves), int(lengths.max()))
    for i, w in enumerate(waves):
        audio[i, : len(w)] = torch.from_numpy(w)
    return Batch(audio=audio, audio_lengths=lengths, cut_ids=["a", "b"])


# -- EMA teacher -------------------------------------------------------------------------------------------


def test_ema_decay_schedule():
    assert ema_decay(0) == pytest.approx(0.999)
    assert ema_decay(15_000) == pytest.approx(0.99945)
    assert ema_decay(30_000) == pytest.approx(0.9999)
    assert ema_decay(1_000_000) == pytest.approx(0.9999)
    assert ema_decay(37_500, end=0.99999, anneal_steps=75_000) == pytest.approx((0.999 + 0.99999) / 2)


def test_ema_update_is_exact_on_parameters_and_copies_buffers_and_shared_parts():
    torch.manual_seed(0)
    student = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 3))
    teacher = EMATeacher(student, shared=("2",))
    assert all(not p.requires_grad for p in teacher.parameters())
    teacher.train()
    assert not teacher.training and not teacher.model.training  # always eval: no dropout in the teacher
    student.train()
    student(torch.randn(16, 4))  # moves the batch-norm running statistics
    with torch.no_grad():
        for p in student.parameters():
            p.add_(torch.randn_like(p))
    before = {k: v.clone() for k, v in teacher.model.state_dict().items()}
    teacher.update(student, 0.9)
    for name, p in student.named_parameters():
        t = dict(teacher.model.named_parameters())[name]
        expected = p if name.startswith("2.") else 0.9 * before[name] + (1 - 0.9) * p
        torch.testing.assert_close(t, expected, rtol=0, atol=1e-7)
    for name, b in student.named_buffers():
        assert torch.equal(dict(teacher.model.named_buffers())[name], b)


def test_instance_norm_matches_torch_and_ignores_padding():
    x = torch.randn(2, 10, 3)
    full = instance_norm(x, torch.tensor([10, 10]))
    torch.testing.assert_close(full, nn.functional.instance_norm(x.transpose(1, 2)).transpose(1, 2))
    padded = x.clone()
    padded[1, 6:] = 100.0
    out = instance_norm(padded, torch.tensor([10, 6]))
    torch.testing.assert_close(out[1, :6], instance_norm(x[1:, :6], torch.tensor([6]))[0])
    assert (out[1, 6:] == 0).all()
    targets = average_top_layers([x, 2 * x, x + 1], torch.tensor([10, 10]), top_k=2)
    torch.testing.assert_close(targets, full)  # instance norm removes the scale and the shift


# -- inverse block masking -------------------------------------------------------------------------------


@pytest.mark.parametrize("inverse", [False, True])
def test_block_mask_exact_count_blocks_and_no_padding(inverse):
    torch.manual_seed(0)
    mask = block_mask(torch.full((64,), 100), 100, mask_prob=0.5, block=5, inverse=inverse)
    assert (mask.sum(1) == 50).all()  # the same count in every row: visible frames pack densely
    covered = ~mask if inverse else mask
    for row in covered:  # blocks of 5 (adjacent ones merge): every run is a multiple of 5
        runs = torch.unique_consecutive(row, return_counts=True)
        assert all(n % 5 == 0 for v, n in zip(*runs, strict=True) if v)
    share = block_mask(torch.full((1000,), 100), 100, 0.5, 5, inverse).float().mean(0)[10:90]
    assert 0.4 < share.min() and share.max() < 0.6  # away from the edges, no frame is favoured

    lengths = torch.tensor([100, 73, 40, 7, 1])
    mask = block_mask(lengths, 100, mask_prob=0.5, block=5, inverse=inverse)
    assert mask.sum(1).tolist() == [50, 37, 20, 4, 0]
    assert not mask[torch.arange(100)[None, :] >= lengths[:, None]].any()  # padding is never masked

    torch.manual_seed(1)
    a = block_mask(lengths, 100, 0.65, 10, inverse)
    torch.manual_seed(1)
    assert torch.equal(a, block_mask(lengths, 100, 0.65, 10, inverse))  # torch's global RNG only


# -- objectives ------------------------------------------------------------------------------------------


def _train(objective, batch: Batch, steps: int, lr: float) -> tuple[list[float], list[float]]:
    """Adam steps with ``step_end``; the losses, and the loss of the best constant prediction per step."""
    params = [p for p in objective.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr)
    losses, constant = [], []
    objective.train()
    for step in range(1, steps + 1):
        out = objective(batch)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        objective.step_end(step)
        losses.append(out.loss.item())
        # squared error summed over D, scaled by 1/sqrt(D): a constant prediction scores sqrt(D) * var
        constant.append(objective.encoder.dim**0.5 * out.metrics["target_var"])
    return losses, constant


def _assert_learns(losses: list[float], constant: list[float]) -> None:
    first, last = sum(losses[:5]) / 5, sum(losses[-10:]) / 10
    assert last < 0.8 * first, losses
    assert last < 0.8 * sum(constant[-10:]) / 10, (losses, constant)  # beats predicting the mean


@pytest.mark.parametrize("name", ["data2vec", "data2vec2"])
def test_teacher_is_saved_but_not_trained(name):
    module = data2vec if name == "data2vec" else data2vec2
    objective = module.build(tiny_encoder())
    teacher_ids = {id(p) for p in objective.teacher.parameters()}
    trainable = [p for p in objective.parameters() if p.requires_grad]
    assert trainable and not teacher_ids & {id(p) for p in trainable}
    state = objective.state_dict()
    assert any(k.startswith("teacher.model.layers.") for k in state) and "ema_updates" in state
    assert objective.encoder_state_dict().keys() == objective.encoder.state_dict().keys()


def test_data2vec_loss_falls(speech):
    torch.manual_seed(0)
    objective = data2vec.build(tiny_encoder())
    assert objective.cfg.top_k == 8 and objective.cfg.mask_prob == 0.65  # the paper's, capped to 2 layers
    _assert_learns(*_train(objective, speech, steps=60, lr=2e-3))
    out = objective(speech)
    assert out.metrics["ema_decay"] == pytest.approx(ema_decay(60))
    assert out.metrics["target_var"] > 0.1 and out.num_targets > 0  # no collapse on this short run
    assert int(objective.ema_updates) == 60


def test_data2vec_shares_frontend_and_positions_with_the_teacher(speech):
    objective = data2vec.build(tiny_encoder())
    _train(objective, speech, steps=2, lr=1e-3)
    student, teacher = objective.encoder.state_dict(), objective.teacher.model.state_dict()
    for key in student:
        same = torch.equal(student[key], teacher[key])
        assert same == key.startswith(data2vec.SHARED), key


def test_data2vec2_loss_falls(speech):
    torch.manual_seed(0)
    objective = data2vec2.build(tiny_encoder(), num_copies=2)
    _assert_learns(*_train(objective, speech, steps=50, lr=5e-3))
    assert objective.decay() == pytest.approx(ema_decay(50, 0.999, 0.99999, 75_000))


def test_data2vec2_student_sees_visible_frames_only_and_teacher_runs_once(speech):
    torch.manual_seed(0)
    objective = data2vec2.build(tiny_encoder(), num_copies=3)
    body_inputs, teacher_calls = [], []
    student_body = objective.encoder.body

    def spy(x, lengths, return_layers=False):
        body_inputs.append((x.shape, lengths.clone()))
        return student_body(x, lengths, return_layers)

    objective.encoder.body = spy
    objective.teacher.model.layers[0].register_forward_hook(lambda *_: teacher_calls.append(1))
    out = objective(speech)
    frames = objective.encoder.num_frames(speech.audio_lengths)
    T = int(frames.max())
    assert len(body_inputs) == 1 and len(teacher_calls) == 1  # 3 copies, one teacher pass
    (B, T_visible, _), visible = body_inputs[0]
    assert B == 3 * len(frames) and T_visible < T
    expected = frames - torch.floor(0.5 * frames.double() + 0.5).long()
    assert torch.equal(visible, expected.repeat(3))
    assert out.num_targets == int((frames - expected).sum()) * 3
    out.loss.backward()
    assert objective.encoder.mask_embedding.grad is None and objective.decoder.proj.weight.grad is not None


def test_resume_restores_the_teacher_exactly(speech):
    objective = data2vec2.build(tiny_encoder(), num_copies=2)
    _train(objective, speech, steps=2, lr=1e-3)
    restored = data2vec2.build(tiny_encoder(seed=1), num_copies=2)
    restored.load_state_dict(copy.deepcopy(objective.state_dict()))
    for a, b in zip(objective.teacher.parameters(), restored.teacher.parameters(), strict=True):
        assert torch.equal(a, b)
    assert restored.decay() == objective.decay()


@pytest.mark.parametrize("name", ["data2vec", "data2vec2"])
def test_fbank_conformer_encoder_and_ffn_targets(name, speech):
    """The Conformer body's targets come from its second feed-forward module; hooks do not outlive a step."""
    module = data2vec if name == "data2vec" else data2vec2
    encoder = tiny_encoder(frontend="fbank", body="conformer", ffn_dim=64, conformer_kernel=7)
    objective = module.build(encoder, **({} if name == "data2vec" else {"num_copies": 2}))
    out = objective(speech)
    assert torch.isfinite(out.loss) and out.num_targets > 0
    out.loss.backward()
    objective.step_end(1)
    assert all(not layer.ffn2._forward_hooks for layer in objective.teacher.model.layers)
    teacher = objective.teacher.model
    features, frames = teacher.frontend(speech.audio, speech.audio_lengths)
    blocks = teacher_targets(teacher, features, frames, top_k=2, layer_output="block")
    x = teacher.add_positions(teacher.project(features), frames)
    expected = average_top_layers(teacher.body(x, frames, return_layers=True).layers, frames, 2)
    torch.testing.assert_close(blocks, expected)
    ffn = teacher_targets(teacher, features, frames, top_k=2)
    assert ffn.shape == blocks.shape and not torch.allclose(ffn, blocks)

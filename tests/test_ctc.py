"""CTC fine-tuning: the loss falls and greedy decoding recovers the transcript; freezing follows the recipe."""

from __future__ import annotations

import functools
import itertools

import pytest
import torch
from conftest import tiny_encoder
from lhotse import CutSet

from asr.data.dataset import AudioDataset
from asr.objectives import ctc
from asr.training import TrainConfig, train

pytestmark = pytest.mark.usefixtures("one_thread")
LETTERS = ["<blk>", "|", "'"] + [chr(c) for c in range(ord("A"), ord("Z") + 1)]


def char_ids(cut) -> list[int]:
    text = " ".join(s.text for s in cut.supervisions).upper()
    return [LETTERS.index("|" if ch == " " else ch) for ch in text if ch == " " or ch in LETTERS]


#: conftest's tiny encoder, 64 wide, on fbank features
tiny = functools.partial(tiny_encoder, "fbank", dim=64, ffn_dim=128)


@pytest.fixture(scope="module")
def cuts(tiny_librispeech) -> CutSet:
    from asr.data.librispeech import prepare_librispeech

    out = tiny_librispeech.parent / "manifests"
    prepare_librispeech(tiny_librispeech, out, ["train-clean-100"])
    return CutSet.from_file(out / "librispeech_cuts_train-clean-100.jsonl.gz")


def test_ctc_loss_falls_and_greedy_decoding_reads_the_transcript(cuts):
    few = CutSet.from_cuts(itertools.islice(cuts.filter(lambda c: c.duration < 4.0), 3))
    batch = AudioDataset(tokenize=char_ids)[few]
    objective = ctc.build(tiny(), len(LETTERS), freeze_frontend=False, mask_prob=0.0, channel_mask_prob=0.0)
    optimizer = torch.optim.Adam(objective.parameters(), lr=3e-3)
    losses = []
    for _ in range(150):
        out = objective(batch)
        optimizer.zero_grad()
        out.loss.backward()
        optimizer.step()
        losses.append(out.loss.item())
    assert losses[-1] < 0.2 * losses[0], losses[::10]
    objective.eval()
    log_probs, frames = objective.model.log_probs(batch.audio, batch.audio_lengths)
    decoded = ctc.greedy_decode(log_probs, frames)
    wanted = batch.targets["tokens"]
    errors = sum(
        torch.tensor(d).ne(w[w >= 0][: len(d)]).sum().item() + abs(len(d) - int((w >= 0).sum()))
        for d, w in zip(decoded, wanted, strict=True)
    )
    assert errors < 0.2 * int((wanted >= 0).sum())  # memorised: the transcripts come back


def test_frontend_stays_frozen_and_the_encoder_waits_for_the_head(cuts, tmp_path):
    encoder = tiny()
    objective = ctc.build(encoder, len(LETTERS), freeze_encoder_steps=2)
    before = {k: v.clone() for k, v in objective.state_dict().items()}
    cfg = TrainConfig(
        exp_dir=str(tmp_path / "exp"),
        max_steps=2,
        max_duration=8.0,
        lr=1e-3,
        warmup_steps=1,
        device="cpu",
        progress=False,
        num_buckets=2,
    )
    result = train(objective, cuts, cfg, dataset=AudioDataset(tokenize=char_ids))
    after = {k: v.clone() for k, v in objective.state_dict().items()}
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert {"model.head.weight", "model.head.bias"} <= changed
    assert not any(k.startswith("model.encoder.") for k in changed - {"updates"})
    assert result.metrics["encoder_frozen"] == 1.0
    # Two more updates: now the body learns, the front-end still does not.
    result = train(
        objective,
        cuts,
        TrainConfig(**{**cfg.__dict__, "max_steps": 4}),
        dataset=AudioDataset(tokenize=char_ids),
    )
    final = objective.state_dict()
    moved = {k for k in after if not torch.equal(after[k], final[k])}
    assert any(k.startswith("model.encoder.layers.") for k in moved)
    assert not any(k.startswith("model.encoder.feature_extractor.") for k in moved)
    # The encoder part of a fine-tuning checkpoint loads as an encoder.
    from asr.models import load_encoder

    assert load_encoder(tmp_path / "exp" / "checkpoint-4.pt").cfg.dim == 64


def test_settings_are_checked():
    with pytest.raises(ValueError, match="mask_prob"):
        ctc.build(tiny(), len(LETTERS), mask_prob=2.0)
    with pytest.raises(ValueError, match="unknown CTCConfig"):
        ctc.build(tiny(), len(LETTERS), freeze=True)


def test_encoder_lr_scale_gives_the_encoder_its_own_rate():
    from asr.training.loop import _param_groups

    objective = ctc.build(tiny(), len(LETTERS), encoder_lr_scale=0.1, freeze_frontend=True)
    groups = _param_groups(objective, weight_decay=0.01, lr=1e-3)
    head = {id(p) for p in objective.model.head.parameters()}
    for group in groups:
        is_head = {id(p) in head for p in group["params"]}
        assert len(is_head) == 1 and group["lr"] == pytest.approx(1e-3 if is_head.pop() else 1e-4)
    trainable = [p for p in objective.parameters() if p.requires_grad]
    assert sum(len(g["params"]) for g in groups) == len(trainable)  # each once; the frozen front-end in none
    # without a multiplier: the two weight-decay groups at the one rate, as before
    plain = _param_groups(ctc.build(tiny(), len(LETTERS)), weight_decay=0.01, lr=1e-3)
    assert [(g["weight_decay"], g["lr"]) for g in plain] == [(0.01, 1e-3), (0.0, 1e-3)]
    with pytest.raises(ValueError, match="encoder_lr_scale"):
        ctc.build(tiny(), len(LETTERS), encoder_lr_scale=0.0)

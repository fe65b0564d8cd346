"""``asr tokenizer train`` -> ``asr finetune`` -> ``asr decode``: a round trip through files, resumable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from conftest import run_cli as asr
from conftest import tiny_encoder_settings
from lhotse import CutSet

from asr.models import build_encoder
from asr.objectives.ctc import CTCModel, load_ctc_model
from asr.training import load_checkpoint

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = {
    "model": {"size": "xs", "frontend": "fbank", **tiny_encoder_settings(dim=64, ffn_dim=128)},
    "objective": {"freeze_frontend": False, "mask_prob": 0.0, "channel_mask_prob": 0.0},
    "train": {
        "max_duration": 20.0,
        "lr": 3e-3,
        "warmup_steps": 2,
        "checkpoint_every": 2,
        "log_every": 1,
        "device": "cpu",
        "num_buckets": 2,
    },
}


@pytest.fixture(scope="module")
def train_cuts(tiny_librispeech) -> Path:
    from asr.data.librispeech import prepare_librispeech

    out = tiny_librispeech.parent / "manifests-finetune"
    prepare_librispeech(tiny_librispeech, out, ["train-clean-100"])
    return out / "librispeech_cuts_train-clean-100.jsonl.gz"


def test_finetune_decode_round_trip(tmp_path, train_cuts):
    conf = tmp_path / "conf.yaml"
    conf.write_text(yaml.safe_dump(TINY))
    code, out = asr("tokenizer", "train", "--kind", "char", "--cuts", train_cuts, "--out", tmp_path / "chars")
    assert code == 0, out
    exp = tmp_path / "exp"
    base = (
        "finetune",
        "--cuts",
        train_cuts,
        "--tokenizer",
        tmp_path / "chars",
        "--exp-dir",
        exp,
        "--config",
        conf,
        "--no-progress",
        "--average",
        2,
    )
    code, out = asr(*base, "--max-steps", 2)
    assert code == 0 and "step 2 (resumed from 0)" in out, out
    code, out = asr(*base, "--max-steps", 4)  # resumes
    assert code == 0 and "step 4 (resumed from 2)" in out and "average of 2" in out, out
    # ctc_model.pt is the average of checkpoints 2 and 4
    model, tokenizer_dir = load_ctc_model(exp / "ctc_model.pt")
    two, four = (load_checkpoint(exp / f"checkpoint-{s}.pt")["model"] for s in (2, 4))
    torch.testing.assert_close(model.head.weight, (two["model.head.weight"] + four["model.head.weight"]) / 2)
    assert tokenizer_dir == (tmp_path / "chars").resolve()
    code, out = asr(
        "decode",
        "--model",
        exp / "ctc_model.pt",
        "--cuts",
        train_cuts,
        "--out",
        tmp_path / "hyp.txt",
        "--no-progress",
    )
    assert code == 0, out
    lines = (tmp_path / "hyp.txt").read_text().splitlines()
    assert sorted(line.split(" ")[0] for line in lines) == sorted(c.id for c in CutSet.from_file(train_cuts))
    # ... and scores against the manifest's transcripts (decode -> score round trip through files)
    code, out = asr("score", "wer", "--ref", train_cuts, "--hyp", tmp_path / "hyp.txt", "--json")
    assert code == 0, out
    scored = json.loads(out)
    cuts = CutSet.from_file(train_cuts)
    words = sum(len(s.text.split()) for c in cuts for s in c.supervisions)
    assert scored["utts"] == len(lines) and scored["ref_words"] == words
    # it learned: four updates bring the CTC loss on these cuts well below random weights' (3.2 per token
    # against 7.5-7.9 for random weights of five seeds)
    trained = ctc_loss_per_token(model, cuts, tokenizer_dir)
    torch.manual_seed(0)
    random = CTCModel(build_encoder(model.encoder.cfg), model.vocab_size)
    assert trained < 0.7 * ctc_loss_per_token(random, cuts, tokenizer_dir), trained


def ctc_loss_per_token(model, cuts, tokenizer_dir: Path) -> float:
    """The CTC loss (torch's, summed) of ``model`` on ``cuts`` per transcript token, in eval mode."""
    from asr.data.dataset import AudioDataset
    from asr.objectives.ctc import transcript_ids
    from asr.text.tokenizer import load_tokenizer

    tokenizer = load_tokenizer(tokenizer_dir)
    batch = AudioDataset(tokenize=lambda cut: transcript_ids(tokenizer, cut))[cuts]
    tokens = batch.targets["tokens"]
    with torch.no_grad():
        log_probs, frames = model.eval().log_probs(batch.audio, batch.audio_lengths)
    targets = (tokens >= 0).sum(dim=1)
    loss = torch.nn.functional.ctc_loss(
        log_probs.transpose(0, 1), tokens.clamp_min(0), frames, targets, reduction="sum", zero_infinity=True
    )
    return float(loss) / int(targets.sum())


def test_finetune_user_mistakes(tmp_path, train_cuts):
    code, out = asr(
        "finetune", "--cuts", train_cuts, "--tokenizer", tmp_path / "none", "--exp-dir", tmp_path / "e"
    )
    assert code == 2 and "none" in out, out
    code, out = asr(
        "decode", "--model", tmp_path / "missing.pt", "--cuts", train_cuts, "--out", tmp_path / "h.txt"
    )
    assert code == 2 and "missing.pt" in out, out


def test_finetune_names_a_transcript_the_tokenizer_cannot_encode(tmp_path, train_cuts):
    cuts = list(CutSet.from_file(train_cuts))
    bad = cuts[1]
    bad.supervisions[0].text = "CAFÉ AU LAIT ΩMEGA"  # É folds to E; Ω is no letter A-Z
    CutSet.from_cuts(cuts).to_file(tmp_path / "cuts.jsonl.gz")
    code, out = asr("tokenizer", "train", "--kind", "char", "--out", tmp_path / "chars")
    assert code == 0, out
    code, out = asr(
        "finetune",
        "--cuts",
        tmp_path / "cuts.jsonl.gz",
        "--tokenizer",
        tmp_path / "chars",
        "--exp-dir",
        tmp_path / "exp",
        "--max-steps",
        1,
        "--no-progress",
    )
    assert code == 2 and bad.id in out and "Ω" in out, out
    assert not list((tmp_path / "exp").glob("checkpoint-*.pt"))

"""Semi-supervised training: the pseudo-label filter and manifest, noisy-student resume, online-ensemble targets."""

from __future__ import annotations

import json
import math
import shutil

import pytest
import torch
from conftest import run_cli as asr
from conftest import tiny_encoder, torchrun_asr
from lhotse import CutSet, Recording

from asr.data.dataset import LABEL_PAD, Batch
from asr.decoding.greedy import GreedyDecoder
from asr.decoding.hypothesis import Hypothesis
from asr.objectives import ctc
from asr.semi import (
    FilterConfig,
    OnlineEnsembleConfig,
    OnlineEnsembleObjective,
    PseudoLabelError,
    Shard,
    combine_posteriors,
    filter_reason,
    mix_cuts,
    pseudo_label,
)
from asr.semi.pseudo_label import labelled_cut
from asr.text.tokenizer import CharTokenizer


class Killed(BaseException):
    """A kill at a chosen point (BaseException, as KeyboardInterrupt: nothing catches it on the way)."""


class Oracle:
    """A perfect teacher: it knows every cut's transcript (found by the audio's length) and emits it as
    peaky CTC posteriors, one token every other frame."""

    min_samples = 400

    def __init__(self, transcripts: dict[int, list[int]], vocab_size: int) -> None:
        self.transcripts, self.vocab_size = transcripts, vocab_size

    def log_probs(self, audio: torch.Tensor, lengths: torch.Tensor):
        frames = lengths // 320
        scores = torch.full((len(audio), int(frames.max()), self.vocab_size), -20.0)
        scores[..., 0] = 0.0
        for row, n in enumerate(lengths.tolist()):
            for k, token in enumerate(self.transcripts[n]):
                scores[row, 2 * k, token] = 10.0
        return scores.log_softmax(-1), frames


@pytest.fixture(scope="module")
def chars() -> CharTokenizer:
    return CharTokenizer()


@pytest.fixture(scope="module")
def unlabelled(digits, tmp_path_factory) -> tuple[CutSet, Recording]:
    """12 spoken-digit cuts and one whose audio file is garbage."""
    cuts = CutSet.from_file(digits["train"]).subset(first=12).to_eager()
    bad = tmp_path_factory.mktemp("bad") / "broken.flac"
    shutil.copy(next(iter(cuts)).recording.sources[0].source, bad)
    recording = Recording.from_file(bad)
    bad.write_bytes(b"this is not audio")
    return CutSet.from_cuts([*cuts, recording.to_cut()]), recording


def oracle_for(cuts: CutSet, tokenizer) -> Oracle:
    truth = {cut.num_samples: ctc.transcript_ids(tokenizer, cut) for cut in cuts if cut.supervisions}
    return Oracle(truth, tokenizer.vocab_size)


def test_filter_keeps_and_drops_by_its_rules():
    def hyp(tokens, confidence=0.9, score=-10.0):
        return Hypothesis("x", list(range(1, tokens + 1)), list(range(tokens)), score, [], confidence)

    cfg = FilterConfig(
        min_confidence=0.5, min_score_per_frame=-1.0, min_tokens_per_second=2.0, max_tokens_per_second=20.0
    )
    # 1 s = 50 frames: score -10 is -0.2 per frame
    assert filter_reason(hyp(10), 1.0, cfg) is None
    assert filter_reason(None, 1.0, cfg) == "unusable audio"
    assert filter_reason(hyp(0), 1.0, cfg) == "empty"
    assert filter_reason(hyp(0), 1.0, FilterConfig(drop_empty=False)) is None
    assert filter_reason(hyp(10, confidence=0.49), 1.0, cfg) == "low confidence"
    assert filter_reason(hyp(10, score=-60.0), 1.0, cfg) == "low score per frame"
    assert filter_reason(hyp(1), 1.0, cfg) == "too few tokens per second"
    assert filter_reason(hyp(21), 1.0, cfg) == "too many tokens per second"
    assert filter_reason(hyp(21), 1.0, FilterConfig()) is None  # rules are off by default
    with pytest.raises(ValueError, match="min_tokens_per_second"):
        FilterConfig(min_tokens_per_second=5, max_tokens_per_second=1)


def test_an_oracle_teacher_gives_the_truth_and_every_cut_is_accounted_for(unlabelled, chars, tmp_path):
    cuts, broken = unlabelled
    summary = pseudo_label(
        oracle_for(cuts, chars),
        chars,
        GreedyDecoder(chars.decode),
        cuts,
        tmp_path,
        chunk_size=5,
        progress=False,
    )
    assert summary["cuts"] == 13 and summary["kept"] == 12
    assert [r.split(" (")[0] for r in summary["dropped_by_reason"]] == ["unreadable audio"]
    decisions = [json.loads(line) for line in (tmp_path / "decisions.jsonl").read_text().splitlines()]
    assert [d["id"] for d in decisions] == [c.id for c in cuts]
    kept = CutSet.from_file(tmp_path / "cuts.jsonl.gz")
    truth = {c.id: chars.normalize(c.supervisions[0].text) for c in cuts if c.supervisions}
    assert {c.id: c.supervisions[0].text for c in kept} == truth
    assert all(c.supervisions[0].custom["pseudo_label"]["confidence"] > 0.99 for c in kept)


def test_everything_filtered_out_is_an_error_with_the_counts(unlabelled, chars, tmp_path):
    cuts, _ = unlabelled
    with pytest.raises(PseudoLabelError, match=r"every one of the 13 cuts.*'low confidence': 12"):
        pseudo_label(
            oracle_for(cuts, chars),
            chars,
            GreedyDecoder(chars.decode),
            cuts,
            tmp_path,
            FilterConfig(min_confidence=1.0),
            progress=False,
        )
    assert json.loads((tmp_path / "summary.json").read_text())["kept"] == 0


def test_pseudo_labelling_resumes_after_a_kill_and_shards_merge(unlabelled, chars, tmp_path):
    cuts, _ = unlabelled
    oracle, greedy = oracle_for(cuts, chars), GreedyDecoder(chars.decode)
    calls, armed = [], [True]

    def dies_in_chunk_two(log_probs):
        calls.append(1)
        if armed[0] and len(calls) == 7:
            raise Killed  # killed while decoding the second chunk
        return greedy(log_probs)

    with pytest.raises(Killed):
        pseudo_label(oracle, chars, dies_in_chunk_two, cuts, tmp_path / "one", chunk_size=5, progress=False)
    assert sorted(p.name for p in (tmp_path / "one" / "parts").glob("*.decisions.jsonl")) == [
        "00000.decisions.jsonl"
    ]
    calls.clear()
    armed[0] = False
    summary = pseudo_label(
        oracle, chars, dies_in_chunk_two, cuts, tmp_path / "one", chunk_size=5, progress=False
    )
    assert len(calls) == 7  # chunks 2 and 3 only (the broken cut has no posteriors to search)
    assert summary["kept"] == 12
    # two shards: the first to finish waits for the other; the second merges the same manifest
    for index, expected in ((0, None), (1, 12)):
        out = pseudo_label(
            oracle, chars, greedy, cuts, tmp_path / "two", chunk_size=5, shard=Shard(index, 2), progress=False
        )
        assert (out and out["kept"]) == expected
    assert (tmp_path / "two" / "decisions.jsonl").read_text() == (
        tmp_path / "one" / "decisions.jsonl"
    ).read_text()
    with pytest.raises(PseudoLabelError, match="other settings"):
        pseudo_label(oracle, chars, greedy, cuts, tmp_path / "one", chunk_size=4, progress=False)


def test_phone_pseudo_labels_are_the_targets_of_a_phone_tokenizer(unlabelled):
    from asr.text.tokenizer import PhoneTokenizer

    phones = PhoneTokenizer()
    cut = next(iter(unlabelled[0]))
    hyp = Hypothesis("W AH N err", phones.encode_phones("W AH N err"), [0, 2, 4, 6], -1.0, [], 0.8)
    labelled = labelled_cut(cut, hyp, "phone", "teacher.pt")
    assert labelled.supervisions[0].text == cut.supervisions[0].text  # the prompt stays
    assert ctc.transcript_ids(phones, labelled) == hyp.tokens


def test_mixing_reaches_the_labelled_share(unlabelled):
    cuts = [c for c in unlabelled[0] if c.supervisions]
    labelled, pool = CutSet.from_cuts(cuts[:3]), CutSet.from_cuts(cuts[3:])
    for share in (0.5, 0.8):
        mixed = mix_cuts(labelled, pool, share)
        seconds = [
            sum(c.duration for c in mixed if bool(c.custom and c.custom.get("unlabelled")) == u)
            for u in (False, True)
        ]
        assert abs(seconds[0] / sum(seconds) - share) < 0.1, (share, seconds)
        assert len({c.id for c in mixed}) == len(mixed)


def tiny_ctc(vocab: int) -> ctc.CTCObjective:
    return ctc.build(tiny_encoder("fbank", layers=1), vocab, freeze_frontend=False)


def test_momentum_models_move_in_place_and_ensemble_targets_match_a_hand_computation():
    cfg = OnlineEnsembleConfig(half_lives=(1.0, 0.5), include_online=True, total_steps=10)
    objective = OnlineEnsembleObjective(tiny_ctc(6), cfg)
    online = objective.model
    decays = [math.exp(math.log(0.5) / (h * 10)) for h in (1.0, 0.5)]
    assert objective.decay_rates == pytest.approx(decays)
    before = [{k: v.clone() for k, v in t.model.named_parameters()} for t in objective.teachers]
    with torch.no_grad():  # an "update" of the online model
        for p in online.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    objective.step_end(1)
    student = dict(online.named_parameters())
    for teacher, old, decay in zip(objective.teachers, before, decays, strict=True):
        for name, value in teacher.model.named_parameters():
            expected = decay * old[name] + (1 - decay) * student[name]
            torch.testing.assert_close(value, expected)
            if name == "head.weight":
                assert not torch.equal(value, old[name]), "the momentum model did not move"
    torch.manual_seed(1)
    audio, lengths = torch.randn(2, 8000) * 0.1, torch.tensor([8000, 6000])
    objective.train()
    labels = objective.pseudo_labels(audio, lengths)
    with torch.no_grad():
        online.eval()
        members = [t.model.log_probs(audio, lengths)[0] for t in objective.teachers] + [
            online.log_probs(audio, lengths)[0]
        ]
    mean = torch.stack([m.exp() for m in members]).mean(0).log()
    torch.testing.assert_close(labels.log_probs, mean, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(combine_posteriors(members), mean, atol=1e-5, rtol=1e-5)
    for row, n in enumerate(labels.frames.tolist()):
        best = torch.unique_consecutive(mean[row, :n].argmax(-1)).tolist()
        assert labels.tokens[row] == [t for t in best if t != 0]
        assert 0.0 <= labels.confidences[row] <= 1.0
    # any Decoder (LM beam search for words) can turn the ensemble's posteriors into targets
    seen = []

    def decoder(log_probs):
        seen.append(log_probs)
        return GreedyDecoder(str)(log_probs)

    objective.decoder = decoder
    assert objective.pseudo_labels(audio, lengths).tokens == labels.tokens
    torch.testing.assert_close(seen[1], mean[1, : int(labels.frames[1])], atol=1e-5, rtol=1e-5)


def test_warmup_copies_the_online_model_and_gives_unlabelled_rows_no_loss(monkeypatch):
    objective = OnlineEnsembleObjective(tiny_ctc(6), OnlineEnsembleConfig(warmup_steps=3, total_steps=10))
    with torch.no_grad():
        for p in objective.model.parameters():
            p.add_(1.0)
    objective.step_end(1)
    for name, value in objective.teachers[0].model.named_parameters():
        torch.testing.assert_close(value, dict(objective.model.named_parameters())[name])
    # two labelled rows and an unlabelled one, whose pseudo-label (from this decoder) is never empty
    objective.decoder = lambda log_probs: [Hypothesis("ab", [1, 2], [0, 2], -1.0, [], 0.9)]
    torch.manual_seed(1)
    tokens = torch.tensor([[1, 2, 3], [4, 5, LABEL_PAD], [LABEL_PAD] * 3])
    batch = Batch(
        torch.randn(3, 8000) * 0.1, torch.tensor([8000, 7000, 6000]), ["a", "b", "u"], {"tokens": tokens}
    )
    seen = []
    augmented_log_probs = objective.ctc.augmented_log_probs

    def keeping_the_log_probs(batch):
        log_probs, frames = augmented_log_probs(batch)
        log_probs.retain_grad()
        seen.append(log_probs)
        return log_probs, frames

    monkeypatch.setattr(objective.ctc, "augmented_log_probs", keeping_the_log_probs)

    def gradient_per_row():
        seen.clear()
        objective.zero_grad()
        out = objective(batch)
        out.loss.backward()
        return out, seen[0].grad.abs().flatten(1).sum(1).tolist()

    objective.train()
    out, grads = gradient_per_row()  # update 1 of 3 warm-up updates
    assert grads[0] > 0 and grads[1] > 0 and grads[2] == 0.0, grads
    assert objective.in_warmup() and out.num_targets == 5 and out.metrics["pseudo_label_kept"] == 1.0
    objective.step_end(3)  # warm-up over: the unlabelled row learns its pseudo-label
    out, grads = gradient_per_row()
    assert all(g > 0 for g in grads), grads
    assert not objective.in_warmup() and out.num_targets == 7


def test_a_teacher_of_other_units_is_a_clear_error(unlabelled, chars, tmp_path):
    model = tiny_ctc(chars.vocab_size)
    chars.save(tmp_path / "chars")
    ctc.save_ctc_model(model.model, tmp_path / "char_model.pt", tmp_path / "chars")
    code, out = asr("tokenizer", "train", "--kind", "phone", "--out", tmp_path / "phones")
    assert code == 0, out
    cuts = tmp_path / "cuts.jsonl.gz"
    CutSet.from_cuts([c for c in unlabelled[0] if c.supervisions]).to_file(cuts)
    code, out = asr(
        "finetune",
        "--cuts",
        cuts,
        "--tokenizer",
        tmp_path / "phones",
        "--exp-dir",
        tmp_path / "x",
        "--init",
        tmp_path / "char_model.pt",
        "--max-steps",
        1,
    )
    assert code == 2 and "predicts char units" in out and "phone tokenizer" in out, out
    code, out = asr(
        "pseudo-label",
        "--model",
        tmp_path / "char_model.pt",
        "--cuts",
        cuts,
        "--out-dir",
        tmp_path / "pl",
        "--expect-units",
        "phone",
        "--method",
        "greedy",
    )
    assert code == 2 and "predicts char units" in out, out


@pytest.mark.slow
def test_online_ensemble_pseudo_labels_get_better_as_training_goes(digits, chars, tmp_path):
    """From random weights: labelled warm-up, then momentum pseudo-labels; their error rate on the
    unlabelled cuts (whose transcripts the model never trains on) is logged every 5 updates."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    chars.save(tmp_path / "chars")
    conf = tmp_path / "conf.yaml"
    conf.write_text(
        json.dumps(
            {
                "model": {"size": "xs", "frontend": "fbank", "body": "conformer"},
                "objective": {"mask_prob": 0.2, "channel_mask_prob": 0.1},
                "train": {
                    "max_steps": 100,
                    "max_duration": 30.0,
                    "lr": 2.0e-3,
                    "warmup_steps": 20,
                    "schedule": "linear",
                    "checkpoint_every": 50,
                    "log_every": 5,
                    "device": "cpu",
                },
                "semi": {"warmup_steps": 60, "half_lives": [0.25], "labelled_share": 0.8},
            }
        )
    )
    code, out = asr(
        "finetune",
        "--cuts",
        digits["train"],
        "--unlabelled",
        digits["test"],
        "--semi",
        "online-ensemble",
        "--tokenizer",
        tmp_path / "chars",
        "--exp-dir",
        tmp_path / "exp",
        "--config",
        conf,
        "--no-progress",
    )
    assert code == 0, out
    events = EventAccumulator(str(tmp_path / "exp" / "tensorboard"))
    events.Reload()
    rates = [e.value for e in events.Scalars("train/pseudo_label_error_rate")]
    print(f"pseudo-label error rate every 5 updates: {[round(r, 2) for r in rates]}")
    assert len(rates) >= 10
    first, last = rates[0], sum(rates[-3:]) / 3  # the first pseudo-labels come from the warmed-up model
    assert first > 0.75 and last < 0.5 * first, rates
    assert (tmp_path / "exp" / "teacher_model.pt").is_file()


@pytest.mark.slow
def test_noisy_student_resumes_in_the_generation_it_was_killed_in(digits_model, tmp_path, monkeypatch):
    from asr.semi.noisy_student import NoisyStudentConfig, run_noisy_student
    from asr.training import loop

    cuts = CutSet.from_file(digits_model["train"]).to_eager()
    cuts.subset(first=20).to_file(tmp_path / "labelled.jsonl.gz")
    cuts.subset(last=30).to_file(tmp_path / "unlabelled.jsonl.gz")
    settings = {
        "model": {},
        "objective": {"mask_prob": 0.2, "channel_mask_prob": 0.1},
        "train": {
            "max_steps": 4,
            "checkpoint_every": 2,
            "lr": 5e-4,
            "warmup_steps": 1,
            "progress": False,
            "device": "cpu",
        },
    }
    cfg = NoisyStudentConfig(generations=2, method="greedy", chunk_size=10, speed_perturb=False)
    tokenizer = digits_model["root"] / "chars"
    args = (
        tmp_path / "labelled.jsonl.gz",
        tmp_path / "unlabelled.jsonl.gz",
        digits_model["test"],
        tokenizer,
        digits_model["model"],
        tmp_path / "nst",
        settings,
        cfg,
        False,
    )
    save = loop._Run._save

    def killed_in_generation_two(self):
        save(self)
        if "gen2" in str(self.exp_dir) and self.step == 2:
            raise Killed

    monkeypatch.setattr(loop._Run, "_save", killed_in_generation_two)
    with pytest.raises(Killed):
        run_noisy_student(*args)
    monkeypatch.setattr(loop._Run, "_save", save)
    gen1 = tmp_path / "nst" / "gen1"
    stamp = (gen1 / "done.json").stat().st_mtime_ns, (gen1 / "pseudo" / "cuts.jsonl.gz").stat().st_mtime_ns
    records = run_noisy_student(*args)
    assert [r["generation"] for r in records] == [0, 1, 2]
    assert (
        (gen1 / "done.json").stat().st_mtime_ns,
        (gen1 / "pseudo" / "cuts.jsonl.gz").stat().st_mtime_ns,
    ) == stamp
    result = json.loads((tmp_path / "nst" / "gen2" / "student" / "train_result.json").read_text())
    assert result["resumed_from"] == 2 and result["step"] == 4
    assert records[2]["teacher"] == records[1]["model"]
    assert records[1]["pseudo_labels"]["cuts"] == 30
    # the trained digits teacher labels unlabelled digits well: most pseudo-labels are kept and correct
    assert records[0]["dev"]["wer"] < 30
    assert json.loads((tmp_path / "nst" / "generations.json").read_text()) == records


def test_pseudo_labelling_under_torchrun_shards_over_two_processes(unlabelled, chars, tmp_path):
    import os
    import subprocess

    chars.save(tmp_path / "chars")
    ctc.save_ctc_model(tiny_ctc(chars.vocab_size).model, tmp_path / "model.pt", tmp_path / "chars")
    cuts = tmp_path / "cuts.jsonl.gz"
    unlabelled[0].to_file(cuts)
    cmd = torchrun_asr(
        "pseudo-label",
        "--model",
        str(tmp_path / "model.pt"),
        "--cuts",
        str(cuts),
        "--out-dir",
        str(tmp_path / "pl"),
        "--method",
        "greedy",
        "--keep-empty",
        "--chunk-size",
        "3",
        "--device",
        "cpu",
        "--no-progress",
    )
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((tmp_path / "pl" / "summary.json").read_text())
    assert (
        summary["cuts"] == 13 and summary["kept"] == 12
    )  # a random teacher; only the broken file is dropped
    speeds = sorted(p.name for p in (tmp_path / "pl" / "parts").glob("speed-*.json"))
    assert speeds == ["speed-0-of-2.json", "speed-1-of-2.json"]  # both ranks decoded their chunks

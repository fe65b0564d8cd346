"""End to end on spoken digits (icefall's yesno, a little larger): a few CPU minutes of CTC training from
random weights must give a recogniser, and every decoder must read it.

This is the check that training, decoding and scoring fit together on real (synthetic) speech: unit tests
pin the pieces, this pins that they add up to a working system. The bounds are measured values with a
wide margin (see the constants), not targets.
"""

from __future__ import annotations

import json

import pytest
from conftest import run_cli as asr

pytestmark = pytest.mark.slow  # all torch threads: one training run, and CI's machine has 2 cores

# Measured with these settings (seed 0, this repo's CPU): greedy WER 3.75 % after 150 updates (about 60 s
# on 2 threads); `pytest tests/test_learning.py -s` prints each decoder's WER. A model that learned nothing scores 100 % (no output) or more;
# 30 % is "clearly learned", with margin for other CPUs' numerics. The lexicon-constrained decoders may
# not be worse than greedy by more than one word in the 80 of the test set.
WER_BOUND = 30.0


def decode_and_score(trained, name: str, *options) -> dict:
    hyp = trained["root"] / f"{name}.txt"
    code, out = asr(
        "decode",
        "--model",
        trained["model"],
        "--cuts",
        trained["test"],
        "--out",
        hyp,
        "--no-progress",
        *options,
    )
    assert code == 0, out
    code, out = asr("score", "wer", "--ref", trained["test"], "--hyp", hyp, "--json")
    assert code == 0, out
    return json.loads(out)


@pytest.fixture(scope="module")
def trained(digits_model) -> dict:
    return dict(digits_model)  # this module's own copy: tests add their scores to it


def test_greedy_learns_digits(trained):
    scored = decode_and_score(trained, "greedy", "--emissions", trained["root"] / "posteriors.pt")
    assert scored["utts"] == 20 and scored["ref_words"] > 40
    print(f"digits: greedy WER {scored['wer']:.2f} %")
    assert scored["wer"] < WER_BOUND, scored
    trained["greedy"] = scored


@pytest.mark.parametrize("method", ["wfst", "beam"])
def test_lm_decoders_read_the_model(trained, method):
    greedy = trained.get("greedy") or decode_and_score(trained, "greedy")
    scored = decode_and_score(
        trained,
        method,
        "--method",
        method,
        "--lm",
        trained["lm"],
        "--emissions",
        trained["root"] / "posteriors.pt",
    )
    print(f"digits: {method} WER {scored['wer']:.2f} % (greedy {greedy['wer']:.2f} %)")
    assert scored["wer"] < WER_BOUND, scored
    one_word = 100.0 / scored["ref_words"]
    assert scored["wer"] <= greedy["wer"] + one_word + 1e-9, (scored, greedy)
    nbest = (trained["root"] / f"{method}.nbest.jsonl").read_text().splitlines()
    assert len(nbest) == 20
    best = json.loads(nbest[0])["hyps"][0]
    assert 0.0 < best["confidence"] <= 1.0 and len(best["token_confidence"]) == len(best["tokens"])


def test_onnx_model_decodes_the_same(trained):
    onnx = trained["root"] / "model.onnx"
    code, out = asr("export", "onnx", "--model", trained["model"], "--out", onnx)
    assert code == 0, out
    hyps = {}
    for name, model in (("torch", trained["model"]), ("onnx", onnx)):
        out_file = trained["root"] / f"via-{name}.txt"
        code, out = asr(
            "decode", "--model", model, "--cuts", trained["test"], "--out", out_file, "--no-progress"
        )
        assert code == 0, out
        hyps[name] = out_file.read_text()
    assert hyps["onnx"] == hyps["torch"]

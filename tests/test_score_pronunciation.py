"""Pronunciation scores against the experts (asr.scoring.pronunciation): PCC and MSE pooled as GOPT pools
them, checked against scipy; the errors a user meets; the experts' agreement on the real sample."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli
from scipy.stats import pearsonr

from asr.errors import UserError
from asr.scoring.pronunciation import (
    expert_agreement_file,
    format_table,
    inter_expert_agreement,
    pearson,
    read_hypothesis,
    read_reference,
    score_files,
    score_pronunciation,
)
from asr.scoring.wer import ScoringError

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "speechocean762-sample"
needs_sample = pytest.mark.skipif(not SAMPLE.is_dir(), reason="../shared/speechocean762-sample not here")
SENTENCE = ("accuracy", "completeness", "fluency", "prosodic", "total")
WORD = ("accuracy", "stress", "total")


def _utterance(rng: np.random.Generator, shape: list[int]) -> dict:
    """Random scores in the normalised shape: ``shape`` holds the number of phones of each word."""
    return {
        **{a: float(rng.uniform(0, 10)) for a in SENTENCE},
        "words": [
            {**{a: float(rng.uniform(0, 10)) for a in WORD}, "phone_accuracy": list(rng.uniform(0, 2, n))}
            for n in shape
        ],
    }


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_pcc_and_mse_agree_with_scipy_and_numpy(seed):
    rng = np.random.default_rng(seed)
    shapes = {f"u{i}": [int(n) for n in rng.integers(1, 6, rng.integers(1, 8))] for i in range(20)}
    ref = {u: _utterance(rng, s) for u, s in shapes.items()}
    hyp = {u: _utterance(rng, s) for u, s in shapes.items()}
    result = score_pronunciation(ref, hyp)
    utts = sorted(ref)

    def expect(r: list[float], h: list[float], got: dict) -> None:
        assert got["n"] == len(r)
        assert got["pcc"] == pytest.approx(pearsonr(r, h).statistic, abs=1e-12)
        assert got["mse"] == pytest.approx(float(np.mean((np.array(h) - np.array(r)) ** 2)), abs=1e-12)

    for a in SENTENCE:
        expect([ref[u][a] for u in utts], [hyp[u][a] for u in utts], result["levels"]["sentence"][a])
    for a in WORD:
        expect(
            [w[a] for u in utts for w in ref[u]["words"]],
            [w[a] for u in utts for w in hyp[u]["words"]],
            result["levels"]["word"][a],
        )
    expect(
        [p for u in utts for w in ref[u]["words"] for p in w["phone_accuracy"]],
        [p for u in utts for w in hyp[u]["words"] for p in w["phone_accuracy"]],
        result["levels"]["phone"]["accuracy"],
    )


@pytest.mark.parametrize(
    "ref, hyp, expected",
    [
        ([1, 2, 3], [2, 4, 6], 1.0),
        ([1, 2, 3], [3, 2, 1], -1.0),
        ([0.1, 0.7, 0.3], [10.1, 10.7, 10.3], 1.0),
        ([1, 0, 1, 0], [0, 1, 1, 0], 0.0),
    ],
)
def test_pearson_known_answers(ref, hyp, expected):
    pcc, note = pearson(ref, hyp)
    assert pcc == pytest.approx(expected, abs=1e-12) and note is None


@pytest.mark.parametrize(
    "ref, hyp, reason",
    [
        ([0.1, 0.1, 0.1], [1, 2, 3], "constant reference"),  # 0.1 * 3 / 3 != 0.1: equality is exact
        ([1, 2, 3], [7, 7, 7], "constant prediction"),
        ([1], [2], "at least 2"),
    ],
)
def test_pearson_undefined_is_none_with_a_reason(ref, hyp, reason):
    pcc, note = pearson(ref, hyp)
    assert pcc is None and reason in note


def test_a_constant_aspect_has_pcc_none_in_the_result():
    ref = {"a": {"fluency": 8.0, "words": []}, "b": {"fluency": 8.0, "words": []}}
    hyp = {"a": {"fluency": 7.0}, "b": {"fluency": 9.0}}
    got = score_pronunciation(ref, hyp)["levels"]["sentence"]["fluency"]
    assert got["pcc"] is None and "constant" in got["note"] and got["mse"] == 1.0
    assert json.dumps(got)  # None, not NaN: valid JSON


def test_the_phone_level_pools_all_phones():
    # each utterance alone correlates perfectly, but the second predicts on a different scale
    ref = {"a": {"words": [{"phone_accuracy": [0, 1, 2]}]}, "b": {"words": [{"phone_accuracy": [0, 1, 2]}]}}
    hyp = {
        "a": {"words": [{"phone_accuracy": [1.0, 1.5, 2.0]}]},
        "b": {"words": [{"phone_accuracy": [0.0, 0.1, 0.2]}]},
    }
    got = score_pronunciation(ref, hyp)["levels"]["phone"]["accuracy"]
    pooled = pearsonr([0, 1, 2, 0, 1, 2], [1.0, 1.5, 2.0, 0.0, 0.1, 0.2]).statistic
    assert (
        got["n"] == 6 and got["pcc"] == pytest.approx(pooled) and got["pcc"] < 0.9
    )  # per-utterance mean: 1.0


def test_reference_words_without_phone_scores_are_skipped_and_counted():
    ref = {"a": {"words": [{"phone_accuracy": None}, {"phone_accuracy": [0, 2]}, {"phone_accuracy": [1]}]}}
    hyp = {"a": {"words": [{"phone_accuracy": [2]}, {"phone_accuracy": [0, 2]}, {"phone_accuracy": [1]}]}}
    result = score_pronunciation(ref, hyp)
    assert result["phone_words_skipped"] == 1 and result["levels"]["phone"]["accuracy"]["n"] == 3
    assert list(result["levels"]) == ["phone"]  # only the aspects the hypothesis gives


def _one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert isinstance(exc.value, UserError) and "\n" not in message
    return message


def test_missing_utterances_are_an_error_naming_count_and_ids():
    ref = {f"u{i}": {"accuracy": float(i), "words": []} for i in range(9)}
    with pytest.raises(ScoringError) as exc:
        score_pronunciation(ref, {"u0": {"accuracy": 1.0}, "x": {"accuracy": 2.0}}, "hyp.json")
    message = _one_line(exc)
    assert "hyp.json: no scores for 8 of the 9 reference utterances" in message
    assert "u1, u2, u3, u4, u5, ... (3 more)" in message


def test_extra_hypothesis_utterances_are_ignored_and_counted():
    ref = {"a": {"accuracy": 1.0}, "b": {"accuracy": 2.0}}
    hyp = {"a": {"accuracy": 1.0}, "b": {"accuracy": 3.0}, "c": {"accuracy": 5.0}}
    result = score_pronunciation(ref, hyp)
    assert result["hyp_ignored"] == 1 and result["levels"]["sentence"]["accuracy"]["n"] == 2


def test_word_and_phone_count_mismatches_name_the_utterance():
    ref = {"u7": {"words": [{"accuracy": 9.0, "phone_accuracy": [2, 2]}] * 2}}
    with pytest.raises(ScoringError) as exc:
        score_pronunciation(ref, {"u7": {"words": [{"accuracy": 9.0}]}}, "hyp.json")
    assert "hyp.json: u7 has 1 words but the reference has 2" in _one_line(exc)
    bad = {"u7": {"words": [{"phone_accuracy": [2, 2]}, {"phone_accuracy": [2]}]}}
    with pytest.raises(ScoringError) as exc:
        score_pronunciation(ref, bad, "hyp.json")
    assert "u7 word 1 has 1 phone scores but 2 canonical phones" in _one_line(exc)


def test_an_aspect_given_for_some_utterances_only_is_an_error():
    ref = {"a": {"fluency": 1.0}, "b": {"fluency": 2.0}}
    with pytest.raises(ScoringError) as exc:
        score_pronunciation(ref, {"a": {"fluency": 1.0}, "b": {}}, "hyp.json")
    assert "hyp.json: b has no 'fluency'" in _one_line(exc)


def test_a_null_sentence_aspect_is_an_abstention_left_out_and_counted(tmp_path):
    ref = {u: {"prosodic": v} for u, v in zip("abcd", (1.0, 2.0, 3.0, 9.0), strict=True)}
    hyp = {"a": {"prosodic": 1.5}, "b": {"prosodic": 2.5}, "c": {"prosodic": 3.5}, "d": {"prosodic": None}}
    result = score_pronunciation(ref, hyp)
    entry = result["levels"]["sentence"]["prosodic"]
    assert entry["n"] == 3 and entry["abstained"] == 1 and entry["pcc"] == pytest.approx(1.0)
    assert entry["mse"] == pytest.approx(0.25)
    assert "sentence prosodic: no judgement on 1 utterances (left out)" in format_table(result)
    (tmp_path / "hyp.json").write_text(json.dumps(hyp))
    assert read_hypothesis(tmp_path / "hyp.json")["d"] == {"prosodic": None}


def test_hypothesis_files_json_and_json_lines(tmp_path):
    scores = {"accuracy": 8, "words": [{"accuracy": 9, "phone_accuracy": [2, 1.5]}], "text": "ignored"}
    (tmp_path / "h.json").write_text(json.dumps({"u1": scores}))
    (tmp_path / "h.jsonl").write_text(json.dumps({"id": "u1", **scores}) + "\n")
    expected = {"u1": {"accuracy": 8.0, "words": [{"accuracy": 9.0, "phone_accuracy": [2.0, 1.5]}]}}
    assert read_hypothesis(tmp_path / "h.json") == read_hypothesis(tmp_path / "h.jsonl") == expected
    (tmp_path / "bad.json").write_text(json.dumps({"u1": {"words": [{"accuracy": "nine"}]}}))
    with pytest.raises(ScoringError) as exc:
        read_hypothesis(tmp_path / "bad.json")
    assert f"{tmp_path / 'bad.json'}: u1.words[0].accuracy: expected a finite number" in _one_line(exc)


# -- files in the corpus's layout -------------------------------------------------------------------------
TEXT_PHONE = "u1.0\tW_B IY0_E\nu1.1\tB_B EH0_I R_E\nu2.0\tIH0_B T_E\n"


def _detail(accuracy: list[float], words: list[tuple[list[float], list[str]]]) -> dict:
    """Raw five-expert scores (MI-1 / scores-detail.json shape); stress and total follow accuracy."""
    return {
        "accuracy": accuracy,
        "completeness": [1.0, 1.0, 0.5, 1.0, 1.0],
        "fluency": [a + 1 for a in accuracy],
        "prosodic": [a - 1 for a in accuracy],
        "total": [a + 0.5 for a in accuracy],
        "words": [
            {"accuracy": acc, "stress": [10] * 5, "total": [a * 0.9 for a in acc], "phones": phones}
            for acc, phones in words
        ],
    }


RAW = {
    "u1": _detail(
        [7, 9, 8, 8, 9],
        [
            ([10, 10, 9, 10, 10], ["W IY", "W IY", "W {IY}", "W IY", "W IY"]),
            (
                [3, 7, 10, 2, 6],
                ["B (EH) R", "B EH {R}", "B AR", "B (AR)", "B EH [L] R"],
            ),  # 3 and 4 merge EH R
        ],
    ),
    "u2": _detail([5, 6, 4, 6, 7], [([6, 5, 4, 8, 7], ["(IH) T", "{IH} T", "(IH) {T}", "IH T", "{IH} T"])]),
}


def _mi1(tmp_path: Path, raw: dict = RAW) -> Path:
    (tmp_path / "resource").mkdir(exist_ok=True)
    (tmp_path / "resource" / "text-phone").write_text(TEXT_PHONE)
    (tmp_path / "expert-scores-mi1").mkdir(exist_ok=True)
    path = tmp_path / "expert-scores-mi1" / "utt2score"
    path.write_text("".join(f"{u}\t{json.dumps(s)}\n" for u, s in raw.items()))
    return path


def _agreement(matrix: np.ndarray) -> list[float | None]:
    """Each expert (column) against the mean of the others, by scipy; None where scipy says NaN (constant)."""
    k = matrix.shape[1]
    out = []
    for e in range(k):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scipy warns about a constant input and gives NaN
            pcc = pearsonr(np.delete(matrix, e, axis=1).sum(axis=1) / (k - 1), matrix[:, e]).statistic
        out.append(None if np.isnan(pcc) else float(pcc))
    return out


def test_inter_expert_agreement_against_scipy(tmp_path):
    result = expert_agreement_file(_mi1(tmp_path))
    assert result["experts"] == 5 and result["utterances"] == 2
    assert result["phone_words_used"] == 2 and result["phone_words_skipped"] == 1  # "bear": two merge EH R
    sentence = np.array([RAW[u]["accuracy"] for u in ("u1", "u2")], dtype=float)
    got = result["levels"]["sentence"]["accuracy"]
    assert got["pcc_per_expert"] == pytest.approx(_agreement(sentence))
    assert got["pcc"] == pytest.approx(np.mean(_agreement(sentence)))
    words = np.array([w["accuracy"] for u in ("u1", "u2") for w in RAW[u]["words"]], dtype=float)
    assert result["levels"]["word"]["accuracy"]["pcc_per_expert"] == pytest.approx(_agreement(words))
    # phone level: "we" (W, IY) and "it" (IH, T), five experts each, plain 2, {X} 1, (X) 0
    phones = np.array(
        [[2, 2, 2, 2, 2], [2, 2, 1, 2, 2], [0, 1, 0, 2, 1], [2, 2, 1, 2, 2]],
        dtype=float,
    )
    got, expected = result["levels"]["phone"]["accuracy"], _agreement(phones)
    assert expected[3] is None  # expert 4 scored these four phones all 2: the mean leaves that expert out
    assert (
        got["n"] == 4
        and got["pcc_per_expert"][3] is None
        and "expert 4: constant scores of this expert" in got["note"]
    )
    assert [got["pcc_per_expert"][e] for e in (0, 1, 2, 4)] == pytest.approx(
        [expected[e] for e in (0, 1, 2, 4)]
    )
    assert got["pcc"] == pytest.approx(np.mean([expected[e] for e in (0, 1, 2, 4)]))
    stress = result["levels"]["word"]["stress"]  # all experts gave 10: undefined, said so, never NaN
    assert stress["pcc"] is None and "constant" in stress["note"]


def test_inter_expert_agreement_without_canonical_phones_leaves_out_the_phone_level():
    result = inter_expert_agreement(RAW)
    assert "phone" not in result["levels"] and result["phone_words_skipped"] is None


def test_scores_json_has_no_per_expert_scores(tmp_path):
    _mi1(tmp_path)
    means = {"u1": {a: 8.0 for a in SENTENCE} | {"words": []}}
    (tmp_path / "resource" / "scores.json").write_text(json.dumps(means))
    with pytest.raises(ScoringError) as exc:
        expert_agreement_file(tmp_path / "resource" / "scores.json")
    message = _one_line(exc)
    assert f"{tmp_path / 'resource' / 'scores.json'}: u1.accuracy holds one number" in message
    assert "not one per expert" in message
    code, out = run_cli("score", "pronunciation", "--ref", tmp_path / "resource" / "scores.json", "--experts")
    assert code == 2 and "not one per expert" in out and "Traceback" not in out


def test_reference_from_a_file_finds_text_phone_and_hyp_equal_to_it_scores_perfectly(tmp_path):
    path = _mi1(tmp_path)
    ref = read_reference(path)
    assert ref == read_reference(tmp_path)  # the folder reads the same file
    assert ref["u1"]["words"][1]["phone_accuracy"] == pytest.approx([2, 4 / 3, 5 / 3], abs=1e-3)
    (tmp_path / "hyp.json").write_text(json.dumps(ref))
    result = score_files(path, tmp_path / "hyp.json")
    assert result["levels"]["phone"]["accuracy"]["n"] == 7  # W IY, B EH R, IH T
    with pytest.raises(ScoringError, match="no resource/text-phone found"):
        read_reference(_moved(tmp_path, path))


def _moved(tmp_path: Path, path: Path) -> Path:
    """The utt2score copied to a folder with no text-phone around it."""
    other = tmp_path / "a" / "b"
    other.mkdir(parents=True)
    (other / "utt2score").write_text(path.read_text())
    return other / "utt2score"


def test_cli_pronunciation_needs_exactly_one_of_hyp_and_experts(tmp_path):
    path = _mi1(tmp_path)
    code, out = run_cli("score", "pronunciation", "--ref", path)
    assert code == 2 and "give --hyp (one or more files) or --experts, not both" in out


# -- the real sample -----------------------------------------------------------------------------------
@needs_sample
def test_experts_agreement_on_the_real_sample(tmp_path):
    code, out = run_cli(
        "score", "pronunciation", "--ref", SAMPLE, "--experts", "--json", tmp_path / "experts.json"
    )
    assert code == 0, out
    assert "phone     accuracy" in out and "sentence  prosodic" in out
    result = json.loads((tmp_path / "experts.json").read_text())
    assert result["experts"] == 5 and result["utterances"] == 60
    assert set(result["levels"]) == {"phone", "word", "sentence"}
    for level, aspects in result["levels"].items():
        for aspect, s in aspects.items():
            assert s["pcc"] is not None and -1 <= s["pcc"] <= 1, (level, aspect)
            assert all(p is None or -1 <= p <= 1 for p in s["pcc_per_expert"])
            assert s["n"] > 0 and s["mse"] >= 0
    # the MI-1 file itself reads the same as the folder
    assert expert_agreement_file(SAMPLE / "expert-scores-mi1" / "utt2score") == result


@needs_sample
def test_a_hypothesis_equal_to_the_reference_means_is_perfect(tmp_path):
    ref = read_reference(SAMPLE)
    assert len(ref) == 60
    hyp = tmp_path / "hyp.jsonl"
    hyp.write_text("".join(json.dumps({"id": u, **s}) + "\n" for u, s in ref.items()))
    code, out = run_cli(
        "score", "pronunciation", "--ref", SAMPLE, "--hyp", hyp, "--json", tmp_path / "r.json"
    )
    assert code == 0, out
    result = json.loads((tmp_path / "r.json").read_text())
    assert set(result["levels"]) == {"phone", "word", "sentence"}
    for level, aspects in result["levels"].items():
        for aspect, s in aspects.items():
            assert s["pcc"] == pytest.approx(1.0) and s["mse"] == 0.0, (level, aspect)
    assert result["levels"]["sentence"]["total"]["n"] == 60


@needs_sample
def test_split_and_utterance_lists_score_a_subset(tmp_path):
    ref = read_reference(SAMPLE)
    test_ids = set(read_reference(SAMPLE, split="test"))
    train_ids = set(read_reference(SAMPLE, split="train"))
    # the sample scores 20 test-split and 40 train-split utterances (its README)
    assert len(test_ids) == 20 and len(train_ids) == 40 and test_ids | train_ids == set(ref)
    # predictions for the test split only: the whole reference would miss 40; --split test scores them
    hyp = tmp_path / "hyp.jsonl"
    hyp.write_text("".join(json.dumps({"id": u, **ref[u]}) + "\n" for u in sorted(test_ids)))
    code, out = run_cli("score", "pronunciation", "--ref", SAMPLE, "--hyp", hyp)
    assert code != 0 and "no scores for 40 of the 60 reference utterances" in out
    code, out = run_cli("score", "pronunciation", "--ref", SAMPLE, "--hyp", hyp, "--split", "test")
    assert code == 0 and "20 utterances" in out, out
    ids = tmp_path / "ids.txt"
    ids.write_text("".join(f"{u}\n" for u in sorted(test_ids)[:5]))
    result = score_files(SAMPLE, hyp, utterances=[u.strip() for u in ids.read_text().splitlines()])
    assert result["utterances"] == 5 and result["hyp_ignored"] == 15
    # an --utterances list with an unscored id, --split without a corpus folder: one line each
    code, out = run_cli(
        "score", "pronunciation", "--ref", SAMPLE, "--experts", "--utterances", SAMPLE / "test/text"
    )
    assert code != 0 and "no scores for 320 of the listed utterances" in out
    file = SAMPLE / "expert-scores-mi1" / "utt2score"
    code, out = run_cli("score", "pronunciation", "--ref", file, "--experts", "--split", "test")
    assert code != 0 and "--split test needs the corpus folder" in out and "Traceback" not in out


@needs_sample
def test_predictions_split_over_files_score_as_one(tmp_path):
    ref = read_reference(SAMPLE)
    test_ids = set(read_reference(SAMPLE, split="test"))
    for name, ids in (("test", test_ids), ("train", set(ref) - test_ids)):
        (tmp_path / f"{name}.jsonl").write_text(
            "".join(json.dumps({"id": u, **ref[u]}) + "\n" for u in sorted(ids))
        )
    score = ["score", "pronunciation", "--ref", SAMPLE, "--hyp", tmp_path / "test.jsonl", "--hyp"]
    code, out = run_cli(*score, tmp_path / "train.jsonl")
    assert code == 0 and "60 utterances" in out, out
    code, out = run_cli(*score, tmp_path / "test.jsonl")
    assert code != 0 and "is predicted in" in out and "Traceback" not in out

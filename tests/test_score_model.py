"""The learned pronunciation score model (asr.mdd.score_model): features, fit, predict, strict files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli

from asr.mdd.diagnosis import Diagnosis, PhoneResult, WordResult
from asr.mdd.score_model import (
    PHONE_FEATURES,
    SENTENCE_ASPECTS,
    UTT_FEATURES,
    WORD_ASPECTS,
    WORD_FEATURES,
    FeatureSet,
    ScoreModel,
    ScoreModelError,
    cross_validate,
    diagnosis_features,
    fit_score_model,
)
from asr.scoring.pronunciation import read_hypothesis
from asr.text.phones import ARPABET_PHONES


def _word(word: str, start: float, phones: list[PhoneResult]) -> WordResult:
    canonical = [p for p in phones if p.phone is not None]
    return WordResult(
        word, start, max(p.end for p in canonical), 50.0, 100.0, [p.phone for p in canonical], phones
    )  # type: ignore[misc]


def _diagnosis() -> Diagnosis:
    cat = _word(
        "cat",
        0.10,
        [
            PhoneResult("K", "correct", "K", 0.10, 0.16, 1.5, 80.0),
            PhoneResult("AE", "substituted", "EH", 0.16, 0.30, -0.5, 30.0),
            PhoneResult(None, "inserted", "AH", 0.30, 0.32),
            PhoneResult("T", "deleted", None, 0.30, 0.40, -2.0, 10.0),
        ],
    )
    # the assessor judged a pronunciation with one phone fewer than the corpus's (no counterpart for T)
    fort = _word(
        "fort",
        0.60,
        [
            PhoneResult("F", "correct", "F", 0.60, 0.70, 1.0, 90.0),
            PhoneResult("AO", "correct", "AO", 0.70, 0.80, 0.0, 60.0),
            PhoneResult("R", "correct", "R", 0.80, 1.00, 2.0, 70.0),
        ],
    )
    return Diagnosis("cat fort", "cat fort", 1.2, 60.0, 85.7, [cat, fort], ["K", "EH", "AH", "F", "AO", "R"])


def test_features_of_a_hand_made_diagnosis():
    phones, labels, words, utt = diagnosis_features(
        _diagnosis(), [["K", "AE1", "T"], ["F", "AO1", "R", "T"]], frame_shift=0.02
    )
    assert labels == ["K", "AE", "T", "F", "AO", "R", "T"]
    assert all(len(r) == len(PHONE_FEATURES) for r in phones)
    f = {n: [r[i] for r in phones] for i, n in enumerate(PHONE_FEATURES)}
    assert f["gop"][:3] == [1.5, -0.5, -2.0]
    assert f["posterior"][:3] == pytest.approx([0.8, 0.3, 0.1])
    assert f["frames"][:3] == pytest.approx([3, 7, 5])
    assert f["status_correct"][:3] == [1, 0, 0]
    assert f["status_substituted"][:3] == [0, 1, 0]
    assert f["status_deleted"][:3] == [0, 0, 1]
    assert f["word_gop_mean"][0] == pytest.approx(-1 / 3) and f["word_gop_min"][0] == -2.0
    assert f["position"][:3] == [0.0, 0.5, 1.0] and f["first"][:3] == [1, 0, 0] and f["last"][:3] == [0, 0, 1]
    assert f["word_phones"] == [3, 3, 3, 4, 4, 4, 4]
    # the corpus's extra T has no evidence of its own: the word's means, matched 0, no verdict
    assert f["matched"] == [1, 1, 1, 1, 1, 1, 0]
    assert f["gop"][6] == pytest.approx(1.0) and f["posterior"][6] == pytest.approx(0.73333, abs=1e-4)
    assert [f["status_correct"][6], f["status_substituted"][6], f["status_deleted"][6]] == [0, 0, 0]
    for i, label in enumerate(labels):
        hot = [p for p in ARPABET_PHONES if phones[i][PHONE_FEATURES.index(f"phone_{p}")] == 1.0]
        assert hot == [label]
    w = {n: [r[i] for r in words] for i, n in enumerate(WORD_FEATURES)}
    assert w["frames"] == pytest.approx([15, 20]) and w["phones"] == [3, 4] and w["inserted"] == [1, 0]
    assert w["not_correct"] == pytest.approx([2 / 3, 0]) and w["unmatched"] == [0, 0.25]
    u = dict(zip(UTT_FEATURES, utt, strict=True))
    assert u["words"] == 2 and u["gap_mean"] == pytest.approx(0.2) and u["gap_max"] == pytest.approx(0.2)
    assert u["phones_per_second"] == pytest.approx(7 / 0.9) and u["inserted_per_phone"] == pytest.approx(
        1 / 7
    )


def test_features_of_a_word_count_mismatch_are_refused():
    from asr.mdd.diagnosis import DiagnosisError

    with pytest.raises(DiagnosisError, match="2 words, the corpus 1"):
        diagnosis_features(_diagnosis(), [["K", "AE", "T"]])


def _synthetic(n_utts: int, seed: int, offset: int = 0) -> FeatureSet:
    """Random features whose targets are known functions of one feature per level (plus a little noise)."""
    rng = np.random.default_rng(seed)
    cols: dict[str, list] = {k: [] for k in FeatureSet.__dataclass_fields__ if k != "meta"}
    gi, wgi, ugi = (
        PHONE_FEATURES.index("gop"),
        WORD_FEATURES.index("gop_mean"),
        UTT_FEATURES.index("gop_mean"),
    )
    for u in range(n_utts):
        utt = f"u{u + offset:04d}"
        n_words = int(rng.integers(2, 6))
        utt_x = rng.normal(size=len(UTT_FEATURES))
        for w in range(n_words):
            word_x = rng.normal(size=len(WORD_FEATURES))
            n_phones = int(rng.integers(2, 5))
            for j in range(n_phones):
                x = rng.normal(size=len(PHONE_FEATURES))
                cols["phone_x"].append(x)
                cols["phone_utt"].append(utt)
                cols["phone_word"].append(w)
                cols["phone_pos"].append(j)
                cols["phone_label"].append(ARPABET_PHONES[j])
                cols["phone_y"].append(float(np.clip(1 + 0.3 * x[gi] + 0.05 * rng.normal(), 0, 2)))
            cols["word_x"].append(word_x)
            cols["word_utt"].append(utt)
            cols["word_index"].append(w)
            cols["word_text"].append(f"W{w}")
            acc = 5 + 1.5 * word_x[wgi] + 0.2 * rng.normal()
            cols["word_y"].append([acc, 10.0, acc])
        cols["utt_x"].append(utt_x)
        cols["utt_id"].append(utt)
        sent = 5 + 1.5 * utt_x[ugi] + 0.2 * rng.normal()
        cols["utt_y"].append([sent, 1.0, sent, sent, sent])
    meta = {
        "format": "asr-score-features",
        "version": 1,
        "phones": list(ARPABET_PHONES),
        "phone_features": list(PHONE_FEATURES),
        "word_features": list(WORD_FEATURES),
        "utt_features": list(UTT_FEATURES),
        "source": {"model": "synthetic", "cuts": ""},
    }
    arrays = {}
    for k, v in cols.items():
        dtype = str if k in ("phone_utt", "phone_label", "word_utt", "word_text", "utt_id") else None
        dtype = np.int64 if k in ("phone_word", "phone_pos", "word_index") else dtype
        arrays[k] = np.asarray(v, dtype=dtype or np.float64)
    fs = FeatureSet(**arrays, meta=meta)
    fs.check("synthetic")
    return fs


@pytest.fixture(scope="module")
def fitted() -> tuple[ScoreModel, FeatureSet]:
    return fit_score_model(_synthetic(80, 0), "synthetic"), _synthetic(30, 1, offset=1000)


def test_fit_recovers_a_known_function_on_held_out_rows(fitted):
    model, test = fitted
    hyp = model.predict(test)
    assert set(hyp) == set(test.utt_id.tolist())
    phone = [p for u in test.utt_id.tolist() for w in hyp[u]["words"] for p in w["phone_accuracy"]]
    word = [w["accuracy"] for u in test.utt_id.tolist() for w in hyp[u]["words"]]
    sent = [hyp[u]["accuracy"] for u in test.utt_id.tolist()]
    assert np.corrcoef(phone, test.phone_y)[0, 1] > 0.9
    assert np.corrcoef(word, test.word_y[:, WORD_ASPECTS.index("accuracy")])[0, 1] > 0.9
    assert np.corrcoef(sent, test.utt_y[:, SENTENCE_ASPECTS.index("accuracy")])[0, 1] > 0.9
    assert all(0 <= p <= 2 for p in phone) and all(0 <= w <= 10 for w in word)
    assert "word.stress" not in model.models  # the assessor sees no stress
    assert model.models["phone.accuracy"].cv_pcc > 0.9


def test_save_load_round_trip_gives_identical_predictions(fitted, tmp_path):
    model, test = fitted
    path = model.save(tmp_path / "m")
    assert path.name == "score_model.json"
    assert ScoreModel.load(tmp_path / "m").predict(test) == model.predict(test)
    test.save(tmp_path / "f.npz")
    again = FeatureSet.load(tmp_path / "f.npz")
    assert again.meta == test.meta and model.predict(again) == model.predict(test)
    assert np.array_equal(again.phone_label, test.phone_label)


def test_predictions_read_as_a_hypothesis(fitted, tmp_path):
    from asr.mdd.scores import write_scores

    model, test = fitted
    write_scores(model.predict(test), tmp_path / "hyp.json")
    hyp = read_hypothesis(tmp_path / "hyp.json")
    first = test.utt_id[0]
    n_words = int((test.word_utt == first).sum())
    assert len(hyp[first]["words"]) == n_words and set(hyp[first]) >= {"accuracy", "total", "completeness"}


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m.pop("phones"), "missing phones"),
        (lambda m: m.update(extra=1), "unexpected extra"),
        (lambda m: m["models"]["phone.accuracy"].pop("coef"), r"models\.phone\.accuracy: missing coef"),
        (lambda m: m["models"]["word.total"].update(bias=0), r"models\.word\.total: unexpected bias"),
        (lambda m: m["models"]["phone.accuracy"]["coef"].pop(), "do not have the"),
        (lambda m: m["features"].pop("word"), "features: missing word"),
        (lambda m: m["models"].pop("phone.accuracy"), "missing phone.accuracy"),
        (lambda m: m.update(version=99), "version 99"),
    ],
)
def test_loading_a_bad_model_file_names_the_key(fitted, tmp_path, edit, message):
    model, _ = fitted
    raw = model.to_dict()
    raw = json.loads(json.dumps(raw))
    edit(raw)
    (tmp_path / "score_model.json").write_text(json.dumps(raw))
    with pytest.raises(ScoreModelError, match=message):
        ScoreModel.load(tmp_path)


def test_loading_missing_or_broken_files(tmp_path):
    with pytest.raises(ScoreModelError, match="not found"):
        ScoreModel.load(tmp_path)
    (tmp_path / "score_model.json").write_text("{")
    with pytest.raises(ScoreModelError, match="not readable JSON"):
        ScoreModel.load(tmp_path)
    with pytest.raises(ScoreModelError, match="features not found"):
        FeatureSet.load(tmp_path / "none.npz")
    np.savez(tmp_path / "bad.npz", meta=np.array("{}"), phone_x=np.zeros((1, 2)))
    with pytest.raises(ScoreModelError, match="missing phone_utt"):
        FeatureSet.load(tmp_path / "bad.npz")


def test_predict_refuses_another_phone_set_or_layout(fitted):
    model, test = fitted
    other = _synthetic(3, 2)
    other.meta["phones"] = [*ARPABET_PHONES[:-1], "ZZ"]
    with pytest.raises(ScoreModelError, match="phone set differs.*missing ZH.*unexpected ZZ"):
        model.predict(other)
    other = _synthetic(3, 2)
    other.meta["word_features"] = [*WORD_FEATURES[:-1], "something_else"]
    with pytest.raises(ScoreModelError, match="word features differ.*unexpected something_else"):
        model.predict(other)
    other = _synthetic(3, 2)
    other.meta["phone_features"] = list(reversed(PHONE_FEATURES))
    with pytest.raises(ScoreModelError, match="phone features differ.*another order"):
        model.predict(other)


def test_score_model_cli(tmp_path: Path):
    _synthetic(40, 3).save(tmp_path / "train.npz")
    _synthetic(10, 4, offset=500).save(tmp_path / "test.npz")
    (tmp_path / "ids.txt").write_text("u0500\nu0501\n")
    code, out = run_cli(
        "mdd", "score-model", "fit", "--features", tmp_path / "train.npz", "--out-dir", tmp_path / "m"
    )
    assert code == 0, out
    assert "phone.accuracy" in out and (tmp_path / "m" / "score_model.json").is_file()
    code, out = run_cli(
        "mdd",
        "score-model",
        "predict",
        "--model-dir",
        tmp_path / "m",
        "--features",
        tmp_path / "test.npz",
        "--out",
        tmp_path / "hyp.json",
        "--utterances",
        tmp_path / "ids.txt",
    )
    assert code == 0, out
    assert sorted(read_hypothesis(tmp_path / "hyp.json")) == ["u0500", "u0501"]
    code, out = run_cli(
        "mdd",
        "score-model",
        "predict",
        "--model-dir",
        tmp_path / "none",
        "--features",
        tmp_path / "test.npz",
        "--out",
        tmp_path / "hyp.json",
    )
    assert code != 0 and "score model not found" in out


def test_concat_joins_sets_and_refuses_a_repeated_utterance():
    a, b = _synthetic(5, 10), _synthetic(4, 11, offset=100)
    both = FeatureSet.concat([a, b])
    assert both.utt_id.tolist() == [*a.utt_id.tolist(), *b.utt_id.tolist()]
    assert len(both.phone_x) == len(a.phone_x) + len(b.phone_x)
    with pytest.raises(ScoreModelError, match="utterances in more than one set: u0000"):
        FeatureSet.concat([a, a])


def test_cross_validation_predicts_each_group_with_a_model_that_never_saw_it():
    fs = _synthetic(30, 5)
    groups = {u: f"spk{int(u[1:]) % 3}" for u in fs.utt_id.tolist()}
    predicted = cross_validate(fs, groups)
    assert set(predicted) == set(fs.utt_id.tolist())
    # spk1's predictions are those of a model fitted on spk0 and spk2 only
    held = [u for u in fs.utt_id.tolist() if groups[u] == "spk1"]
    model = fit_score_model(fs.subset([u for u in groups if groups[u] != "spk1"]))
    assert {u: predicted[u] for u in held} == model.predict(fs.subset(held))
    acc = [predicted[u]["accuracy"] for u in fs.utt_id.tolist()]
    assert np.corrcoef(acc, fs.utt_y[:, 0])[0, 1] > 0.8  # the known function is still found out of fold
    with pytest.raises(ScoreModelError, match="no group .speaker. for 1 utterances: u0000"):
        cross_validate(fs, {u: g for u, g in groups.items() if u != "u0000"})
    with pytest.raises(ScoreModelError, match="two groups at least"):
        cross_validate(fs, dict.fromkeys(groups, "one"))


def _cuts_with_speakers(path: Path, speakers: dict[str, str]) -> Path:
    from lhotse import CutSet, Recording, SupervisionSegment
    from lhotse.audio import AudioSource

    cuts = []
    for utt, spk in speakers.items():
        rec = Recording(utt, [AudioSource("file", [0], f"{utt}.wav")], 16000, 16000, 1.0)
        cut = rec.to_cut()
        cut.supervisions = [SupervisionSegment(utt, utt, 0.0, 1.0, text="X", speaker=spk)]
        cuts.append(cut)
    CutSet.from_cuts(cuts).to_file(path)
    return path


def test_score_model_cv_cli(tmp_path: Path):
    a, b = _synthetic(12, 6), _synthetic(6, 7, offset=100)
    a.save(tmp_path / "a.npz")
    b.save(tmp_path / "b.npz")
    ids = [*a.utt_id.tolist(), *b.utt_id.tolist()]
    cuts = _cuts_with_speakers(tmp_path / "cuts.jsonl.gz", {u: f"s{i % 3}" for i, u in enumerate(ids)})
    args = ["mdd", "score-model", "cv", "--features", tmp_path / "a.npz", "--features", tmp_path / "b.npz"]
    code, out = run_cli(*args, "--cuts", cuts, "--out", tmp_path / "cv.json")
    assert code == 0 and "18 utterances of 3 speakers" in out, out
    assert sorted(read_hypothesis(tmp_path / "cv.json")) == sorted(ids)
    code, out = run_cli(*args, "--cuts", tmp_path / "missing.jsonl.gz", "--out", tmp_path / "cv.json")
    assert code != 0 and "cut manifest not found" in out and "Traceback" not in out


def test_a_diagnosis_is_scored_on_the_experts_scales(fitted):
    model, _ = fitted
    scores, scoring = model.score_diagnosis(_diagnosis(), frame_shift=0.02)
    # the assessor's own canonical phones: K AE T (the inserted AH is not one), F AO R
    assert [len(w["phone_accuracy"]) for w in scores["words"]] == [3, 3]
    assert all(0 <= p <= 2 for w in scores["words"] for p in w["phone_accuracy"])
    assert set(scores) == {*SENTENCE_ASPECTS, "words"} and "80 utterances" in scoring

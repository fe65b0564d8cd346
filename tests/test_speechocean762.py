"""speechocean762 preparation (the shared real sample and a corpus written in its exact layout) and the
comparison of the assessor's verdicts with the experts'."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import run_cli

from asr.data.common import CorpusError
from asr.data.speechocean762 import (
    ExpertPhone,
    normalise_scores,
    parse_expert_phones,
    prepare_speechocean762,
)

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "speechocean762-sample"
needs_sample = pytest.mark.skipif(not SAMPLE.is_dir(), reason="../shared/speechocean762-sample not here")


def _cuts(out: Path, part: str):
    from lhotse import CutSet

    return CutSet.from_file(out / f"speechocean762_cuts_{part}.jsonl.gz").to_eager()


@pytest.mark.parametrize(
    "text, expected",
    [
        ("W IY", [("W", 2), ("IY", 2)]),
        ("B (EH) {R} [L]", [("B", 2), ("EH", 0), ("R", 1), ("L", None)]),
        ("(TH IY M)", [("TH", 0), ("IY", 0), ("M", 0)]),  # one bracket over several phones
        ("T AX M {EY T} OW", [("T", 2), ("AX", 2), ("M", 2), ("EY", 1), ("T", 1), ("OW", 2)]),
        ("K AO0 L", [("K", 2), ("AO", 2), ("L", 2)]),
    ],
)
def test_expert_phone_notation(text, expected):
    assert parse_expert_phones(text) == [ExpertPhone(p, s) for p, s in expected]


@pytest.mark.parametrize("text", ["(EH", "EH)", "(EH}", "((EH))", "{EH (R)}", "E-H"])
def test_expert_phone_notation_errors(text):
    with pytest.raises(ValueError, match="expert phone|bracket|unclosed"):
        parse_expert_phones(text)


def test_scores_from_five_experts_and_from_means():
    detail = {
        "text": "we bear",
        "accuracy": [7, 9, 8, 8, 9],
        "completeness": [1, 1, 1, 0.75, 1],
        "fluency": [10, 9, 8, 8, 10],
        "prosodic": [10, 9, 7, 8, 9],
        "total": [7.6, 9.0, 7.9, 6.4, 9.1],
        "words": [
            {
                "text": "we",
                "accuracy": [10] * 5,
                "stress": [10] * 5,
                "total": [10.0] * 5,
                "phones": ["W IY"] * 5,
            },
            {
                "text": "bear",
                "accuracy": [3, 7, 10, 2, 6],
                "stress": [10] * 5,
                "total": [4.4, 7.6, 10.0, 3.6, 6.8],
                "phones": ["B (EH) R", "B EH {R}", "B AR", "B (AR)", "B EH [L] R"],
            },
        ],
    }
    s = normalise_scores(detail, [["W", "IY0"], ["B", "EH0", "R"]], "expert-scores-mi1", "x")
    assert s["accuracy"] == pytest.approx(8.2) and s["completeness"] == pytest.approx(0.95)
    we, bear = s["words"]
    assert we["wrong_votes"] == 0 and we["phone_accuracy"] == [2, 2]
    assert (
        bear["wrong_votes"] == 2 and bear["insertion_votes"] == 1 and bear["accuracy"] == pytest.approx(5.6)
    )
    # experts 1, 2 and 5 wrote one phone per canonical phone (5 after its insertion is set aside); 3 and 4 merged EH R
    assert bear["phone_accuracy"] == pytest.approx([2, 4 / 3, 5 / 3], abs=1e-3)
    means = {
        "text": "WE",
        "accuracy": 9,
        "completeness": 10.0,
        "fluency": 9,
        "prosodic": 9,
        "total": 9,
        "words": [
            {
                "text": "WE",
                "accuracy": 10,
                "stress": 10,
                "total": 10,
                "phones": ["W", "IY0"],
                "phones-accuracy": [2.0, 1.8],
                "mispronunciations": [],
            }
        ],
    }
    s = normalise_scores(means, [["W", "IY0"]], "scores.json", "x")
    assert s["words"][0]["phone_accuracy"] == [2.0, 1.8] and s["words"][0]["wrong_votes"] is None
    with pytest.raises(ValueError, match="x: 1 scored words but 2 words"):
        normalise_scores(means, [["W"], ["IY"]], "scores.json", "x")
    with pytest.raises(ValueError, match=r"x.words\[0\]: phones-accuracy"):
        normalise_scores(means, [["W", "IY", "Z"]], "scores.json", "x")


@needs_sample
def test_prepares_the_shared_real_sample(tmp_path):
    summary = prepare_speechocean762(SAMPLE, tmp_path)
    assert dict(summary.prepared) == {"train": 40, "test": 340} and not summary.skipped
    train, test = _cuts(tmp_path, "train"), _cuts(tmp_path, "test")
    assert not {s.speaker for c in train for s in c.supervisions} & {
        s.speaker for c in test for s in c.supervisions
    }
    scored = [c for c in [*train, *test] if "scores" in c.supervisions[0].custom]
    assert len(scored) == 60  # the README: five experts' scores for 60 utterances
    cut = train["000010011-0"]
    sup = cut.supervisions[0]
    assert sup.text == "WE CALL IT BEAR" and sup.speaker == "0001" and sup.gender == "M"
    assert sup.custom["canonical_words"] == [["W", "IY"], ["K", "AO", "L"], ["IH", "T"], ["B", "EH", "R"]]
    assert sup.custom["age"] == 6 and cut.sampling_rate == 16000 and 0.5 < cut.duration < 10
    assert [w["wrong_votes"] for w in sup.custom["scores"]["words"]] == [0, 0, 0, 2]
    # the README's count of phone judgements; the zeros against a plain count of the phones inside (...)
    experts = [
        e for c in scored for w in c.supervisions[0].custom["scores"]["words"] for e in w["expert_phones"]
    ]
    parsed = [p for e in experts for p in parse_expert_phones(e)]
    assert len(parsed) == 4017
    assert sum(p.score == 0 for p in parsed) == sum(
        len(g.split()) for e in experts for g in re.findall(r"\(([^)]*)\)", e)
    )


def _write_corpus(root: Path, scores: dict | None = None) -> Path:
    """A two-speaker corpus in speechocean762's exact layout (tones for audio)."""
    rng = np.random.default_rng(0)
    utts = {
        "train": [("000010001", "0001", "WE CALL"), ("000010002", "0001", "IT")],
        "test": [("000020001", "0002", "WE CALL IT")],
    }
    phones = {"WE": "W_B IY0_E", "CALL": "K_B AO0_I L_E", "IT": "IH0_B T_E"}
    text_phone = []
    for part, rows in utts.items():
        (root / part).mkdir(parents=True)
        for name, lines in {
            "text": [f"{u}\t{t}" for u, _, t in rows],
            "wav.scp": [f"{u}\tWAVE/SPEAKER{s}/{u}.WAV" for u, s, _ in rows],
            "utt2spk": [f"{u} {s}" for u, s, _ in rows],
            "spk2age": [f"{s}\t{9 if part == 'train' else 30}" for s in sorted({s for _, s, _ in rows})],
            "spk2gender": [f"{s}\tf" for s in sorted({s for _, s, _ in rows})],
        }.items():
            (root / part / name).write_text("\n".join(lines) + "\n")
        for u, s, t in rows:
            (root / "WAVE" / f"SPEAKER{s}").mkdir(parents=True, exist_ok=True)
            sf.write(
                root / "WAVE" / f"SPEAKER{s}" / f"{u}.WAV",
                0.1 * rng.standard_normal(16000).astype(np.float32),
                16000,
                subtype="PCM_16",
            )
            text_phone += [f"{u}.{i} {phones[w]}" for i, w in enumerate(t.split())]
    (root / "resource").mkdir()
    (root / "resource" / "text-phone").write_text("\n".join(text_phone) + "\n")
    if scores is not None:
        (root / "resource" / "scores.json").write_text(json.dumps(scores))
    return root


def _word(text: str, accuracy: list[float]) -> dict:
    return {
        "text": text,
        "accuracy": 10,
        "stress": 10,
        "total": 10,
        "phones": "x",
        "phones-accuracy": accuracy,
    }


def test_prepares_the_corpus_layout_with_scores_json(tmp_path):
    scores = {
        "000020001": {
            "text": "WE CALL IT",
            "accuracy": 9,
            "completeness": 10.0,
            "fluency": 9,
            "prosodic": 8,
            "total": 9,
            "words": [_word("WE", [2, 2]), _word("CALL", [2, 0.4, 2]), _word("IT", [2, 2])],
        }
    }
    corpus = _write_corpus(tmp_path / "so", scores)
    code, out = run_cli("prepare", "speechocean762", corpus, tmp_path / "out")
    assert code == 0 and "prepared test=1, train=2" in out, out
    sup = _cuts(tmp_path / "out", "test")[0].supervisions[0]
    assert sup.custom["canonical_phones"] == ["W", "IY", "K", "AO", "L", "IH", "T"]
    assert sup.custom["scores"]["source"] == "scores.json"
    assert sup.custom["scores"]["words"][1]["phone_accuracy"] == [2, 0.4, 2]
    # scores.json writes completeness on 0-10; every source is read on the README's 0-1
    assert sup.custom["scores"]["completeness"] == pytest.approx(1.0)
    assert "scores" not in _cuts(tmp_path / "out", "train")[0].supervisions[0].custom


def test_bad_corpora(tmp_path):
    with pytest.raises(CorpusError, match="speechocean762 folder not found"):
        prepare_speechocean762(tmp_path / "missing", tmp_path / "out")
    corpus = _write_corpus(tmp_path / "so")
    (corpus / "resource" / "text-phone").rename(corpus / "resource" / "tp")
    with pytest.raises(CorpusError, match="resource/text-phone not found"):
        prepare_speechocean762(corpus, tmp_path / "out")
    (corpus / "resource" / "tp").rename(corpus / "resource" / "text-phone")
    # broken audio and a word without canonical phones: skipped, each with its reason
    (corpus / "WAVE" / "SPEAKER0001" / "000010002.WAV").write_bytes(b"RIFF....")
    lines = (corpus / "resource" / "text-phone").read_text().splitlines()
    (corpus / "resource" / "text-phone").write_text(
        "\n".join(x for x in lines if not x.startswith("000020001.2"))
    )
    summary = prepare_speechocean762(corpus, tmp_path / "out")
    reasons = " | ".join(r for _, r in summary.skipped)
    assert (
        dict(summary.prepared) == {"train": 1}
        and "unreadable audio" in reasons
        and "text-phone has words" in reasons
    )
    # unreadable scores: named file; a speaker in both parts: refused
    (corpus / "resource" / "scores.json").write_text("{not json")
    code, out = run_cli("prepare", "speechocean762", corpus, tmp_path / "out")
    assert code != 0 and "scores.json: not readable JSON" in out and "Traceback" not in out
    (corpus / "resource" / "scores.json").unlink()
    (corpus / "test" / "utt2spk").write_text("000020001 0001\n")
    with pytest.raises(CorpusError, match=r"speakers \['0001'\] are in both"):
        prepare_speechocean762(corpus, tmp_path / "out")


# -- the assessor against the experts --


class _FakeAssessor:
    """Flags the words listed per utterance; recognises the canonical phones with one error in 'call'."""

    def __init__(self, flagged: dict[str, set[str]]) -> None:
        self.flagged = flagged

    def diagnose_samples(self, samples, rate, text):
        from asr.mdd.diagnosis import Diagnosis, PhoneResult, WordResult

        words, recognised = [], []
        phones = {"we": ["W", "IY"], "call": ["K", "AO", "L"], "it": ["IH", "T"]}
        for w in text.lower().split():
            status = "substituted" if w in self.flagged.get(text, set()) else "correct"
            results = [
                PhoneResult(
                    p,
                    status if i == 0 else "correct",
                    p,
                    0,
                    0,
                    -1 if status != "correct" and i == 0 else 1,
                    90,
                )
                for i, p in enumerate(phones[w])
            ]
            words.append(WordResult(w, 0, 1, 90, 100, phones[w], results))
            recognised += ["AA" if p == "AO" else p for p in phones[w]]
        return Diagnosis(text, text.lower(), 1.0, 90, 100, words, recognised)


def test_counts_against_the_experts(tmp_path):
    from asr.mdd.experts import judge_against_experts

    detail = lambda accuracy, words: {  # noqa: E731
        "accuracy": [accuracy] * 5,
        "completeness": [1] * 5,
        "fluency": [9] * 5,
        "prosodic": [9] * 5,
        "total": [9] * 5,
        "words": [
            {"text": w, "accuracy": [10] * 5, "stress": [10] * 5, "total": [10] * 5, "phones": e}
            for w, e in words
        ],
    }
    scores = {
        "000010001": detail(9.2, [("WE", ["W IY"] * 5), ("CALL", ["K (AO) L"] + ["K AO L"] * 4)]),
        "000020001": detail(
            6, [("WE", ["W IY"] * 5), ("CALL", ["K AO L"] * 5), ("IT", ["(IH) T"] * 3 + ["IH T"] * 2)]
        ),
    }
    corpus = _write_corpus(tmp_path / "so")
    (corpus / "resource" / "scores-detail.json").write_text(json.dumps(scores))
    prepare_speechocean762(corpus, tmp_path / "out")
    cuts = [*_cuts(tmp_path / "out", "train"), *_cuts(tmp_path / "out", "test")]
    # flagged: WE of the first (expert-correct: a false rejection), IT of the second (marked: a detection)
    assessor = _FakeAssessor({"WE CALL": {"we"}, "WE CALL IT": {"it"}})
    report = judge_against_experts(assessor, cuts, words_out=tmp_path / "words.jsonl", progress=False)
    assert (report.utterances, report.scored_utterances) == (3, 2)
    assert (report.correct_words, report.false_rejections) == (3, 1)
    assert (report.marked_words, report.detections) == (2, 1)
    # PER on the one well-spoken utterance (accuracy 9.2 >= 9): AO recognised as AA, 1 of 5 phones
    assert (report.good_utterances, report.good_phone_errors, report.good_phones) == (1, 1, 5)
    assert (report.words, report.flagged_words) == (6, 2)
    # lowest GOP per word: marked [1 (CALL), -1 (IT)] against correct [-1 (WE), 1, 1]: 3.5 of 6 pairs ordered
    assert report.auc == round(3.5 / 6, 4)
    rows = [json.loads(x) for x in (tmp_path / "words.jsonl").read_text().splitlines()]
    assert len(rows) == 5 and rows[0]["expert"] == "correct" and rows[0]["flagged"] is True


@needs_sample
def test_experts_cli_on_real_learners(tmp_path):
    """The plumbing on the real sample with an untrained model (its verdicts are arbitrary; the counts' sums,
    the refusal of heard speakers and the messages are not)."""
    import torch
    from lhotse import CutSet

    from asr.models import build_encoder, encoder_config
    from asr.objectives.ctc import CTCModel, save_ctc_model
    from asr.text.tokenizer import PhoneTokenizer

    tokenizer = PhoneTokenizer()
    tokenizer.save(tmp_path / "phone")
    torch.manual_seed(0)
    save_ctc_model(
        CTCModel(build_encoder(encoder_config("xs", "fbank", "conformer")), tokenizer.vocab_size),
        tmp_path / "model" / "ctc_model.pt",
        tmp_path / "phone",
    )
    prepare_speechocean762(SAMPLE, tmp_path / "so")
    test = _cuts(tmp_path / "so", "test")
    scored = CutSet.from_cuts(c for c in test if "scores" in c.supervisions[0].custom)
    assert len(scored) == 20
    scored.to_file(tmp_path / "scored.jsonl.gz")
    base = (
        "mdd",
        "experts",
        "--model",
        tmp_path / "model",
        "--cuts",
        tmp_path / "scored.jsonl.gz",
        "--threads",
        1,
    )
    code, out = run_cli(*base, "--training-cuts", tmp_path / "so" / "speechocean762_cuts_test.jsonl.gz")
    assert code != 0 and "the model trained on speakers" in out and "Traceback" not in out
    code, out = run_cli(
        "mdd", "card", "--model", tmp_path / "model", "--trained-on", "noise", "--synthetic-only"
    )
    assert code == 0, out
    code, out = run_cli(
        *base,
        "--training-cuts",
        tmp_path / "so" / "speechocean762_cuts_train.jsonl.gz",
        "--out-dir",
        tmp_path / "t6",
        "--label",
        "random",
    )
    assert code == 0 and "false rejections" in out, out
    result = json.loads((tmp_path / "t6" / "experts.json").read_text())
    assert result["scored_utterances"] + len(result["skipped"]) == 20 and result["label"] == "random"
    assert result["model_card"]["real_speech"] is False
    words = (tmp_path / "t6" / "words.jsonl").read_text().splitlines()
    assert result["correct_words"] + result["marked_words"] == len(words) > 50
    code, out = run_cli(
        "mdd",
        "experts",
        "--model",
        tmp_path / "model",
        "--cuts",
        tmp_path / "so" / "speechocean762_recordings_test.jsonl.gz",
    )
    assert code != 0 and "Traceback" not in out


def test_calibration_picks_the_strictest_leniency_within_the_target(tmp_path):
    """Flags follow GOPs: the calibration keeps the largest threshold whose false rejection meets the target."""
    from asr.mdd.diagnosis import DiagnoseConfig, Diagnosis, PhoneResult, WordResult
    from asr.mdd.experts import calibrate

    # per word the GOPs of the phones the recogniser disagreed on; all five words are expert-correct
    gops = {"WE": [-3.0], "CALL": [-1.0], "IT": [-0.5]}

    class Scripted:
        cfg = DiagnoseConfig()

        def diagnose_samples(self, samples, rate, text):
            assert self.cfg.flag_below_gop is None  # every disagreement reaches the calibration
            words = [
                WordResult(
                    w.lower(),
                    0,
                    1,
                    50,
                    100,
                    ["X"],
                    [PhoneResult("X", "substituted", "Y", 0, 1, g, 10) for g in gops[w]],
                )
                for w in text.split()
            ]
            return Diagnosis(text, text.lower(), 1, 50, 100, words, [])

    def correct(words):
        return {
            "accuracy": [9] * 5,
            "completeness": [1] * 5,
            "fluency": [9] * 5,
            "prosodic": [9] * 5,
            "total": [9] * 5,
            "words": [
                {"text": w, "accuracy": [10] * 5, "stress": [10] * 5, "total": [10] * 5, "phones": ["X"] * 5}
                for w in words
            ],
        }

    corpus = _write_corpus(tmp_path / "so")
    (corpus / "resource" / "scores-detail.json").write_text(
        json.dumps({"000010001": correct(["WE", "CALL"]), "000020001": correct(["WE", "CALL", "IT"])})
    )
    prepare_speechocean762(corpus, tmp_path / "out")
    cuts = [*_cuts(tmp_path / "out", "train"), *_cuts(tmp_path / "out", "test")]
    assessor = Scripted()
    # 5 correct words with GOPs -3, -1, -3, -1, -0.5: at most 2 flagged (40 %) -> flag below -1 (the two -3s)
    result = calibrate(assessor, cuts, target=0.4, progress=False)
    assert (
        result.flag_below_gop == -1.0 and result.dev_false_rejection == 0.4 and result.dev_correct_words == 5
    )
    assert calibrate(assessor, cuts, target=0.0, progress=False).flag_below_gop == -3.0  # flags nothing
    assert calibrate(assessor, cuts, target=0.8, progress=False).flag_below_gop == -0.5
    assert assessor.cfg.flag_below_gop == 0.0  # the assessor's own setting is back


def test_assessor_scores_map_onto_the_corpus_scales(tmp_path):
    """Phone score / 50 -> 0-2, word and sentence accuracy / 10 -> 0-10, completeness / 100 -> 0-1,
    fluency / 10, intonation / 10 (null where undefined), stress 5 for a word stressed wrong else 10;
    inserted phones get no score."""
    from asr.mdd.assessment import Assessment
    from asr.mdd.diagnosis import Diagnosis, DiagnosisError, PhoneResult, WordResult
    from asr.mdd.fluency import Fluency
    from asr.mdd.scores import predict_scores, write_scores
    from asr.mdd.stress import WordStress

    phones = [
        PhoneResult("W", "correct", "W", 0, 1, 1.0, 80.0),
        PhoneResult("IY", "deleted", None, 1, 2, -2, 5.0),
    ]
    phones.append(PhoneResult(None, "inserted", "AH", 2, 3))
    word = WordResult("we", 0, 3, 42.5, 50, ["W", "IY"], phones)
    d = Diagnosis("We", "we", 3, 42.5, 50, [word], ["W", "AH"])

    class Scripted:
        def assess(self, audio, text):
            if text == "unknown":
                raise DiagnosisError("cannot judge")
            stress = [WordStress(0, "we", 2, 0, 1, False, [0.0, 1.0])]
            return Assessment(d, Fluency(4.0, 4.5, score=73.0), stress, [])

    class Cut:
        def __init__(self, id, text, custom=None):
            self.id, self.sampling_rate = f"{id}-0", 16000
            self.supervisions = [type("S", (), {"id": id, "text": text, "custom": custom})()]

        def load_audio(self):
            return np.zeros((1, 16000), dtype=np.float32)

    scores, skipped = predict_scores(Scripted(), [Cut("a", "We"), Cut("b", "unknown")], progress=False)
    assert skipped == [("b", "cannot judge")]
    assert scores["a"] == {
        "source": "asr heuristic",
        "accuracy": 4.25,
        "total": 4.25,
        "completeness": 0.5,
        "fluency": 7.3,
        "prosodic": None,
        "words": [
            {"text": "WE", "accuracy": 4.25, "total": 4.25, "phone_accuracy": [1.6, 0.1], "stress": 5.0}
        ],
    }
    # the corpus spells the word with one more phone: W and IY keep their scores, Z gets the word's mean
    corpus = {"canonical_words": [["W", "IY0", "Z"]]}
    scores, _ = predict_scores(Scripted(), [Cut("a", "We", corpus)], progress=False)
    assert scores["a"]["words"][0]["phone_accuracy"] == [1.6, 0.1, 0.85]
    write_scores(scores, tmp_path / "hyp.json")
    assert json.loads((tmp_path / "hyp.json").read_text()) == scores

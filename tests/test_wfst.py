"""WFST (TLG) decoding: graphs from tiny KenLM models, searched over hand-made CTC posteriors."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import pytest
import torch

from asr.decoding.wfst import (
    GRAPH_FILE,
    MANIFEST_FILE,
    TOKENS_FILE,
    WORDS_FILE,
    K2WfstDecoder,
    WfstConfig,
    WfstDecoder,
    WfstError,
    build_tlg,
    default_graph_dir,
    k2_available,
)
from asr.errors import UserError
from asr.lm import arpa_vocabulary, build_arpa
from asr.text.tokenizer import CharTokenizer, PhoneTokenizer, Tokenizer, train_bpe

pytestmark = pytest.mark.usefixtures("one_thread")

MEMORY = "64M"  # lmplz reserves its sorting memory up front: keep it small on a shared machine

#: Each sentence five times, so that its n-grams dominate; COT and CAT differ in one letter, and the phone
#: homophones TO / TWO / TOO only by their contexts.
SENTENCES = [
    "THE CAT SAT ON THE MAT",
    "A BABY SLEPT IN A COT",
    "I WANT TO GO HOME",
    "ONE TWO THREE FOUR",
    "ME TOO",
    "AN APPLE A DAY",
    "THE DOG RAN IN THE PARK",
]


def make_lm(lm_dir: Path, sentences: Sequence[str], order: int = 3) -> Path:
    """An `asr lm build`-style folder: lm.arpa and words.txt (one word a line)."""
    arpa = build_arpa(sentences, lm_dir / "lm.arpa", order=order, memory=MEMORY)
    (lm_dir / "words.txt").write_text("".join(w + "\n" for w in arpa_vocabulary(arpa)))
    return lm_dir


def emissions(
    ids: Sequence[int | tuple[int, int]],
    vocab_size: int,
    seed: int = 0,
    repeat: int = 2,
    peak: float = 8.0,
    noise: float = 0.5,
) -> torch.Tensor:
    """CTC log-probabilities spelling ``ids``: each token peaked for ``repeat`` frames, a blank after it.

    A pair ``(a, b)`` is a frame the model cannot decide: ``a`` and ``b`` equally likely.
    """
    gen = torch.Generator().manual_seed(seed)
    rows = []

    def frame(*labels: int) -> None:
        x = torch.randn(vocab_size, generator=gen) * noise
        for label in labels:
            x[label] = peak
        rows.append(x)

    frame(0)
    for item in ids:
        labels = item if isinstance(item, tuple) else (item,)
        for _ in range(repeat):
            frame(*labels)
        frame(0)
    return torch.stack(rows).log_softmax(dim=-1)


@pytest.fixture(scope="module")
def lm_dir(tmp_path_factory) -> Path:
    return make_lm(tmp_path_factory.mktemp("lm"), [s for s in SENTENCES for _ in range(5)])


@pytest.fixture(scope="module")
def char() -> CharTokenizer:
    return CharTokenizer()


@pytest.fixture(scope="module")
def bpe(tmp_path_factory) -> Tokenizer:
    # a tiny unigram model: whole words for the frequent ones, letters and "▁" pieces for the rest
    return train_bpe([s for s in SENTENCES for _ in range(20)], 36, tmp_path_factory.mktemp("bpe"))


@pytest.fixture(scope="module")
def phone() -> PhoneTokenizer:
    return PhoneTokenizer()  # CMUdict, offline


@pytest.fixture(scope="module")
def tokenizers(char, bpe, phone) -> dict[str, Tokenizer]:
    return {"char": char, "bpe": bpe, "phone": phone}


@pytest.fixture(scope="module")
def graphs(tokenizers, lm_dir) -> dict[str, Path]:
    return {kind: build_tlg(tok, lm_dir) for kind, tok in tokenizers.items()}


@pytest.fixture(scope="module")
def decoders(tokenizers, graphs) -> dict[str, WfstDecoder]:
    return {kind: WfstDecoder(tok, graphs[kind]) for kind, tok in tokenizers.items()}


# --- decoding ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["char", "bpe", "phone"])
def test_clean_sentences_decode_exactly(tokenizers, decoders, kind):
    tok, decoder = tokenizers[kind], decoders[kind]
    assert decoder.name == "wfst"
    for seed, text in enumerate(SENTENCES):
        ids = tok.encode(text)
        log_probs = emissions(ids, tok.vocab_size, seed=seed)
        nbest = decoder(log_probs)
        assert len(nbest) == 1
        hyp = nbest[0]
        assert hyp.text == text
        assert hyp.tokens == ids  # the input labels of the best path, collapsed, are the spelling
        # emissions() gives each token 2 frames and a blank: token i starts at frame 1 + 3 i
        assert hyp.frames == [1 + 3 * i for i in range(len(ids))]
        assert hyp.score < 0 and torch.isfinite(torch.tensor(hyp.score))
        assert hyp.confidence > 0.9 and len(hyp.token_confidence) == len(ids)
        assert hyp.posterior == 1.0


def test_char_word_boundary(char, decoders):
    """ "|" is required between words (a missing one costs a frame's "|" score), optional at the ends."""
    decoder = decoders["char"]
    bar = char.token_to_id("|")
    the, cat, sat = (char.encode(w) for w in ("THE", "CAT", "SAT"))
    clean = decoder(emissions([*the, bar, *cat, bar, *sat], char.vocab_size))[0]
    assert clean.text == "THE CAT SAT"
    glued = decoder(emissions(the + cat + sat, char.vocab_size))[0]
    assert glued.text == "THE CAT SAT" and glued.tokens == clean.tokens
    assert glued.score < clean.score - 10  # two frames said blank, not "|"
    assert decoder(emissions([bar, *the, bar, bar, *cat, bar], char.vocab_size))[0].text == "THE CAT"


def test_graph_outputs_only_vocabulary_words(char, lm_dir, decoders):
    vocabulary = set(arpa_vocabulary(lm_dir / "lm.arpa"))
    for seed, text in enumerate(["THE DOG SAT ON THE RUG", "A CAB", "ZEBRA"]):
        hyp = decoders["char"](emissions(char.encode(text), char.vocab_size, seed=seed))[0]
        assert hyp.text != text
        assert set(hyp.text.split()) <= vocabulary
        assert char.decode(hyp.tokens) == hyp.text  # tokens and words come from the same path


@pytest.mark.parametrize(
    ("before", "word", "after", "expected"),
    [("THE", "C?T", "SAT ON THE MAT", "CAT"), ("A BABY SLEPT IN A", "C?T", "", "COT")],
)
def test_language_model_decides_between_ambiguous_letters(char, decoders, before, word, after, expected):
    a, o = char.token_to_id("A"), char.token_to_id("O")
    ids: list[int | tuple[int, int]] = []
    for w in f"{before} {word} {after}".split():
        if ids:
            ids.append(char.token_to_id("|"))
        ids += [(a, o) if c == "?" else char.token_to_id(c) for c in w]
    hyp = decoders["char"](emissions(ids, char.vocab_size))[0]
    assert hyp.text.split() == f"{before} {expected} {after}".split()


def test_language_model_decides_between_homophones(phone, decoders):
    assert phone.spell("TO") == phone.spell("TWO") == phone.spell("TOO")  # the premise: identical phones
    decoder = decoders["phone"]
    for seed, text in enumerate(["I WANT TO GO HOME", "ONE TWO THREE FOUR", "ME TOO"]):
        assert decoder(emissions(phone.encode(text), phone.vocab_size, seed=seed))[0].text == text


def test_acoustic_scale_weighs_the_lm(char, graphs):
    """A clear but unlikely word sequence survives at scale 1 and loses to the LM at a tiny scale."""
    text = "THE MAT SAT ON THE CAT"  # every word known, the word order never seen
    log_probs = emissions(char.encode(text), char.vocab_size)
    assert WfstDecoder(char, graphs["char"])(log_probs)[0].text == text
    lm_heavy = WfstDecoder(char, graphs["char"], WfstConfig(acoustic_scale=0.01))(log_probs)[0]
    assert lm_heavy.text != text


def test_empty_and_silent_input(char, decoders):
    decoder = decoders["char"]
    assert decoder(torch.zeros(0, char.vocab_size))[0].text == ""
    silent = emissions([], char.vocab_size)
    hyp = decoder(silent)[0]
    assert hyp.text == "" and hyp.tokens == [] and hyp.frames == [] and hyp.confidence > 0.9
    with pytest.raises(WfstError, match="do not fit"):
        decoder(torch.zeros(3, char.vocab_size + 1))


def test_config_validation():
    WfstConfig(beam=8, max_active=100, min_active=10, acoustic_scale=0.5, blank_penalty=1.0)
    for bad in [
        {"beam": 0},
        {"acoustic_scale": -1},
        {"min_active": 0},
        {"max_active": 5, "min_active": 10},
        {"max_active": 2.5},
        {"blank_penalty": float("nan")},
    ]:
        with pytest.raises(ValueError):
            WfstConfig(**bad)


# --- the graph folder ----------------------------------------------------------------------------------


def test_graph_folder_contents(char, lm_dir, graphs):
    graph = graphs["char"]
    assert graph == default_graph_dir(char, lm_dir) and graph.parent == lm_dir
    assert graph.name.startswith("graph_char_")
    assert (graph / TOKENS_FILE).read_text().splitlines() == [f"{t} {i}" for i, t in enumerate(char.tokens)]
    table = [line.split() for line in (graph / WORDS_FILE).read_text().splitlines()]
    assert table[0] == ["<eps>", "0"] and [s for s, _ in table[-3:]] == ["#0", "<s>", "</s>"]
    assert [s for s, _ in table[1:-3]] == arpa_vocabulary(lm_dir / "lm.arpa")
    manifest = json.loads((graph / MANIFEST_FILE).read_text())
    assert manifest["separator"] == ["|"] and manifest["states"] > 0 and manifest["arcs"] > 0
    assert not [p for p in graph.iterdir() if p.name.startswith(".")], "no temporary files left"


def test_graph_is_reused_and_rebuilt_when_inputs_change(char, bpe, tmp_path):
    lm = make_lm(tmp_path / "lm", ["THE CAT SAT", "A DOG RAN"])
    graph = build_tlg(char, lm)
    mtime = (graph / GRAPH_FILE).stat().st_mtime_ns
    assert build_tlg(char, lm) == graph
    assert (graph / GRAPH_FILE).stat().st_mtime_ns == mtime, "same inputs: not rebuilt"
    words = lm / "words.txt"
    os.utime(words, ns=(mtime + 10**9, mtime + 10**9))  # touched, same content: still reused
    build_tlg(char, lm)
    assert (graph / GRAPH_FILE).stat().st_mtime_ns == mtime
    words.write_text(words.read_text().replace("DOG\n", ""))  # a word removed: rebuilt without it
    build_tlg(char, lm)
    assert (graph / GRAPH_FILE).stat().st_mtime_ns != mtime
    assert "DOG" not in (graph / WORDS_FILE).read_text()
    decoder = WfstDecoder(char, graph)
    assert "DOG" not in decoder(emissions(char.encode("A DOG RAN"), char.vocab_size))[0].text
    # another tokenizer into the same folder: rebuilt for it
    mtime = (graph / GRAPH_FILE).stat().st_mtime_ns
    assert build_tlg(bpe, lm, graph) == graph
    assert (graph / GRAPH_FILE).stat().st_mtime_ns != mtime
    assert (graph / TOKENS_FILE).read_text().split()[::2] == bpe.tokens


def test_unspellable_words_are_left_out_with_a_warning(char, tmp_path, caplog):
    lm = make_lm(tmp_path / "lm", ["THE CAT SAT", "A DOG RAN"])
    (lm / "words.txt").write_text("A\nCAT\nDOG\nRAN\nSAT\nTHE\nNAÏVE\n")
    graph = build_tlg(char, lm, tmp_path / "graph")
    assert graph == tmp_path / "graph"
    assert "NAÏVE" in caplog.text and "cannot spell" in caplog.text
    assert "NAÏVE" not in (graph / WORDS_FILE).read_text()
    assert (
        WfstDecoder(char, graph)(emissions(char.encode("A DOG RAN"), char.vocab_size))[0].text == "A DOG RAN"
    )


# --- user mistakes -------------------------------------------------------------------------------------


def test_missing_lm_files_are_errors_naming_the_path(char, tmp_path):
    assert issubclass(WfstError, UserError)
    with pytest.raises(WfstError, match=str(tmp_path / "nowhere" / "lm.arpa")):
        build_tlg(char, tmp_path / "nowhere")
    lm = make_lm(tmp_path / "lm", ["THE CAT SAT"])
    (lm / "words.txt").unlink()
    with pytest.raises(WfstError, match=str(lm / "words.txt")):
        build_tlg(char, lm)
    (lm / "words.txt").write_text("THE\nCAT\nSAT\n")
    (lm / "lm.arpa").write_text("not an ARPA file\n")  # kaldilm would abort the process: it runs in a child
    with pytest.raises(WfstError, match=rf"{lm / 'lm.arpa'}.*arpa2fst failed.*data"):
        build_tlg(char, lm)
    (tmp_path / "file").write_text("")
    with pytest.raises(WfstError, match=str(tmp_path / "file")):
        build_tlg(char, make_lm(tmp_path / "lm2", ["THE CAT SAT"]), tmp_path / "file")


def test_missing_graph_and_token_mismatch_are_errors_naming_the_path(char, bpe, graphs, tmp_path):
    with pytest.raises(WfstError, match=str(tmp_path / GRAPH_FILE)):
        WfstDecoder(char, tmp_path)
    with pytest.raises(WfstError, match=str(graphs["char"] / TOKENS_FILE)):
        WfstDecoder(bpe, graphs["char"])
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / GRAPH_FILE).write_bytes((graphs["char"] / GRAPH_FILE).read_bytes())
    with pytest.raises(WfstError, match=str(copy / TOKENS_FILE)):
        WfstDecoder(char, copy)
    (copy / TOKENS_FILE).write_text((graphs["char"] / TOKENS_FILE).read_text())
    with pytest.raises(WfstError, match=str(copy / WORDS_FILE)):
        WfstDecoder(char, copy)
    (copy / WORDS_FILE).write_text("<eps> 0\nA one\n")
    with pytest.raises(WfstError, match=f"{copy / WORDS_FILE}:2"):
        WfstDecoder(char, copy)
    (copy / WORDS_FILE).write_text((graphs["char"] / WORDS_FILE).read_text())
    (copy / GRAPH_FILE).write_bytes(b"not an fst")
    with pytest.raises(WfstError, match=str(copy / GRAPH_FILE)):
        WfstDecoder(char, copy)


# --- k2 ------------------------------------------------------------------------------------------------


def test_graph_arcs_in_k2_layout(graphs):
    """What K2WfstDecoder hands k2 (checked without k2): start 0, arcs by source, one last final state."""
    import kaldifst

    from asr.decoding.wfst import _k2_arcs

    graph = kaldifst.StdVectorFst.read(str(graphs["char"] / GRAPH_FILE))
    arcs, aux = _k2_arcs(graph)
    src, dst, labels = arcs[:, 0], arcs[:, 1], arcs[:, 2]
    scores = arcs[:, 3].contiguous().view(torch.float32)
    final_state = graph.num_states
    num_arcs = sum(graph.num_arcs(s) for s in range(graph.num_states))
    num_final = sum(1 for s in range(graph.num_states) if graph.final(s).value != float("inf"))
    assert arcs.dtype == torch.int32 and arcs.shape == (num_arcs + num_final, 4) and aux.shape == (len(arcs),)
    assert bool((src[1:] >= src[:-1]).all()) and int(src[0]) == 0
    assert int(dst.max()) == final_state and not bool((src == final_state).any())
    assert bool(((dst == final_state) == (labels == -1)).all()) and bool((aux[labels == -1] == -1).all())
    start_cost = sum(a.weight.value for a in kaldifst.ArcIterator(graph, graph.start))
    if graph.final(graph.start).value != float("inf"):
        start_cost += graph.final(graph.start).value
    assert float(scores[src == 0].sum()) == pytest.approx(-start_cost, abs=1e-3)


def test_k2_decoder_agrees_with_kaldi_decoder(char, graphs, decoders):
    pytest.importorskip("k2")
    assert k2_available()
    decoder = K2WfstDecoder(char, graphs["char"])
    for seed, text in enumerate([*SENTENCES, "THE DOG SAT ON THE RUG"]):
        log_probs = emissions(char.encode(text), char.vocab_size, seed=seed)
        expected, got = decoders["char"](log_probs)[0], decoder(log_probs)[0]
        assert (got.text, got.tokens, got.frames) == (expected.text, expected.tokens, expected.frames)
        assert got.score == pytest.approx(expected.score, abs=1e-3)

"""Public Hugging Face Wav2Vec2ForCTC checkpoints served from a folder: the espeak IPA table, parity with
``transformers``, the posterior merge, and the commands that take ``--model`` (diagnose, decode, the app).

The checkpoints are tiny random ones in exactly the hub's layout (``save_pretrained`` + ``vocab.json`` +
``preprocessor_config.json`` + ``tokenizer_config.json``): one with the espeak phoneme vocabulary of
``facebook/wav2vec2-{lv-60,xlsr-53}-espeak-cv-ft`` (``tests/data/hf_espeak_vocab.json``: the published
vocabulary's symbols as remembered, completed with every phoneme espeak-ng 1.51 writes for sample
sentences of ~55 languages, so the table is checked on real espeak output beyond the published list),
one with ``facebook/wav2vec2-base-960h``'s letters.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ESPEAK_VOCAB, free_port, speak_phones, write_hf_checkpoint, write_tone_cuts
from conftest import run_cli as asr

from asr.errors import UserError
from asr.export.onnx import load_any_ctc_model
from asr.models.hf_ctc import FLOOR, HFCTCModel, load_hf_ctc_model, read_safetensors
from asr.text.ipa import SPECIAL_TOKENS, UNMAPPABLE_SEGMENTS, UnmappableToken, classify, ipa_to_arpabet
from asr.text.phones import ARPABET_PHONES

pytestmark = pytest.mark.usefixtures("one_thread")

transformers = pytest.importorskip("transformers")

# facebook/wav2vec2-base-960h's vocab.json
CHAR_VOCAB = {
    s: i for i, s in enumerate(["<pad>", "<s>", "</s>", "<unk>", "|", *"ETAONIHSRDLUMWCFGYPBVK'XJQZ"])
}
SPEECH_TEXT = "four zero nine"


# -- the IPA table ------------------------------------------------------------------------------------------
def test_every_vocabulary_symbol_is_mapped_or_declared_unmappable():
    declared = set(SPECIAL_TOKENS.values()) | set(UNMAPPABLE_SEGMENTS.values())
    declared.add("a mark (stress, length, tone or modifier) without a sound")
    for symbol in ESPEAK_VOCAB:
        result = classify(symbol)
        if isinstance(result, str):
            assert result in declared, (symbol, result)
        else:
            assert 1 <= len(result) <= 2 and all(p in ARPABET_PHONES for p in result), (symbol, result)
    reached = {p for s in ESPEAK_VOCAB if not isinstance(classify(s), str) for p in classify(s)}
    assert reached == set(ARPABET_PHONES)  # the model can say every English phone


@pytest.mark.parametrize(
    "token, phones",
    [
        ("iː", "IY"),
        ("aɪ", "AY"),
        ("oʊ", "OW"),
        ("əʊ", "OW"),
        ("ɔɪ", "OY"),
        ("ɚ", "ER"),
        ("ɜː", "ER"),
        ("ɑːɹ", "AA R"),
        ("ɔːɹ", "AO R"),
        ("oːɹ", "AO R"),
        ("ɪɹ", "IH R"),
        ("iə", "IH R"),
        ("aɪɚ", "AY ER"),
        ("aɪə", "AY ER"),
        ("əl", "AH L"),
        ("n̩", "AH N"),
        ("r̩", "ER"),
        ("tʃ", "CH"),
        ("dʒ", "JH"),
        ("tɕ", "CH"),
        ("ts", "T S"),
        ("ts.h", "CH"),
        ("s.", "SH"),
        ("ɑ̃", "AA"),
        ("pː", "P"),
        ("tʲ", "T"),
        ("i5", "IY"),
        ("iɜ", "IY"),
        ("iɛ5", "Y EH"),
        ("uo5", "W OW"),
        ("x", "HH"),
        ("ʁ", "R"),
        ("ɾ", "T"),
        ("y", "UW"),
        ("ø", "ER"),
        ("ɲ", "N"),
        ("ç", "HH"),
        ("β", "B"),
        ("ʔe", "EY"),
    ],
)
def test_hard_cases(token, phones):
    assert " ".join(ipa_to_arpabet(token)) == phones


@pytest.mark.parametrize("token", ["ʔ", "ʕ", "ʲ", "1", "??", "<s>", "</s>", "<unk>", "ǃ"])
def test_unmappable_tokens_say_why(token):
    with pytest.raises(UnmappableToken):
        ipa_to_arpabet(token)


def test_english_espeak_output_maps_to_cmudict():
    from asr.text.lexicon import Lexicon

    words = (
        "car air tour fire tower bottle butter bird huge judge church measure thing pure nurse cats "
        "hello water boy day eye now put food sing yes"
    ).split()
    ipa = subprocess.run(
        ["espeak-ng", "-q", "--ipa", "--sep=_", "-v", "en-us", " ".join(words)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    lexicon = Lexicon.from_cmudict()
    for word, spoken in zip(words, ipa, strict=True):
        tokens = [t for t in spoken.replace("ˈ", "").replace("ˌ", "").split("_") if t]
        mapped = [p for t in tokens for p in ipa_to_arpabet(t)]
        assert mapped == [p.rstrip("012") for p in lexicon.entries[word][0]], (word, spoken)


# -- tiny checkpoints ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def phone_dir(tmp_path_factory) -> Path:
    return write_hf_checkpoint(
        tmp_path_factory.mktemp("xlsr-espeak"),
        ESPEAK_VOCAB,
        layer_norm=True,
        tokenizer_class="Wav2Vec2PhonemeCTCTokenizer",
    )


@pytest.fixture(scope="module")
def char_dir(tmp_path_factory) -> Path:
    return write_hf_checkpoint(
        tmp_path_factory.mktemp("base-960h"),
        CHAR_VOCAB,
        layer_norm=False,
        tokenizer_class="Wav2Vec2CTCTokenizer",
    )


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> Path:
    return speak_phones(tmp_path_factory.mktemp("speech") / "four.wav", "F AO1 R | Z IH1 R OW0 | N AY1 N")


def _reference(folder: Path, audio: list[np.ndarray]) -> tuple[torch.Tensor, list[int]]:
    """transformers' own pipeline: the feature extractor (normalisation, padding, mask) and the model."""
    extractor = transformers.Wav2Vec2FeatureExtractor.from_pretrained(folder)
    model = transformers.Wav2Vec2ForCTC.from_pretrained(folder).eval()
    inputs = extractor(audio, sampling_rate=16000, return_tensors="pt", padding=True)
    with torch.no_grad():
        logits = model(inputs.input_values, attention_mask=inputs.get("attention_mask")).logits
    frames = [int(model._get_feat_extract_output_lengths(len(a))) for a in audio]
    return torch.log_softmax(logits, -1), frames


def _reference_merge(log_probs: torch.Tensor, frames: int, kind: str, vocab: dict[str, int]) -> np.ndarray:
    """The documented merge, written out frame by frame (no code shared with asr.models.hf_ctc)."""
    p = log_probs[:frames].double().exp().numpy()
    symbols = sorted(vocab, key=vocab.get)
    if kind == "char":
        ours = ["<blk>", "|", "'", *"ABCDEFGHIJKLMNOPQRSTUVWXYZ"]
        out = np.zeros((frames, len(ours)))
        for v, s in enumerate(symbols):
            out[:, ours.index(s) if s in ours else 0] += p[:, v]
        return np.log(np.maximum(out, math.exp(FLOOR)))
    ours = ["<blk>", *ARPABET_PHONES]
    out = np.zeros((2 * frames, len(ours)))
    for v, s in enumerate(symbols):
        phones = classify(s) if s != "<pad>" else "blank"
        if isinstance(phones, str):
            out[:, 0] += np.repeat(p[:, v], 2)
            continue
        for t in range(frames):
            stays = p[t + 1, v] if t + 1 < frames else 0.0
            out[2 * t, ours.index(phones[0])] += p[t, v]
            if len(phones) == 1:
                out[2 * t + 1, ours.index(phones[0])] += p[t, v]
            else:
                out[2 * t + 1, ours.index(phones[0])] += p[t, v] * stays
                out[2 * t + 1, ours.index(phones[1])] += p[t, v] * (1 - stays)
    return np.log(np.maximum(out, math.exp(FLOOR)))


def test_phone_model_matches_transformers_after_the_merge(phone_dir):
    model, tokenizer_dir = load_hf_ctc_model(phone_dir)
    assert model.vocab_size == 40 and model.encoder.frame_shift == pytest.approx(0.01)
    assert "ɑːɹ" not in model.vmap.unmappable and "ʔ" in model.vmap.unmappable
    rng = np.random.default_rng(0)
    audio = [
        0.1 * rng.standard_normal(n).astype(np.float32) + 0.3 for n in (16000, 9000)
    ]  # offset: normalised
    want, frames = _reference(phone_dir, audio)
    batch = torch.zeros(2, 16000)
    batch[1, :9000] = torch.from_numpy(audio[1])
    batch[0] = torch.from_numpy(audio[0])
    lengths = torch.tensor([16000, 9000])
    got, got_frames = model.network_log_probs(batch, lengths)
    assert got_frames.tolist() == frames
    for row, n in enumerate(frames):
        assert torch.allclose(got[row, :n], want[row, :n], atol=1e-4)
    merged, merged_frames = model.log_probs(batch, lengths)
    assert merged_frames.tolist() == [2 * n for n in frames] and merged.shape[-1] == 40
    for row, n in enumerate(frames):
        reference = _reference_merge(want[row], n, "phone", ESPEAK_VOCAB)
        assert np.allclose(merged[row, : 2 * n].numpy(), reference, atol=2e-4)
        assert torch.allclose(merged[row, : 2 * n].exp().sum(-1), torch.ones(2 * n), atol=1e-4)


def test_char_model_matches_transformers_after_the_merge(char_dir):
    model, tokenizer_dir = load_any_ctc_model(char_dir)
    assert isinstance(model, HFCTCModel) and model.vocab_size == 29 and model.encoder.frame_shift == 0.02
    assert json.loads((tokenizer_dir / "tokenizer.json").read_text())["kind"] == "char"
    rng = np.random.default_rng(1)
    audio = [0.1 * rng.standard_normal(n).astype(np.float32) for n in (12000, 7000)]
    batch = torch.zeros(2, 12000)
    batch[0], batch[1, :7000] = torch.from_numpy(audio[0]), torch.from_numpy(audio[1])
    merged, frames = model.log_probs(batch, torch.tensor([12000, 7000]))
    for row, a in enumerate(
        audio
    ):  # a group-norm model: transformers runs it one unpadded utterance at a time
        want, (n,) = _reference(char_dir, [a])
        assert frames[row] == n
        assert np.allclose(
            merged[row, :n].numpy(), _reference_merge(want[0], n, "char", CHAR_VOCAB), atol=2e-4
        )


def test_safetensors_reader_matches_the_package(phone_dir):
    from safetensors.torch import load_file

    want, got = load_file(phone_dir / "model.safetensors"), read_safetensors(phone_dir / "model.safetensors")
    assert want.keys() == got.keys() and all(torch.equal(want[k], got[k]) for k in want)


def test_old_pytorch_model_bin_with_weight_norm_halves(phone_dir, tmp_path):
    folder = Path(shutil.copytree(phone_dir, tmp_path / "old"))
    state = read_safetensors(folder / "model.safetensors")
    old_names = {
        ".parametrizations.weight.original0": ".weight_g",
        ".parametrizations.weight.original1": ".weight_v",
    }
    for new, old in old_names.items():
        for key in [k for k in state if k.endswith(new)]:
            state[key.removesuffix(new) + old] = state.pop(key)
    torch.save(state, folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()
    audio = 0.1 * torch.randn(1, 8000, generator=torch.Generator().manual_seed(0))
    want = load_hf_ctc_model(phone_dir)[0].log_probs(audio)[0]
    assert torch.equal(load_hf_ctc_model(folder)[0].log_probs(audio)[0], want)


def test_unmappable_output_is_counted_not_fatal(phone_dir, tmp_path, speech):
    folder = Path(shutil.copytree(phone_dir, tmp_path / "glottal"))
    state = read_safetensors(folder / "model.safetensors")
    state["lm_head.bias"][ESPEAK_VOCAB["ʔ"]] = 1e3  # the model says nothing but glottal stops
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in state.items()}, folder / "model.safetensors")
    model, _ = load_hf_ctc_model(folder)
    log_probs, frames = model.log_probs(torch.randn(2, 8000) * 0.1, torch.tensor([8000, 6000]))
    assert model.last_unmappable == {"ʔ": 2} and model.unmappable == {"ʔ": 2}  # one emission per utterance
    assert (log_probs[0, : frames[0]].argmax(-1) == 0).all()  # its probability went to the blank
    from asr.mdd.diagnosis import DiagnosisError, PronunciationAssessor

    assessor = PronunciationAssessor.from_path(folder)
    try:
        result = assessor.diagnose_file(speech, SPEECH_TEXT)
    except DiagnosisError:  # a refusal in words is fine; a crash is not
        return
    assert result.recognised == [] and assessor.model.unmappable == {"ʔ": 1}


# -- the commands -------------------------------------------------------------------------------------------
def test_pronunciation_assessor_diagnoses_with_the_phone_model(phone_dir, speech):
    from asr.mdd.diagnosis import PronunciationAssessor

    assessor = PronunciationAssessor.from_path(phone_dir)
    assert assessor.tokenizer.kind == "phone" and assessor.tokenizer.vocab_size == 40
    result = assessor.diagnose_file(speech, SPEECH_TEXT)
    assert [w.word for w in result.words] == SPEECH_TEXT.split()
    assert all(p in ARPABET_PHONES for p in result.recognised)
    phones = [p for w in result.words for p in w.phones if p.phone is not None]
    assert [p.phone for p in phones][:3] == ["F", "AO", "R"] and [p.phone for p in phones][-3:] == [
        "N",
        "AY",
        "N",
    ]
    assert all(0 <= p.start <= p.end <= result.duration + 0.1 for p in phones)
    assert 0 <= result.accuracy <= 100
    assert isinstance(assessor.model.description, str) and "ARPAbet" in assessor.model.description


def test_mdd_diagnose_cli(phone_dir, speech):
    code, out = asr(
        "mdd", "diagnose", "--model", phone_dir, "--audio", speech, "--text", SPEECH_TEXT, "--json"
    )
    assert code == 0, out
    assert [w["word"] for w in json.loads(out[out.index("{") :])["words"]] == SPEECH_TEXT.split()


def test_decode_cli_with_the_char_model(char_dir, tmp_path):
    from lhotse import CutSet, SupervisionSegment

    cuts = []
    for cut, text in zip(
        CutSet.from_file(write_tone_cuts(tmp_path, 3, 1.0, 1.5)), ["A CAT", "THE DOG", "A"], strict=True
    ):
        cut.supervisions = [SupervisionSegment(cut.id, cut.recording_id, 0.0, cut.duration, text=text)]
        cuts.append(cut)
    CutSet.from_cuts(cuts).to_file(tmp_path / "cuts.jsonl.gz")
    out = tmp_path / "hyp.txt"
    code, output = asr(
        "decode", "--model", char_dir, "--cuts", tmp_path / "cuts.jsonl.gz", "--out", out, "--no-progress"
    )
    assert code == 0, output
    lines = out.read_text().splitlines()
    assert sorted(line.split(" ")[0] for line in lines) == sorted(c.id for c in cuts)
    assert all(set(line.partition(" ")[2]) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ' ") for line in lines)


def test_app_serves_the_phone_model(phone_dir, speech):
    from gradio_client import Client, handle_file

    from apps.pronunciation.app import build_app
    from asr.mdd.diagnosis import PronunciationAssessor

    demo = build_app(PronunciationAssessor.from_path(phone_dir))
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        result = client.predict(handle_file(str(speech)), SPEECH_TEXT, api_name="/diagnose")
    finally:
        demo.close()
    assert [w["word"] for w in result["words"]] == SPEECH_TEXT.split()


def test_app_cli_accepts_the_folder(phone_dir, monkeypatch):
    import apps.pronunciation.app as app_module

    served = []
    monkeypatch.setattr(app_module, "launch", lambda model, *args: served.append(model))
    code, out = asr("app", "--model", phone_dir, "--port", free_port())
    assert code == 0 and served == [phone_dir], out


# -- bad folders --------------------------------------------------------------------------------------------
def _broken(char_dir: Path, tmp_path: Path, edit) -> Path:
    folder = Path(shutil.copytree(char_dir, tmp_path / "broken"))
    edit(folder)
    return folder


@pytest.mark.parametrize(
    "edit, named",
    [
        (lambda f: (f / "config.json").unlink(), "config.json"),
        (lambda f: (f / "vocab.json").unlink(), "vocab.json"),
        (lambda f: (f / "model.safetensors").unlink(), "model.safetensors"),
        (
            lambda f: (f / "vocab.json").write_text(json.dumps({**CHAR_VOCAB, "1": len(CHAR_VOCAB)})),
            "vocab.json",
        ),
        (lambda f: (f / "vocab.json").write_text("{not json"), "vocab.json"),
        (
            lambda f: (f / "model.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}"),
            "model.safetensors",
        ),
        (lambda f: (f / "config.json").write_text(json.dumps({"model_type": "hubert"})), "config.json"),
    ],
    ids=["no-config", "no-vocab", "no-weights", "vocab-size", "bad-vocab", "bad-weights", "not-wav2vec2"],
)
def test_bad_folders_name_the_file(char_dir, tmp_path, edit, named):
    from asr.mdd.diagnosis import PronunciationAssessor

    folder = _broken(char_dir, tmp_path, edit)
    with pytest.raises(UserError) as caught:
        load_any_ctc_model(folder)
    message = str(caught.value)
    assert named in message and "\n" not in message, message
    with pytest.raises(UserError, match=named):  # the experiment-folder callers: DIR/ctc_model.pt
        PronunciationAssessor.from_path(folder)
    code, out = asr(
        "decode", "--model", folder, "--cuts", tmp_path / "none.jsonl.gz", "--out", tmp_path / "h.txt"
    )
    assert code != 0 and named in out and "Traceback" not in out, out


def test_short_audio_is_refused_like_our_models(char_dir):
    model, _ = load_hf_ctc_model(char_dir)
    assert model.min_samples == 400
    with pytest.raises(ValueError, match="min_samples"):
        model.log_probs(torch.zeros(1, 399))

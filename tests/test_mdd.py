"""Mispronunciation detection and diagnosis: alignment, the L2-ARCTIC metrics, pronunciations, diagnosis."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import run_cli as asr

from asr.data.audio import AudioError, AudioLimits, read_audio
from asr.mdd.align import align, error_counts, phone_distance
from asr.mdd.diagnosis import DiagnosisError, PronunciationAssessor
from asr.mdd.metrics import MddCounts, read_phone_file, score_files, score_utterance
from asr.mdd.pronunciation import PromptError, canonical_pronunciation
from asr.text.lexicon import Lexicon
from asr.text.phones import ARPABET_PHONES
from asr.text.tokenizer import CharTokenizer, PhoneTokenizer

REFERENCE = Path(__file__).parent / "data" / "mdd_reference"
# what the published scorer (cageyoko/CTC-Attention-Mispronunciation) prints on these files
PUBLISHED = {
    "hyp_cnn_rnn_ctc.txt": dict(
        ta=20194, fr=5520, fa=1082, cd=2072, de=1137, precision=0.3676, recall=0.7478, f1=0.4929, der=0.3543
    ),
    "hyp_ctc_attention.txt": dict(
        ta=23884, fr=1830, fa=1914, cd=1810, de=567, precision=0.5650, recall=0.5540, f1=0.5594, der=0.2385
    ),
}


# -- alignment --


def test_kaldi_alignment_breaks_ties_as_align_text():
    # both "a↔x, b deleted" and "a deleted, b↔x" cost 2; align-text prefers the substitution at the end
    assert [(e.ref, e.hyp) for e in align(["a", "b"], ["x"])] == [("a", None), ("b", "x")]
    # a repeated phone: the later one is matched, the earlier deleted
    assert [e.op for e in align(["a", "a"], ["a"])] == ["D", "C"]
    assert [e.op for e in align(["a", "b"], ["b", "c"])] == ["S", "S"]  # 2 edits either way: substitutions
    assert align([], []) == []
    assert [e.op for e in align([], ["a"])] == ["I"]
    assert [e.op for e in align(["a"], [])] == ["D"]


def _levenshtein(a, b) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


@pytest.mark.parametrize("costs", ["kaldi", "phonetic"])
def test_alignment_properties(costs):
    rng = random.Random(0)
    phones = ["AA", "AE", "S", "SH", "TH", "T", "D", "IY"]
    for _ in range(200):
        ref = rng.choices(phones, k=rng.randint(0, 8))
        hyp = rng.choices(phones, k=rng.randint(0, 8))
        edits = align(ref, hyp, costs)
        assert [e.ref for e in edits if e.ref is not None] == ref
        assert [e.hyp for e in edits if e.hyp is not None] == hyp
        counts = error_counts(edits)
        # similar-phone costs only choose among pairings: never more edits than the minimum
        assert counts["S"] + counts["D"] + counts["I"] == _levenshtein(ref, hyp)


def test_phonetic_costs_pair_similar_phones():
    # unit costs cannot tell TH↔S from AA↔S; phonetic costs pair the two fricatives
    assert [(e.ref, e.hyp) for e in align(["TH", "AA"], ["S"])] == [("TH", None), ("AA", "S")]
    assert [(e.ref, e.hyp) for e in align(["TH", "AA"], ["S"], "phonetic")] == [("TH", "S"), ("AA", None)]
    assert phone_distance("TH", "S") < phone_distance("TH", "AA") == 1.0
    assert phone_distance("IY", "IH") < phone_distance("IY", "AA")
    assert phone_distance("err", "S") == 1.0


# -- metrics --


def _counts(canonical: str, perceived: str, recognised: str) -> dict:
    c = score_utterance("u", canonical.split(), perceived.split(), recognised.split()).counts
    return {k: getattr(c, k) for k in ("ta", "fr", "fa", "cd", "de")}


@pytest.mark.parametrize(
    "canonical, perceived, recognised, expected",
    [
        ("A B C", "A B C", "A B C", dict(ta=3)),  # all correct, all accepted
        ("A B C", "A B C", "", dict(fr=3)),  # recogniser output nothing: every correct phone rejected
        ("A B C", "A B C", "A X C", dict(ta=2, fr=1)),
        ("A B C", "A X C", "A X C", dict(ta=2, cd=1)),  # substitution found with the right phone
        ("A B C", "A X C", "A B C", dict(ta=2, fa=1)),  # ... missed: the canonical phone was recognised
        ("A B C", "A X C", "A Y C", dict(ta=2, de=1)),  # ... found but misdiagnosed
        ("A B C", "A X C", "A C", dict(ta=2, de=1)),  # ... recogniser deleted it: still a rejection
        ("A B C", "A C", "A C", dict(ta=2, cd=1)),  # speaker deletion found
        ("A B C", "A C", "A B C", dict(ta=2, fa=1)),  # ... missed
        ("A B C", "A C", "A Y C", dict(ta=2, de=1)),  # ... something else heard
        ("A B", "A X B", "A X B", dict(ta=2, cd=1)),  # speaker insertion found
        ("A B", "A X B", "A B", dict(ta=2, fa=1)),  # ... missed
        ("A B", "A X B", "A Y B", dict(ta=2, de=1)),
        ("A B", "A B", "A Z B", dict(ta=2)),  # recogniser insertion, annotators marked none: ignored
        ("", "X Y", "X Y", dict(cd=2)),  # insertions only
        ("A B", "", "", dict(cd=2)),  # everything deleted, and found
        ("A B", "", "A B", dict(fa=2)),
    ],
)
def test_metric_cases(canonical, perceived, recognised, expected):
    assert _counts(canonical, perceived, recognised) == {
        "ta": 0,
        "fr": 0,
        "fa": 0,
        "cd": 0,
        "de": 0,
        **expected,
    }


def test_rates_from_counts():
    c = MddCounts(ta=80, fr=10, fa=5, cd=3, de=2, phone_errors=12, perceived_phones=100)
    assert c.tr == 5
    assert c.precision == pytest.approx(5 / 15) and c.recall == pytest.approx(5 / 10)
    assert c.f1 == pytest.approx(2 * (1 / 3) * 0.5 / (1 / 3 + 0.5))
    assert c.der == pytest.approx(0.4) and c.per == pytest.approx(0.12)
    assert c.detection_accuracy == pytest.approx(85 / 100)
    empty = MddCounts()  # no mispronunciation anywhere: rates are 0, not a ZeroDivisionError
    assert (empty.precision, empty.recall, empty.f1, empty.der) == (0, 0, 0, 0)


@pytest.mark.parametrize("hyp", sorted(PUBLISHED))
def test_reproduces_the_published_l2arctic_scores(hyp, tmp_path):
    code, out = asr(
        "score",
        "mdd",
        "--canonical",
        REFERENCE / "canonical.txt",
        "--perceived",
        REFERENCE / "perceived.txt",
        "--hyp",
        REFERENCE / hyp,
        "--json",
        "--out-dir",
        tmp_path,
    )
    assert code == 0, out
    result = json.loads(out)
    assert {"ta", "fr", "fa", "tr", "cd", "de", "precision", "recall", "f1", "der", "per"} <= result.keys()
    assert {k: result[k] for k in PUBLISHED[hyp]} == PUBLISHED[hyp]
    assert result["tr"] == result["cd"] + result["de"]
    assert result["ta"] + result["fr"] == 25714  # every correctly pronounced phone is judged once
    assert (tmp_path / "confusion.png").read_bytes()[:4] == b"\x89PNG"
    alignment = (tmp_path / "alignment.txt").read_text()
    assert alignment.count(" verdict ") == 900
    assert json.loads((tmp_path / "mdd.json").read_text())["f1"] == result["f1"]


def test_perceived_statistics_of_the_reference():
    report = score_files(
        REFERENCE / "canonical.txt", REFERENCE / "perceived.txt", REFERENCE / "perceived.txt"
    )
    ops = {"C": 0, "S": 0, "D": 0, "I": 0}
    for utt in report.utterances:
        for col in utt.columns:
            if col.verdict is not None:
                ops[
                    "I"
                    if col.canonical is None
                    else "D"
                    if col.perceived is None
                    else "C"
                    if col.canonical == col.perceived
                    else "S"
                ] += 1
    assert ops == {"C": 25714, "S": 3154, "D": 918, "I": 219}
    perceived = read_phone_file(REFERENCE / "perceived.txt")
    assert sum(phones.count("err") for phones in perceived.values()) == 118  # unclear phones, kept as err
    assert report.counts.f1 == 1.0 and report.counts.per == 0.0  # a perfect recogniser


def test_scoring_bad_inputs(tmp_path):
    def write(name, text):
        (tmp_path / name).write_text(text)
        return tmp_path / name

    can = write("can.txt", "u1 ah b\nu2 k ae t\n")
    per = write("per.txt", "u1 ah b\nu2 k eh t\n")
    code, out = asr(
        "score", "mdd", "--canonical", can, "--perceived", per, "--hyp", write("h.txt", "u1 ah b\n")
    )
    assert code == 2 and "only in canonical (e.g. u2)" in out
    code, out = asr(
        "score", "mdd", "--canonical", can, "--perceived", per, "--hyp", write("x.txt", "u1 ah q\nu2 k\n")
    )
    assert code == 2 and "x.txt:1 (utterance u1)" in out and "'q' is not a phone" in out
    code, out = asr(
        "score", "mdd", "--canonical", can, "--perceived", write("d.txt", "u1 ah\nu1 b\n"), "--hyp", per
    )
    assert code == 2 and "u1 appears twice" in out
    code, out = asr("score", "mdd", "--canonical", write("e.txt", "\n"), "--perceived", per, "--hyp", per)
    assert code == 2 and "no utterances" in out
    # case, stress digits and sil are conventions, not errors
    code, out = asr(
        "score",
        "mdd",
        "--canonical",
        can,
        "--perceived",
        per,
        "--hyp",
        write("ok.txt", "u1 sil AH0 B\nu2 K AE1 T sil\n"),
        "--json",
    )
    assert code == 0 and json.loads(out)["fa"] == 1


# -- canonical pronunciation --


def test_canonical_pronunciation_normalises_and_lists_variants():
    lexicon = Lexicon.from_cmudict()
    words = canonical_pronunciation("Read 2 books, Dr. Zorblaxian!", lexicon)
    assert [w.word for w in words] == ["read", "two", "books", "dr", "zorblaxian"]
    assert {("R", "IY", "D"), ("R", "EH", "D")} <= set(words[0].variants)
    assert words[1].phones == ("T", "UW") and not words[1].g2p
    assert words[-1].g2p and words[-1].phones  # unknown word: espeak-ng's guess, flagged
    with pytest.raises(PromptError, match="no word to pronounce"):
        canonical_pronunciation(" ?! ... ", lexicon)
    with pytest.raises(PromptError, match="'日本語' is not written in English letters"):
        canonical_pronunciation("hello 日本語", lexicon)
    assert [w.word for w in canonical_pronunciation("Naïve café", lexicon)] == ["naive", "cafe"]
    with pytest.raises(PromptError, match="limit is 3"):
        canonical_pronunciation("one two three four", lexicon, max_words=3)


def test_a_prompt_with_an_unknown_word_gets_canonical_phones_flagged_as_g2p():
    words = canonical_pronunciation("the zxqvbnm is nice", Lexicon.from_cmudict())
    assert [w.word for w in words] == ["the", "zxqvbnm", "is", "nice"]
    assert [w.g2p for w in words] == [False, True, False, False]
    assert all(w.phones and set(w.phones) <= set(ARPABET_PHONES) for w in words)


def test_inline_pronunciations_in_arpabet_ipa_and_alternatives():
    from asr.mdd.pronunciation import without_pronunciations

    # what the reference reader says: the prompt as written, less the brackets
    assert without_pronunciations("A tomato[T AH0 M AA1 T OW2], please. either[IY DH ER|/ˈaɪðɚ/]!") == (
        "A tomato, please. either!"
    )
    lexicon = Lexicon.from_cmudict()
    words = canonical_pronunciation("A tomato[T AH0 M AA1 T OW2], please.", lexicon)
    assert [(w.word, w.variants, w.custom) for w in words] == [
        ("a", (("AH",), ("EY",)), False),
        ("tomato", (("T", "AH", "M", "AA", "T", "OW"),), True),  # the dictionary's are not added
        ("please", (("P", "L", "IY", "Z"),), False),
    ]
    assert canonical_pronunciation("tomato[/təˈmɑːtoʊ/]", lexicon)[0].variants == (
        ("T", "AH", "M", "AA", "T", "OW"),
    )
    either = canonical_pronunciation("either[AY DH AH|/ˈiːðɚ/|ay dh ah]", lexicon)[0]
    assert either.variants == (("AY", "DH", "AH"), ("IY", "DH", "ER")) and either.custom  # in the order given
    # per occurrence: the second "read" is the dictionary's; a custom word needs no dictionary entry
    words = canonical_pronunciation("read[R EH D] what you read, Zorblax[Z AO R B L AE K S]", lexicon)
    assert [w.custom for w in words] == [True, False, False, False, True]
    assert words[3].variants == (("R", "EH", "D"), ("R", "IY", "D")) and not words[4].g2p
    assert [w.word for w in canonical_pronunciation("tomato[T AH]-sauce[S AO S] (2[T UW])", lexicon)] == [
        "tomato",
        "sauce",
        "two",
    ]


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "tomato[T AH M QQ T OX]",
            "unknown ARPAbet phones QQ OX in the pronunciation of 'tomato' (CMUdict's 39 phones",
        ),
        ("a cat[K AE1 T4]", "unknown ARPAbet phone T4 in the pronunciation of 'cat'"),
        ("oops[/ˈʊʔps1/]", "no English phone for ʔ 1 in the IPA pronunciation of 'oops' (/ˈʊʔps1/)"),
        ("tomato[/təˈmɑːtoʊ]", "the IPA pronunciation of 'tomato' has no closing slash: '/təˈmɑːtoʊ'"),
        ("tomato[/ˈ/]", "the IPA pronunciation of 'tomato' has no sound"),
        ("tomato[ ] soup", "empty brackets after 'tomato': write its phones"),
        ("either[IY DH ER|]", "an empty alternative in the pronunciation of 'either': [IY DH ER|]"),
        ("a tomato[T AH M", "unclosed bracket after 'tomato': close it with ']'"),
        ("say [T AH", "unclosed bracket at '[T AH': close it with ']'"),
        ("tomato[T AH[M]", "unclosed bracket after 'tomato'"),
        ("tomato T AH]", "a ']' without '[': 'tomato T AH]'"),
        (
            "tomato [T AH M EY T OW]",
            "brackets not attached to a word: [T AH M EY T OW] (write them right after",
        ),
        ("[T AH] tomato", "brackets not attached to a word: [T AH]"),
        ("tomato,[T AH]", "brackets not attached to a word: [T AH]"),
        ("either[IY DH ER][AY DH ER]", "brackets not attached to a word: [AY DH ER]"),
        ("tomato[T AH]es", "text right after the brackets of 'tomato' ('es'): a pronunciation ends its word"),
        ("ice-cream[AY S K R IY M]", "'ice-cream' is 2 words (ice cream): give each its own brackets"),
    ],
)
def test_inline_pronunciation_errors_name_the_word_and_symbols(text, message):
    with pytest.raises(PromptError) as caught:
        canonical_pronunciation(text, Lexicon.from_cmudict())
    assert message in str(caught.value) and "\n" not in str(caught.value)


# -- diagnosis with a model whose output is known --


class ScriptedModel(torch.nn.Module):
    """A 'recogniser' that says ``phones`` evenly spread over the audio: peaky CTC posteriors."""

    min_samples = 400

    def __init__(self, tokenizer: PhoneTokenizer, phones: list[str]) -> None:
        super().__init__()
        self.vocab_size = tokenizer.vocab_size
        self.ids = [tokenizer.token_to_id(p) for p in phones]

    def log_probs(self, audio, lengths):
        frames = int(lengths[0]) // 320
        logits = torch.full((1, frames, self.vocab_size), -8.0)
        logits[0, :, 0] = 0.0  # blank everywhere ...
        step = frames // (len(self.ids) + 1)
        for k, token in enumerate(self.ids):  # ... except one spike per phone
            logits[0, (k + 1) * step, token] = 8.0
        return logits.log_softmax(-1), torch.tensor([frames])


def _speech(seconds: float, rate: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def test_diagnosis_reports_what_was_said():
    tokenizer = PhoneTokenizer()
    # "think fast": TH IH NG K  F AE S T; said S IH NG K  F AE S (T deleted) + an extra AH
    said = ["S", "IH", "NG", "K", "F", "AE", "S", "AH"]
    assessor = PronunciationAssessor(ScriptedModel(tokenizer, said), tokenizer)
    result = assessor.diagnose_samples(_speech(2.0), 16000, "Think fast!")
    think, fast = result.words
    assert think.pronunciation == ["TH", "IH", "NG", "K"]
    assert [(p.phone, p.status, p.said) for p in think.errors] == [("TH", "substituted", "S")]
    assert [(p.phone, p.status, p.said) for p in fast.errors] == [("T", "substituted", "AH")] or [
        (p.phone, p.status, p.said) for p in fast.errors
    ] == [("T", "deleted", None), (None, "inserted", "AH")]
    assert result.normalized_text == "think fast" and result.recognised == said
    times = [(p.start, p.end) for w in result.words for p in w.phones if p.phone]
    assert all(a < b for a, b in times) and times == sorted(times) and times[-1][1] <= 2.0
    assert think.start < think.end <= fast.start < fast.end
    correct = [p for w in result.words for p in w.phones if p.status == "correct"]
    assert all(p.score > 90 and p.gop > 0 for p in correct)  # the model is sure of these
    assert think.phones[0].score < 10 and think.phones[0].gop < 0  # TH lost to S
    assert 0 < result.accuracy < 100 and result.completeness <= 100
    payload = json.loads(json.dumps(result.to_dict()))
    assert payload["mispronounced_words"] == ["think", "fast"] and payload["unknown_words"] == []


def test_diagnosis_of_a_prompt_with_an_unknown_word_flags_it():
    tokenizer = PhoneTokenizer()
    text = "the zxqvbnm is nice"
    said = [p for w in canonical_pronunciation(text, Lexicon.from_cmudict()) for p in w.phones]
    assessor = PronunciationAssessor(ScriptedModel(tokenizer, said), tokenizer)
    result = assessor.diagnose_samples(_speech(3.0), 16000, text)
    assert result.unknown_words == ["zxqvbnm"] and result.recognised == said
    assert [w.word for w in result.words] == text.split() and all(w.pronunciation for w in result.words)


def test_diagnosis_picks_the_pronunciation_variant_said():
    tokenizer = PhoneTokenizer()
    # "either": CMUdict lists IY DH ER and AY DH ER; the second said is no error
    assessor = PronunciationAssessor(ScriptedModel(tokenizer, ["AY", "DH", "ER"]), tokenizer)
    word = assessor.diagnose_samples(_speech(1.0), 16000, "either").words[0]
    assert word.pronunciation == ["AY", "DH", "ER"] and not word.errors


def test_a_pronunciation_in_the_prompt_makes_the_variant_said_correct():
    tokenizer = PhoneTokenizer()
    # British "data" (D AA T AH): CMUdict has only D EY T AH and D AE T AH
    assessor = PronunciationAssessor(ScriptedModel(tokenizer, ["D", "AA", "T", "AH"]), tokenizer)
    flagged = assessor.diagnose_samples(_speech(1.0), 16000, "data").words[0]
    assert [(p.phone, p.status, p.said) for p in flagged.errors] == [("EY", "substituted", "AA")]
    for prompt in ("data[D AA1 T AH0]", "data[D EY T AH|/ˈdɑːtə/]"):
        result = assessor.diagnose_samples(_speech(1.0), 16000, prompt)
        (word,) = result.words
        assert word.pronunciation == ["D", "AA", "T", "AH"] and not word.errors, prompt
        assert result.normalized_text == "data" and result.text == prompt


def test_diagnosis_bad_inputs(tmp_path):
    tokenizer = PhoneTokenizer()
    assessor = PronunciationAssessor(ScriptedModel(tokenizer, ["HH", "AY"]), tokenizer)
    with pytest.raises(DiagnosisError, match="silent"):
        assessor.diagnose_samples(np.zeros(16000, np.float32), 16000, "hi")
    with pytest.raises(DiagnosisError, match="too short to hold a phone"):
        assessor.diagnose_samples(_speech(0.01), 16000, "hi")
    with pytest.raises(DiagnosisError, match="too short for the"):
        assessor.diagnose_samples(_speech(0.1), 16000, "a very long sentence for a tenth of a second")
    with pytest.raises(PromptError, match="no word"):
        assessor.diagnose_samples(_speech(1.0), 16000, "...")
    with pytest.raises(DiagnosisError, match="needs a phone model"):
        PronunciationAssessor(ScriptedModel(tokenizer, []), CharTokenizer())
    warned = assessor.diagnose_samples(np.clip(_speech(1.0) * 10, -1, 1), 16000, "hi")
    assert any("clipped" in w for w in warned.warnings)


def test_read_audio_any_format(tmp_path):
    t = np.arange(8000 * 2) / 8000
    tone = 0.5 * np.sin(2 * np.pi * 200 * t)
    sf.write(
        tmp_path / "a.wav", (np.stack([tone, tone], 1) * 32767).astype(np.int16), 8000
    )  # 8 kHz stereo int
    audio = read_audio(tmp_path / "a.wav")
    assert audio.source_rate == 8000 and audio.source_channels == 2 and len(audio.samples) == 32000
    assert 0.45 < np.abs(audio.samples).max() < 0.55
    t = np.arange(44100) / 44100
    sf.write(tmp_path / "b.flac", np.stack([np.sin(t)] * 3, 1) * 0.1, 44100)  # 44.1 kHz, 3 channels
    assert len(read_audio(tmp_path / "b.flac").samples) == 16000
    sf.write(tmp_path / "c.ogg", np.sin(np.arange(48000) / 10) * 0.1, 48000)
    assert len(read_audio(tmp_path / "c.ogg").samples) == 16000


def test_read_audio_bad_files(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "text.wav").write_text("this is not audio\n" * 10)
    good = tmp_path / "long.wav"
    sf.write(good, np.zeros(16000 * 3, np.float32), 16000)
    (tmp_path / "cut.wav").write_bytes(good.read_bytes()[:30])  # header cut short
    for name, message in [
        ("missing.wav", "no such audio file"),
        ("empty.wav", "the file is empty"),
        ("text.wav", "not a readable audio file"),
        ("cut.wav", "not a readable audio file"),
    ]:
        with pytest.raises(AudioError, match=message):
            read_audio(tmp_path / name)
    with pytest.raises(AudioError, match="limit is 2 s"):
        read_audio(good, AudioLimits(max_seconds=2))
    with pytest.raises(AudioError, match="limit is 0 MB"):
        read_audio(good, AudioLimits(max_bytes=1000))


# -- the CLI, with an untrained phone model (its answers are arbitrary; the plumbing and messages are not) --


@pytest.fixture(scope="module")
def random_phone_model(tmp_path_factory) -> Path:
    from asr.models import build_encoder, encoder_config
    from asr.objectives.ctc import CTCModel, save_ctc_model

    root = tmp_path_factory.mktemp("random_phone_model")
    tokenizer = PhoneTokenizer()
    tokenizer.save(root / "phone")
    torch.manual_seed(0)
    model = CTCModel(build_encoder(encoder_config("xs", "fbank", "conformer")), tokenizer.vocab_size)
    save_ctc_model(model, root / "exp" / "ctc_model.pt", root / "phone")
    return root / "exp"


def test_diagnose_cli(random_phone_model, tmp_path):
    code, out = asr("synth", "say", "--phones", "S IH1 NG K | F AE1 S T", "--out", tmp_path / "think.wav")
    assert code == 0 and "think.wav" in out, out
    code, out = asr(
        "mdd",
        "diagnose",
        "--model",
        random_phone_model,
        "--audio",
        tmp_path / "think.wav",
        "--text",
        "Think fast, Zorblax!",
        "--json",
    )
    assert code == 0, out
    result = json.loads(out)
    assert [w["word"] for w in result["words"]] == ["think", "fast", "zorblax"]
    assert result["unknown_words"] == ["zorblax"] and result["words"][2]["g2p"]
    phones = [p for w in result["words"] for p in w["phones"]]
    assert {p["status"] for p in phones} <= {"correct", "substituted", "deleted", "inserted"}
    assert all(0 <= p["score"] <= 100 for p in phones if p["phone"])
    # beyond the phones, whatever a random model makes of it: every judgement is there, IPA beside ARPAbet
    assert {"fluency", "stress", "miscues", "prosody", "prompt_source", "scoring"} <= set(result)
    assert 0 <= result["fluency"]["score"] <= 100 and result["prompt_source"] == "given"
    assert result["words"][0]["pronunciation_ipa"] == "θɪŋk"
    assert [p["phone_ipa"] for p in result["words"][1]["phones"] if p["phone"]] == ["f", "æ", "s", "t"]
    assert len(result["prosody"]["learner"]["times"]) == len(result["prosody"]["learner"]["f0"])
    assert {s["word"] for s in result["stress"]} <= {"zorblax"}  # think, fast: one syllable each
    args = ["--audio", tmp_path / "think.wav", "--text", "think fast", "--json", "--no-prosody"]
    code, out = asr("mdd", "diagnose", "--model", random_phone_model, *args)
    assert code == 0 and json.loads(out)["prosody"] is None
    code, out = asr(
        "mdd", "diagnose", "--model", random_phone_model, "--audio", tmp_path / "think.wav", "--text", "think"
    )
    assert code == 0 and "accuracy" in out and "think" in out


def test_diagnose_cli_bad_inputs(random_phone_model, tmp_path):
    sf.write(tmp_path / "ok.wav", _speech(1.0), 16000)
    sf.write(tmp_path / "silence.wav", np.zeros(16000, np.float32), 16000)
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "notes.mp3").write_text("not audio at all")
    cases = [
        ("empty.wav", "hello", "empty.wav: the file is empty"),
        ("notes.mp3", "hello", "notes.mp3: not a readable audio file"),
        ("silence.wav", "hello", "the recording is silent"),
        ("ok.wav", "!!! ???", "the text has no word to pronounce"),
        ("missing.wav", "hello", "no such audio file"),
    ]
    for name, text, message in cases:
        code, out = asr(
            "mdd", "diagnose", "--model", random_phone_model, "--audio", tmp_path / name, "--text", text
        )
        assert code == 2 and message in out, (name, out)
        assert "Traceback" not in out
    code, out = asr(
        "mdd", "diagnose", "--model", tmp_path / "nowhere", "--audio", tmp_path / "ok.wav", "--text", "hi"
    )
    assert code == 2 and "no such model file" in out, out
    code, out = asr("synth", "say", "--phones", "Q X", "--out", tmp_path / "x.wav")
    assert code == 2 and "not an ARPAbet phone" in out, out


def test_reference_files_from_annotated_cuts(tmp_path):
    from lhotse import CutSet, MonoCut, SupervisionSegment

    def cut(utt, custom):
        sup = SupervisionSegment(utt, utt, 0, 1, text="a cat", custom=custom)
        return MonoCut(utt, 0, 1, 0, supervisions=[sup])

    cuts = CutSet.from_cuts(
        [
            cut(
                "u2",
                {
                    "canonical_phones": ["AH0", "K", "AE1", "T"],
                    "perceived_phones": ["AH", "K", "EH", "T", "sil"],
                },
            ),
            cut("u1", {"canonical_phones": ["K", "AE", "T"], "perceived_phones": ["K", "err", "T"]}),
            cut("u3", {"canonical_phones": ["K"]}),  # not annotated: skipped
        ]
    )
    cuts.to_file(tmp_path / "cuts.jsonl.gz")
    code, out = asr("mdd", "reference", "--cuts", tmp_path / "cuts.jsonl.gz", "--out-dir", tmp_path / "ref")
    assert code == 0 and "2 utterances (1 without annotation skipped)" in out, out
    assert (tmp_path / "ref" / "canonical.txt").read_text() == "u1 k ae t\nu2 ah k ae t\n"
    assert (tmp_path / "ref" / "perceived.txt").read_text() == "u1 k err t\nu2 ah k eh t\n"


def test_an_attached_scorer_fills_expert_scores_and_a_failing_one_leaves_a_warning():
    from asr.mdd.diagnosis import HEURISTIC_SCORING, DiagnosisError

    tokenizer = PhoneTokenizer()
    assessor = PronunciationAssessor(ScriptedModel(tokenizer, ["HH", "AY"]), tokenizer)
    plain = assessor.diagnose_samples(_speech(1.0), 16000, "hi")
    assert plain.expert_scores is None and plain.scoring == HEURISTIC_SCORING
    seen = []

    def scorer(d, frame_shift):
        seen.append((d.normalized_text, frame_shift))
        return {"total": 7.5, "words": [{"accuracy": 8.0}]}, "a test scorer"

    assessor.scorer = scorer
    scored = assessor.diagnose_samples(_speech(1.0), 16000, "hi")
    assert scored.expert_scores == {"total": 7.5, "words": [{"accuracy": 8.0}]}
    assert scored.scoring == "a test scorer" and seen == [("hi", assessor.model_frame_shift)]

    def failing(d, frame_shift):
        raise DiagnosisError("word 0 (hi) has no judged phone")

    assessor.scorer = failing
    kept = assessor.diagnose_samples(_speech(1.0), 16000, "hi")
    assert kept.expert_scores is None and kept.words == plain.words
    assert (
        kept.warnings[-1]
        == "the score model could not score this recording (word 0 (hi) has no judged phone)"
    )


def test_unscripted_audio_without_words_gets_one_line():
    from asr.data.audio import to_mono_16k
    from asr.mdd.unscripted import WordRecogniser, diagnose_unscripted

    class Deaf(WordRecogniser):
        def transcribe(self, samples):
            return ""

    tokenizer = PhoneTokenizer()
    assessor = PronunciationAssessor(ScriptedModel(tokenizer, ["HH", "AY"]), tokenizer)
    with pytest.raises(DiagnosisError, match="^no words were recognised in the recording"):
        diagnose_unscripted(assessor, Deaf(None, CharTokenizer()), to_mono_16k(_speech(1.0), 16000))
    with pytest.raises(DiagnosisError, match="recognises phones; unscripted mode needs a word model"):
        WordRecogniser(None, tokenizer, "phones.pt")

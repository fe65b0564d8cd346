"""The pronunciation app through its API (gradio_client against the app on a free port, in-process)."""

from __future__ import annotations

import gc
import json
import re
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import free_port, speak_phones

from asr.data.audio import AudioLimits
from asr.errors import UserError

pytestmark = pytest.mark.slow  # a trained phone model (the session's digits model, fine-tuned to phones)

LIMITS = AudioLimits(max_seconds=8.0, max_bytes=2 * 2**20)


@pytest.fixture(scope="module")
def app_url(digits_phone_model):
    from apps.pronunciation.app import AppConfig, build_app
    from asr.mdd.diagnosis import PronunciationAssessor

    demo = build_app(
        PronunciationAssessor.from_path(digits_phone_model), AppConfig(limits=LIMITS, max_words=20)
    )
    port = free_port()
    demo.launch(
        server_name="127.0.0.1",
        server_port=port,
        prevent_thread_lock=True,
        quiet=True,
        max_file_size=LIMITS.max_bytes,
    )
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.fixture(scope="module")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)


def diagnose(client, path, text):
    from gradio_client import handle_file

    return client.predict(handle_file(str(path)) if path else None, text, api_name="/diagnose")


def test_known_errors_are_flagged(client, tmp_path):
    # "four zero nine" with the Z of zero said as S (a substitution the digits model has heard: six, seven)
    wav = speak_phones(tmp_path / "sero.wav", "F AO1 R | S IH1 R OW0 | N AY1 N")
    result = diagnose(client, wav, "four zero nine")
    four, zero = result["words"][:2]
    assert zero["word"] == "zero" and zero["phones"][0]["phone"] == "Z"
    # flagged: the brief digits model hears the S as some other sound (F, measured), or misses it
    assert zero["phones"][0]["status"] in ("substituted", "deleted") and zero["phones"][0]["said"] != "Z"
    assert "zero" in result["mispronounced_words"] and "four" not in result["mispronounced_words"]


def _tone(
    seconds: float, rate: int, channels: int = 1, dtype: str = "float32", level: float = 0.3
) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    x = level * np.sin(2 * np.pi * 180 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    x = np.repeat(x[:, None], channels, axis=1) if channels > 1 else x
    if dtype == "int16":
        return (x * 32767).astype(np.int16)
    if dtype == "int32":
        return (x * 2**31 * 0.99).astype(np.int32)
    return x.astype(np.float32)


@pytest.mark.parametrize(
    "rate, channels, dtype, subtype",
    [
        (8000, 1, "int16", "PCM_16"),
        (44100, 2, "float32", "FLOAT"),
        (48000, 4, "int32", "PCM_32"),
        (16000, 1, "float32", "PCM_24"),
    ],
)
def test_any_rate_channels_and_format_is_analysed(client, tmp_path, rate, channels, dtype, subtype):
    path = tmp_path / f"tone_{rate}_{channels}.wav"
    sf.write(path, _tone(1.5, rate, channels, dtype), rate, subtype=subtype)
    result = diagnose(client, path, "one two")
    assert [w["word"] for w in result["words"]] == ["one", "two"] and result["duration"] == pytest.approx(
        1.5, abs=0.01
    )


def test_clipping_is_a_warning(client, tmp_path):
    sf.write(tmp_path / "loud.wav", np.clip(_tone(1.5, 16000) * 8, -1, 1), 16000)
    result = diagnose(client, tmp_path / "loud.wav", "one two")
    assert any("clipped" in w for w in result["warnings"])


def test_unknown_words_are_analysed_and_flagged(client, tmp_path):
    sf.write(tmp_path / "x.wav", _tone(2.0, 16000), 16000)
    result = diagnose(client, tmp_path / "x.wav", "one zorblax")
    assert result["unknown_words"] == ["zorblax"] and result["words"][1]["g2p"]


def _bad_files(tmp: Path) -> dict[str, Path]:
    files = {
        "empty": tmp / "empty.wav",
        "not audio": tmp / "notes.wav",
        "corrupt header": tmp / "cut.wav",
        "too long": tmp / "long.wav",
        "too large": tmp / "large.wav",
        "silence": tmp / "silence.wav",
        "too short": tmp / "short.wav",
    }
    files["empty"].write_bytes(b"")
    files["not audio"].write_text("this is a text file with an audio extension\n" * 20)
    sf.write(tmp / "good.wav", _tone(1.0, 16000), 16000)
    files["corrupt header"].write_bytes(
        b"RIFF\x10\x00\x00\x00WAVEfmt " + (tmp / "good.wav").read_bytes()[20:60]
    )
    sf.write(
        files["too long"], _tone(9.0, 8000), 8000, subtype="PCM_U8"
    )  # 9 s over the 8 s limit, small file
    sf.write(files["too large"], _tone(7.0, 48000, 2, "float32"), 48000, subtype="DOUBLE")  # ~5 MB over 2 MB
    sf.write(files["silence"], np.zeros(16000, np.float32), 16000)
    sf.write(files["too short"], _tone(0.01, 16000), 16000)
    return files


BAD_AUDIO = {
    "empty": "the file is empty",
    "not audio": "not a readable audio file",
    "corrupt header": "not a readable audio file",
    "too long": "limit is 8 s",
    # refused at upload (gradio's max_file_size, which gradio_client also checks) or by the app's own limit
    "too large": "maximum file size|limit is 2 MB",
    "silence": "the recording is silent",
    "too short": "too short",
}


@pytest.mark.parametrize("case", sorted(BAD_AUDIO))
def test_bad_audio_gets_its_message(client, tmp_path, case):
    from gradio_client.exceptions import AppError

    path = _bad_files(tmp_path)[case]
    with pytest.raises((AppError, ValueError)) as caught:  # ValueError: gradio_client's own upload refusal
        diagnose(client, path, "one two")
    message = str(caught.value)
    assert re.search(BAD_AUDIO[case], message), message
    assert "Traceback" not in message


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "type the sentence"),
        ("  ?!... ", "no word to pronounce"),
        ("один два", "not written in English letters"),
        ("one " * 30, "the limit is 20"),
        ("x" * 500, "the limit is 400"),
    ],
)
def test_bad_prompts_get_their_message(client, tmp_path, text, message):
    from gradio_client.exceptions import AppError

    sf.write(tmp_path / "ok.wav", _tone(1.0, 16000), 16000)
    with pytest.raises(AppError, match=message):
        diagnose(client, tmp_path / "ok.wav", text)


def test_digits_in_the_prompt_are_spelled_out(client, tmp_path):
    sf.write(tmp_path / "ok.wav", _tone(2.0, 16000), 16000)
    assert [w["word"] for w in diagnose(client, tmp_path / "ok.wav", "42")["words"]] == ["forty", "two"]


def test_no_audio(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="record yourself or upload"):
        diagnose(client, None, "one two")


def test_only_uploaded_files_are_read(tmp_path):
    from apps.pronunciation.app import uploaded_file

    with pytest.raises(UserError, match="uploaded through the app"):
        uploaded_file("/etc/passwd")
    with pytest.raises(UserError, match="uploaded through the app"):
        uploaded_file(tmp_path / "elsewhere.wav")


def test_a_path_in_a_request_is_not_read(client):
    from gradio_client.exceptions import AppError

    forged = {"path": "/etc/hostname", "meta": {"_type": "gradio.FileData"}, "orig_name": "hostname.wav"}
    with pytest.raises((AppError, ValueError)):
        client.predict(forged, "one", api_name="/diagnose")


def test_ten_simultaneous_requests_are_all_answered(client, tmp_path):
    from gradio_client import handle_file

    wav = speak_phones(tmp_path / "nine.wav", "N AY1 N | W AH1 N")
    jobs = [client.submit(handle_file(str(wav)), "nine one", api_name="/diagnose") for _ in range(10)]
    results = [job.result(timeout=300) for job in jobs]
    assert len(results) == 10 and all([w["word"] for w in r["words"]] == ["nine", "one"] for r in results)
    assert threading.active_count() < 200


def test_asr_app_explains_a_missing_model_and_bad_options(tmp_path):
    from conftest import run_cli

    code, out = run_cli("app", "--model", tmp_path / "nothing")
    assert code == 2 and "no phone model at" in out
    code, out = run_cli("app", "--model", tmp_path, "--auth", "nopassword")
    assert code == 2 and "--auth takes user:password" in out
    code, out = run_cli("app", "--model", tmp_path, "--ssl-certfile", tmp_path / "cert.pem")
    assert code == 2 and "needs both --ssl-certfile and --ssl-keyfile" in out


def test_the_app_says_what_its_model_heard_and_keeps_its_calibration(digits_phone_model, tmp_path):
    import shutil

    from apps.pronunciation.app import Analyser, AppConfig
    from asr.mdd.diagnosis import PronunciationAssessor
    from asr.mdd.model_card import write_calibration, write_model_card

    model = Path(
        shutil.copytree(digits_phone_model, tmp_path / "model", ignore=shutil.ignore_patterns("tensorboard"))
    )
    bare = Analyser(PronunciationAssessor.from_path(model), AppConfig(limits=LIMITS))
    assert "no model card" in bare.assessor.about and bare.assessor.cfg.flag_below_gop == 0.0
    write_model_card(model, "espeak-ng digits", real_speech=False)
    write_calibration(
        model,
        {
            "flag_below_gop": -2.5,
            "target_false_rejection": 0.15,
            "dev_cuts": "dev",
            "dev_correct_words": 50,
            "dev_false_rejection": 0.1,
        },
    )
    analyser = Analyser(PronunciationAssessor.from_path(model), AppConfig(limits=LIMITS, max_words=7))
    cfg = analyser.assessor.cfg
    assert (cfg.flag_below_gop, cfg.limits, cfg.max_words) == (
        -2.5,
        LIMITS,
        7,
    )  # the app's limits, the model's leniency
    about = analyser.assessor.about
    assert "espeak-ng digits" in about and "only synthetic voices" in about and "50 words" in about
    (model / "calibration.json").write_text("{not json")
    with pytest.raises(UserError, match="calibration.json: not readable JSON"):
        PronunciationAssessor.from_path(model)


def test_the_api_names_the_model(client, tmp_path):
    wav = speak_phones(tmp_path / "four.wav", "F AO1 R")
    assert "Model:" in diagnose(client, wav, "four")["model"]


# -- the app's own state, with a scripted recogniser instead of the trained model (milliseconds an analysis) --


class _ScriptedModel:
    """A 'recogniser' that hears ``phones`` evenly spread over any recording."""

    min_samples = 400

    def __init__(self, tokenizer, phones: list[str]) -> None:
        self.vocab_size = tokenizer.vocab_size
        self.ids = [tokenizer.token_to_id(p) for p in phones]

    def log_probs(self, audio, lengths):
        import torch

        frames = int(lengths[0]) // 320
        logits = torch.full((1, frames, self.vocab_size), -8.0)
        logits[0, :, 0] = 0.0
        step = frames // (len(self.ids) + 1)
        for k, token in enumerate(self.ids):
            logits[0, (k + 1) * step, token] = 8.0
        return logits.log_softmax(-1), torch.tensor([frames])


@pytest.fixture
def scripted_assessor():
    from asr.mdd.diagnosis import PronunciationAssessor
    from asr.text.tokenizer import PhoneTokenizer

    tokenizer = PhoneTokenizer()
    return PronunciationAssessor(_ScriptedModel(tokenizer, ["W", "AH", "N", "T", "UW"]), tokenizer)


@pytest.fixture
def recording(tmp_path, monkeypatch) -> Path:
    """A 2 s recording in Gradio's upload area (the only place the app reads), with the upload area and the
    system's temporary directory both inside the test's own folder."""
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "gradio").mkdir()
    (tmp_path / "tmp").mkdir()
    sf.write(tmp_path / "gradio" / "rec.wav", _tone(2.0, 16000), 16000)
    return tmp_path / "gradio" / "rec.wav"


def test_the_app_leaves_the_assessor_it_is_given_unchanged(scripted_assessor):
    from apps.pronunciation.app import Analyser, AppConfig, build_app
    from asr.mdd.diagnosis import DiagnoseConfig

    cfg = scripted_assessor.cfg
    analyser = Analyser(scripted_assessor, AppConfig(limits=LIMITS, max_words=7))
    build_app(scripted_assessor, AppConfig(limits=LIMITS, max_words=5))
    assert scripted_assessor.cfg is cfg and cfg == DiagnoseConfig()
    assert (analyser.assessor.cfg.limits, analyser.assessor.cfg.max_words) == (LIMITS, 7)
    assert analyser.assessor.model is scripted_assessor.model  # a copy of the settings, not of the model


def test_two_analysers_over_one_assessor_apply_their_own_limits(scripted_assessor, recording):
    from apps.pronunciation.app import Analyser, AppConfig

    strict = Analyser(scripted_assessor, AppConfig(limits=AudioLimits(max_seconds=2.5), max_words=2))
    lenient = Analyser(scripted_assessor, AppConfig(limits=LIMITS, max_words=20))
    with pytest.raises(UserError, match="the limit is 2$"):
        strict.assess(str(recording), "one two three")
    words = lenient.assess(str(recording), "one two three")[0].diagnosis.words
    assert [w.word for w in words] == ["one", "two", "three"]
    samples = _tone(3.0, 16000)  # the length limit the assessor applies itself
    with pytest.raises(UserError, match="limit is 2.5 s"):
        strict.assessor.diagnose_samples(samples, 16000, "one two")
    assert lenient.assessor.diagnose_samples(samples, 16000, "one two").duration == pytest.approx(3.0)


def test_analyses_leave_a_bounded_number_of_files(scripted_assessor, recording, tmp_path):
    import matplotlib.pyplot as plt

    from apps.pronunciation.app import AppConfig, build_app

    demo = build_app(scripted_assessor, AppConfig(limits=LIMITS))
    run = next(f.fn for f in demo.fns.values() if f.fn.__name__ == "run")  # what "Analyse" calls
    downloads = []
    for _ in range(20):
        outputs = run(str(recording), "one two", "ARPAbet")
        plt.close(outputs[2])  # the pitch plot
        plt.close(outputs[3])  # the waveform
        downloads.append(Path(outputs[4]))
    files = sorted(p for p in (tmp_path / "tmp").rglob("*") if p.is_file())
    assert len(files) <= 8, files  # the app keeps the latest 8 (DOWNLOADS_KEPT)
    assert len(set(downloads)) == 20  # one name per request: two requests at a time never share a file
    latest = json.loads(downloads[-1].read_text())
    assert [w["word"] for w in latest["words"]] == ["one", "two"]
    assert demo.delete_cache == (600, 3600)  # and Gradio deletes its copies of them after an hour


def test_the_download_folder_goes_with_its_analyser(scripted_assessor, recording):
    from apps.pronunciation.app import Analyser

    analyser = Analyser(scripted_assessor)
    folder = Path(analyser.json_file(analyser.assess(str(recording), "one two")[0])).parent
    assert folder.is_dir()
    del analyser
    gc.collect()
    assert not folder.exists()


def _score_model_beside(assessor, recording: Path, folder: Path) -> None:
    """A score model fitted on features of the scripted recogniser's diagnoses (random expert scores), written
    as score_model.json in ``folder``, which becomes the assessor's model folder."""
    import numpy as np

    from asr.mdd.score_model import FeatureSet, diagnosis_feature_set, fit_score_model

    d = assessor.diagnose_file(recording, "one two")
    rng = np.random.default_rng(0)
    sets = []
    for i in range(8):
        fs = diagnosis_feature_set(d, assessor.model_frame_shift, utt_id=f"u{i}")
        fs.phone_x = fs.phone_x + rng.normal(size=fs.phone_x.shape)
        fs.phone_y = rng.uniform(0, 2, len(fs.phone_y))
        fs.word_y = rng.uniform(0, 10, fs.word_y.shape)
        fs.utt_y = rng.uniform(0, 1, fs.utt_y.shape) * [10, 1, 10, 10, 10]
        sets.append(fs)
    fit_score_model(FeatureSet.concat(sets), "scripted").save(folder)
    assessor.model_name = str(folder)


def test_the_app_shows_which_scoring_it_uses(scripted_assessor, recording, tmp_path):
    from apps.pronunciation.app import Analyser, AppConfig, result_html, summary_markdown
    from asr.mdd.score_model import attach_score_model

    heuristic, _ = Analyser(scripted_assessor, AppConfig(limits=LIMITS)).assess(str(recording), "one two")
    assert heuristic.diagnosis.expert_scores is None and "heuristic" in heuristic.diagnosis.scoring
    assert "Scoring: /100 scores: heuristic" in summary_markdown(heuristic)
    assert "0-10" not in summary_markdown(heuristic) and "/10<" not in result_html(heuristic)

    _score_model_beside(scripted_assessor, recording, tmp_path / "model")
    assert attach_score_model(scripted_assessor, "none") is None and scripted_assessor.scorer is None
    assert attach_score_model(scripted_assessor) is not None  # found beside the model
    a, _ = Analyser(scripted_assessor, AppConfig(limits=LIMITS)).assess(str(recording), "one two")
    d = a.diagnosis
    e = d.expert_scores
    assert e is not None and "score model" in d.scoring and "8 utterances" in d.scoring
    assert [len(w["phone_accuracy"]) for w in e["words"]] == [len(w.pronunciation) for w in d.words]
    assert 0 <= e["total"] <= 10 and all(0 <= w["accuracy"] <= 10 for w in e["words"])
    summary = summary_markdown(a)
    assert "On the experts' 0-10 scale: total" in summary and "0-10 scores: score model" in summary
    assert f"{e['words'][0]['accuracy']:.1f}/10" in result_html(a)
    payload = json.loads(json.dumps(a.to_dict()))
    assert payload["expert_scores"]["words"][1]["total"] == e["words"][1]["total"] and payload["scoring"]


class _Hears:
    """A word 'recogniser' that hears ``text`` in any recording."""

    def __init__(self, text: str) -> None:
        self.text = text

    def transcribe(self, samples) -> str:
        return self.text


def test_unscripted_speech_in_the_app(scripted_assessor, recording):
    from apps.pronunciation.app import Analyser, AppConfig, summary_markdown

    analyser = Analyser(scripted_assessor, AppConfig(limits=LIMITS), words=_Hears("one two"))
    assert analyser.unscripted
    a, _ = analyser.assess(str(recording), "")
    assert a.diagnosis.prompt_source == "recognised" and [w.word for w in a.diagnosis.words] == ["one", "two"]
    assert "The words were recognised, not given:* “one two”" in summary_markdown(a)
    assert a.to_dict()["prompt_source"] == "recognised"
    given, _ = analyser.assess(str(recording), "one two")  # a typed prompt is still the prompt
    assert given.diagnosis.prompt_source == "given"
    with pytest.raises(UserError, match="^no words were recognised in the recording"):
        Analyser(scripted_assessor, AppConfig(limits=LIMITS), words=_Hears("")).assess(str(recording), " ")
    with pytest.raises(UserError, match="type the sentence"):  # no word model: a prompt is needed
        Analyser(scripted_assessor, AppConfig(limits=LIMITS)).assess(str(recording), "")


def test_a_reference_that_cannot_be_read_leaves_a_warning(scripted_assessor, recording, monkeypatch):
    from apps.pronunciation.app import Analyser, AppConfig
    from asr.mdd.assessment import Assessor
    from asr.mdd.diagnosis import DiagnosisError

    def unreadable(self, d):
        raise DiagnosisError("the recording is too short")

    monkeypatch.setattr(Assessor, "reference", unreadable)
    a, _ = Analyser(scripted_assessor, AppConfig(limits=LIMITS)).assess(str(recording), "one two")
    assert (
        a.prosody is None and a.fluency is not None and [w.word for w in a.diagnosis.words] == ["one", "two"]
    )
    assert a.diagnosis.warnings[-1] == (
        "no reference reading to compare the intonation with (the recording is too short)"
    )
    assert a.to_dict()["prosody"] is None

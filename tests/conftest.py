"""Shared fixtures: tiny synthetic corpora, made once per test session (seconds each)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml


@pytest.fixture(scope="session")
def tiny_librispeech(tmp_path_factory) -> Path:
    from data_prep.librispeech import synth_librispeech

    return synth_librispeech(tmp_path_factory.mktemp("ls"), "tiny", seed=0)


@pytest.fixture(scope="session")
def tiny_librilight(tmp_path_factory) -> Path:
    from data_prep.librilight import synth_librilight

    return synth_librilight(tmp_path_factory.mktemp("ll"), "tiny", seed=0)


@pytest.fixture
def one_thread():
    """Tiny models: one torch thread is as fast as two and does not spin against other jobs on the cores.

    Use it in a module with ``pytestmark = pytest.mark.usefixtures("one_thread")``.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# -- a tiny encoder: the xs preset shrunk for tests that build models (one definition, sizes overridable) --


def tiny_encoder_settings(*, channels: int | None = None, dropout: float | None = None, **overrides) -> dict:
    """EncoderConfig fields over the xs preset for a tiny encoder: width 32, 2 blocks of 2 heads, feed-forward 64,
    no layer drop, and front-end convolutions ``channels`` wide (default: the width) in the wav2vec 2.0 CNN's
    and the fbank front-end's layouts. ``dropout`` sets the three dropouts (default: the preset's); anything
    else (``overrides``) replaces a field. Tuples are lists, so that the dict is also a YAML ``model`` section."""
    fields = {"dim": 32, "layers": 2, "heads": 2, "ffn_dim": 64, "layer_drop": 0.0}
    if dropout is not None:
        fields.update(dropout_input=dropout, dropout=dropout, attention_dropout=dropout)
    fields.update(overrides)
    width = channels or fields["dim"]
    fields.setdefault("conv_layers", [[width, 10, 5]] + [[width, 3, 2]] * 4 + [[width, 2, 2]] * 2)
    fields.setdefault("fbank_layers", [[width, 3, 1], [width, 3, 2]])
    return {k: [list(v) for v in value] if k.endswith("_layers") else value for k, value in fields.items()}


def tiny_encoder_config(frontend: str = "conv", body: str = "transformer", **settings):
    """The :class:`~asr.models.EncoderConfig` of :func:`tiny_encoder_settings` ``(**settings)``."""
    from asr.models import encoder_config

    return encoder_config("xs", frontend, body, **tiny_encoder_settings(**settings))


def tiny_encoder(frontend: str = "conv", body: str = "transformer", *, seed: int = 0, **settings):
    """A tiny :class:`~asr.models.Encoder` (:func:`tiny_encoder_settings`), built after ``torch.manual_seed(seed)``."""
    import torch

    from asr.models import build_encoder

    torch.manual_seed(seed)
    return build_encoder(tiny_encoder_config(frontend, body, **settings))


def write_tone_cuts(root: Path, count: int, min_seconds: float, max_seconds: float, seed: int = 0) -> Path:
    """``count`` cuts of enveloped tones in noise (so frame energies vary), as ``root/cuts.jsonl.gz``."""
    import soundfile as sf
    from lhotse import CutSet, Recording

    rng = np.random.default_rng(seed)
    cuts = []
    for i in range(count):
        n = int(rng.uniform(min_seconds, max_seconds) * 16000)
        t = np.arange(n) / 16000
        env = np.abs(np.sin(2 * np.pi * rng.uniform(0.5, 3) * t)) * rng.uniform(0.05, 0.5)
        audio = env * np.sin(2 * np.pi * rng.uniform(100, 800) * t) + 0.01 * rng.standard_normal(n)
        sf.write(str(root / f"u{i:02d}.flac"), audio.astype(np.float32), 16000)
        cuts.append(Recording.from_file(root / f"u{i:02d}.flac").to_cut())
    path = root / "cuts.jsonl.gz"
    CutSet.from_cuts(cuts).to_file(path)
    return path


def run_cli(*args) -> tuple[int, str]:
    """``asr ARGS...`` in-process: (exit code, output); an unexpected exception propagates with its traceback."""
    from click.testing import CliRunner

    from asr.cli import cli

    result = CliRunner().invoke(cli, [str(a) for a in args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


# -- spoken digits: the smallest task a CTC model learns (tests/test_learning.py, tests/test_semi.py) --

DIGITS_SETTINGS = {
    "model": {"size": "xs", "frontend": "fbank", "body": "conformer"},
    "objective": {"mask_prob": 0.2, "channel_mask_prob": 0.1},
    "train": {
        "max_steps": 150,
        "max_duration": 30.0,
        "lr": 2.0e-3,
        "warmup_steps": 20,
        "schedule": "linear",
        "checkpoint_every": 50,
        "log_every": 10,
        "device": "cpu",
    },
}


@pytest.fixture(scope="session")
def digits(tmp_path_factory) -> dict[str, Path]:
    from data_prep.digits import synth_digits

    return synth_digits(tmp_path_factory.mktemp("digits"), num_train=100, num_test=20, seed=0)


@pytest.fixture(scope="session")
def digits_model(digits, tmp_path_factory) -> dict[str, Path]:
    """Char tokenizer, digits LM, and a CTC model trained from random weights (the slow part: ~1-2 min)."""
    root = tmp_path_factory.mktemp("learn")
    conf = root / "conf.yaml"
    conf.write_text(yaml.safe_dump(DIGITS_SETTINGS))
    code, out = run_cli("tokenizer", "train", "--kind", "char", "--out", root / "chars")
    assert code == 0, out
    code, out = run_cli("lm", "build", "--text", digits["train"], "--order", 3, "--out", root / "lm")
    assert code == 0, out
    # --dev: the learning curve (tests/test_validation.py reads it); validation does not change the training
    code, out = run_cli(
        "finetune",
        "--cuts",
        digits["train"],
        "--tokenizer",
        root / "chars",
        "--exp-dir",
        root / "exp",
        "--config",
        conf,
        "--no-progress",
        "--dev",
        digits["test"],
        "--valid-every",
        50,
    )
    assert code == 0, out
    return {"model": root / "exp" / "ctc_model.pt", "lm": root / "lm", "root": root, **digits}


@pytest.fixture(scope="session")
def digits_phone_model(digits_model, tmp_path_factory) -> Path:
    """A phone CTC model (experiment folder) fine-tuned from the digits model's encoder (trained on characters):
    the acoustics are learnt once for the suite, the phone head and the encoder adapt in 120 updates (~35 s;
    80 were enough for one random stream and left half the correct phones flagged with another)."""
    root = tmp_path_factory.mktemp("digits_phones")
    train = {**DIGITS_SETTINGS["train"], "max_steps": 120, "warmup_steps": 10}
    (root / "conf.yaml").write_text(yaml.safe_dump({**DIGITS_SETTINGS, "train": train}))
    code, out = run_cli("tokenizer", "train", "--kind", "phone", "--out", root / "phone")
    assert code == 0, out
    code, out = run_cli(
        "finetune",
        "--cuts",
        digits_model["train"],
        "--tokenizer",
        root / "phone",
        "--exp-dir",
        root / "exp",
        "--config",
        root / "conf.yaml",
        "--init",
        digits_model["root"] / "exp" / "encoder.pt",
        "--no-progress",
    )
    assert code == 0, out
    return root / "exp"


def torchrun_asr(*args, nproc: int = 2) -> list[str]:
    """The command that runs ``asr ARGS...`` on ``nproc`` CPU ranks under torchrun, on a free port."""
    import sys

    head = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(nproc)]
    rendezvous = ["--master-addr", "127.0.0.1", "--master-port", str(free_port())]
    return [*head, *rendezvous, "-m", "asr.cli", *(str(a) for a in args)]


def free_port() -> int:
    """A TCP port nothing listens on (for an app started in-process)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def speak_phones(path: Path, phones: str) -> Path:
    """ARPAbet (words split by "|", stress digits optional) spoken by espeak-ng into a 16 kHz wav at ``path``:
    a mispronunciation with an exact label."""
    import soundfile as sf

    from asr.text.espeak import IsolatedSynthesizer, Voice
    from asr.text.phones import phones_to_espeak

    with IsolatedSynthesizer() as tts:
        words = [w.split() for w in phones.split("|")]
        speech = tts.synthesize(phones_to_espeak(words), Voice("en-us", "m3", rate=170), 16000)
    sf.write(path, speech.samples, 16000)
    return path


def run_recipe(script: Path, tmp: Path, *args: str, timeout: float = 900):
    """Run a recipe's run.sh on ``tmp/data`` and ``tmp/exp`` with the project's venv (no set-up); its result."""
    import os
    import subprocess

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PATH": f"{root / '.venv' / 'bin'}:{os.environ['PATH']}"}
    cmd = [
        "bash",
        str(script),
        "--skip-setup",
        "--nj",
        "2",
        "--data",
        str(tmp / "data"),
        "--exp",
        str(tmp / "exp"),
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)


def finished_recipe(script: Path, tmp: Path, *args: str, timeout: float = 900) -> tuple[Path, str]:
    """:func:`run_recipe`, which must succeed: ``(tmp, its log)`` for a module fixture to share."""
    run = run_recipe(script, tmp, *args, timeout=timeout)
    log = run.stdout + run.stderr
    assert run.returncode == 0, log
    return tmp, log


# -- public Hugging Face checkpoints (tests/test_hf_ctc.py, tests/test_app_browser.py) --

#: the espeak phoneme vocabulary of facebook/wav2vec2-{lv-60,xlsr-53}-espeak-cv-ft (see tests/test_hf_ctc.py)
ESPEAK_VOCAB = json.loads(
    (Path(__file__).parent / "data" / "hf_espeak_vocab.json").read_text(encoding="utf-8")
)


def write_hf_checkpoint(root: Path, vocab: dict[str, int], *, layer_norm: bool, tokenizer_class: str) -> Path:
    """A tiny random Wav2Vec2ForCTC in exactly the hub's layout (``save_pretrained`` + vocab.json +
    preprocessor_config.json + tokenizer_config.json); ``transformers`` builds it."""
    import torch
    import transformers

    torch.manual_seed(0)
    config = transformers.Wav2Vec2Config(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=48,
        conv_dim=(16,) * 7,
        num_conv_pos_embeddings=8,
        num_conv_pos_embedding_groups=4,
        feat_extract_norm="layer" if layer_norm else "group",
        do_stable_layer_norm=layer_norm,
        conv_bias=layer_norm,
        pad_token_id=vocab["<pad>"],
        ctc_loss_reduction="mean",
    )
    model = transformers.Wav2Vec2ForCTC(config).eval()
    with torch.no_grad():  # sharper than random init, so that greedy decoding emits tokens
        model.lm_head.weight.mul_(20.0)
    model.save_pretrained(root)
    (root / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (root / "preprocessor_config.json").write_text(
        json.dumps(
            {
                "do_normalize": True,
                "feature_extractor_type": "Wav2Vec2FeatureExtractor",
                "feature_size": 1,
                "padding_side": "right",
                "padding_value": 0.0,
                "return_attention_mask": layer_norm,
                "sampling_rate": 16000,
            }
        )
    )
    (root / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": tokenizer_class}))
    return root

"""The Libri-light recipe on the tiny preset: every stage end to end, pretraining that reads the Lhotse Shar
shards, WER files that add up, a cheap rerun, the LM beam path, and, for the real preset, instructions
instead of a run when Libri-light is missing.

The tiny run takes ~90 s on a 2-core CPU that another job shares (synthesis ~35 s, two 3-update trainings,
two greedy decodings); the beam-search addition ~25 s; everything else here seconds.
"""

from __future__ import annotations

import json
import re
import subprocess
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from conftest import run_recipe
from lhotse import CutSet

from asr.data.dataset import pretraining_cuts

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "librilight" / "run.sh"
TAG = "tiny_seed0"
PARTS = ("dev-clean", "test-clean")  # what the tiny preset decodes
# synth x3, prepare x3, Shar export, pretraining, tokenizer, 4-gram, fine-tuning, (decode + score) x 2 parts
STEPS = 15
WER_KEYS = {
    "wer",
    "sub",
    "del",
    "ins",
    "ref_words",
    "utts",
    "normalization",
    "cer",
    "char_errors",
    "ref_chars",
}


def recipe(tmp: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return run_recipe(RECIPE, tmp, *args, timeout=timeout)


@dataclass(frozen=True)
class Run:
    """A recipe run: its folder, log, and RESULTS.md as the run left it (a later run rewrites the file)."""

    tmp: Path
    log: str
    results: str


def run_and_keep(tmp: Path, *args: str, timeout: float = 600) -> Run:
    run = recipe(tmp, "--preset", "tiny", *args, timeout=timeout)
    log = run.stdout + run.stderr
    assert run.returncode == 0, log
    return Run(tmp, log, (tmp / "exp" / TAG / "RESULTS.md").read_text())


def steps(log: str, outcome: str) -> list[str]:
    """The names of the steps whose log line reads ``step NAME: <outcome>`` (lib.sh's log), in order."""
    return re.findall(rf"\] step ([^\s:]+): {re.escape(outcome)}", log)


# Each test takes the fixture of the run it checks: the tiny run, a rerun of it, or its beam-search addition.
# The rerun and the addition only add to the tiny run's folder (and each checks that), so either may come first.
@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Run:
    return run_and_keep(tmp_path_factory.mktemp("librilight_recipe"))


@pytest.fixture(scope="module")
def rerun(finished_run: Run) -> tuple[Run, float, dict[Path, bytes]]:
    """The same command again: (the run, its seconds, the experiment files before it, less RESULTS.md)."""
    exp = finished_run.tmp / "exp" / TAG
    before = {p: p.read_bytes() for p in exp.rglob("*") if p.is_file() and p.name != "RESULTS.md"}
    start = time.monotonic()
    again = run_and_keep(finished_run.tmp, timeout=120)
    return again, time.monotonic() - start, before


@pytest.fixture(scope="module")
def beam_run(finished_run: Run) -> Run:
    """Stage 6 again with LM beam search added to greedy decoding."""
    return run_and_keep(finished_run.tmp, "--stage", "6", "--methods", "greedy beam", timeout=300)


def shar_dir(tmp: Path) -> Path:
    return tmp / "data" / "shar" / TAG / "librilight_small"


def test_every_stage_runs_once(finished_run):
    tmp, log = finished_run.tmp, finished_run.log
    assert "done before, skipped" not in log
    for stage in range(7):
        assert f"stage {stage}:" in log, stage
    assert log.count("finished in") == STEPS, log
    exp, lang = tmp / "exp" / TAG, tmp / "data" / "lang" / TAG
    encoder = exp / "pretrain" / "wav2vec2" / "encoder.pt"
    model = exp / "finetune" / "wav2vec2" / "10min" / "ctc_model.pt"
    assert encoder.is_file() and model.is_file()
    assert (lang / "char" / "tokenizer.json").is_file()
    assert (lang / "lm_4gram" / "lm.bin").is_file() and "\\4-grams:" in (
        lang / "lm_4gram" / "lm.arpa"
    ).read_text()
    record = yaml.safe_load((model.parent / "finetune.yaml").read_text())
    assert record["init"] == str(encoder)  # fine-tuning starts from stage 3's encoder
    assert record["cuts"].endswith("librispeech_finetuning_cuts_10min.jsonl.gz")


def test_pretraining_reads_the_shar_shards(finished_run):
    tmp, log = finished_run.tmp, finished_run.log
    shar = shar_dir(tmp)
    cuts_shards = sorted(shar.glob("cuts.*.jsonl.gz"))
    audio_shards = sorted(shar.glob("recording.*.tar"))
    assert len(cuts_shards) == len(audio_shards) >= 2
    with tarfile.open(audio_shards[0]) as tar:
        names = tar.getnames()
    audio = [n for n in names if n.endswith(".flac")]  # each beside its recording manifest (.json)
    assert audio and sorted(names) == sorted([*audio, *(n.removesuffix(".flac") + ".json" for n in audio)])
    # the shards hold exactly the windows pretraining would cut from the manifest (shuffled by recording)
    manifest = tmp / "data" / "manifests" / TAG / "librilight_cuts_small.jsonl.gz"
    windows = {c.id: c.duration for c in pretraining_cuts(manifest)}
    exported = {c.id: c.duration for c in CutSet.from_shar(in_dir=shar)}
    assert exported.keys() == windows.keys() and all(abs(exported[k] - windows[k]) < 1e-3 for k in windows)
    record = yaml.safe_load((tmp / "exp" / TAG / "pretrain" / "wav2vec2" / "pretrain.yaml").read_text())
    assert record["cuts"] == str(shar) and record["cuts_format"] == "shar"
    n = len(cuts_shards)
    assert f"reading Lhotse Shar: {n} of {n} shards (rank 0 of 1) from {shar}" in log
    assert "wav2vec2: step 3 (resumed from 0)" in log


@pytest.mark.parametrize("part", PARTS)
def test_wer_files_add_up(finished_run, part):
    tmp = finished_run.tmp
    out = tmp / "exp" / TAG / "decode" / "wav2vec2" / "10min" / "greedy" / part
    scores = json.loads((out / "score" / "wer.json").read_text())
    assert set(scores) == WER_KEYS, scores
    cuts = CutSet.from_file(tmp / "data" / "manifests" / TAG / f"librispeech_cuts_{part}.jsonl.gz")
    assert scores["utts"] == len(cuts) == len((out / "hyp.txt").read_text().splitlines())
    assert scores["ref_words"] == sum(len(s.text.split()) for c in cuts for s in c.supervisions)
    errors = scores["sub"] + scores["del"] + scores["ins"]
    assert scores["wer"] == pytest.approx(100 * errors / scores["ref_words"], abs=1e-3)
    assert scores["cer"] == pytest.approx(100 * scores["char_errors"] / scores["ref_chars"], abs=1e-3)
    assert scores["ref_chars"] >= scores["ref_words"]
    assert (out / "score" / f"wer-summary-{part}.txt").is_file()
    table = finished_run.results
    assert "| wav2vec2 | 10min | greedy |" in table and f"{scores['wer']:.2f}" in table


def test_results_table_names_the_command(finished_run):
    table = finished_run.results
    assert "Command: `bash recipes/librilight/run.sh --skip-setup" in table and "--preset tiny" in table
    assert (
        "| encoder | split | decoding | dev-clean | dev-other | test-clean | test-other | LM weights |"
        in table
    )


def test_rerun_skips_every_finished_step(finished_run, rerun):
    again, seconds, before = rerun
    assert steps(again.log, "done before, skipped") == steps(finished_run.log, "finished in"), again.log
    assert "finished in" not in again.log, again.log
    assert seconds < 20, f"a rerun with nothing to do took {seconds:.1f} s"
    assert {p: p.read_bytes() for p in before} == before


def test_beam_search_tunes_on_dev_clean_and_reuses_the_weights(beam_run):
    # adding beam search leaves the greedy steps alone: decode + score x 2 parts each
    log = beam_run.log
    assert log.count("finished in") == 4 and log.count("done before, skipped") == 4, log
    assert all("-greedy-" in name for name in steps(log, "done before, skipped")), log
    beam = beam_run.tmp / "exp" / TAG / "decode" / "wav2vec2" / "10min" / "beam"
    tuned = json.loads((beam / "dev-clean" / "hyp.tune.json").read_text())
    assert set(tuned["best"]) == {"lm_weight", "word_score"} and len(tuned["grid"]) == 4
    assert f"--params {beam / 'dev-clean' / 'hyp.tune.json'}" in log
    for part in PARTS:
        assert set(json.loads((beam / part / "score" / "wer.json").read_text())) == WER_KEYS
    weights = ", ".join(f"{k}={v:g}" for k, v in tuned["best"].items())
    table = beam_run.results
    assert "| wav2vec2 | 10min | beam |" in table and weights in table and "word 4-gram" in table


def test_real_preset_without_libri_light_says_where_to_get_it(tmp_path: Path):
    run = recipe(tmp_path, timeout=60)  # the default preset: the real corpora
    assert run.returncode == 1, run.stdout + run.stderr
    assert "Libri-light is not in" in run.stderr and "missing: small/ librispeech_finetuning/" in run.stderr
    for url in (
        "https://dl.fbaipublicfiles.com/librilight/data/small.tar",
        "https://dl.fbaipublicfiles.com/librilight/data/librispeech_finetuning.tgz",
    ):
        assert url in run.stderr
    assert "--librilight DIR" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "data" / "corpora" / "LibriSpeech").exists()  # nothing downloaded before the check
    # small/ there, the 10 h split's 9h/ not: named, exit 1 again
    librilight = tmp_path / "librilight"
    (librilight / "small" / "100" / "book").mkdir(parents=True)
    (librilight / "small" / "100" / "book" / "a.flac").touch()
    (librilight / "librispeech_finetuning" / "1h").mkdir(parents=True)
    run = recipe(tmp_path, "--librilight", str(librilight), "--parts", "small", timeout=60)
    assert run.returncode == 1 and "missing: librispeech_finetuning/9h/" in run.stderr, run.stderr
    # one-line usage errors
    for args, message in (
        (("--preset", "mini"), "--preset must be one of real tiny"),
        (("--objective", "bert"), "--objective must be one of wav2vec2 hubert data2vec data2vec2"),
        (("--parts", "huge"), "--parts must be one of small medium large"),
        (("--methods", "beam"), "beam search needs the LM text"),
    ):
        bad = recipe(tmp_path, *args, timeout=60)
        assert bad.returncode == 2 and message in bad.stderr and bad.stderr.count("\n") == 1, (
            args,
            bad.stderr,
        )

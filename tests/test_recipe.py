"""The mini recipe on the tiny preset: stages 0-1 end to end, resumable, and clean after a kill.

Like icefall's yesno: a whole recipe run that CI affords (tens of seconds).
"""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from lhotse import CutSet

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "mini" / "run.sh"
TAG = "tiny_seed0"
EXPECTED = [
    "librispeech_cuts_train-clean-100", "librispeech_cuts_dev-clean", "librispeech_cuts_test-other",
    "librilight_cuts_small", "librispeech_finetuning_cuts_10min", "librispeech_finetuning_cuts_1h",
    "librispeech_finetuning_cuts_10h", "l2arctic_cuts_train", "l2arctic_cuts_test", "l2arctic_cuts_unlabelled",
]  # fmt: skip


def recipe(data: Path, *args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}"}
    cmd = ["bash", str(RECIPE), "--preset", "tiny", "--skip-setup", "--nj", "2", "--data", str(data), *args]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            start_new_session=True, **kwargs)  # fmt: skip


def finish(proc: subprocess.Popen) -> str:
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out
    return out


def manifest_bytes(data: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((data / "manifests" / TAG).glob("*.jsonl.gz"))}


def manifest_texts(data: Path) -> dict[str, str]:
    """Manifests with the data folder written as ``DATA`` (audio sources are absolute paths)."""
    return {name: gzip.decompress(raw).decode().replace(str(data), "DATA") for name, raw in manifest_bytes(data).items()}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> tuple[Path, str]:
    data = tmp_path_factory.mktemp("recipe")
    return data, finish(recipe(data))


def test_stages_write_every_manifest(finished_run):
    data, log = finished_run
    manifests = data / "manifests" / TAG
    for name in EXPECTED:
        cuts = CutSet.from_file(manifests / f"{name}.jsonl.gz")
        assert len(cuts) > 0, name
    assert "skipped" not in log.split("stage 1")[-1].replace("done before, skipped", ""), log
    assert not list(manifests.glob(".*.tmp"))


def test_rerun_skips_finished_steps(finished_run):
    data, _ = finished_run
    before = manifest_bytes(data)
    log = finish(recipe(data))
    assert log.count("done before, skipped") == 7, log
    assert manifest_bytes(data) == before


def test_a_redone_step_redoes_the_steps_that_read_its_output(finished_run):
    data, _ = finished_run
    (data / ".done" / TAG / "synth-l2arctic.done").unlink()
    log = finish(recipe(data))
    assert "step synth-l2arctic: asr synth l2arctic" in log
    assert "step prepare-l2arctic: asr prepare l2arctic" in log
    assert log.count("done before, skipped") == 5, log


def test_stage_options_select_stages(finished_run, tmp_path: Path):
    data, _ = finished_run
    log = finish(recipe(data, "--stage", "1", "--stop-stage", "1"))
    assert "stage 0" not in log and "stage 1" in log
    bad = subprocess.run(["bash", str(RECIPE), "--no-such-option", "1"], capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown option --no-such-option" in bad.stderr


def test_a_killed_run_resumes_to_the_same_result(finished_run, tmp_path: Path):
    """Kill the recipe in the middle of synthesising Libri-light; the rerun redoes that step only."""
    data, _ = finished_run
    killed = tmp_path / "killed"
    proc = recipe(killed)
    marker = killed / ".done" / TAG / "synth-librispeech.done"
    deadline = time.time() + 300
    while not marker.exists() and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)  # now inside synth-librilight
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (killed / ".done" / TAG / "synth-librilight.done").exists()
    log = finish(recipe(killed))
    assert "step synth-librispeech: done before, skipped" in log
    assert "step synth-librilight: asr synth librilight" in log
    assert manifest_texts(killed) == manifest_texts(data)

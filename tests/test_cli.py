"""The ``asr`` command: groups are listed, user mistakes are one-line errors without a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from asr.cli import cli


def run_asr(*args: str) -> subprocess.CompletedProcess:
    """The installed console script's entry point, in a child process as a user would run it."""
    return subprocess.run([sys.executable, "-m", "asr.cli", *args], capture_output=True, text=True)


def test_help_lists_groups():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for group in ("synth", "prepare"):
        assert group in result.output
    sub = CliRunner().invoke(cli, ["synth", "--help"])
    assert all(name in sub.output for name in ("librispeech", "librilight", "l2arctic"))
    sub = CliRunner().invoke(cli, ["prepare", "--help"])
    assert all(name in sub.output for name in ("librispeech", "librilight-finetuning", "l2arctic"))


def test_missing_corpus_is_one_line_without_traceback(tmp_path: Path):
    for corpus in ("librispeech", "librilight", "librilight-finetuning", "l2arctic"):
        proc = run_asr("prepare", corpus, str(tmp_path / "nowhere"), str(tmp_path / "out"))
        assert proc.returncode != 0
        assert "Traceback" not in proc.stderr, proc.stderr
        errors = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1 and str(tmp_path / "nowhere") in errors[0], proc.stderr


def test_bad_preset_is_a_usage_error(tmp_path: Path):
    proc = run_asr("synth", "librispeech", "--preset", "huge", "--out", str(tmp_path))
    assert proc.returncode == 2 and "huge" in proc.stderr and "Traceback" not in proc.stderr

"""The project's own entry points: the README's two commands, CI, the test command's exit codes, packaging."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_opens_with_the_two_commands():
    text = (ROOT / "README.md").read_text()
    first_block = re.search(r"```(?:bash)?\n(.*?)```", text, re.S)
    assert first_block and text.index(first_block.group(0)) < text.index("\n## ")
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines() if line.strip()]
    assert commands == ["bash recipes/mini/run.sh", "bash scripts/test.sh"]
    assert "scripts/test.sh" in (ROOT / ".ci" / "run").read_text()


def test_a_test_run_that_collects_nothing_fails():
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "test.sh"), "tests", "-k", "no_test_has_this_name"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 1 and "collected no tests" in proc.stderr, proc.stderr[-2000:]


def test_every_package_data_glob_matches_a_file():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    for package, globs in setuptools.get("package-data", {}).items():
        folder = ROOT.joinpath(*package.split("."))
        for pattern in globs:
            assert any(p.is_file() for p in folder.glob(pattern)), (
                f"package-data {package}: {pattern!r} matches no file"
            )

"""Shared fixtures: tiny synthetic corpora, made once per test session (seconds each)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_librispeech(tmp_path_factory) -> Path:
    from data_prep.librispeech import synth_librispeech

    return synth_librispeech(tmp_path_factory.mktemp("ls"), "tiny", seed=0)


@pytest.fixture(scope="session")
def tiny_librilight(tmp_path_factory) -> Path:
    from data_prep.librilight import synth_librilight

    return synth_librilight(tmp_path_factory.mktemp("ll"), "tiny", seed=0)

"""TIMIT as native speech: its phone labels mapped to the 39 ARPAbet phones, read through lhotse."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from conftest import run_cli as asr
from lhotse import CutSet

from asr.data.timit import timit_to_arpabet


def test_timit_labels_become_arpabet():
    # "she had your dark suit": closures merge into releases, h# and pau go, reduced vowels get full forms
    labels = "h# sh ix hv eh dcl d y er dcl d aa r kcl k s ux q pau tcl t h#".split()
    assert timit_to_arpabet(labels) == "SH IH HH EH D Y ER D AA R K S UW T".split()
    assert timit_to_arpabet(["bcl", "dx", "el", "en"]) == [
        "B",
        "T",
        "AH",
        "L",
        "AH",
        "N",
    ]  # unreleased b kept
    assert timit_to_arpabet(["tcl", "ch", "ax-h"]) == ["CH", "AH"]  # an affricate's closure is part of it
    with pytest.raises(ValueError, match="'zz'"):
        timit_to_arpabet(["zz"])


def _utterance(folder, phones: str) -> None:
    folder.mkdir(parents=True)
    sf.write(folder / "SA1.WAV", np.zeros(16000, np.float32), 16000, format="WAV")
    (folder / "SA1.TXT").write_text("0 16000 She had.\n")
    (folder / "SA1.WRD").write_text("2000 6000 she\n6000 12000 had\n")
    bounds = np.linspace(0, 16000, len(phones.split()) + 1, dtype=int)
    (folder / "SA1.PHN").write_text(
        "".join(f"{a} {b} {p}\n" for a, b, p in zip(bounds, bounds[1:], phones.split(), strict=False))
    )


def test_prepare_timit(tmp_path):
    data = tmp_path / "timit" / "data"
    _utterance(data / "TRAIN" / "DR1" / "FCJF0", "h# sh iy hv ae dcl d h#")
    _utterance(data / "TEST" / "DR1" / "FADG0", "h# sh iy h#")  # a dev speaker: lhotse wants every part
    _utterance(data / "TEST" / "DR1" / "FDHC0", "h# sh iy h#")  # a core-test speaker
    code, out = asr("prepare", "timit", tmp_path / "timit", tmp_path / "manifests")
    assert code == 0, out
    cut = CutSet.from_file(tmp_path / "manifests" / "timit_cuts_train.jsonl.gz")[0]
    assert cut.supervisions[0].custom["phones"] == ["SH", "IY", "HH", "AE", "D"]
    code, out = asr("prepare", "timit", tmp_path / "nothing", tmp_path / "manifests")
    assert code == 2 and "TIMIT not found" in out
    (data / "TEST").rename(tmp_path / "elsewhere")
    code, out = asr("prepare", "timit", tmp_path / "timit", tmp_path / "manifests")
    assert code == 2 and "needs data/TRAIN and data/TEST" in out

"""The recipes' published.json files and their loader (asr.published): real citations, no unverified number,
clear errors."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from asr import published

ROOT = Path(__file__).resolve().parents[1]
MINI = ROOT / "recipes" / "mini" / "local" / "published.json"
DATA = json.loads(MINI.read_text(encoding="utf-8"))
EVERY_FILE = sorted(ROOT.glob("recipes/*/local/published.json"))


@pytest.mark.parametrize("path", EVERY_FILE, ids=lambda p: p.parts[-3])
def test_every_figure_has_a_unit_a_measure_and_a_real_citation(path: Path) -> None:
    tables, entries = published.load(path)
    assert tables and len(entries) == len(json.loads(path.read_text(encoding="utf-8"))["entries"])
    for entry in entries:
        assert entry.metric and set(entry.units) == set(entry.values) and entry.checked
        for source, where in entry.cite:
            assert where and source.url.startswith("https://")
            assert (source.authors and source.title and source.venue) or len(source.commit) == 40
        if not entry.verified:  # an entry whose source could not be read prints no number
            assert not entry.values
    assert "code-search" not in path.read_text(encoding="utf-8")


def test_mini_tables_and_how_they_cite() -> None:
    tables, _ = published.load(MINI)
    assert set(tables) == {"T1", "T2", "T3", "T4", "T5"}
    (cnn,) = [e for e in published.rows("T3", MINI) if e.values == {"f1": 49.29}]
    assert cnn.source.startswith('Fu et al., "A Full Text-Dependent End to End Mispronunciation Detection')
    assert "https://arxiv.org/abs/2104.08428" in cnn.source
    icefall = published.rows("T2", MINI)[-1].source
    assert icefall.startswith("k2-fsa/icefall@79cd04f3f8:egs/librispeech/PL/README.md (")


def broken(tmp_path: Path, change) -> Path:
    data = copy.deepcopy(DATA)
    change(data)
    path = tmp_path / "published.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["entries"][0]["values"].update(x="1"),
            r"entries\[0\] \(T1, Baevski et al. 2020 .*\): values",
        ),
        (
            lambda d: d["entries"][12].update(values={"test-other": 11.0}),
            r"entries\[12\] .*must not carry numbers",
        ),
        (
            lambda d: d["entries"][3]["cite"][0].update(source="nope"),
            r"cite\[0\].source: 'nope' is not a key",
        ),
        (lambda d: d["entries"][31].update(unit={"days": "days"}), r"entries\[31\] .*unit: neither one unit"),
        (lambda d: d["entries"][5].pop("checked"), r"entries\[5\]: missing checked"),
        (lambda d: d["entries"][5].update(table="T9"), r"table: 'T9' is not one of T1"),
        (lambda d: d["sources"]["icefall-pl"].update(commit="79cd04f"), r"sources\['icefall-pl'\]: commit"),
        (lambda d: d["sources"]["hubert"].update(url="arXiv:2106.07447"), r"sources\['hubert'\]: url"),
    ],
)
def test_a_wrong_entry_is_an_error_naming_the_entry_and_the_field(tmp_path: Path, change, message) -> None:
    with pytest.raises(published.PublishedError, match=message):
        published.load(broken(tmp_path, change))


def test_an_unknown_table_is_a_key_error() -> None:
    with pytest.raises(KeyError, match="unknown table 'T7'"):
        published.rows("T7", MINI)

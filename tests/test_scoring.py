"""WER scoring: hand-made cases, readers, report files, the CLI, and agreement with NIST sclite."""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

import asr.cli
from asr.errors import UserError
from asr.scoring import Normalization, ScoringError, align, compute_wer, read_transcripts, write_reports
from asr.scoring.wer import write_trn


def wer_of(ref: str, hyp: str, **norm):
    return compute_wer({"u": ref.split()}, {"u": hyp.split()}, Normalization(**norm))


def counts(result) -> tuple[int, int, int]:
    return result.sub, result.del_, result.ins


# -- hand-made cases ------------------------------------------------------------------------------------
def test_character_error_rate_counts_letters_and_word_boundaries():
    from asr.scoring.wer import character_error_rate

    result = compute_wer(
        {"a": "THE CAT".split(), "b": "SAT ON".split()}, {"a": "THE CAR".split(), "b": ["SATON"]}
    )
    # one substituted letter (T -> R) and one merged word (the space deleted), of 7 + 6 characters
    assert character_error_rate(result) == {"cer": round(100 * 2 / 13, 4), "char_errors": 2, "ref_chars": 13}
    assert character_error_rate(compute_wer({"a": []}, {"a": []}))["cer"] == 0.0


def test_all_correct():
    r = wer_of("a b c", "a b c")
    assert (r.wer, counts(r), r.ref_words, r.utts, r.correct) == (0.0, (0, 0, 0), 3, 1, 3)
    assert r.utterances["u"].alignment == [("a", "a", "C"), ("b", "b", "C"), ("c", "c", "C")]


def test_one_substitution_insertion_deletion():
    sub = wer_of("a b c d", "a x c d")
    assert counts(sub) == (1, 0, 0) and sub.wer == 25.0
    assert sub.utterances["u"].alignment[1] == ("b", "x", "S")
    ins = wer_of("a b c d", "a b y c d")
    assert counts(ins) == (0, 0, 1) and ins.utterances["u"].alignment[2] == (None, "y", "I")
    dele = wer_of("a b c d", "a c d")
    assert counts(dele) == (0, 1, 0) and dele.utterances["u"].alignment[1] == ("b", None, "D")


def test_sclite_weights_prefer_deletion_plus_insertion_over_two_substitutions():
    # unit costs tie (2 either way); sclite's 3 + 3 < 4 + 4 picks the shift
    assert [op for _, _, op in align(["a", "b"], ["b", "c"])] == ["D", "C", "I"]


#: Pairs whose least-cost alignments tie with different counts, and the counts sclite 2.10 reports for them
#: (ref, hyp, (sub, del, ins)): they pin the tie-breaking order of :func:`align`.
SCLITE_TIES = [
    ("c a a a b a b a", "a a b a a c c b", (0, 3, 3)),  # not (3, 1, 1), of the same cost 18
    ("c a c b a b c a b", "c a a b c b b a c b", (3, 0, 1)),  # not (0, 2, 3), of the same cost 15
]


@pytest.mark.parametrize("ref, hyp, expected", SCLITE_TIES)
def test_ties_broken_as_sclite_does(ref: str, hyp: str, expected: tuple[int, int, int]):
    assert counts(wer_of(ref, hyp)) == expected


def test_empty_hypothesis_is_all_deletions():
    r = compute_wer({"u1": ["a", "b"], "u2": ["c"]}, {"u1": [], "u2": ["c"]})
    assert counts(r) == (0, 2, 0) and r.wer == pytest.approx(200 / 3)


def test_empty_references():
    assert wer_of("", "").wer == 0.0
    r = wer_of("", "a b")
    assert (r.wer, r.ins, r.ref_words) == (100.0, 2, 0)  # documented: finite, 100 when anything was output
    with pytest.raises(ScoringError, match="no reference"):
        compute_wer({}, {})


def test_normalization_applied_and_recorded():
    assert wer_of("Hello, World!", "hello world").wer == 100.0
    r = wer_of("Hello, World! Don't 'stop' -", "hello world don't stop", case="lower", punctuation="remove")
    assert r.wer == 0.0 and r.utterances["u"].ref == ["hello", "world", "don't", "stop"]
    assert r.to_dict()["normalization"] == {"case": "lower", "punctuation": "remove"}
    assert wer_of("a", "A", case="upper").utterances["u"].hyp == ["A"]
    assert wer_of("x", "x").normalization == Normalization("keep", "keep")
    with pytest.raises(ScoringError, match="case"):
        Normalization(case="title")  # type: ignore[arg-type]


def test_mismatched_ids_list_missing_and_extra():
    refs = {f"r{i:02d}": ["a"] for i in range(12)} | {"both": ["a"]}
    hyps = {"both": ["a"], "x1": ["a"], "x2": []}
    with pytest.raises(ScoringError) as info:
        compute_wer(refs, hyps)
    msg = str(info.value)
    assert isinstance(info.value, UserError)
    assert "12 utterance id(s) missing" in msg and "r00" in msg and "r09" in msg and "r11" not in msg
    assert "2 utterance id(s) not in the reference: x1, x2" in msg


# -- readers --------------------------------------------------------------------------------------------
def test_text_reader(tmp_path: Path):
    path = tmp_path / "text"
    path.write_text("u1 a b\nu2\n\nu3  c \n", encoding="utf-8")
    assert read_transcripts(path) == {"u1": ["a", "b"], "u2": [], "u3": ["c"]}


def test_non_utf8_names_file_and_line(tmp_path: Path):
    path = tmp_path / "hyp.txt"
    path.write_bytes(b"u1 a\nu2 caf\xe9\n")
    with pytest.raises(ScoringError, match=re.escape(f"{path}:2: not valid UTF-8")):
        read_transcripts(path)


def test_duplicate_id_is_named(tmp_path: Path):
    path = tmp_path / "ref.txt"
    path.write_text("u1 a\nu7 b\nu7 c\n")
    with pytest.raises(ScoringError, match="duplicate utterance id 'u7'"):
        read_transcripts(path)


def test_cut_manifest_reader(tmp_path: Path):
    from lhotse import CutSet, MonoCut, SupervisionSegment

    sups = [
        SupervisionSegment("s1", "r", 0, 0.5, text="hello world"),
        SupervisionSegment("s2", "r", 0.5, 0.5, text="again"),
    ]
    cuts = [MonoCut("c1", 0, 1.0, 0, supervisions=sups), MonoCut("c2", 0, 1.0, 0, supervisions=[])]
    path = tmp_path / "cuts.jsonl.gz"
    CutSet.from_cuts(cuts).to_file(path)
    assert read_transcripts(path) == {"c1": ["hello", "world", "again"], "c2": []}


# -- writers and CLI ------------------------------------------------------------------------------------
def test_writers(tmp_path: Path):
    r = compute_wer({"u1": "a b c d".split(), "u2": "e f".split()}, {"u1": "a x c d z".split(), "u2": ["f"]})
    paths = write_reports(tmp_path, "dev", r)
    assert sorted(p.name for p in paths) == sorted(
        ["recogs-dev.txt", "errs-dev.txt", "wer-summary-dev.txt", "ref-dev.trn", "hyp-dev.trn"]
    )
    errs = (tmp_path / "errs-dev.txt").read_text().splitlines()
    assert errs[0] == "%WER 50.00 [ 3 / 6, 1 ins, 1 del, 1 sub ]"
    assert "u1:\ta (b->x) c d (*->z)" in errs and "u2:\t(e->*) f" in errs
    assert any("normalization: case=keep punctuation=keep" in line for line in errs)
    summary = (tmp_path / "wer-summary-dev.txt").read_text().splitlines()
    assert summary[:2] == ["settings\tWER", "dev\t50.00"]
    recogs = (tmp_path / "recogs-dev.txt").read_text()
    assert "u1:\tref=['a', 'b', 'c', 'd']\nu1:\thyp=['a', 'x', 'c', 'd', 'z']\n" in recogs
    assert (tmp_path / "hyp-dev.trn").read_text().splitlines()[1:] == ["a x c d z (u1)", "f (u2)"]
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporary file


def test_cli_json_and_summary(tmp_path: Path):
    (tmp_path / "ref.txt").write_text("u1 A b c\nu2 d\n")
    (tmp_path / "hyp.txt").write_text("u1 a b\nu2 d e\n")
    base = ["score", "wer", "--ref", str(tmp_path / "ref.txt"), "--hyp", str(tmp_path / "hyp.txt")]
    res = CliRunner().invoke(
        asr.cli.cli, [*base, "--json", "--case", "lower", "--out-dir", str(tmp_path / "o")]
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert set(data) == {
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
    assert (data["sub"], data["del"], data["ins"], data["ref_words"], data["utts"]) == (0, 1, 1, 4, 2)
    # characters: "a b c" -> "a b" (two deletions: " c"), "d" -> "d e" (two insertions) of 6 characters
    assert (data["char_errors"], data["ref_chars"]) == (4, 6) and abs(data["cer"] - 66.6667) < 1e-3
    assert data["normalization"] == {"case": "lower", "punctuation": "keep"}
    assert (tmp_path / "o" / "wer-summary-hyp.txt").is_file()
    res = CliRunner().invoke(asr.cli.cli, base)
    assert res.exit_code == 0 and res.stdout.strip() == "%WER 75.00 [ 3 / 4, 1 ins, 1 del, 1 sub ]"


def test_cli_mismatch_is_a_one_line_user_error(tmp_path: Path):
    (tmp_path / "ref.txt").write_text("u1 a\nu2 b\n")
    (tmp_path / "hyp.txt").write_text("u1 a\n")
    res = CliRunner().invoke(
        asr.cli.cli, ["score", "wer", "--ref", str(tmp_path / "ref.txt"), "--hyp", str(tmp_path / "hyp.txt")]
    )
    assert (
        res.exit_code == 2
        and "missing from the hypothesis: u2" in res.output
        and "Traceback" not in res.output
    )
    (tmp_path / "empty.txt").write_text("")
    res = CliRunner().invoke(
        asr.cli.cli,
        ["score", "wer", "--ref", str(tmp_path / "empty.txt"), "--hyp", str(tmp_path / "hyp.txt")],
    )
    assert res.exit_code == 2 and "empty.txt" in res.output and "no utterances" in res.output


# -- agreement with sclite ------------------------------------------------------------------------------
def _sclite() -> str | None:
    for candidate in (shutil.which("sclite"), "/usr/lib/sctk/bin/sclite"):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def _random_pairs(n: int, seed: int) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Short sentences over a tiny vocabulary with many random edits: equal-cost alignments abound."""
    rng = random.Random(seed)
    vocab = ["a", "b", "c"]
    refs, hyps = {}, {}
    for k in range(n):
        ref = [rng.choice(vocab) for _ in range(rng.randint(0, 20))]
        hyp = list(ref)
        for _ in range(rng.randint(0, 12)):
            op = rng.choice("sdi")
            if op == "s" and hyp:
                hyp[rng.randrange(len(hyp))] = rng.choice(vocab)
            elif op == "d" and hyp:
                del hyp[rng.randrange(len(hyp))]
            elif op == "i":
                hyp.insert(rng.randint(0, len(hyp)), rng.choice(vocab))
        # `-i wsj` takes the first 3 characters as the speaker: one utterance per "speaker" row
        refs[f"{k:03d}x"], hyps[f"{k:03d}x"] = ref, hyp
    return refs, hyps


def _sclite_rows(output: str) -> dict[str, tuple[int, int, int]]:
    """(sub, del, ins) per speaker row and for ``Sum`` from sclite's ``rsum`` table (raw counts)."""
    rows = {}
    for line in output.splitlines():
        m = re.match(
            r"\s*\|\s*(\S+)\s*\|\s*\d+\s+\d+\s*\|\s*\d+\s+(\d+)\s+(\d+)\s+(\d+)\s+\d+\s+\d+\s*\|", line
        )
        if m:
            rows[m.group(1)] = (int(m.group(2)), int(m.group(3)), int(m.group(4)))
    return rows


def test_agrees_with_sclite(tmp_path: Path):
    sclite = _sclite()
    if sclite is None:
        pytest.skip("sclite (NIST SCTK) not found on PATH or in /usr/lib/sctk/bin")
    # seed 1 holds a tie that a deletion-first backtrace (or one from the start) counts differently
    refs, hyps = _random_pairs(50, seed=1)
    for k, (ref, hyp, _) in enumerate(SCLITE_TIES):
        refs[f"t{k:02d}x"], hyps[f"t{k:02d}x"] = ref.split(), hyp.split()
    result = compute_wer(refs, hyps)
    write_trn(tmp_path / "ref.trn", refs, result.normalization)
    write_trn(tmp_path / "hyp.trn", hyps, result.normalization)
    # -s: case-sensitive, as Normalization() is; rsum: raw counts rather than percentages
    cmd = [sclite, "-r", str(tmp_path / "ref.trn"), "trn", "-h", str(tmp_path / "hyp.trn"), "trn"]
    proc = subprocess.run(
        [*cmd, "-i", "wsj", "-s", "-o", "rsum", "stdout"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    rows = _sclite_rows(proc.stdout)
    assert rows["Sum"] == counts(result), proc.stdout
    assert result.errors > 50  # the random edits make plenty of errors to disagree on
    for utt_id, utt in result.utterances.items():
        assert rows[utt_id[:3]] == (utt.sub, utt.del_, utt.ins), (utt_id, utt.ref, utt.hyp)

"""The L2-ARCTIC MDD recipe on the tiny preset: every stage end to end, MDD scores that add up, a cheap rerun,
and, for the real preset, instructions instead of a run when the corpus is missing.

The tiny run takes ~75 s on an idle 2-core CPU (~2.5 min while another job shares the cores): synthesis ~20 s,
two 3-update trainings, two decodings. Everything else here takes seconds.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
from conftest import finished_recipe, run_recipe
from lhotse import CutSet

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "l2arctic" / "run.sh"
TAG = "tiny_seed0"
SYSTEMS = ("supervised", "online_ensemble")
# synth x2, prepare x2, combine, tokenizer, 2 trainings, MDD reference, (decode + 2 scores) x 2 systems
STEPS = 15
MDD_KEYS = ("ta", "fr", "fa", "tr", "cd", "de", "precision", "recall", "f1", "der", "per")
TEST_SPEAKERS = {"tlv", "njs", "tni", "txhc", "zhaa", "ykwk"}


def recipe(tmp: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return run_recipe(RECIPE, tmp, *args, timeout=timeout)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> tuple[Path, str]:
    return finished_recipe(RECIPE, tmp_path_factory.mktemp("l2arctic_recipe"), "--preset", "tiny")


def test_every_stage_runs_once(finished_run):
    tmp, log = finished_run
    assert "done before, skipped" not in log
    for stage in range(6):
        assert f"stage {stage}:" in log, stage
    assert log.count("finished in") == STEPS, log
    exp = tmp / "exp" / TAG
    for system in SYSTEMS:
        assert (exp / system / "ctc_model.pt").is_file(), system
    assert (exp / "online_ensemble" / "teacher_model.pt").is_file()
    record = (exp / "online_ensemble" / "finetune.yaml").read_text()
    assert "semi: online-ensemble" in record and "l2arctic_cuts_unlabelled" in record
    assert str(exp / "supervised" / "ctc_model.pt") in record  # stage 4 starts from stage 3's model


def test_training_manifest_joins_native_and_l2_speech(finished_run):
    tmp, _ = finished_run
    manifests = tmp / "data" / "manifests" / TAG
    native = CutSet.from_file(manifests / "librispeech_cuts_train-clean-100.jsonl.gz")
    l2 = CutSet.from_file(manifests / "l2arctic_cuts_train.jsonl.gz")
    train = CutSet.from_file(manifests / "phones_train.jsonl.gz")
    assert len(native) > 0 and len(l2) > 0
    assert sorted(train.ids) == sorted([*native.ids, *l2.ids])
    assert not {c.supervisions[0].speaker.lower() for c in l2} & TEST_SPEAKERS


def annotation_counts(test_cuts: Path) -> dict[str, int]:
    """Phones the annotators marked correct, their errors (s, d, a) and the perceived phones of the test set."""
    correct = errors = perceived = 0
    for cut in CutSet.from_file(test_cuts):
        for sup in cut.supervisions:
            custom = sup.custom
            found = custom["errors"]
            correct += len(custom["canonical_phones"]) - sum(e["type"] in ("s", "d") for e in found)
            errors += len(found)
            perceived += len(custom["perceived_phones"])
    return {"correct": correct, "errors": errors, "perceived": perceived}


@pytest.mark.parametrize("system", SYSTEMS)
def test_mdd_scores_add_up(finished_run, system):
    tmp, log = finished_run
    out = tmp / "exp" / TAG / "decode" / system / "test"
    scores = json.loads((out / "mdd" / "mdd.json").read_text())
    assert set(MDD_KEYS) <= set(scores), scores
    assert json.dumps(scores, separators=(", ", ": ")) in log  # --json printed the same object
    for key in ("ta", "fr", "fa", "tr", "cd", "de"):
        assert isinstance(scores[key], int) and scores[key] >= 0, (key, scores)
    for key in ("precision", "recall", "f1", "der", "per"):
        assert 0 <= scores[key] <= 1, (key, scores)
    test_cuts = tmp / "data" / "manifests" / TAG / "l2arctic_cuts_test.jsonl.gz"
    truth = annotation_counts(test_cuts)
    assert truth["errors"] > 0 and truth["correct"] > 0
    assert scores["ta"] + scores["fr"] == truth["correct"]  # every phone said right is accepted or rejected
    assert scores["fa"] + scores["tr"] == truth["errors"]  # every error is missed or detected
    assert scores["tr"] == scores["cd"] + scores["de"]
    assert scores["perceived_phones"] == truth["perceived"]
    tr, fr, fa = scores["tr"], scores["fr"], scores["fa"]
    assert scores["precision"] == pytest.approx(tr / (tr + fr) if tr + fr else 0, abs=1e-4)
    assert scores["recall"] == pytest.approx(tr / (tr + fa) if tr + fa else 0, abs=1e-4)
    # PER two ways: asr score mdd and asr score wer against the perceived phones
    per = json.loads((out / "per" / "per.json").read_text())
    assert per["utts"] == len(CutSet.from_file(test_cuts)) and per["ref_words"] == truth["perceived"]
    assert per["wer"] == pytest.approx(100 * scores["per"], abs=0.01)
    alignment = (out / "mdd" / "alignment.txt").read_text()
    assert alignment.count(" canonical ") == per["utts"]
    assert (out / "mdd" / "confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_reference_covers_the_test_speakers_only(finished_run):
    tmp, _ = finished_run
    reference = tmp / "exp" / TAG / "decode" / "reference"
    for name in ("canonical.txt", "perceived.txt"):
        ids = [line.split()[0] for line in (reference / name).read_text().splitlines()]
        assert ids and {i.split("-")[0] for i in ids} <= TEST_SPEAKERS, name


def test_results_table_names_both_systems_and_the_command(finished_run):
    tmp, _ = finished_run
    table = (tmp / "exp" / TAG / "RESULTS.md").read_text()
    assert "| stage 3: CTC (labels only) |" in table and "| stage 4: + online ensemble |" in table, table
    assert "Command: `bash recipes/l2arctic/run.sh --skip-setup" in table and "--preset tiny" in table
    assert TAG not in (ROOT / "RESULTS.md").read_text(), (
        "the tiny preset must not touch the top-level RESULTS.md"
    )


def test_rerun_skips_every_finished_step(finished_run):
    tmp, _ = finished_run
    exp = tmp / "exp" / TAG
    before = {p: p.read_bytes() for p in exp.rglob("*") if p.is_file() and p.name != "RESULTS.md"}
    start = time.monotonic()
    run = recipe(tmp, "--preset", "tiny", timeout=120)
    seconds = time.monotonic() - start
    log = run.stdout + run.stderr
    assert run.returncode == 0, log
    assert log.count("done before, skipped") == STEPS and "finished in" not in log, log
    assert seconds < 20, f"a rerun with nothing to do took {seconds:.1f} s"
    assert {p: p.read_bytes() for p in before} == before


def test_real_preset_without_the_corpus_says_where_to_get_it(tmp_path: Path):
    run = recipe(tmp_path, timeout=60)  # the default preset: the real corpora
    assert run.returncode == 1, run.stdout + run.stderr
    assert (
        "L2-ARCTIC (v5.0) is not in" in run.stderr
        and "https://psi.engr.tamu.edu/l2-arctic-corpus/" in run.stderr
    )
    assert "ABA/" in run.stderr and "--l2arctic DIR" in run.stderr
    assert not (tmp_path / "data" / "corpora" / "LibriSpeech").exists()  # nothing downloaded before the check
    # L2-ARCTIC in place, the optional TIMIT asked for but missing: its instructions, and exit 1 again
    l2arctic = tmp_path / "l2arctic"
    for speaker in (
        "ABA SKA YBAA ZHAA BWC LXC NCC TXHC ASI RRBI SVBI TNI HJK HKK YDCK YKWK EBVS ERMS MBMPS NJS "
        "HQTV PNV THV TLV"
    ).split():
        (l2arctic / speaker / "wav").mkdir(parents=True)
    run = recipe(tmp_path, "--l2arctic", str(l2arctic), "--timit", str(tmp_path / "timit"), timeout=60)
    assert run.returncode == 1 and "https://catalog.ldc.upenn.edu/LDC93S1" in run.stderr, run.stderr
    bad = recipe(tmp_path, "--preset", "mini", timeout=60)
    assert bad.returncode == 2 and "--preset must be real or tiny" in bad.stderr

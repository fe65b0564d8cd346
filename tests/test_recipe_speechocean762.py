"""The speechocean762 recipe on the tiny preset: the real shared sample end to end (a few updates of a phone
recogniser, features, the score model, PCC against the experts), a results table that matches its JSON, a
rerun that does nothing, a given --model, and one-line refusals of bad options.

The tiny run takes about 40 s on an idle 2-core CPU; the run with a given model about 25 s.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import finished_recipe, run_recipe
from lhotse import CutSet

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "speechocean762" / "run.sh"
SAMPLE = ROOT.parent / "shared" / "speechocean762-sample"
TAG = "tiny_seed0"
# prepare, recogniser cuts, tokenizer, training, features x2, fit, predict, cross-validate, heuristic x2,
# evaluate x4, experts x2
STEPS = 17
pytestmark = pytest.mark.skipif(not SAMPLE.is_dir(), reason="../shared/speechocean762-sample not here")


def recipe(tmp: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return run_recipe(RECIPE, tmp, *args, timeout=timeout)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> tuple[Path, str]:
    return finished_recipe(RECIPE, tmp_path_factory.mktemp("so762_recipe"), "--preset", "tiny")


def test_every_stage_runs_once(finished_run):
    tmp, log = finished_run
    assert "done before, skipped" not in log
    for stage in range(6):
        assert f"stage {stage}:" in log, stage
    assert log.count("finished in") == STEPS, log
    exp = tmp / "exp" / TAG
    assert (exp / "recogniser" / "ctc_model.pt").is_file() and (
        exp / "score_model" / "score_model.json"
    ).is_file()


def test_the_recogniser_never_heard_a_scored_test_learner(finished_run):
    tmp, _ = finished_run
    manifests = tmp / "data" / "manifests" / TAG
    test = CutSet.from_file(manifests / "speechocean762_cuts_test.jsonl.gz")
    judged = {c.supervisions[0].speaker for c in test if "scores" in c.supervisions[0].custom}
    heard = {
        c.supervisions[0].speaker for c in CutSet.from_file(tmp / "exp" / TAG / "recogniser_cuts.jsonl.gz")
    }
    # the sample: 40 scored train-split utterances (2 learners) + 320 unscored ones of 16 test learners
    assert judged and not judged & heard and len(heard) == 18


def test_pcc_files_cover_the_scored_utterances_and_the_table_matches_them(finished_run):
    tmp, _ = finished_run
    scores = tmp / "exp" / TAG / "scores"
    runs = {
        name: json.loads((scores / f"{name}.pcc.json").read_text()) for name in ("score_model", "heuristic")
    }
    cv = json.loads((scores / "cross_validated.pcc.json").read_text())
    assert json.loads((scores / "heuristic_all.pcc.json").read_text())["utterances"] == 60
    experts = json.loads((scores / "experts.pcc.json").read_text())
    everyone = json.loads((scores / "experts_all.pcc.json").read_text())
    assert {r["utterances"] for r in runs.values()} == {20} and experts["utterances"] == 20
    assert cv["utterances"] == 60 and everyone["utterances"] == 60
    assert "stress" not in runs["score_model"]["levels"]["word"]  # the model does not judge stress
    # the heuristic: the app's own fluency, intonation and stress on the corpus's scales
    assert {"fluency", "prosodic"} <= set(runs["heuristic"]["levels"]["sentence"])
    assert "stress" in runs["heuristic"]["levels"]["word"]
    table = (tmp / "exp" / TAG / "RESULTS.md").read_text()
    row = next(line for line in table.splitlines() if f"{TAG}: score model (ridge" in line)
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[2] == "20" and cells[3] == f"{runs['score_model']['levels']['phone']['accuracy']['pcc']:.3f}"
    assert cells[5] == "–"  # word stress: not predicted
    assert f"{TAG}: score model, leave one speaker out" in table and "the app's heuristic scores" in table
    assert f"{TAG}: the app's heuristic scores, every scored utterance" in table
    ceiling = [line for line in table.splitlines() if line.startswith("| human ceiling")]
    assert [c.split("|")[3].strip() for c in ceiling] == ["20", "60"]
    assert "| published: Gong et al. 2022 (GOPT, LibriSpeech AM) |" in table and "| 0.612 |" in table
    assert "arxiv.org/abs/2205.03432" in table and "Command: `bash recipes/speechocean762/run.sh" in table
    assert TAG not in (ROOT / "RESULTS.md").read_text(), (
        "the tiny preset must not touch the top-level RESULTS.md"
    )


def test_rerun_skips_every_finished_step(finished_run):
    tmp, _ = finished_run
    run = recipe(tmp, "--preset", "tiny", timeout=120)
    log = run.stdout + run.stderr
    assert run.returncode == 0, log
    assert log.count("done before, skipped") == STEPS and "finished in" not in log, log


def test_a_given_model_is_scored_without_training(finished_run):
    tmp, _ = finished_run
    model = tmp / "exp" / TAG / "recogniser"
    run = recipe(tmp, "--preset", "tiny", "--model", str(model), "--tag", "given", "--stage", "1")
    log = run.stdout + run.stderr
    assert run.returncode == 0, log
    assert f"the given phone recogniser {model} (nothing to train)" in log
    given = tmp / "exp" / "given"
    assert not (given / "recogniser").exists() and (given / "scores" / "score_model.pcc.json").is_file()
    # the same recogniser and features give the same score model as the run that trained it
    ours = json.loads((tmp / "exp" / TAG / "score_model" / "score_model.json").read_text())
    theirs = json.loads((given / "score_model" / "score_model.json").read_text())
    assert theirs["models"] == ours["models"]
    assert json.loads((given / "run.json").read_text())["model"] == str(model)


def test_bad_options_get_one_line(tmp_path: Path):
    run = recipe(tmp_path, "--preset", "tiny", "--model", str(tmp_path / "nope"), timeout=60)
    assert run.returncode == 2 and f"--model {tmp_path / 'nope'}: no such file or folder" in run.stderr
    corpus = tmp_path / "unscored"
    (corpus / "WAVE").mkdir(parents=True)
    run = recipe(tmp_path, "--corpus", str(corpus), "--stop-stage", "0", timeout=60)
    assert run.returncode == 1 and "has no expert scores" in run.stderr and "openslr.org/101" in run.stderr
    run = recipe(tmp_path, "--preset", "small", timeout=60)
    assert run.returncode == 2 and "--preset must be real or tiny" in run.stderr

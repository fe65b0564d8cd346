"""The mini recipe on the tiny preset: every stage end to end, resumable, and clean after a kill.

Like icefall's yesno: a whole recipe run that CI affords (tens of seconds).
"""

from __future__ import annotations

import gzip
import os
import re
import shlex
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from lhotse import CutSet

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "mini" / "run.sh"
TAG = "tiny_seed0"
EXPECTED = [
    "librispeech_cuts_train-clean-100",
    "librispeech_cuts_dev-clean",
    "librispeech_cuts_test-other",
    "librilight_cuts_small",
    "librispeech_finetuning_cuts_10min",
    "librispeech_finetuning_cuts_1h",
    "librispeech_finetuning_cuts_10h",
    "l2arctic_cuts_train",
    "l2arctic_cuts_test",
    "l2arctic_cuts_unlabelled",
]


def recipe(data: Path, *args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}"}
    cmd = [
        "bash",
        str(RECIPE),
        "--preset",
        "tiny",
        "--skip-setup",
        "--nj",
        "2",
        "--data",
        str(data),
        "--exp",
        str(data / "exp"),
        *args,
    ]
    return subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,
        **kwargs,
    )


def finish(proc: subprocess.Popen) -> str:
    out, _ = proc.communicate(timeout=1500)
    assert proc.returncode == 0, out
    return out


def manifest_bytes(data: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((data / "manifests" / TAG).glob("*.jsonl.gz"))}


def manifest_texts(data: Path) -> dict[str, str]:
    """Manifests with the data folder written as ``DATA`` (audio sources are absolute paths)."""
    return {
        name: gzip.decompress(raw).decode().replace(str(data), "DATA")
        for name, raw in manifest_bytes(data).items()
    }


def steps(log: str, outcome: str) -> list[str]:
    """The names of the steps whose log line reads ``step NAME: <outcome>`` (lib.sh's log), in order."""
    return re.findall(rf"\] step ([^\s:]+): {re.escape(outcome)}", log)


def done_command(data: Path, step: str) -> str:
    """The command step ``step`` last finished with (its ``.done`` marker: what made its output)."""
    return (data / ".done" / TAG / f"{step}.done").read_text()


def logged_command(log: str, step: str) -> str:
    """The command a run ran for step ``step`` (lib.sh logs ``step NAME: CMD...`` before running it)."""
    (line,) = re.findall(rf"\] step {re.escape(step)}: (asr .*)", log)
    return line


def max_steps(command: str) -> int:
    """The updates a training command asks for: its ``--max-steps``, else its ``--config``'s ``train.max_steps``."""
    args = shlex.split(command)
    if "--max-steps" in args:
        return int(args[args.index("--max-steps") + 1])
    return int(yaml.safe_load(Path(args[args.index("--config") + 1]).read_text())["train"]["max_steps"])


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
    stage1 = log.split("stage 1:")[-1].split("stage 2:")[0]  # "stage 1" alone also matches "stage 10"
    assert "skipped" not in stage1.replace("done before, skipped", ""), log
    assert not list(manifests.glob(".*.tmp"))


INITS = ("scratch", "hubert")  # the default path: from scratch and from its one pretrained encoder
METHODS = ("greedy", "beam")
PHONE_SYSTEMS = ("baseline", "continued", "round2-continued", "round2-nst-gen1")
# real learners (CI has ../shared): stage 1 prepares the scored sample; stage 10 calibrates the app model on its
# train-split learners and judges it on its test split with the calibrated rule, GOP < 0 and every disagreement (T6)
SAMPLE = ROOT.parent / "shared" / "speechocean762-sample"
# --all adds: the other objectives (stage 2: wav2vec2, data2vec, data2vec2; HuBERT's second k-means, labels and
# iteration),
# the word systems (stage 7; one generation in tiny), round 1's noisy student and online ensemble and round 2's
# online ensemble for phones, and the native-speech phone recognisers (stage 10)
ALL_PRETRAIN_STEPS = 6
WORD_SYSTEMS = ("baseline", "continued", "nst-gen1", "online-ensemble")
ALL_PHONE_SYSTEMS = (
    *PHONE_SYSTEMS[:2],
    "nst-gen1",
    "online-ensemble",
    *PHONE_SYSTEMS[2:],
    "round2-online-ensemble",
)
MDD_SYSTEMS = ("native", "native-online")


@pytest.fixture(scope="module")
def all_run(finished_run) -> tuple[Path, str]:
    """The --all comparisons on top of the default run: the other objectives, then stages 7-10."""
    data, _ = finished_run
    log = finish(recipe(data, "--all", "--stage", "2", "--stop-stage", "2"))
    return data, log + finish(recipe(data, "--all", "--stage", "7", "--stop-stage", "10"))


def test_rerun_skips_finished_steps(finished_run):
    data, first = finished_run
    before = manifest_bytes(data)
    log = finish(recipe(data))
    assert steps(log, "done before, skipped") == steps(first, "finished in"), log  # every step, in order
    assert "finished in" not in log, log
    assert manifest_bytes(data) == before


def test_a_redone_step_redoes_the_steps_that_read_its_output(finished_run):
    # the word 3-gram: the LM beam decodings read it (and the token LM sits in its folder); greedy ones do not
    data, _ = finished_run
    (data / ".done" / TAG / "lm-3gram.done").unlink()
    log = finish(recipe(data, "--stage", "4", "--stop-stage", "6"))
    assert "step lm-3gram: asr lm build" in log and "step lm-tokens: asr lm tokens" in log
    for init in INITS:
        for part in ("dev-clean", "test-clean"):
            assert f"step decode-10min-{init}-beam-{part}: asr decode" in log
            assert f"step decode-10min-{init}-greedy-{part}: done before, skipped" in log
    # the probes, fine-tunings and greedy decodings
    assert log.count("done before, skipped") == len(INITS) * 4, log


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
    proc = recipe(killed, "--stop-stage", "1")
    marker = killed / ".done" / TAG / "synth-librispeech.done"
    deadline = time.time() + 300
    while not marker.exists() and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)  # now inside synth-librilight
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (killed / ".done" / TAG / "synth-librilight.done").exists()
    log = finish(recipe(killed, "--stop-stage", "1"))
    assert "step synth-librispeech: done before, skipped" in log
    assert "step synth-librilight: asr synth librilight" in log
    assert manifest_texts(killed) == manifest_texts(data)


def test_pretraining_stage_writes_an_encoder_per_objective(all_run):
    data, log = all_run
    assert (
        log.count("finished in") >= ALL_PRETRAIN_STEPS
        and "step pretrain-hubert1: done before, skipped" in log
    )
    exp = data / "exp" / TAG / "pretrain"
    for name, step in (
        ("wav2vec2", "pretrain-wav2vec2"),
        ("data2vec", "pretrain-data2vec"),
        ("data2vec2", "pretrain-data2vec2"),
        ("hubert/iter1", "pretrain-hubert1"),
        ("hubert/iter2", "pretrain-hubert2"),
        ("hubert/final", "pretrain-hubert2"),  # --all: two HuBERT iterations
    ):
        state = torch.load(exp / name / "encoder.pt", weights_only=True)
        # the updates of the command that wrote it, and the xs encoder's width (conf/pretrain_*.yaml)
        assert state["step"] == max_steps(done_command(data, step)) > 0, name
        assert state["encoder_config"]["dim"] == 256, name
    labels = CutSet.from_file(exp / "hubert" / "labels2" / "cuts.jsonl.gz")
    assert max(int(np.max(c.load_custom("hubert_labels"))) for c in labels) < 500
    assert f"step {max_steps(logged_command(log, 'pretrain-wav2vec2'))} (resumed from 0)" in log


def test_an_interrupted_training_step_resumes_and_a_changed_one_restarts(finished_run):
    data, _ = finished_run
    args = ("--stage", "2", "--stop-stage", "2", "--objectives", "hubert")
    updates = max_steps(done_command(data, "pretrain-hubert1"))
    (data / ".done" / TAG / "pretrain-hubert1.done").unlink()  # as if killed after its last checkpoint
    log = finish(recipe(data, *args))
    assert "resuming from what the interrupted run left" in log, log
    assert f"step {updates} (resumed from {updates})" in log, log
    log = finish(recipe(data, *args, "--pretrain-steps", str(updates + 1)))  # another command: a fresh run
    assert "resuming" not in log and f"step {updates + 1} (resumed from 0)" in log, log


def test_finetuning_and_decoding_stages_score_every_model(finished_run):
    import json

    data, log = finished_run
    exp = data / "exp" / TAG
    for init in INITS:
        assert (exp / "finetune" / "10min" / init / "ctc_model.pt").is_file(), init
        for method in METHODS:
            for part in ("dev-clean", "test-clean"):
                folder = exp / "decode" / "10min" / init / method / part
                scored = json.loads((folder / "wer.json").read_text())
                assert scored["utts"] > 0 and scored["ref_words"] > 0, folder
                assert (folder / "hyp.nbest.jsonl").is_file() and (
                    folder / f"wer-summary-{part}.txt"
                ).is_file()
        assert (exp / "decode" / "10min" / init / "beam" / "dev-clean" / "hyp.tune.json").is_file()
    table = (exp / "decode" / "wer_table.md").read_text()
    assert all(f"| 10min | {init} |" in table for init in INITS), table
    # (recipes/speechocean762's tiny preset is the real shared sample: its T8 rows belong in RESULTS.md)
    results = (ROOT / "RESULTS.md").read_text()
    assert "mini/run.sh --preset tiny" not in results, "the tiny preset must not touch RESULTS.md"


def test_results_have_the_five_tables_and_the_path_times(finished_run):
    data, log = finished_run
    results = (data / "exp" / TAG / "RESULTS.md").read_text()
    for key in ("T1", "T2", "T3", "T4", "T5"):
        assert f"<!-- mini {key}: begin -->" in results and f"## {key}." in results, key
    assert "| 10min | hubert |" in results and "| round2-nst-gen1 |" in results
    # T5: the probes, with the updates of the encoder each probed
    pretrained = max_steps(logged_command(log, "pretrain-hubert1"))
    assert "| random | 0 |" in results and f"| hubert-iter1 | {pretrained} |" in results
    # the learning curves: PNGs linked from the tables, and T1's dev CER along each run, to its last update
    plots = data / "exp" / TAG / "plots"
    for name in ("finetune-10min", "pretrain", "semi-phones"):
        assert (plots / f"{name}.png").is_file() and f"plots/{name}.png)" in results, name
    for init in INITS:
        updates = max_steps(logged_command(log, f"finetune-10min-{init}"))
        row = next(line for line in results.splitlines() if line.startswith(f"| 10min | {init} |"))
        assert f"…{updates}) |" in row, row
    # T4's path: every step the run took, once each, and none of --all's
    visited = (data / ".done" / TAG / "path-default.steps").read_text().split()
    ran = steps(log, "finished in")
    assert len(ran) == len(set(ran)) and set(visited) == set(ran) and "semi-words-nst" not in visited
    total = next(line for line in results.splitlines() if line.startswith("| | total |"))
    assert int(total.split("|")[4].split()[0]) > 0, total  # the default path's seconds


def test_the_app_model_is_the_noisy_student_phone_recogniser(finished_run):
    data, _ = finished_run
    link = data / "exp" / TAG / "app_model"
    assert (
        link.is_symlink()
        and link.resolve() == (data / "exp" / TAG / "semi/phones/round2/nst/gen1/student").resolve()
    )
    assert (link / "ctc_model.pt").is_file()


def _phone_scores(semi: Path, system: str, part: str) -> dict:
    import json

    return json.loads((semi / "phones" / "decode" / system / "greedy" / part / "wer.json").read_text())


def test_phone_recogniser_stages_train_and_score_every_system(finished_run):
    import json

    data, _ = finished_run
    semi = data / "exp" / TAG / "semi"
    for system in PHONE_SYSTEMS:
        for part in ("dev", "test"):
            scored = _phone_scores(semi, system, part)
            assert scored["utts"] > 0 and scored["ref_words"] > 0, (system, part)
    generation = json.loads((semi / "phones" / "round2" / "nst" / "gen1" / "done.json").read_text())
    assert generation["pseudo_labels"]["cuts"] > 0 and generation["dev"]["units"] == "phone"
    assert generation["teacher"].endswith("semi/phones/continued/ctc_model.pt")
    # phone references are the annotators' perceived phones, not words
    scored = _phone_scores(semi, "baseline", "test")
    test = CutSet.from_file(data / "manifests" / TAG / "l2arctic_cuts_test.jsonl.gz")
    assert scored["ref_words"] == sum(len(s.custom["perceived_phones"]) for c in test for s in c.supervisions)
    assert scored["ref_words"] > 2 * sum(len(s.text.split()) for c in test for s in c.supervisions)


def test_all_adds_the_word_systems_and_every_phone_comparison(all_run):
    import json

    data, log = all_run
    semi = data / "exp" / TAG / "semi"
    for system in WORD_SYSTEMS:
        for part in ("dev-clean", "test-clean"):
            scored = json.loads(
                (semi / "words" / "decode" / system / "greedy" / part / "wer.json").read_text()
            )
            assert scored["utts"] > 0 and scored["ref_words"] > 0, (system, part)
    assert json.loads((semi / "words" / "nst" / "gen1" / "done.json").read_text())["dev"]["units"] == "char"
    for system in ALL_PHONE_SYSTEMS:
        assert _phone_scores(semi, system, "test")["utts"] > 0, system
    for task in ("words", "phones"):
        assert (semi / task / "online" / "teacher_model.pt").is_file()
    assert "step semi-phones-r2-nst: done before, skipped" in log  # the default path's systems are reused
    table = (semi / "semi_table.md").read_text()
    assert all(f"| {system} |" in table for system in (*WORD_SYSTEMS, *ALL_PHONE_SYSTEMS)), table


def test_mdd_stage_scores_every_phone_recogniser(all_run):
    import json

    from asr.mdd.metrics import score_files

    data, _ = all_run
    mdd = data / "exp" / TAG / "mdd"
    test = CutSet.from_file(data / "manifests" / TAG / "l2arctic_cuts_test.jsonl.gz")
    canonical = (mdd / "reference" / "canonical.txt").read_text().splitlines()
    assert sorted(line.split()[0] for line in canonical) == sorted(test.ids)
    # the annotators' labels, counted from the manifest: phones heard, mispronunciations, phones said right
    sups = [s for c in test for s in c.supervisions]
    heard = sum(len(s.custom["perceived_phones"]) for s in sups)
    errors = [e["type"] for s in sups for e in s.custom["errors"]]
    said_right = heard - errors.count("s") - errors.count("a")  # perceived phones that are no error
    assert errors.count("s") and errors.count("d") and errors.count("a")  # the test speakers mispronounce
    # the reference files score a recogniser that outputs what was heard as perfect, one that outputs the
    # canonical phones as missing every error
    reference = mdd / "reference"
    perfect = score_files(
        reference / "canonical.txt", reference / "perceived.txt", reference / "perceived.txt"
    )
    assert (perfect.counts.cd, perfect.counts.ta, perfect.counts.perceived_phones) == (
        len(errors),
        said_right,
        heard,
    )
    assert perfect.counts.fa == perfect.counts.fr == perfect.counts.de == 0 and perfect.counts.f1 == 1.0
    deaf = score_files(reference / "canonical.txt", reference / "perceived.txt", reference / "canonical.txt")
    assert (deaf.counts.fa, deaf.counts.tr, deaf.counts.ta) == (len(errors), 0, said_right)
    systems = (*ALL_PHONE_SYSTEMS, *MDD_SYSTEMS)
    for system in systems:
        scores = json.loads((mdd / "scores" / system / "mdd.json").read_text())
        assert scores["perceived_phones"] == heard and 0 <= scores["f1"] <= 1, system
        # every phone annotated as correctly said is accepted or rejected, once; every error detected or missed
        assert scores["ta"] + scores["fr"] == said_right, system
        assert scores["cd"] + scores["de"] + scores["fa"] == len(errors), system
        assert (mdd / "scores" / system / "confusion.png").is_file()
    table = (mdd / "mdd_table.md").read_text()
    assert all(f"| {system} |" in table for system in systems), table
    results = (data / "exp" / TAG / "RESULTS.md").read_text()
    assert "labelled-only `native` → with pseudo-labels `native-online`" in results


@pytest.mark.skipif(not SAMPLE.is_dir(), reason="../shared/speechocean762-sample not here")
def test_real_learners_join_pretraining_and_the_phone_recogniser(finished_run):
    import json

    data, _ = finished_run
    log = finish(recipe(data, "--real-l2", str(SAMPLE)))
    assert "step synth-librispeech: asr synth" not in log  # the synthetic corpora are shared, not remade
    exp, manifests = data / "exp" / f"{TAG}_real", data / "manifests" / TAG
    real_train = {
        c.id for c in CutSet.from_file(manifests / "real-l2_real" / "speechocean762_cuts_train.jsonl.gz")
    }
    # the sample is both the real corpus and the judge: its train-split learners train (no calibration then)
    assert len(real_train) == 40 and not (exp / "app_model" / "calibration.json").exists()
    pretrain = {c.id for c in CutSet.from_file(exp / "pretrain" / "cuts_real.jsonl.gz")}
    small = {c.id for c in CutSet.from_file(manifests / "librilight_cuts_small.jsonl.gz")}
    assert pretrain == small | real_train  # unlabelled real audio joins pretraining
    labelled = CutSet.from_file(manifests / "real-l2_real" / "phones_labelled.jsonl.gz")
    assert real_train <= {c.id for c in labelled}  # weak labels: the canonical phones
    unlabelled = {c.id for c in CutSet.from_file(manifests / "real-l2_real" / "phones_unlabelled.jsonl.gz")}
    assert real_train <= unlabelled
    t6 = json.loads((exp / "t6" / "app_model" / "experts.json").read_text())
    assert "real learners" in t6["label"] and t6["model_card"]["real_speech"] is True
    assert t6["scored_utterances"] + len(t6["skipped"]) == 20  # the sample's scored test-split utterances
    default_app = data / "exp" / TAG / "app_model"
    calibration = json.loads((default_app / "calibration.json").read_text())  # on learners it never heard
    assert calibration["dev_correct_words"] > 100 and calibration["dev_false_rejection"] <= 0.15
    default_t6 = json.loads((data / "exp" / TAG / "t6" / "app_model" / "experts.json").read_text())
    assert (
        default_t6["calibration"] == calibration
        and default_t6["flag_below_gop"] == calibration["flag_below_gop"]
    )
    default_card = json.loads((default_app / "model_card.json").read_text())
    assert default_card["real_speech"] is False and "synthetic" in default_card["trained_on"]
    results = (data / "exp" / TAG / "RESULTS.md").read_text()
    t6_section = results.split("## T6.")[1]
    assert "synthetic voices only" in t6_section and "real learners" in t6_section
    assert (exp / "RESULTS.md").is_file()  # the real run's T1-T5 stay beside it

"""bench/collect.py (the benchmarks' figures -> bench/results.jsonl) and bench/run_all.sh's options and skips.

The measurements below have the shape of real ones (one of each kind); each benchmark's own code turns them
into figures, as it does when it runs.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import asr.files
from asr.results import FIGURE_FIELDS, figures, read_figures, select

ROOT = Path(__file__).resolve().parents[1]


def _bench(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


collect = _bench("collect")

NATIVE_ONLINE = f"{ROOT}/recipes/mini/exp/mini_seed0/mdd/native-online"
SCRATCH_1H = f"{ROOT}/recipes/mini/exp/mini_seed0/finetune/1h/scratch/ctc_model.pt"
RAW = {
    "pretrain": [
        {
            "objective": "wav2vec2",
            "model": "xs",
            "frontend": "fbank",
            "body": "conformer",
            "encoder_params": 4053376,
            "trained_params": 4431360,
            "max_duration": 60.0,
            "threads": 2,
            "steps": 127,
            "train_seconds": 180.7,
            "audio_seconds": 6749.9,
            "audio_s_per_s": 37.35,
            "seconds_per_step": 1.423,
            "peak_rss_mib": 3371.3,
            "loss_start": 8.8915,
            "loss_end": 4.993,
            "prep_seconds": 0.0,
            "final_metrics": {"contrastive_loss": 4.6141, "accuracy": 0.0124, "gumbel_temperature": 1.9987},
        },
    ],
    "finetune": [
        {
            "bench": "finetune_throughput",
            "cuts_file": f"{ROOT}/recipes/mini/data/manifests/mini_seed0/"
            "librispeech_finetuning_cuts_1h.jsonl.gz",
            "steps": 30,
            "threads": 2,
            "pipeline_audio_s_per_s": 27.48,
            "pipeline_audio_seconds": 680.0,
            "bare_audio_s_per_s": 29.58,
            "bare_audio_seconds": 680.0,
            "overhead": 0.0766,
        },
        {
            "bench": "decode_rtf",
            "model": SCRATCH_1H,
            "cuts_file": "dev-clean.jsonl.gz",
            "lm": "lm",
            "cpus": 2,
            "method": "greedy",
            "cuts": 259,
            "audio_seconds": 1864.99,
            "network_seconds": 25.307,
            "search_seconds": 0.201,
            "rtf": 0.01368,
            "search_rtf": 0.00011,
        },
    ],
    "semi": [
        {
            "bench": "pseudo_label_throughput",
            "method": "greedy",
            "model": SCRATCH_1H,
            "cuts_file": "/tmp/bench-semi-04hu0kad/unlabelled.jsonl.gz",
            "cuts": 536,
            "audio_seconds": 1928.336,
            "audio_s_per_s": 54.24,
            "cpus": 2,
        },
        {
            "bench": "online_ensemble_step_cost",
            "steps": 30,
            "model": SCRATCH_1H,
            "plain_seconds_per_update": 0.768,
            "online_seconds_per_update": 0.916,
            "extra_per_update": 0.193,
            "plain_audio_s_per_s": 29.53,
            "online_audio_s_per_s": 27.12,
            "cpus": 2,
        },
    ],
    "mdd": [
        {
            "bench": "diagnose_run",
            "model": "recipes/mini/exp/mini_seed0/mdd/native-online",
            "utterances": 240,
            "failures": 0,
            "failure_examples": [],
            "p50_s": 0.0746,
            "p95_s": 0.1493,
            "audio_s_per_s": 41.4,
            "threads": 2,
        },
        {
            "bench": "diagnose_detection",
            "model": "recipes/mini/exp/mini_seed0/mdd/native-online",
            "scored_utterances": 190,
            "skipped_mismatch": 50,
            "mispronounced": 291,
            "correct": 6302,
            "recall": 0.9313,
            "precision": 0.2777,
            "false_rejection": 0.1119,
        },
    ],
    "app": [
        {
            "bench": "app_library",
            "runtime": "torch",
            "model": NATIVE_ONLINE,
            "threads": 2,
            "load_avg_1m": 0.94,
            "utterance_s": 4.92,
            "words": 18,
            "n": 20,
            "p50_s": 0.1126,
            "p95_s": 0.129,
            "mean_s": 0.1118,
            "max_s": 0.1403,
        },
        {
            "bench": "app_concurrency",
            "runtime": "torch",
            "model": NATIVE_ONLINE,
            "threads": 2,
            "load_avg_1m": 0.94,
            "utterance_s": 4.92,
            "requests": 10,
            "answered": 10,
            "right": 10,
            "lost": 0,
            "errors": [],
            "total_s": 2.62,
            "latencies_s": [1.007, 2.599],
            "p50_s": 1.8345,
            "p95_s": 2.5364,
            "mean_s": 1.7843,
            "max_s": 2.599,
        },
        {
            "bench": "summary",
            "model": NATIVE_ONLINE,
            "cpus": 2,
            "threads": 2,
            "load_avg_1m_at_start": 1.62,
            "onnx_export_s": 4.9,
            "torch_library_aim_met": True,
            "torch_library_p50_p95_s": {"5s": [0.0933, 0.1033]},
            "torch_concurrent": {"requests": 10, "answered": 10, "lost": 0, "total_s": 2.198},
            "aim": "p95 <= 0.3 s for a 5 s utterance",
        },
    ],
}
DATE = "2026-11-23"
#: the commands that measured RAW, as bench/run_all.sh runs them
COMMANDS = {
    "pretrain": ["bench/pretrain.py"],
    "finetune": ["bench/finetune.py", "--steps", "30"],
    "semi": ["bench/semi.py"],
    "mdd": ["bench/mdd_diagnose.py", "--model", "recipes/mini/exp/mini_seed0/mdd/native-online"],
    "app": ["bench/app_latency.py", "--model", NATIVE_ONLINE],
}
#: the fields of a measurement the benchmark passes as its setting (semi's and mdd's, in their main())
SETTINGS = {
    "pseudo_label_throughput": ("method", "model"),
    "online_ensemble_step_cost": ("steps", "model"),
    "diagnose_run": ("model", "threads"),
    "diagnose_detection": ("model",),
}


def written(bench: str, records: list[dict], monkeypatch, tmp_path: Path) -> list[dict]:
    """The figures each benchmark's own code makes of its measurements (what it writes to bench/results/)."""
    monkeypatch.setattr(sys, "argv", COMMANDS[bench])
    command = "python " + " ".join(COMMANDS[bench])
    module = _bench({"mdd": "mdd_diagnose", "app": "app_latency"}.get(bench, bench))
    found: list[dict] = []
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        for row in records:
            if bench == "pretrain":
                found += module.row_figures(row, command)
            elif bench == "finetune":
                setting = ("cuts_file", "steps", "threads") if row["bench"] == "finetune_throughput" else ()
                setting = setting or ("model", "cuts_file", "lm", "method")
                module.emit(row["bench"], row, {k: row[k] for k in setting})
            elif bench == "app":
                module.emit(row, tmp_path / "app.jsonl")
            else:
                units = module.UNITS[row["bench"]]
                values = {k: row[k] for k in units if k in row}
                found += figures(
                    row["bench"], values, units, {k: row[k] for k in SETTINGS[row["bench"]]}, command
                )
    return found or [json.loads(line) for line in stdout.getvalue().splitlines()]


def write_raw(folder: Path, bench: str, records: list[dict], date: str = DATE) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{bench}-{date}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def run_collect(raw: Path, out: Path, *extra: str) -> int:
    return collect.main(["--results-dir", str(raw), "--out", str(out), *extra])


@pytest.fixture
def raw_dir(tmp_path: Path, monkeypatch) -> Path:
    raw = tmp_path / "results"
    for bench, records in RAW.items():
        write_raw(raw, bench, written(bench, records, monkeypatch, tmp_path))
    return raw


def figure_line(**changes) -> dict:
    """One raw figure, as a benchmark writes it."""
    base = {
        "record": "app_library",
        "figure": "p95_s",
        "value": 0.129,
        "unit": "s",
        "setting": {"runtime": "torch"},
    }
    return {**base, **changes}


def test_every_benchmark_writes_figures_of_one_schema(raw_dir: Path, tmp_path: Path, caplog) -> None:
    out = tmp_path / "results.jsonl"
    with caplog.at_level(logging.WARNING):
        assert run_collect(raw_dir, out) == 0
    assert not caplog.records
    found = read_figures(out)
    for f in found:
        assert tuple(f) == FIGURE_FIELDS
        assert isinstance(f["value"], int | float) and not isinstance(f["value"], bool)
        assert isinstance(f["unit"], str) and isinstance(f["setting"], dict)
        assert f["date"] == DATE and f["machine"].endswith(" CPU cores (" + os.uname().machine + ")")
        assert f["source"].endswith(f"{f['bench']}-{DATE}.jsonl") and f["line"] >= 1
    assert {f["record"] for f in found} == {
        "pretrain",
        "finetune_throughput",
        "decode_rtf",
        "pseudo_label_throughput",
        "online_ensemble_step_cost",
        "diagnose_run",
        "diagnose_detection",
        "app_library",
        "app_concurrency",
        "summary",
    }

    (speed,) = select(found, "pretrain", "audio_s_per_s", objective="wav2vec2")
    assert (speed["value"], speed["unit"], speed["command"]) == (
        37.35,
        "audio s/s",
        "python bench/pretrain.py",
    )
    assert speed["setting"] == {
        "objective": "wav2vec2",
        "model": "xs",
        "frontend": "fbank",
        "body": "conformer",
        "max_duration": 60.0,
        "threads": 2,
    }
    assert select(found, "pretrain", "final_metrics.accuracy")[0]["unit"] == "fraction"
    assert select(found, "pretrain", "final_metrics.gumbel_temperature")[0]["unit"] == ""
    (rtf,) = select(found, "finetune", "rtf", method="greedy")
    assert (rtf["value"], rtf["unit"], rtf["command"]) == (
        0.01368,
        "s/audio s",
        "python bench/finetune.py --steps 30",
    )
    # absolute paths inside the checkout become relative; the machine's cores are not a figure
    assert rtf["setting"]["model"] == "recipes/mini/exp/mini_seed0/finetune/1h/scratch/ctc_model.pt"
    assert not select(found, figure="cpus")
    (overhead,) = select(found, "finetune", "overhead")
    assert overhead["setting"]["threads"] == 2 and overhead["unit"] == "fraction"
    (recall,) = select(found, "mdd", "recall")
    assert (
        recall["command"]
        == "python bench/mdd_diagnose.py --model recipes/mini/exp/mini_seed0/mdd/native-online"
    )
    # semi's unlabelled cuts are a temporary file: not part of the setting
    (labels,) = select(found, "semi", "audio_s_per_s", method="greedy")
    assert labels["setting"] == {"method": "greedy", "model": rtf["setting"]["model"]}
    (p95,) = select(found, "app", "p95_s", record="app_library", runtime="torch", utterance_s=4.92)
    assert (p95["value"], p95["unit"]) == (0.129, "s")
    assert (
        p95["command"] == "python bench/app_latency.py --model recipes/mini/exp/mini_seed0/mdd/native-online"
    )
    # lists and the summary's copies of other records are not figures
    assert not select(found, figure="latencies_s") and not select(found, figure="errors")
    assert {f["figure"] for f in select(found, record="summary")} == {"load_avg_1m_at_start", "onnx_export_s"}


def test_a_benchmark_must_give_every_figure_a_unit() -> None:
    with pytest.raises(KeyError, match="no unit for figure 'tflops'"):
        figures("kernel", {"tflops": 3.5}, {}, {}, "python bench/kernel.py")
    # a measurement it did not make (None) is no figure
    assert figures("kernel", {"ms": None}, {}, {}, "") == []


def test_newest_date_of_each_bench_wins(tmp_path: Path, caplog) -> None:
    raw = tmp_path / "results"
    old, new = figure_line(record="pretrain", value=1.0), figure_line(record="pretrain", value=37.35)
    write_raw(raw, "pretrain", [old], "2026-11-20")
    write_raw(raw, "pretrain", [new], "2026-11-23")
    write_raw(raw, "pretrain", [old], "2026-10-30")
    write_raw(
        raw, "semi", [figure_line(record="semi")], "2026-11-01"
    )  # older than pretrain's, but semi's newest
    (raw / "notes.jsonl").write_text("not a raw file\n")
    assert [p.name for p in collect.raw_files(raw)] == ["pretrain-2026-11-23.jsonl", "semi-2026-11-01.jsonl"]
    out = tmp_path / "results.jsonl"
    with caplog.at_level(logging.WARNING):
        assert run_collect(raw, out) == 0
    assert "notes.jsonl" in caplog.text
    found = read_figures(out)
    assert {(f["bench"], f["date"]) for f in found} == {("pretrain", "2026-11-23"), ("semi", "2026-11-01")}
    assert select(found, "pretrain")[0]["value"] == 37.35
    # every run_all file is read, oldest first: each holds the wall times of the benchmarks that run ran
    wall = figure_line(record="wall_time", figure="seconds", value=700, setting={"name": "pretrain"})
    write_raw(raw, "run_all", [wall, {**wall, "value": 200, "setting": {"name": "semi"}}], "2026-11-20")
    write_raw(raw, "run_all", [{**wall, "value": 650}], "2026-11-23")
    assert [p.name for p in collect.raw_files(raw) if p.name.startswith("run_all")] == [
        "run_all-2026-11-20.jsonl",
        "run_all-2026-11-23.jsonl",
    ]
    assert run_collect(raw, out) == 0
    walls = select(read_figures(out), "run_all", "seconds", record="wall_time")
    assert {(w["setting"]["name"], w["value"], w["date"]) for w in walls} == {
        ("pretrain", 650, "2026-11-23"),
        ("semi", 200, "2026-11-20"),
    }
    # files given by name are all read, whatever their dates
    assert collect.main(["--out", str(out), str(raw / "pretrain-2026-11-20.jsonl")]) == 0
    assert select(read_figures(out), "pretrain")[0]["value"] == 1.0


def test_a_later_run_of_the_same_setting_replaces_the_earlier(tmp_path: Path) -> None:
    first, other = figure_line(), figure_line(value=0.0868, setting={"runtime": "onnx"})
    second = figure_line(value=0.1033)
    raw = tmp_path / "results"
    write_raw(raw, "app", [first, other, figure_line(figure="p50_s", value=0.1), second])
    out = tmp_path / "results.jsonl"
    assert run_collect(raw, out) == 0
    found = read_figures(out)
    (torch,) = select(found, "app", "p95_s", runtime="torch")
    (onnx,) = select(found, "app", "p95_s", runtime="onnx")
    assert (torch["value"], torch["line"], onnx["value"]) == (0.1033, 4, 0.0868)
    assert [f["figure"] for f in found] == ["p95_s", "p95_s", "p50_s"]  # the first one's place


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "a JSON list, not an object"),
        (
            json.dumps(RAW["mdd"][0]),
            "not a figure (missing figure, value, unit, setting)",
        ),  # a measurement's shape
        (json.dumps(figure_line(value="fast")), "value of figure 'p95_s' is 'fast', not a finite number"),
        (json.dumps(figure_line(value=True)), "value of figure 'p95_s' is True, not a finite number"),
        (json.dumps(figure_line(unit=None)), "unit of figure 'p95_s' is None, not a string"),
        (json.dumps(figure_line(setting={"sizes": [1, 2]})), "setting of figure 'p95_s' is not an object"),
        (json.dumps(figure_line(cpus=2)), "unknown field(s) cpus of figure 'p95_s'"),
    ],
)
def test_a_line_that_is_not_a_figure_is_a_one_line_error_naming_file_and_line(
    tmp_path: Path, capsys, line: str, message: str
) -> None:
    raw = tmp_path / "results"
    out = tmp_path / "results.jsonl"
    out.write_text("previous\n")
    path = write_raw(raw, "mdd", [figure_line()])
    path.write_text(path.read_text() + "\n" + line + "\n")  # a blank line 2 is fine, line 3 is not
    assert run_collect(raw, out) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {path}:3: {message}"), err
    assert out.read_text() == "previous\n"  # nothing written


def test_the_output_is_replaced_atomically(raw_dir: Path, tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "out" / "results.jsonl"
    out.parent.mkdir()
    out.write_text("old\n")
    os.link(out, tmp_path / "old-link")
    assert run_collect(raw_dir, out) == 0
    # a new file renamed over the old one: the old inode (seen through the link) was never written to
    assert (tmp_path / "old-link").read_text() == "old\n"
    assert read_figures(out)
    assert os.listdir(out.parent) == ["results.jsonl"]  # no temporary file left
    assert oct(out.stat().st_mode & 0o044) == oct(0o044 & ~_umask())

    new = out.read_text()

    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(asr.files.os, "replace", fail)
    write_raw(raw_dir, "pretrain", [figure_line(record="pretrain", value=1.0)])
    with pytest.raises(OSError, match="disk full"):
        run_collect(raw_dir, out)
    assert out.read_text() == new and os.listdir(out.parent) == ["results.jsonl"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_read_figures_rejects_what_is_not_a_figure(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    path.write_text('{"bench": "x"}\n')
    with pytest.raises(
        ValueError, match=rf"^{re.escape(str(path))}:1: not a figure \(missing record, figure"
    ):
        read_figures(path)
    path.write_text("\n{")
    with pytest.raises(ValueError, match=rf"^{re.escape(str(path))}:2: not JSON"):
        read_figures(path)


def test_the_real_raw_files_collect(tmp_path: Path) -> None:
    if not collect.raw_files():
        pytest.skip("no bench/results/*.jsonl in this checkout")
    out = tmp_path / "results.jsonl"
    assert collect.main(["--out", str(out), "--quiet"]) == 0
    assert read_figures(out)


def test_the_committed_figures_are_those_of_the_raw_files(tmp_path: Path) -> None:
    """bench/results.jsonl (which RESULTS.md's T4 reads) is what collect.py makes of bench/results/ now."""
    committed = ROOT / "bench" / "results.jsonl"
    if not committed.exists() or not collect.raw_files():
        pytest.skip("no bench/results.jsonl or raw files in this checkout")
    out = tmp_path / "results.jsonl"
    assert collect.main(["--out", str(out), "--quiet"]) == 0
    assert read_figures(out) == read_figures(committed)


# bench/run_all.sh


def run_all(script: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(["bash", str(script), *args], capture_output=True, text=True, env=env, timeout=60)


def test_run_all_help_and_bad_options() -> None:
    script = ROOT / "bench" / "run_all.sh"
    done = run_all(script, "--help")
    assert done.returncode == 0 and "--only" in done.stdout and "--skip" in done.stdout
    for args, message in [
        (["--bogus"], "unknown option or argument '--bogus'"),
        (["--only", "nope"], "unknown benchmark 'nope'"),
        (["--skip=pretrain,nope"], "unknown benchmark 'nope'"),
        (["--only"], "--only needs a benchmark name"),
    ]:
        done = run_all(script, *args)
        assert done.returncode == 2, args
        assert done.stderr == f"run_all.sh: {message} (one of: pretrain finetune semi mdd app)\n" or (
            done.stderr == f"run_all.sh: {message} (see --help)\n"
        ), done.stderr


@pytest.fixture
def fake_root(tmp_path: Path) -> Path:
    """A checkout with bench/run_all.sh and bench/collect.py, one raw file and none of the recipe's outputs."""
    (tmp_path / "bench").mkdir()
    for name in ("run_all.sh", "collect.py"):
        shutil.copy(ROOT / "bench" / name, tmp_path / "bench" / name)
    write_raw(tmp_path / "bench" / "results", "pretrain", [figure_line(record="pretrain")])
    return tmp_path


def test_run_all_skips_what_lacks_inputs_then_collects(fake_root: Path) -> None:
    done = run_all(fake_root / "bench" / "run_all.sh")
    assert done.returncode == 0, done.stderr
    skipped = re.findall(
        r"\] (\w+): SKIPPED: missing (.+); make it with: (bash recipes/mini/run.sh .+)\n", done.stderr
    )
    assert [name for name, _, _ in skipped] == ["pretrain", "finetune", "semi", "mdd", "app"]
    assert all(
        make.startswith("bash recipes/mini/run.sh ") and "--stop-stage" in make for _, _, make in skipped
    )
    assert {f["bench"] for f in read_figures(fake_root / "bench" / "results.jsonl")} == {"pretrain"}
    assert not list((fake_root / "bench" / "results").glob("run_all-*"))  # nothing ran, no wall times

    # with the inputs in place, --dry-run names the commands (those the benchmarks name in their figures)
    for _, missing, _ in skipped:
        for path in missing.split():
            (fake_root / path).parent.mkdir(parents=True, exist_ok=True)
            (fake_root / path).touch()
    done = run_all(fake_root / "bench" / "run_all.sh", "--dry-run")
    assert done.returncode == 0, done.stderr
    commands = re.findall(r"\] (\w+): would run: (.+)\n", done.stderr)
    mdd = "python bench/mdd_diagnose.py --model recipes/mini/exp/mini_seed0/mdd/{} --cuts {}"
    cuts = "recipes/mini/data/manifests/mini_seed0/l2arctic_cuts_test.jsonl.gz"
    expected = [
        ("pretrain", "python bench/pretrain.py"),
        (
            "finetune",
            re.compile(r"python bench/finetune.py --steps 30 >> bench/results/finetune-[-\d]{10}\.jsonl"),
        ),
        ("semi", "python bench/semi.py"),
        *(("mdd", mdd.format(model, cuts)) for model in ("native-online", "native")),
        ("app", "python bench/app_latency.py --model recipes/mini/exp/mini_seed0/app_model"),
    ]
    assert len(commands) == len(expected)
    for (name, command), (want_name, want) in zip(commands, expected, strict=True):
        assert name == want_name
        assert want.fullmatch(command) if isinstance(want, re.Pattern) else command == want

    done = run_all(fake_root / "bench" / "run_all.sh", "--dry-run", "--only", "mdd,app", "--skip", "app")
    assert done.returncode == 0, done.stderr
    assert {name for name, _ in re.findall(r"\] (\w+): would run: (.+)\n", done.stderr)} == {"mdd"}
    assert "app       skipped (--skip)" in done.stderr and "pretrain" not in done.stderr.split("summary")[1]


FAKE_MDD = """import datetime, json, sys
model = sys.argv[sys.argv.index("--model") + 1]
figure = {"record": "diagnose_run", "figure": "utterances", "value": 3, "unit": "utterances",
          "setting": {"model": model, "threads": 2}}
with open(f"bench/results/mdd-{datetime.date.today()}.jsonl", "a") as f:
    f.write(json.dumps(figure) + "\\n")
"""


def test_run_all_runs_logs_times_and_goes_on_after_a_failure(fake_root: Path) -> None:
    """Stand-in benchmark scripts: mdd's writes a figure, app's fails."""
    script = fake_root / "bench" / "run_all.sh"
    missing = re.findall(r"SKIPPED: missing (.+); make it with", run_all(script, "--only", "mdd,app").stderr)
    for path in " ".join(missing).split():
        (fake_root / path).parent.mkdir(parents=True, exist_ok=True)
        (fake_root / path).touch()
    (fake_root / "bench" / "mdd_diagnose.py").write_text(FAKE_MDD)
    (fake_root / "bench" / "app_latency.py").write_text("import sys\nsys.exit(3)\n")
    done = run_all(script, "--only", "mdd,app")
    assert done.returncode == 1, done.stderr
    log = done.stderr
    assert log.count("mdd: start: python bench/mdd_diagnose.py --model ") == 2
    assert re.search(r"mdd: done in 0m0\ds", log) and re.search(r"app: FAILED \(exit 3\) after 0m0\ds", log)
    assert log.index("app: FAILED") < log.index("collect: python bench/collect.py")  # collected all the same
    found = read_figures(fake_root / "bench" / "results.jsonl")
    models = {f["setting"]["model"] for f in select(found, "mdd", "utterances")}
    assert models == {
        "recipes/mini/exp/mini_seed0/mdd/native-online",
        "recipes/mini/exp/mini_seed0/mdd/native",
    }
    (wall,) = select(found, "run_all", "seconds", record="wall_time")
    assert wall["setting"] == {"name": "mdd"} and wall["unit"] == "s" and 0 <= wall["value"] < 10
    assert wall["command"].count("python bench/mdd_diagnose.py") == 2 and " && " in wall["command"]

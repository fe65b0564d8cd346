"""Collect the benchmarks' raw JSON lines into ``bench/results.jsonl``: one JSON line per figure.

Each benchmark of ``bench/`` writes raw lines to ``bench/results/<bench>-<YYYY-MM-DD>.jsonl`` in its own
shape. This script reads the newest file of each benchmark (or the files given), turns every numeric
measurement into one figure of a flat, uniform schema and writes them all to ``bench/results.jsonl``
(a temporary file renamed over it, so a reader never sees half of it)::

    {"bench": "pretrain", "record": "pretrain", "figure": "audio_s_per_s", "value": 37.35,
     "unit": "audio s/s", "setting": {"objective": "wav2vec2", "model": "xs", ...},
     "date": "2026-11-23", "machine": "2 CPU cores (x86_64)", "command": "python bench/pretrain.py",
     "source": "bench/results/pretrain-2026-11-23.jsonl", "line": 1}

``bench`` is the raw file's name, ``record`` the kind of raw line (its own ``bench`` field, else the file's
name), ``setting`` what tells the figures of one record kind apart (absolute paths inside this checkout
made relative), ``command`` the command that makes the raw file (``bash bench/run_all.sh`` runs them all).
A raw file appended by several runs holds the same setting more than once: the last line wins.

    python bench/collect.py                                    # newest raw file of every benchmark
    python bench/collect.py bench/results/app-2026-11-23.jsonl --out /tmp/app.jsonl

Other scripts read the figures with :func:`read_figures` (standard library only, no ``asr`` import)::

    sys.path.insert(0, "bench"); from collect import read_figures, select
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import fnmatch
import json
import logging
import math
import os
import platform
import re
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RAW_DIR = ROOT / "bench" / "results"
OUT = ROOT / "bench" / "results.jsonl"
#: the keys of every figure, in the order they are written
FIELDS = (
    "bench",
    "record",
    "figure",
    "value",
    "unit",
    "setting",
    "date",
    "machine",
    "command",
    "source",
    "line",
)
RAW_NAME = re.compile(r"^(?P<bench>.+)-(?P<date>\d{4}-\d{2}-\d{2})\.jsonl$")
MDD_CUTS = "recipes/mini/data/manifests/mini_seed0/l2arctic_cuts_test.jsonl.gz"
#: the command that makes each raw file, as bench/run_all.sh runs it ({...}: a setting of the record)
COMMANDS = {
    "pretrain": "python bench/pretrain.py",
    "finetune": "python bench/finetune.py --steps 30",
    "semi": "python bench/semi.py",
    "mdd": f"python bench/mdd_diagnose.py --model {{model}} --cuts {MDD_CUTS}",
    "app": "python bench/app_latency.py --model {model}",
    "run_all": "bash bench/run_all.sh",
}

log = logging.getLogger("bench.collect")


class CollectError(Exception):
    """A raw file or line that cannot be read; the message starts with ``file:line``."""


@dataclass(frozen=True)
class Kind:
    """How the fields of one kind of raw line become figures."""

    setting: tuple[str, ...]
    units: dict[str, str]
    #: fields that are neither: lists, copies of other records' figures, scratch paths
    ignore: tuple[str, ...] = ()
    #: ``{"old": "new"}`` field names, so that one thing has one name across benchmarks
    rename: dict[str, str] = field(default_factory=dict)


LATENCY = {"p50_s": "s", "p95_s": "s", "mean_s": "s", "max_s": "s", "load_avg_1m": "load"}
APP_SETTING = ("runtime", "model", "threads", "utterance_s", "words", "n")
# pretrain's final_metrics: each objective's own last-update values (bench/pretrain.py's SIGNALS)
PRETRAIN_METRICS = {
    "contrastive_loss": "loss",
    "diversity_loss": "loss",
    "feature_penalty": "loss",
    "masked_loss": "loss",
    "accuracy": "fraction",
    "masked_accuracy": "fraction",
    "unmasked_accuracy": "fraction",
    "mask_share": "fraction",
    "masked_frac": "fraction",
    "visible_frac": "fraction",
    "code_perplexity": "codes",
    "prob_perplexity": "codes",
    "target_var": "variance",
    "pred_var": "variance",
    "gumbel_temperature": "",
    "ema_decay": "",
}
KINDS: dict[str, Kind] = {
    # bench/pretrain.py (its lines carry no "bench" field)
    "pretrain": Kind(
        setting=("objective", "model", "frontend", "body", "max_duration", "threads"),
        units={
            "encoder_params": "params",
            "trained_params": "params",
            "steps": "updates",
            "train_seconds": "s",
            "audio_seconds": "audio s",
            "audio_s_per_s": "audio s/s",
            "seconds_per_step": "s/update",
            "peak_rss_mib": "MiB",
            "loss_start": "loss",
            "loss_end": "loss",
            "prep_seconds": "s",
            "final_metrics.*": "",
            **{f"final_metrics.{k}": v for k, v in PRETRAIN_METRICS.items()},
        },
    ),
    # bench/finetune.py
    "finetune_throughput": Kind(
        setting=("cuts_file", "steps", "threads"),
        units={
            "pipeline_audio_s_per_s": "audio s/s",
            "pipeline_audio_seconds": "audio s",
            "bare_audio_s_per_s": "audio s/s",
            "bare_audio_seconds": "audio s",
            "overhead": "fraction",
        },
        rename={"torch_threads": "threads"},
    ),
    "decode_rtf": Kind(
        setting=("model", "cuts_file", "lm", "method"),
        units={
            "cuts": "cuts",
            "audio_seconds": "audio s",
            "network_seconds": "s",
            "search_seconds": "s",
            "rtf": "s/audio s",
            "search_rtf": "s/audio s",
        },
    ),
    # bench/semi.py; its unlabelled cuts are a temporary file (the first --recordings of Libri-light small)
    "pseudo_label_throughput": Kind(
        setting=("method", "model"),
        units={"cuts": "cuts", "audio_seconds": "audio s", "audio_s_per_s": "audio s/s"},
        ignore=("cuts_file",),
    ),
    "online_ensemble_step_cost": Kind(
        setting=("steps", "model"),
        units={
            "plain_seconds_per_update": "s/update",
            "online_seconds_per_update": "s/update",
            "extra_per_update": "fraction",
            "plain_audio_s_per_s": "audio s/s",
            "online_audio_s_per_s": "audio s/s",
        },
    ),
    # bench/mdd_diagnose.py
    "diagnose_run": Kind(
        setting=("model", "threads"),
        units={
            "utterances": "utterances",
            "failures": "utterances",
            "p50_s": "s",
            "p95_s": "s",
            "audio_s_per_s": "audio s/s",
        },
        ignore=("failure_examples",),
    ),
    "diagnose_detection": Kind(
        setting=("model",),
        units={
            "scored_utterances": "utterances",
            "skipped_mismatch": "utterances",
            "mispronounced": "phones",
            "correct": "phones",
            "recall": "fraction",
            "precision": "fraction",
            "false_rejection": "fraction",
        },
    ),
    # bench/app_latency.py
    "app_library": Kind(setting=APP_SETTING, units=LATENCY),
    "app_api": Kind(setting=APP_SETTING, units=LATENCY),
    "app_http": Kind(setting=APP_SETTING, units=LATENCY),
    "app_concurrency": Kind(
        setting=("runtime", "model", "threads", "utterance_s", "requests"),
        units={"answered": "requests", "right": "requests", "lost": "requests", "total_s": "s", **LATENCY},
        ignore=("errors", "latencies_s"),
    ),
    # the summary line repeats the other records' p50/p95 and whether p95 meets the aim: only its own figures
    "summary": Kind(
        setting=("model", "threads"),
        units={"onnx_export_s": "s", "load_avg_1m_at_start": "load"},
        ignore=("aim", "*_p50_p95_s", "*_concurrent", "*_aim_met"),
    ),
    # bench/run_all.sh: each benchmark's wall time
    "wall_time": Kind(setting=("name",), units={"seconds": "s"}),
}


def _matches(name: str, patterns: Iterable[str]) -> bool:
    """Whether ``name`` matches one of the shell-style ``patterns``."""
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def _unit(kind: Kind, name: str) -> str | None:
    """The unit of field ``name`` of ``kind``; None for a field the kind does not know."""
    if name in kind.units:
        return kind.units[name]
    prefix = name.rpartition(".")[0]
    return kind.units.get(f"{prefix}.*") if prefix else None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _relative(value: Any) -> Any:
    """An absolute path inside this checkout as a path relative to it (figures then match across clones)."""
    if isinstance(value, str) and value.startswith(str(ROOT) + os.sep):
        return value[len(str(ROOT)) + 1 :]
    return value


def _flatten(record: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in record.items():
        if isinstance(value, dict):
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def raw_files(results_dir: Path = RAW_DIR) -> list[Path]:
    """The newest ``<bench>-<YYYY-MM-DD>.jsonl`` of each benchmark in ``results_dir``, by benchmark name.

    Every ``run_all-*.jsonl`` is read, oldest first: a run_all.sh run records the wall times of the
    benchmarks it ran only, so ``--only app`` today must not drop yesterday's pretraining time
    (:func:`collect` lets a later file's figure replace an earlier one of the same setting).
    """
    newest: dict[str, tuple[str, Path]] = {}
    every_run_all: list[tuple[str, Path]] = []
    for path in sorted(results_dir.glob("*.jsonl")):
        match = RAW_NAME.match(path.name)
        if match is None:
            log.warning("%s: not named <bench>-<YYYY-MM-DD>.jsonl, skipped", path)
            continue
        bench, date = match["bench"], match["date"]
        if bench == "run_all":
            every_run_all.append((date, path))
        elif bench not in newest or date > newest[bench][0]:
            newest[bench] = (date, path)
    files = {b: [newest[b][1]] for b in newest}
    if every_run_all:
        files["run_all"] = [path for _, path in sorted(every_run_all)]
    return [path for b in sorted(files) for path in files[b]]


def _shown(path: Path) -> str:
    """``path`` relative to the checkout when inside it (the ``source`` of a figure)."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def read_raw(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """The raw records of one file with their line numbers; a line that is not a JSON object is an error."""
    records = []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CollectError(f"{path}: cannot read: {exc}") from exc
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CollectError(f"{path}:{number}: not JSON: {exc.msg} (column {exc.colno})") from exc
        if not isinstance(record, dict):
            raise CollectError(f"{path}:{number}: a JSON {type(record).__name__}, not an object")
        records.append((number, record))
    return records


def figures_of_file(path: Path, machine: str | None = None) -> list[dict[str, Any]]:
    """Every figure of one raw file, in the order of its lines and fields; later lines override earlier
    ones with the same bench, record, figure and setting (a file appended by several runs)."""
    match = RAW_NAME.match(path.name)
    if match:
        bench, date = match["bench"], match["date"]
    else:  # a file given by name: its modification date stands for the run's
        bench = path.name.removesuffix(".jsonl")
        date = datetime.datetime.fromtimestamp(path.stat().st_mtime, datetime.UTC).date().isoformat()
    records = read_raw(path)
    # the records of one file come from one machine; not every kind says how many cores it had
    cpus = next((r["cpus"] for _, r in records if _is_number(r.get("cpus"))), None)
    machine = machine or f"{cpus or os.cpu_count()} CPU cores ({platform.machine()})"
    source = _shown(path)
    figures: dict[tuple[str, str, str], dict[str, Any]] = {}
    warned: set[tuple[str, str]] = set()
    replaced = 0

    def warn(record: str, name: str, message: str, *args: Any) -> None:
        if (record, name) not in warned:  # once per field and file, not once per line
            warned.add((record, name))
            log.warning(message, *args)

    for number, raw in records:
        record = str(raw.get("bench") or bench)
        kind = KINDS.get(record)
        if kind is None:
            warn(
                record,
                "",
                "%s:%d: unknown record kind %r: numeric fields kept without units",
                source,
                number,
                record,
            )
            kind = Kind(setting=(), units={})
        setting: dict[str, Any] = {}
        measured: list[tuple[str, Any, str]] = []
        for top, top_value in raw.items():
            if top in ("bench", "command", "cpus") or _matches(top, kind.ignore):
                continue  # bench, command and cpus are the figure's own keys
            for name, value in _flatten({kind.rename.get(top, top): top_value}):
                if name in kind.setting:
                    setting[name] = _relative(value)
                    continue
                unit = _unit(kind, name)
                if unit is None:
                    if _is_number(value):
                        warn(
                            record,
                            name,
                            "%s:%d: unknown field %r of %r: a figure without unit",
                            source,
                            number,
                            name,
                            record,
                        )
                        unit = ""
                    elif isinstance(value, str | bool) or value is None:
                        setting[name] = _relative(value)  # says what was measured, not how much
                        continue
                    else:
                        warn(
                            record,
                            name,
                            "%s:%d: field %r of %r is a %s: left out",
                            source,
                            number,
                            name,
                            record,
                            type(value).__name__,
                        )
                        continue
                if not _is_number(value) or not math.isfinite(value):
                    warn(
                        record,
                        name,
                        "%s:%d: %r of %r is %r, not a number: left out",
                        source,
                        number,
                        name,
                        record,
                        value,
                    )
                    continue
                measured.append((name, value, unit))
        command = raw.get("command")
        if not isinstance(command, str):
            command = COMMANDS.get(bench, "")
            with contextlib.suppress(KeyError, IndexError, ValueError):
                command = command.format_map(setting)
        key_setting = json.dumps(setting, sort_keys=True)
        for name, value, unit in measured:
            # a later run of the same setting takes the earlier one's place (and keeps its position)
            replaced += (record, name, key_setting) in figures
            figures[(record, name, key_setting)] = {
                "bench": bench,
                "record": record,
                "figure": name,
                "value": value,
                "unit": unit,
                "setting": setting,
                "date": date,
                "machine": machine,
                "command": command,
                "source": source,
                "line": number,
            }
    if replaced:
        log.info(
            "%s: %d figures of earlier runs replaced by later lines of the same setting", source, replaced
        )
    return list(figures.values())


def collect(paths: Iterable[Path], machine: str | None = None) -> list[dict[str, Any]]:
    """The figures of every raw file in ``paths``, file after file; a later file's figure of the same
    benchmark, record, name and setting takes an earlier one's place (and keeps its position)."""
    figures: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for path in paths:
        for figure in figures_of_file(path, machine):
            key = (
                figure["bench"],
                figure["record"],
                figure["figure"],
                json.dumps(figure["setting"], sort_keys=True),
            )
            figures[key] = figure
    return list(figures.values())


def write_atomic(path: Path, figures: Iterable[dict[str, Any]]) -> None:
    """One JSON line per figure into ``path``, through a temporary file in the same folder renamed over it:
    a reader sees the old file or the new one, never a half-written one, and a failure leaves the old one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for figure in figures:
                f.write(json.dumps(figure, ensure_ascii=False, allow_nan=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's file is private; results are for everyone, as other files
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def read_figures(path: str | os.PathLike[str] = OUT) -> list[dict[str, Any]]:
    """The figures of a ``bench/results.jsonl``, one dict per line with the keys of :data:`FIELDS`.

    Standard library only, so any script can use it. Raises ``ValueError("file:line: ...")`` for a line that
    is not such a figure, and ``OSError`` when the file cannot be read.
    """
    figures = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                figure = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: not JSON: {exc.msg}") from exc
            missing = [k for k in FIELDS if k not in figure] if isinstance(figure, dict) else list(FIELDS)
            if missing:
                raise ValueError(f"{path}:{number}: not a figure (missing {', '.join(missing)})")
            figures.append(figure)
    return figures


def select(
    figures: Iterable[dict[str, Any]],
    bench: str | None = None,
    figure: str | None = None,
    record: str | None = None,
    **setting: Any,
) -> list[dict[str, Any]]:
    """The figures with this bench, figure name and record kind (None: any) and these setting values,
    e.g. ``select(figs, "app", "p95_s", record="app_library", runtime="torch", utterance_s=4.92)``."""
    return [
        f
        for f in figures
        if (bench is None or f["bench"] == bench)
        and (figure is None or f["figure"] == figure)
        and (record is None or f["record"] == record)
        and all(f["setting"].get(k) == v for k, v in setting.items())
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="The schema of a figure: " + ", ".join(FIELDS) + " (see the module docstring).",
    )
    parser.add_argument(
        "files",
        nargs="*",
        type=Path,
        help="Raw files to read (default: the newest file of each benchmark in --results-dir).",
    )
    parser.add_argument(
        "--results-dir", type=Path, default=RAW_DIR, help="Folder of the raw files [%(default)s]."
    )
    parser.add_argument("--out", type=Path, default=OUT, help="Where the figures go [%(default)s].")
    parser.add_argument(
        "--machine",
        help="The machine every figure names (default: the cores a raw file "
        "records, else this machine's, and this machine's architecture).",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="Errors only.")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR if args.quiet else logging.INFO, format="collect.py: %(message)s")
    paths = args.files or raw_files(args.results_dir)
    if not paths:
        print(f"error: no raw results (<bench>-<YYYY-MM-DD>.jsonl) in {args.results_dir}", file=sys.stderr)
        return 2
    try:
        figures = collect(paths, args.machine)
    except CollectError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    write_atomic(args.out, figures)
    log.info(
        "%d figures from %s into %s", len(figures), ", ".join(_shown(p) for p in paths), _shown(args.out)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

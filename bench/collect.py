"""Gather the benchmarks' figures into ``bench/results.jsonl``: checked, repeats dropped, sources named.

Each benchmark of ``bench/`` writes its own figures, one JSON line per measured number, to
``bench/results/<bench>-<YYYY-MM-DD>.jsonl`` (:func:`asr.results.figures`)::

    {"record": "pretrain", "figure": "audio_s_per_s", "value": 37.35, "unit": "audio s/s",
     "setting": {"objective": "wav2vec2", "model": "xs", ...}, "command": "python bench/pretrain.py",
     "machine": "2 CPU cores (x86_64)"}

``record`` is the kind of measurement, ``setting`` what tells the figures of one record kind apart, and
``command`` the command that measured it. This script reads the newest file of each benchmark (or the files
given), checks every line (:func:`asr.results.check_figure`: a line that is not a figure is an error naming
its file and line), lets a later line of the same benchmark, record, figure and setting replace an earlier
one (a raw file appended by several runs), and writes them all to ``bench/results.jsonl`` atomically, each
with ``bench`` and ``date`` (from the raw file's name), ``source`` (that file) and ``line``
(:data:`asr.results.FIGURE_FIELDS`).

    python bench/collect.py                                    # newest raw file of every benchmark
    python bench/collect.py bench/results/app-2026-11-23.jsonl --out /tmp/app.jsonl

Other scripts read the figures with :func:`asr.results.read_figures` and :func:`asr.results.select`.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from a checkout
from asr.files import write_atomic  # noqa: E402
from asr.results import FIGURE_FIELDS, check_figure, figure_machine, read_figures, select  # noqa: E402

__all__ = ["FIGURE_FIELDS", "collect", "figures_of_file", "main", "raw_files", "read_figures", "select"]

RAW_DIR = ROOT / "bench" / "results"
OUT = ROOT / "bench" / "results.jsonl"
RAW_NAME = re.compile(r"^(?P<bench>.+)-(?P<date>\d{4}-\d{2}-\d{2})\.jsonl$")

log = logging.getLogger("bench.collect")


class CollectError(Exception):
    """A raw file or line that cannot be read; the message starts with ``file:line``."""


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


def _key(figure: dict[str, Any]) -> tuple[str, str, str, str]:
    return figure["bench"], figure["record"], figure["figure"], json.dumps(figure["setting"], sort_keys=True)


def figures_of_file(path: Path, machine: str | None = None) -> list[dict[str, Any]]:
    """Every figure of one raw file, checked, in the order of its lines; a later line with the same
    record, figure and setting replaces an earlier one (a file appended by several runs)."""
    match = RAW_NAME.match(path.name)
    if match:
        bench, date = match["bench"], match["date"]
    else:  # a file given by name: its modification date stands for the run's
        bench = path.name.removesuffix(".jsonl")
        date = datetime.datetime.fromtimestamp(path.stat().st_mtime, datetime.UTC).date().isoformat()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CollectError(f"{path}: cannot read: {exc}") from exc
    source = _shown(path)
    found: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    replaced = 0
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            raw = check_figure(json.loads(line))
        except json.JSONDecodeError as exc:
            raise CollectError(f"{path}:{number}: not JSON: {exc.msg} (column {exc.colno})") from exc
        except ValueError as exc:
            raise CollectError(f"{path}:{number}: {exc}") from exc
        figure = {
            "bench": bench,
            "record": raw.get("record", bench),
            "figure": raw["figure"],
            "value": raw["value"],
            "unit": raw["unit"],
            "setting": raw["setting"],
            "date": date,
            "machine": machine or raw.get("machine") or figure_machine(),
            "command": raw.get("command", ""),
            "source": source,
            "line": number,
        }
        # a later run of the same setting takes the earlier one's place (and keeps its position)
        replaced += _key(figure) in found
        found[_key(figure)] = figure
    if replaced:
        log.info(
            "%s: %d figures of earlier runs replaced by later lines of the same setting", source, replaced
        )
    return list(found.values())


def collect(paths: Iterable[Path], machine: str | None = None) -> list[dict[str, Any]]:
    """The figures of every raw file in ``paths``, file after file; a later file's figure of the same
    benchmark, record, name and setting takes an earlier one's place (and keeps its position)."""
    found: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for path in paths:
        for figure in figures_of_file(path, machine):
            found[_key(figure)] = figure
    return list(found.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="The schema of a figure: " + ", ".join(FIGURE_FIELDS) + " (see the module docstring).",
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
        "--machine", help="The machine every figure names (default: the one each raw figure names)."
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="Errors only.")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR if args.quiet else logging.INFO, format="collect.py: %(message)s")
    paths = args.files or raw_files(args.results_dir)
    if not paths:
        print(f"error: no raw results (<bench>-<YYYY-MM-DD>.jsonl) in {args.results_dir}", file=sys.stderr)
        return 2
    try:
        found = collect(paths, args.machine)
    except CollectError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    lines = "".join(json.dumps(f, ensure_ascii=False, allow_nan=False) + "\n" for f in found)
    write_atomic(args.out, lines.encode("utf-8"))
    log.info("%d figures from %s into %s", len(found), ", ".join(_shown(p) for p in paths), _shown(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Results reporting, in one place: Markdown tables, RESULTS.md sections and benchmark figures.

* Reading what experiments wrote: :func:`read_json`, :func:`read_jsonl`, :func:`read_scalars` (TensorBoard).
* Writing tables: :func:`table_head` / :func:`table_row` (Markdown), :func:`fmt`, :func:`share`,
  :func:`weights`, :func:`machine` and :func:`date_line` (what made a table, when and where),
  :func:`known_first` and :func:`subfolders` (the papers' order first), :func:`results_page` (a recipe's
  page of results) and :func:`publish` (to a file, a RESULTS.md section and stdout at once).
* RESULTS.md sections that scripts own, each between ``<!-- KEY: begin -->`` and ``<!-- KEY: end -->``
  (:func:`update_section`, :func:`drop_section`): a benchmark or recipe rewrites only its own section, so
  tables written by different scripts live in one file without clobbering each other, and rerunning a
  script replaces its numbers rather than appending.
* Benchmark figures, one JSON line per measured number (:func:`figures`, :func:`write_figures`): a
  benchmark of ``bench/`` writes them to ``bench/results/<bench>-<YYYY-MM-DD>.jsonl`` itself, with the
  unit it knows; ``bench/collect.py`` checks them (:func:`check_figure`) and gathers them into
  ``bench/results.jsonl`` (:data:`FIGURE_FIELDS`, read back with :func:`read_figures` and :func:`select`).

Standard library only at import time (TensorBoard is imported by :func:`read_scalars` alone).
"""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
import shlex
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from asr.files import write_atomic

#: what a table shows for a number it does not have
MISSING = "–"
#: the checkout: paths inside it are written relative to it (figures then match across clones)
ROOT = Path(__file__).resolve().parents[1]

# ---- reading what experiments wrote -----------------------------------------------------------------------


def read_json(path: Path) -> Any:
    """The JSON in ``path``; None when the file is missing, unreadable or not JSON (not written yet)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def read_jsonl(path: Path) -> list[dict]:
    """The JSON objects of a JSON-lines file, blank lines skipped; empty when the file does not exist."""
    path = Path(path)
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def read_scalars(run: Path, *tags: str) -> dict[str, list[tuple[int, float]]]:
    """tag -> ``(step, value)`` of each logged value of these scalars of a training run's TensorBoard log
    (``run/tensorboard``); an empty list for a tag the log lacks, or when the run has no log."""
    folder = Path(run) / "tensorboard"
    out: dict[str, list[tuple[int, float]]] = {tag: [] for tag in tags}
    if not list(folder.glob("events.*")):
        return out
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    acc.Reload()
    logged = acc.Tags().get("scalars", [])
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] if tag in logged else [] for tag in tags}


# ---- writing tables ----------------------------------------------------------------------------------------


def known_first(known: Sequence[str]) -> Callable[[str], tuple[int, str]]:
    """A sort key: the names of ``known`` in its order, then any other name alphabetically."""
    return lambda name: (known.index(name) if name in known else len(known), name)


def subfolders(folder: Path, known: Sequence[str] = ()) -> list[Path]:
    """The subfolders of ``folder``: those named in ``known`` first, in its order, then the others by name."""
    order = known_first(known)
    return sorted((p for p in Path(folder).iterdir() if p.is_dir()), key=lambda p: order(p.name))


def fmt(value: float | None, spec: str = ".1f") -> str:
    """``value`` formatted with ``spec``, or :data:`MISSING` when there is none."""
    return MISSING if value is None else format(value, spec)


def share(part: int, whole: int) -> str:
    """``part`` of ``whole`` as a percentage with the counts, e.g. ``12.5 (1/8)``; :data:`MISSING` for 0."""
    return f"{100 * part / whole:.1f} ({part}/{whole})" if whole else MISSING


def weights(params: Mapping[str, float]) -> str:
    """Decoding weights as ``lm_weight=0.5, word_score=0``; :data:`MISSING` when there are none."""
    return ", ".join(f"{k}={v:g}" for k, v in params.items()) or MISSING


def table_row(*cells: object) -> str:
    """One Markdown table row: ``| a | b |``."""
    return "| " + " | ".join(str(c) for c in cells) + " |"


def table_head(*columns: str) -> list[str]:
    """A Markdown table's header and separator lines."""
    return [table_row(*columns), "|" + "---|" * len(columns)]


def machine() -> str:
    """This machine as tables name it: ``2 CPU cores (x86_64)``."""
    return f"{os.cpu_count()} CPU cores ({platform.processor() or platform.machine()})"


def date_line(*details: str) -> str:
    """``Date: <today>`` followed by ``; <detail>`` for each detail."""
    return "; ".join([f"Date: {datetime.date.today().isoformat()}", *details])


def results_page(intro: str, columns: Sequence[str], rows: Sequence[str], command: str) -> str:
    """A recipe's results page (``exp/<tag>/RESULTS.md``): ``intro``, a Markdown table of ``rows`` under
    ``columns``, then the command that made it and the date."""
    table = "\n".join(table_head(*columns)) + "\n" + "\n".join(rows)  # an empty table keeps its blank line
    return f"{intro}{table}\n\nCommand: `{command}`\n{date_line()}\n"


def publish(text: str, out: Path | None = None, results: Path | None = None, key: str = "") -> None:
    """A table made by a script: written to ``out`` (atomically), into ``results``'s section ``key``, and
    printed."""
    if out is not None:
        write_atomic(out, text.encode("utf-8"))
    if results is not None:
        update_section(results, key, text)
    print(text)


# ---- RESULTS.md sections ---------------------------------------------------------------------------------


def markers(key: str) -> tuple[str, str]:
    return f"<!-- {key}: begin -->", f"<!-- {key}: end -->"


def update_section(path: Path, key: str, body: str) -> None:
    """Put ``body`` between ``key``'s markers in ``path`` (appending the section if absent), atomically."""
    begin, end = markers(key)
    section = f"{begin}\n{body.strip(chr(10))}\n{end}"
    path = Path(path)
    text = path.read_text(encoding="utf-8") if path.exists() else "# Results\n"
    if begin in text and end in text:
        before, rest = text.split(begin, 1)
        text = before + section + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    write_atomic(path, text.encode("utf-8"))


def drop_section(path: Path, *keys: str) -> None:
    """Remove these keys' sections (markers included) from ``path``; an absent section is no error."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    for key in keys:
        begin, end = markers(key)
        if begin in text and end in text:
            before, rest = text.split(begin, 1)
            text = before.rstrip("\n") + "\n" + rest.split(end, 1)[1]
    write_atomic(path, text.encode("utf-8"))


# ---- benchmark figures -------------------------------------------------------------------------------------

#: the keys of a raw figure, as a benchmark writes it; ``record`` (the kind of measurement, default: the
#: benchmark's name), ``command`` and ``machine`` may be left out
RAW_FIELDS = ("record", "figure", "value", "unit", "setting", "command", "machine")
#: the keys of a collected figure (``bench/results.jsonl``), in the order bench/collect.py writes them:
#: the raw figure's, and the benchmark (``bench``) and ``date`` of its raw file's name, that file
#: (``source``) and the figure's ``line`` in it
FIGURE_FIELDS = (
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


def figure_machine() -> str:
    """The machine a benchmark ran on, as figures name it: ``2 CPU cores (x86_64)``."""
    return f"{os.cpu_count()} CPU cores ({platform.machine()})"


def relative(value: Any) -> Any:
    """An absolute path inside the checkout as a path relative to it; any other value as it is."""
    if isinstance(value, str | os.PathLike) and str(value).startswith(str(ROOT) + os.sep):
        return str(value)[len(str(ROOT)) + 1 :]
    return str(value) if isinstance(value, os.PathLike) else value


def bench_command(script: str | os.PathLike[str], args: Sequence[str] | None = None) -> str:
    """The command that runs ``script`` with ``args`` (default: this process's), as typed in the checkout's
    root: ``python bench/semi.py --steps 30``."""
    args = sys.argv[1:] if args is None else args
    return shlex.join(["python", relative(Path(script).resolve()), *map(relative, args)])


def _flat(values: Mapping[str, Any], prefix: str = "") -> Iterable[tuple[str, Any]]:
    for name, value in values.items():
        if isinstance(value, Mapping):
            yield from _flat(value, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", value


def figures(
    record: str, values: Mapping[str, Any], units: Mapping[str, str], setting: Mapping[str, Any], command: str
) -> list[dict]:
    """One raw figure per number in ``values`` (nested mappings as ``outer.inner``; None: not measured,
    left out). Every figure needs its unit in ``units``: a benchmark says what it measured."""
    machine_ = figure_machine()
    shown = {k: relative(v) for k, v in setting.items()}
    out = []
    for name, value in _flat(values):
        if value is None:
            continue
        if name not in units:
            raise KeyError(f"{record}: no unit for figure {name!r}")
        raw = {"record": record, "figure": name, "value": value, "unit": units[name], "setting": shown}
        out.append(check_figure({**raw, "command": command, "machine": machine_}))
    return out


def write_figures(path: Path | None, new: Iterable[dict], append: bool = True, echo: bool = True) -> None:
    """Raw figures as JSON lines: printed (unless not ``echo``) and appended to ``path`` (``append=False``:
    written over it, atomically; None: printed only)."""
    lines = "".join(json.dumps(f, ensure_ascii=False, allow_nan=False) + "\n" for f in new)
    if echo:
        print(lines, end="", flush=True)
    if path is None:
        return
    path = Path(path)
    if append:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as f:
            f.write(lines)
    else:
        write_atomic(path, lines.encode("utf-8"))


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def check_figure(raw: Any) -> dict:
    """``raw`` if it is a raw figure (:data:`RAW_FIELDS`); else ``ValueError`` saying what is wrong."""
    if not isinstance(raw, dict):
        raise ValueError(f"a JSON {type(raw).__name__}, not an object")
    missing = [k for k in ("figure", "value", "unit", "setting") if k not in raw]
    if missing:
        raise ValueError(f"not a figure (missing {', '.join(missing)})")
    unknown = sorted(set(raw) - set(RAW_FIELDS))
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)} of figure {raw['figure']!r}")
    value = raw["value"]
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"value of figure {raw['figure']!r} is {value!r}, not a finite number")
    for key in ("figure", "record"):
        if key in raw and (not isinstance(raw[key], str) or not raw[key]):
            raise ValueError(f"{key} is {raw[key]!r}, not a name")
    for key in ("unit", "command", "machine"):
        if key in raw and not isinstance(raw[key], str):
            raise ValueError(f"{key} of figure {raw['figure']!r} is {raw[key]!r}, not a string")
    setting = raw["setting"]
    if not isinstance(setting, dict) or not all(_scalar(v) for v in setting.values()):
        raise ValueError(f"setting of figure {raw['figure']!r} is not an object of plain values")
    return raw


def read_figures(path: str | os.PathLike[str]) -> list[dict]:
    """The collected figures of a ``bench/results.jsonl``, one dict per line with :data:`FIGURE_FIELDS`.

    Raises ``ValueError("file:line: ...")`` for a line that is not such a figure, and ``OSError`` when the
    file cannot be read.
    """
    out = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                figure = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: not JSON: {exc.msg}") from exc
            fields = FIGURE_FIELDS
            missing = [k for k in fields if k not in figure] if isinstance(figure, dict) else list(fields)
            if missing:
                raise ValueError(f"{path}:{number}: not a figure (missing {', '.join(missing)})")
            out.append(figure)
    return out


def select(
    found: Iterable[dict],
    bench: str | None = None,
    figure: str | None = None,
    record: str | None = None,
    **setting: Any,
) -> list[dict]:
    """The figures with this bench, figure name and record kind (None: any) and these setting values,
    e.g. ``select(figs, "app", "p95_s", record="app_library", runtime="torch", utterance_s=4.92)``."""
    return [
        f
        for f in found
        if (bench is None or f["bench"] == bench)
        and (figure is None or f["figure"] == figure)
        and (record is None or f["record"] == record)
        and all(f["setting"].get(k) == v for k, v in setting.items())
    ]

"""Results reporting, in one place: Markdown tables and RESULTS.md sections.

* Reading what experiments wrote: :func:`read_json`, :func:`read_jsonl`, :func:`read_scalars` (TensorBoard).
* Writing tables: :func:`table_head` / :func:`table_row` (Markdown), :func:`fmt`, :func:`share`,
  :func:`weights`, :func:`machine` and :func:`date_line` (what made a table, when and where),
  :func:`known_first` and :func:`subfolders` (the papers' order first), :func:`results_page` (a recipe's
  page of results) and :func:`publish` (to a file, a RESULTS.md section and stdout at once).
* RESULTS.md sections that scripts own, each between ``<!-- KEY: begin -->`` and ``<!-- KEY: end -->``
  (:func:`update_section`, :func:`drop_section`): a benchmark or recipe rewrites only its own section, so
  tables written by different scripts live in one file without clobbering each other, and rerunning a
  script replaces its numbers rather than appending.

Standard library only at import time (TensorBoard is imported by :func:`read_scalars` alone).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from asr.files import write_atomic

#: what a table shows for a number it does not have
MISSING = "–"

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

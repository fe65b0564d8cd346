"""Published figures for scale beside a recipe's tables: the loader of its ``local/published.json``.

The figures themselves, their units, what they measure and where each was read (paper and table, or a
repository file at a commit) are data, in each recipe's ``local/published.json``; its ``about``, ``schema``
and ``verification`` fields say what they are and how they were checked. This module reads such a file,
checks it (a wrong entry is a :class:`PublishedError` naming the entry and the field) and hands a results
script the entries of one table. An entry that is not verified carries no values, so no unverified number
is printed.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Entry", "PublishedError", "Source", "load", "rows"]

PAPER_KEYS = ("authors", "title", "venue", "url")
FILE_KEYS = ("repository", "path", "commit", "url")
ENTRY_KEYS = ("table", "paper", "cite", "setting", "metric", "unit", "values", "verified", "checked")
OPTIONAL_KEYS = ("model", "labelled", "lm", "note")


class PublishedError(ValueError):
    """``published.json`` is not as :mod:`published` expects; the message names the entry and the field."""


@dataclass(frozen=True)
class Source:
    """A paper (authors, title, venue, url) or a repository file (repository, path, commit, url)."""

    key: str
    url: str
    authors: tuple[str, ...] = ()
    title: str = ""
    venue: str = ""
    repository: str = ""
    path: str = ""
    commit: str = ""

    def cite(self, where: str) -> str:
        """How a table cites it: the paper or file, where in it, and its address."""
        if self.repository:
            return f"{self.repository}@{self.commit[:10]}:{self.path} ({where}), {self.url}"
        return f'{self.short_authors}, "{self.title}", {self.venue}, {where}: {self.url}'

    @property
    def short_authors(self) -> str:
        """``Surname``, ``Surname and Surname`` or ``Surname et al.`` (an author list ``X et al.`` as it is)."""
        first = self.authors[0]
        if len(self.authors) == 1:
            return first if first.endswith(" et al.") else first.split()[-1]
        if len(self.authors) == 2:
            return f"{first.split()[-1]} and {self.authors[1].split()[-1]}"
        return f"{first.split()[-1]} et al."


@dataclass(frozen=True)
class Entry:
    """One published figure, or the figures of one setting, with where they were read."""

    table: str
    paper: str
    cite: tuple[tuple[Source, str], ...]
    setting: str
    metric: str
    units: dict[str, str]
    values: dict[str, float]
    verified: bool
    checked: str
    model: str = ""
    labelled: str = ""
    lm: str = ""
    note: str = ""

    @property
    def source(self) -> str:
        return "; ".join(source.cite(where) for source, where in self.cite)


def _fail(where: str, message: str) -> PublishedError:
    return PublishedError(f"{where}: {message}")


def _text(where: str, obj: dict, key: str, required: bool = True) -> str:
    value = obj.get(key, None if required else "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise _fail(where, f"{key}: {'missing' if value is None else repr(value)}, not a non-empty string")
    return value


def _keys(where: str, obj: Any, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict:
    if not isinstance(obj, dict):
        raise _fail(where, f"a {type(obj).__name__}, not an object")
    unknown = sorted(set(obj) - set(required) - set(optional))
    missing = [k for k in required if k not in obj]
    if unknown or missing:
        raise _fail(
            where,
            "; ".join(
                filter(
                    None,
                    [
                        missing and f"missing {', '.join(missing)}",
                        unknown and f"unknown {', '.join(unknown)}",
                    ],
                )
            ),
        )
    return obj


def _source(path: Path, key: str, raw: Any) -> Source:
    where = f"{path}: sources[{key!r}]"
    kind = PAPER_KEYS if isinstance(raw, dict) and "repository" not in raw else FILE_KEYS
    raw = _keys(where, raw, kind)
    url = _text(where, raw, "url")
    if not url.startswith("https://"):
        raise _fail(where, f"url: {url!r} is not an https:// address")
    if kind == FILE_KEYS:
        if not re.fullmatch(r"[0-9a-f]{40}", raw["commit"] if isinstance(raw["commit"], str) else ""):
            raise _fail(where, f"commit: {raw['commit']!r} is not a full 40-digit commit hash")
        return Source(
            key,
            url,
            repository=_text(where, raw, "repository"),
            path=_text(where, raw, "path"),
            commit=raw["commit"],
        )
    authors = raw["authors"]
    if not isinstance(authors, list) or not authors or not all(isinstance(a, str) and a for a in authors):
        raise _fail(where, "authors: not a non-empty list of names")
    return Source(key, url, tuple(authors), _text(where, raw, "title"), _text(where, raw, "venue"))


def _entry(where: str, raw: Any, tables: dict[str, str], sources: dict[str, Source]) -> Entry:
    raw = _keys(where, raw, ENTRY_KEYS, OPTIONAL_KEYS)
    where = f"{where} ({raw.get('table')}, {raw.get('paper')})"
    table = _text(where, raw, "table")
    if table not in tables:
        raise _fail(where, f"table: {table!r} is not one of {', '.join(tables)}")
    cite = raw["cite"]
    if not isinstance(cite, list) or not cite:
        raise _fail(where, "cite: not a non-empty list of {source, where}")
    cited = []
    for n, item in enumerate(cite):
        item = _keys(f"{where}: cite[{n}]", item, ("source", "where"))
        if item["source"] not in sources:
            raise _fail(where, f"cite[{n}].source: {item['source']!r} is not a key of sources")
        cited.append((sources[item["source"]], _text(f"{where}: cite[{n}]", item, "where")))
    values = raw["values"]
    if not isinstance(values, dict) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in values.values()
    ):
        raise _fail(where, "values: not an object of names and finite numbers")
    unit = raw["unit"]
    units = dict.fromkeys(values, unit) if isinstance(unit, str) and unit else unit
    if (
        not isinstance(units, dict)
        or set(units) != set(values)
        or not all(isinstance(u, str) for u in units.values())
    ):
        raise _fail(
            where, "unit: neither one unit for every value nor one per value (the same names as values)"
        )
    verified = raw["verified"]
    if not isinstance(verified, bool):
        raise _fail(where, f"verified: {verified!r}, not true or false")
    if values and not verified:
        raise _fail(where, "values: an entry that is not verified must not carry numbers")
    extra = {k: _text(where, raw, k, required=False) for k in OPTIONAL_KEYS}
    return Entry(
        table,
        _text(where, raw, "paper"),
        tuple(cited),
        _text(where, raw, "setting"),
        _text(where, raw, "metric"),
        units,
        dict(values),
        verified,
        _text(where, raw, "checked"),
        **extra,
    )


def load(path: Path) -> tuple[dict[str, str], list[Entry]]:
    """The tables' titles and every entry of ``path``, checked; :class:`PublishedError` if anything is off."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PublishedError(f"{path}: cannot read: {exc}") from exc
    data = _keys(str(path), data, ("tables", "sources", "entries"), ("about", "schema", "verification"))
    tables = data["tables"]
    if not isinstance(tables, dict) or not all(isinstance(t, str) for t in tables.values()):
        raise _fail(str(path), "tables: not an object of table keys and titles")
    if not isinstance(data["sources"], dict) or not isinstance(data["entries"], list):
        raise _fail(str(path), "sources must be an object and entries a list")
    sources = {key: _source(path, key, raw) for key, raw in data["sources"].items()}
    entries = [_entry(f"{path}: entries[{n}]", raw, tables, sources) for n, raw in enumerate(data["entries"])]
    return dict(tables), entries


def rows(table: str, path: Path) -> list[Entry]:
    """The entries of ``table`` (a key of the file's ``tables``) in the file's order; KeyError for an unknown table."""
    tables, entries = load(path)
    if table not in tables:
        raise KeyError(f"unknown table {table!r}; expected one of {sorted(tables)}")
    return [e for e in entries if e.table == table]

"""RESULTS.md sections that scripts own: each between ``<!-- KEY: begin -->`` and ``<!-- KEY: end -->``.

A benchmark or recipe rewrites only its own section, so tables written by different scripts live in one
file without clobbering each other, and rerunning a script replaces its numbers rather than appending.
"""

from __future__ import annotations

from pathlib import Path

from asr.files import write_atomic


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

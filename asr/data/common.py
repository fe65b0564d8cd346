"""What every corpus preparation shares: input checks, a summary of skipped items, atomic manifests."""

from __future__ import annotations

import gzip
import io
import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import soundfile as sf

from asr.errors import UserError
from asr.files import write_atomic

log = logging.getLogger(__name__)


class CorpusError(UserError):
    """A user-facing problem with a corpus (missing folder, bad file); the message names the path."""


def require_dir(path: Path, what: str) -> Path:
    """Fail with a one-line message when a corpus folder is missing."""
    path = Path(path)
    if not path.is_dir():
        raise CorpusError(f"{what} not found: {path} (is the corpus downloaded and unpacked there?)")
    return path


def read_utterance_ids(path: Path) -> list[str]:
    """Utterance ids from a cut manifest (its supervisions' ids) or a text file whose lines start with one
    (a list of ids, or a Kaldi ``text``/``wav.scp``/``utt2spk``)."""
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"utterance list not found: {path}")
    if ".jsonl" in path.name:
        from lhotse import CutSet

        return [c.supervisions[0].id for c in CutSet.from_file(path) if c.supervisions]
    ids = [line.split()[0] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not ids:
        raise CorpusError(f"{path}: lists no utterances")
    return ids


def audio_problem(path: Path) -> str | None:
    """Why ``path`` is not usable audio (missing, empty, unreadable header, no samples), or None."""
    if not path.is_file():
        return "missing audio file"
    if path.stat().st_size == 0:
        return "empty audio file"
    try:
        info = sf.info(str(path))
    except Exception as exc:  # soundfile raises LibsndfileError/RuntimeError on corrupt headers
        return f"unreadable audio ({str(exc).splitlines()[0][:120]})"
    if info.frames <= 0:
        return "audio file has no samples"
    return None


@dataclass
class PrepareSummary:
    """Counts what was prepared and lists every skipped item with its reason."""

    corpus: str
    prepared: Counter = field(default_factory=Counter)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def skip(self, path: Path | str, reason: str) -> None:
        log.warning("skipping %s: %s", path, reason)
        self.skipped.append((str(path), reason))

    def count(self, part: str, n: int = 1) -> None:
        self.prepared[part] += n

    def report(self) -> str:
        lines = [
            f"{self.corpus}: prepared "
            + (", ".join(f"{k}={v}" for k, v in sorted(self.prepared.items())) or "nothing")
        ]
        if self.skipped:
            by_reason = Counter(reason.split(" (")[0] for _, reason in self.skipped)
            lines.append(
                f"{self.corpus}: skipped {len(self.skipped)} item(s): "
                + ", ".join(f"{r}: {n}" for r, n in by_reason.most_common())
            )
            lines += [f"  skipped {p}: {r}" for p, r in self.skipped[:20]]
            if len(self.skipped) > 20:
                lines.append(f"  ... and {len(self.skipped) - 20} more")
        return "\n".join(lines)


def save_manifest(manifest, path: Path) -> None:
    """Write a lhotse manifest as ``*.jsonl.gz`` atomically and reproducibly.

    A killed run leaves no half-written file (temp file + rename), and the gzip header carries no
    time stamp or file name, so the same manifest always gives the same bytes.
    """
    path = Path(path)
    lines = "".join(json.dumps(item.to_dict(), ensure_ascii=False) + "\n" for item in manifest)
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0) as gz:
        gz.write(lines.encode("utf-8"))
    write_atomic(path, buf.getvalue())


def save_part(
    prefix: str, part: str, recordings, supervisions, out_dir: Path, summary: PrepareSummary
) -> None:
    """Write ``{prefix}_{recordings,supervisions,cuts}_{part}.jsonl.gz`` for one corpus part."""
    from lhotse import CutSet, RecordingSet, SupervisionSet

    out_dir = Path(out_dir)
    # sorted, so that the bytes do not depend on the order the file system lists the corpus in
    recordings = RecordingSet.from_recordings(sorted(recordings, key=lambda r: r.id))
    supervisions = SupervisionSet.from_segments(
        sorted(supervisions, key=lambda s: (s.recording_id, s.start, s.id))
    )
    cuts = CutSet.from_manifests(recordings=recordings, supervisions=supervisions)
    save_manifest(recordings, out_dir / f"{prefix}_recordings_{part}.jsonl.gz")
    save_manifest(supervisions, out_dir / f"{prefix}_supervisions_{part}.jsonl.gz")
    save_manifest(cuts, out_dir / f"{prefix}_cuts_{part}.jsonl.gz")
    summary.count(part, len(supervisions))

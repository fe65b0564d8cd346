"""Libri-light unlabelled audio (``small``/``medium``/``large``) into lhotse manifests.

Each ``.flac`` has a ``.json`` side file with the speaker and the voice-activity segments; the
supervisions are those segments (no text). A clean scan goes through lhotse's
Libri-light recipe; otherwise lhotse's per-file parser runs on the good files only.
"""

from __future__ import annotations

import json
from pathlib import Path

from lhotse import RecordingSet, SupervisionSet
from lhotse.qa import fix_manifests, validate_recordings_and_supervisions

# lhotse's prepare_librilight insists on all of small/medium/large being present, so each present
# part goes through its per-part function instead.
from lhotse.recipes.librilight import LIBRILIGHT, _parse_utterance, _prepare_subset

from .common import CorpusError, PrepareSummary, audio_problem, require_dir, save_part


def _side_file_problem(audio: Path) -> str | None:
    side = audio.with_suffix(".json")
    if not side.is_file():
        return f"missing side file {side.name}"
    try:
        meta = json.loads(side.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return f"side file {side.name} is not valid JSON ({exc})"
    missing = [k for k in ("speaker", "voice_activity") if k not in meta]
    if missing:
        return f"side file {side.name} lacks field(s) {', '.join(missing)}"
    if not meta["voice_activity"]:
        return f"side file {side.name} has no voice_activity segments"
    return None


def prepare_librilight(corpus_dir: Path, out_dir: Path, num_jobs: int = 1) -> PrepareSummary:
    """Write ``librilight_{recordings,supervisions,cuts}_{small,medium,large}.jsonl.gz`` for the parts present."""
    corpus_dir = require_dir(corpus_dir, "Libri-light folder")
    parts = [p for p in LIBRILIGHT if (corpus_dir / p).is_dir()]
    if not parts:
        raise CorpusError(f"no Libri-light parts (small, medium, large) in {corpus_dir}")
    summary = PrepareSummary("librilight")
    good: dict[str, list[Path]] = {}
    for part in parts:
        good[part] = []
        for audio in sorted((corpus_dir / part).rglob("*.flac")):
            problem = audio_problem(audio) or _side_file_problem(audio)
            if problem:
                summary.skip(audio, problem)
            else:
                good[part].append(audio)
        if not good[part]:
            raise CorpusError(f"no usable audio in {corpus_dir / part}")
    if not summary.skipped:
        for part in parts:
            recordings, supervisions = _prepare_subset(part, corpus_dir, num_jobs)
            save_part("librilight", part, recordings, supervisions, out_dir, summary)
        return summary
    for part in parts:
        results = [r for r in (_parse_utterance(corpus_dir, a) for a in good[part]) if r is not None]
        recordings = RecordingSet.from_recordings(r for r, _ in results)
        supervisions = SupervisionSet.from_segments(s for _, segs in results for s in segs)
        recordings, supervisions = fix_manifests(recordings, supervisions)
        validate_recordings_and_supervisions(recordings, supervisions)
        save_part("librilight", part, recordings, supervisions, out_dir, summary)
    return summary

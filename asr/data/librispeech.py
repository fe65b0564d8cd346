"""LibriSpeech-layout preparation: LibriSpeech itself and Libri-light's fine-tuning sets.

Both use lhotse's own LibriSpeech recipe. A scan first checks every transcript line and audio
file; a part with no problem goes through ``lhotse.recipes.prepare_librispeech`` unchanged, a part
with problems through lhotse's per-utterance parser on the good lines only, with every skipped
line reported in the summary.
"""

from __future__ import annotations

import logging
from pathlib import Path

from lhotse import RecordingSet, SupervisionSet
from lhotse.qa import fix_manifests, validate_recordings_and_supervisions
from lhotse.recipes.librispeech import LIBRISPEECH, parse_utterance
from lhotse.recipes.librispeech import prepare_librispeech as lhotse_prepare_librispeech

from .common import CorpusError, PrepareSummary, audio_problem, require_dir, save_part

log = logging.getLogger(__name__)
#: Libri-light's limited-supervision splits, as unions of the release's folders.
FINETUNING_SPLITS = {
    "10min": ("1h/0/clean", "1h/0/other"),
    "1h": tuple(f"1h/{fold}/{kind}" for fold in range(6) for kind in ("clean", "other")),
}
FINETUNING_SPLITS["10h"] = FINETUNING_SPLITS["1h"] + ("9h/clean", "9h/other")


def scan_librispeech_dir(part_path: Path, summary: PrepareSummary) -> list[str]:
    """Transcript lines of ``part_path`` whose text and audio are usable; the rest go to ``summary``."""
    good: list[str] = []
    for trans in sorted(part_path.rglob("*.trans.txt")):
        try:
            lines = trans.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError:
            summary.skip(trans, "transcript file is not UTF-8 text")
            continue
        for lineno, line in enumerate(lines, 1):
            if not line.strip():
                continue
            fields = line.strip().split(maxsplit=1)
            utt_id = fields[0]
            if len(fields) < 2:
                summary.skip(f"{trans}:{lineno}", f"empty transcript for {utt_id}")
                continue
            audio = part_path / Path(utt_id.replace("-", "/")).parent / f"{utt_id}.flac"
            problem = audio_problem(audio)
            if problem:
                summary.skip(audio, problem)
                continue
            good.append(line)
    return good


def prepare_librispeech_dir(
    corpus_dir: Path, part: str, summary: PrepareSummary, num_jobs: int = 1
) -> tuple[RecordingSet, SupervisionSet]:
    """Recordings and supervisions of one LibriSpeech-layout folder ``corpus_dir/part``."""
    part_path = require_dir(Path(corpus_dir) / part, f"{part} folder")
    n_skipped = len(summary.skipped)
    good = scan_librispeech_dir(part_path, summary)
    if not good:
        raise CorpusError(f"no usable utterances in {part_path}")
    if len(summary.skipped) == n_skipped:
        parts = lhotse_prepare_librispeech(corpus_dir, dataset_parts=[part], num_jobs=num_jobs)
        return parts[part]["recordings"], parts[part]["supervisions"]
    pairs = [r for r in (parse_utterance(part_path, line, {}) for line in good) if r is not None]
    recordings = RecordingSet.from_recordings(r for r, _ in pairs)
    supervisions = SupervisionSet.from_segments(s for _, s in pairs)
    recordings, supervisions = fix_manifests(recordings, supervisions)
    validate_recordings_and_supervisions(recordings, supervisions)
    return recordings, supervisions


def prepare_librispeech(
    corpus_dir: Path, out_dir: Path, parts: list[str] | None = None, num_jobs: int = 1
) -> PrepareSummary:
    """Write ``librispeech_{recordings,supervisions,cuts}_{part}.jsonl.gz`` for each part.

    ``corpus_dir`` is the ``LibriSpeech`` folder holding ``train-clean-100``, ``dev-clean``, …;
    ``parts`` defaults to every standard part present there.
    """
    corpus_dir = require_dir(corpus_dir, "LibriSpeech folder")
    summary = PrepareSummary("librispeech")
    parts = parts or [p for p in LIBRISPEECH if (corpus_dir / p).is_dir()]
    if not parts:
        raise CorpusError(f"no LibriSpeech parts ({', '.join(LIBRISPEECH[:3])}, ...) in {corpus_dir}")
    for part in parts:
        recordings, supervisions = prepare_librispeech_dir(corpus_dir, part, summary, num_jobs)
        save_part("librispeech", part, recordings, supervisions, out_dir, summary)
    return summary


def prepare_librilight_finetuning(corpus_dir: Path, out_dir: Path, num_jobs: int = 1) -> PrepareSummary:
    """Write ``librispeech_finetuning_{recordings,supervisions,cuts}_{10min,1h,10h}.jsonl.gz``.

    ``corpus_dir`` is the ``librispeech_finetuning`` folder of the Libri-light release. The 10-hour
    split is written only when ``9h/`` is present.
    """
    corpus_dir = require_dir(corpus_dir, "librispeech_finetuning folder")
    require_dir(corpus_dir / "1h", "1h folder of librispeech_finetuning")
    summary = PrepareSummary("librispeech_finetuning")
    folders = {}
    for folder in FINETUNING_SPLITS["10h"]:
        if (corpus_dir / folder).is_dir():
            folders[folder] = prepare_librispeech_dir(corpus_dir, folder, summary, num_jobs)
        else:
            log.warning("%s is missing", corpus_dir / folder)
    for split, members in FINETUNING_SPLITS.items():
        if not all(m in folders for m in members):
            log.warning("split %s skipped: missing %s", split, [m for m in members if m not in folders])
            continue
        recordings = RecordingSet.from_recordings(r for m in members for r in folders[m][0])
        supervisions = SupervisionSet.from_segments(s for m in members for s in folders[m][1])
        save_part("librispeech_finetuning", split, recordings, supervisions, out_dir, summary)
    return summary

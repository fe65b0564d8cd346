"""Synthetic LibriSpeech, and the LibriSpeech layout that Libri-light's fine-tuning sets reuse.

Layout (as the real corpus)::

    LibriSpeech/
      SPEAKERS.TXT  CHAPTERS.TXT
      train-clean-100/<spk>/<chapter>/<spk>-<chapter>-<utt>.flac
                                     <spk>-<chapter>.trans.txt   # "<utt-id> UPPER CASE WORDS"
      dev-clean/ test-clean/ dev-other/ test-other/

Speakers of every subset are distinct. The ``-other`` subsets are harder: voices whose variants no
training speaker has, a faster speaking rate, and additive noise (SNR 5–15 dB).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from asr.files import write_atomic

from .audio import add_noise, run_tasks, write_audio, write_text
from .text_source import sentence_pools
from .voices import (
    WORD_CORPUS_SHARES,
    assign_families,
    family_rng,
    open_speaker,
    voice_label,
    write_voices_json,
)

log = logging.getLogger(__name__)
SAMPLE_RATE = 16000


@dataclass(frozen=True)
class SubsetSpec:
    """One folder of LibriSpeech-layout speech: ``name`` relative to the corpus root."""

    name: str
    minutes: float
    speakers: int
    pool: str  # sentence pool: train / dev / test
    harder: bool = False  # unseen voices, faster, noisy ("other")


@dataclass(frozen=True)
class SpeakerTask:
    root: str
    subset: SubsetSpec
    speaker: int
    chapters: tuple[int, ...]
    gender: str
    seconds: float
    seed: tuple[int, ...]
    family: str = "espeak"


@dataclass
class SpeakerResult:
    speaker: int
    gender: str
    subset: str
    voice: dict
    chapters: dict[int, float]  # chapter id -> seconds
    log: list[dict]
    family: str = "espeak"


LIBRISPEECH_PRESETS: dict[str, tuple[SubsetSpec, ...]] = {
    "tiny": (
        SubsetSpec("train-clean-100", 2.0, 4, "train"),
        SubsetSpec("dev-clean", 0.5, 2, "dev"),
        SubsetSpec("test-clean", 0.5, 2, "test"),
        SubsetSpec("dev-other", 0.5, 2, "dev", harder=True),
        SubsetSpec("test-other", 0.5, 2, "test", harder=True),
    ),
    "mini": (
        SubsetSpec("train-clean-100", 120.0, 40, "train"),
        SubsetSpec("dev-clean", 30.0, 8, "dev"),
        SubsetSpec("test-clean", 30.0, 8, "test"),
        SubsetSpec("dev-other", 30.0, 8, "dev", harder=True),
        SubsetSpec("test-other", 30.0, 8, "test", harder=True),
    ),
}


def _synthesize_speaker(task: SpeakerTask) -> SpeakerResult:
    """Write all chapters of one speaker; deterministic for ``task.seed``."""
    rng = np.random.default_rng(list(task.seed))
    voice_rng = np.random.default_rng([*task.seed, 91])  # non-espeak voices: a stream of their own
    harder = task.subset.harder
    with open_speaker(task.family, rng, voice_rng, task.gender, held_out=harder, faster=harder) as speaker:
        sentences = sentence_pools()[task.subset.pool]
        root = Path(task.root) / task.subset.name
        per_chapter = task.seconds / len(task.chapters)
        chapter_seconds: dict[int, float] = {}
        records: list[dict] = []
        for chapter in task.chapters:
            lines, total, utt = [], 0.0, 0
            while total < per_chapter:
                picked = [sentences[i] for i in rng.integers(0, len(sentences), int(rng.integers(1, 4)))]
                synthesis = speaker.say(" ".join(s.text for s in picked), SAMPLE_RATE)
                samples = synthesis.samples
                snr = float(rng.uniform(5, 15)) if task.subset.harder else None
                if snr is not None:
                    samples = add_noise(samples, snr, rng)
                utt_id = f"{task.speaker}-{chapter}-{utt:04d}"
                transcript = " ".join(w for s in picked for w in s.words)
                write_audio(root / str(task.speaker) / str(chapter) / f"{utt_id}.flac", samples, SAMPLE_RATE)
                lines.append(f"{utt_id} {transcript}\n")
                records.append(
                    {"id": utt_id, "text": transcript, "snr_db": snr, "seconds": round(synthesis.duration, 3)}
                )
                total += synthesis.duration
                utt += 1
            trans = root / str(task.speaker) / str(chapter) / f"{task.speaker}-{chapter}.trans.txt"
            write_text(trans, "".join(lines))
            chapter_seconds[chapter] = total
        return SpeakerResult(
            task.speaker,
            task.gender,
            task.subset.name,
            speaker.describe(),
            chapter_seconds,
            records,
            task.family,
        )


def synthesize_layout(
    root: Path,
    subsets: tuple[SubsetSpec, ...],
    seed: int,
    num_jobs: int = 1,
    id_offset: int = 0,
    id_range: tuple[int, int] = (19, 9000),
    voices: dict[str, float] | None = None,
) -> list[SpeakerResult]:
    """Write LibriSpeech-layout subsets under ``root`` (speakers distinct across all subsets).

    ``id_offset`` gives another corpus made with the same seed (Libri-light fine-tuning) its own
    random streams, and ``id_range`` its own speaker ids. ``voices`` are the shares of the voice
    families (:mod:`data_prep.voices`; default espeak only), drawn per subset.
    """
    voices = voices or {"espeak": 1.0}
    rng = np.random.default_rng([seed, id_offset])
    n_speakers = sum(s.speakers for s in subsets)
    speaker_ids = rng.choice(np.arange(*id_range), size=n_speakers, replace=False)
    tasks, k = [], 0
    for s_index, subset in enumerate(subsets):
        families = assign_families(voices, subset.speakers, family_rng(seed, id_offset, s_index))
        for i in range(subset.speakers):
            n_chapters = int(rng.integers(1, 3))
            chapters = tuple(int(c) for c in rng.choice(np.arange(10000, 300000), n_chapters, replace=False))
            gender = "F" if i % 2 == 0 else "M"
            tasks.append(
                SpeakerTask(
                    str(root),
                    subset,
                    int(speaker_ids[k]),
                    chapters,
                    gender,
                    subset.minutes * 60 / subset.speakers,
                    (seed, id_offset, s_index, i),
                    families[i],
                )
            )
            k += 1
    return run_tasks(_synthesize_speaker, tasks, num_jobs, f"synthesising {root.name}")


def _speakers_txt(results: list[SpeakerResult]) -> str:
    head = ";ID  |SEX| SUBSET           |MINUTES| NAME\n"
    rows = [
        f"{r.speaker:<5}| {r.gender} | {r.subset:<16} | {sum(r.chapters.values()) / 60:5.2f} | "
        f"{voice_label(r.voice)}\n"
        for r in sorted(results, key=lambda r: r.speaker)
    ]
    return head + "".join(rows)


def _chapters_txt(results: list[SpeakerResult]) -> str:
    head = ";ID    |READER|MINUTES| SUBSET           | PROJ.|BOOK ID| CH. TITLE | PROJECT TITLE\n"
    rows = [
        f"{c:<7}| {r.speaker:<5}| {sec / 60:5.2f} | {r.subset:<16} | 0    | 0     | synthetic | fortunes\n"
        for r in results
        for c, sec in sorted(r.chapters.items())
    ]
    return head + "".join(sorted(rows))


def write_synthesis_log(path: Path, results: list[SpeakerResult]) -> None:
    """One JSON line per utterance: what was spoken, by which voice, with how much noise."""
    lines = [
        json.dumps({"speaker": r.speaker, "subset": r.subset, "voice": r.voice, **rec}) + "\n"
        for r in results
        for rec in r.log
    ]
    write_text(path, "".join(lines))


def synth_librispeech(
    out_dir: Path,
    preset: str = "tiny",
    seed: int = 0,
    num_jobs: int = 1,
    voices: dict[str, float] | None = None,
) -> Path:
    """Synthesise ``out_dir/LibriSpeech`` for ``preset`` (tiny | mini); returns the corpus root.

    ``voices``: shares of the voice families (default: the preset's, :data:`WORD_CORPUS_SHARES`);
    they and every speaker's voice are recorded in ``out_dir/LibriSpeech.voices.json``.
    """
    if preset not in LIBRISPEECH_PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose from {sorted(LIBRISPEECH_PRESETS)}")
    start = time.time()
    root = Path(out_dir) / "LibriSpeech"
    voices = voices or WORD_CORPUS_SHARES[preset]
    results = synthesize_layout(root, LIBRISPEECH_PRESETS[preset], seed, num_jobs, voices=voices)
    write_text(root / "SPEAKERS.TXT", _speakers_txt(results))
    write_text(root / "CHAPTERS.TXT", _chapters_txt(results))
    write_synthesis_log(Path(out_dir) / "LibriSpeech.synth.jsonl", results)
    write_voices_json(
        Path(out_dir) / "LibriSpeech.voices.json",
        voices,
        {str(r.speaker): {"subset": r.subset, "family": r.family, "voice": r.voice} for r in results},
    )
    hours = sum(sum(r.chapters.values()) for r in results) / 3600
    log.info("LibriSpeech (%s): %.2f h of speech in %.1f s", preset, hours, time.time() - start)
    return root


LM_CORPUS_FILE = "librispeech-lm-norm.txt.gz"  # the name of LibriSpeech's LM text on openslr.org/11


def write_lm_corpus(out_dir: Path) -> Path:
    """Write ``out_dir/librispeech-lm-norm.txt.gz``: every sentence of the training pool, one a line.

    The real file is normalised book text that excludes the dev and test books; here it is the train pool
    of :func:`data_prep.text_source.sentence_pools` (dev and test transcripts never occur in it), in the
    same form: upper case, one sentence a line, gzip. Deterministic (gzip without a time stamp).
    """
    import gzip
    import io

    from .text_source import sentence_pools

    lines = "".join(s.transcript + "\n" for s in sentence_pools()["train"]).encode("utf-8")
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz:
        gz.write(lines)
    path = Path(out_dir) / LM_CORPUS_FILE
    write_atomic(path, buf.getvalue())
    log.info("%s: %d sentences", path, len(sentence_pools()["train"]))
    return path

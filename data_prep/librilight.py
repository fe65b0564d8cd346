"""Synthetic Libri-light: unlabelled long-form audio and the limited-supervision fine-tuning sets.

Layout (as the real release)::

    librilight/small/<spk>/<book_dir>/<name>.flac   # minutes of reading, pauses between sentences
                                    /<name>.json   # {"speaker", "voice_activity", "snr", "book_meta"}
    librilight/librispeech_finetuning/1h/{0..5}/{clean,other}/<spk>/<chapter>/<spk>-<chapter>-<utt>.flac
                                     /9h/{clean,other}/...                 (+ <spk>-<chapter>.trans.txt)

The 10-minute split is fold ``1h/0``, the 1-hour split is ``1h/*``, the 10-hour split is
``1h/*`` + ``9h/*``, exactly as in the real release. Fine-tuning speakers, unlabelled speakers and
LibriSpeech speakers are distinct.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .audio import add_noise, run_tasks, write_audio, write_text
from .librispeech import SubsetSpec, synthesize_layout, write_synthesis_log
from .text_source import sentence_pools
from .voices import WORD_CORPUS_SHARES, assign_families, family_rng, open_speaker, write_voices_json

log = logging.getLogger(__name__)
SAMPLE_RATE = 16000


@dataclass(frozen=True)
class UnlabelledPreset:
    minutes: float
    speakers: int
    file_minutes: float  # length of one long-form file


UNLABELLED_PRESETS = {
    "tiny": UnlabelledPreset(minutes=3.0, speakers=3, file_minutes=0.5),
    "mini": UnlabelledPreset(minutes=300.0, speakers=30, file_minutes=2.0),
}


def finetuning_subsets(preset: str) -> tuple[SubsetSpec, ...]:
    """The fine-tuning folders; the mini preset has the real sizes (6 × 10 min + 9 h)."""
    fold_minutes, nine_h_minutes, fold_speakers, nine_h_speakers = {
        "tiny": (0.5, 1.0, 1, 2),
        "mini": (10.0, 540.0, 2, 12),
    }[preset]
    specs = []
    for fold in range(6):
        for kind in ("clean", "other"):
            specs.append(
                SubsetSpec(
                    f"1h/{fold}/{kind}", fold_minutes / 2, fold_speakers, "train", harder=kind == "other"
                )
            )
    for kind in ("clean", "other"):
        specs.append(
            SubsetSpec(f"9h/{kind}", nine_h_minutes / 2, nine_h_speakers, "train", harder=kind == "other")
        )
    return tuple(specs)


@dataclass(frozen=True)
class _LongFormTask:
    root: str
    speaker: int
    book: str
    files: int
    seconds_per_file: float
    gender: str
    seed: tuple[int, ...]
    family: str = "espeak"


def _synthesize_long_form(task: _LongFormTask) -> list[dict]:
    """Write the long-form files of one speaker: sentences separated by 0.3–1.5 s pauses."""
    rng = np.random.default_rng(list(task.seed))
    voice_rng = np.random.default_rng([*task.seed, 91])  # non-espeak voices: a stream of their own
    with open_speaker(task.family, rng, voice_rng, task.gender) as speaker:
        sentences = sentence_pools()["train"]
        snr = float(rng.uniform(15, 40))
        records = []
        for f in range(task.files):
            pieces, activity, t = [], [], 0.0
            lead = np.zeros(int(rng.uniform(0.2, 0.8) * SAMPLE_RATE), np.float32)
            pieces.append(lead)
            t = len(lead) / SAMPLE_RATE
            while t < task.seconds_per_file:
                sentence = sentences[int(rng.integers(0, len(sentences)))]
                syn = speaker.say(sentence.text, SAMPLE_RATE)
                if syn.speech is None:
                    continue
                start, end = t + syn.speech[0], t + syn.speech[1]
                activity.append([round(start, 3), round(end, 3)])
                gap = np.zeros(int(rng.uniform(0.3, 1.5) * SAMPLE_RATE), np.float32)
                pieces += [syn.samples, gap]
                t += syn.duration + len(gap) / SAMPLE_RATE
            samples = add_noise(np.concatenate(pieces), snr, rng)
            name = f"{f + 1:02d}_{task.book}_64kb"
            folder = Path(task.root) / "small" / str(task.speaker) / f"{task.book}_librivox_64kb_mp3"
            write_audio(folder / f"{name}.flac", samples, SAMPLE_RATE)
            meta = {
                "speaker": str(task.speaker),
                "book_meta": {
                    "id": task.book,
                    "title": task.book.replace("_", " "),
                    "language": "English",
                    "genre": ["Synthetic"],
                    "meta_genre": "Literature",
                    "url_text_source": "Debian fortunes",
                    "totaltime": f"{t:.1f}",
                },
                "snr": round(snr, 2),
                "voice_activity": activity,
            }
            write_text(folder / f"{name}.json", json.dumps(meta, indent=1))
            records.append(
                {
                    "file": f"{task.speaker}/{folder.name}/{name}",
                    "voice": speaker.describe(),
                    "seconds": round(t, 3),
                }
            )
        return records


def synth_librilight(
    out_dir: Path,
    preset: str = "tiny",
    seed: int = 0,
    num_jobs: int = 1,
    voices: dict[str, float] | None = None,
) -> Path:
    """Synthesise ``out_dir/librilight/small`` (unlabelled) and ``out_dir/librilight/librispeech_finetuning``.

    ``voices``: shares of the voice families (default: the preset's, :data:`WORD_CORPUS_SHARES`),
    recorded with every speaker's voice in ``out_dir/librilight.voices.json``. Returns ``out_dir/librilight``.
    """
    if preset not in UNLABELLED_PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose from {sorted(UNLABELLED_PRESETS)}")
    start = time.time()
    out_dir = Path(out_dir) / "librilight"
    p = UNLABELLED_PRESETS[preset]
    rng = np.random.default_rng([seed, 2])
    speakers = rng.choice(np.arange(9000, 15000), size=p.speakers, replace=False)
    voices = voices or WORD_CORPUS_SHARES[preset]
    families = assign_families(voices, p.speakers, family_rng(seed, 2))
    files = max(1, round(p.minutes / p.speakers / p.file_minutes))
    tasks = [
        _LongFormTask(
            str(out_dir),
            int(spk),
            f"book{int(rng.integers(1000, 99999))}",
            files,
            p.file_minutes * 60,
            "F" if i % 2 == 0 else "M",
            (seed, 2, i),
            families[i],
        )
        for i, spk in enumerate(speakers)
    ]
    records = run_tasks(_synthesize_long_form, tasks, num_jobs, "synthesising librilight/small")
    write_text(
        out_dir.parent / "librilight.synth.jsonl", "".join(json.dumps(r) + "\n" for rs in records for r in rs)
    )
    results = synthesize_layout(
        out_dir / "librispeech_finetuning",
        finetuning_subsets(preset),
        seed,
        num_jobs,
        id_offset=1,
        id_range=(15000, 20000),
        voices=voices,
    )
    write_synthesis_log(out_dir.parent / "librispeech_finetuning.synth.jsonl", results)
    speakers_json = {
        str(t.speaker): {"subset": "small", "family": t.family, "voice": rs[0]["voice"]}
        for t, rs in zip(tasks, records, strict=True)
    }
    speakers_json |= {
        str(r.speaker): {"subset": r.subset, "family": r.family, "voice": r.voice} for r in results
    }
    write_voices_json(out_dir.parent / "librilight.voices.json", voices, speakers_json)
    log.info("Libri-light (%s): done in %.1f s", preset, time.time() - start)
    return out_dir

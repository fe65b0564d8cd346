"""Synthetic L2-ARCTIC: accented read speech whose mispronunciation labels are exact.

Layout (as the real release; lhotse's ``prepare_l2_arctic`` reads it)::

    L2-ARCTIC/<SPK>/wav/arctic_a0001.wav            # 44.1 kHz mono 16-bit
                    transcript/arctic_a0001.txt     # the prompt as written, one line
                    textgrid/arctic_a0001.TextGrid  # forced-alignment style: canonical phones
                    annotation/arctic_a0001.TextGrid  # annotated subset: CPL,PPL,s / CPL,sil,d / sil,PPL,a
    L2-ARCTIC.synth.jsonl                           # beside the root: what was spoken, by which voice

Every speaker reads the same prompts. Each utterance's canonical pronunciation (CMUdict, first
variant) is edited with typical L2 errors (:mod:`data_prep.l2_errors`), and espeak-ng *speaks the
edited phone string*, so the perceived phones in the annotation are exactly what the audio says.
Phone boundaries come from espeak-ng's phoneme events. The six standard test speakers get voice
variants that no other speaker has.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from asr.data.l2arctic import SPEAKERS as SPEAKER_TABLE
from asr.data.l2arctic import TEST_SPEAKERS
from asr.text.espeak import IsolatedSynthesizer, Synthesis, Voice
from asr.text.lexicon import Lexicon
from asr.text.phones import ARPABET_TO_ESPEAK, ESPEAK_TO_ARPABET, phones_to_espeak, strip_stress

from .audio import add_noise, run_tasks, write_audio, write_text
from .l2_errors import L1_FAVOURITES, Slot, canonical_phones, correct, mispronounce, spoken_phones
from .text_source import sentence_pools
from .voices import (
    L2_SHARES,
    PiperSpeaker,
    Speaker,
    assign_families,
    family_rng,
    open_speaker,
    write_voices_json,
)

log = logging.getLogger(__name__)
SAMPLE_RATE = 44100
#: The 24 speakers of the release: (folder, gender, L1), in lhotse's table order.
SPEAKERS: tuple[tuple[str, str, str], ...] = tuple((name, g, l1) for name, (g, l1) in SPEAKER_TABLE.items())
MIN_PAUSE_S = 0.05  # shorter gaps between espeak phones are absorbed into the preceding phone
MAX_DELETION_S = 0.03  # a deleted phone gets this much (at most) of its predecessor's time
_MAX_TRIES = 4
#: espeak-ng's own context variants that still are the labelled phone: the schwa it r-colours
#: before R (``@`` → ``3``), the short tense ``i`` it uses for IH before a vowel, and N
#: assimilated to a following velar (``N`` is espeak-ng's NG).
ALLOPHONES: dict[str, frozenset[str]] = {
    "AH": frozenset({"3"}),
    "IH": frozenset({"i"}),
    "N": frozenset({"N"}),
}


@dataclass(frozen=True)
class L2ArcticPreset:
    """How much to synthesise: ``prompts`` read by every speaker, ``annotated`` of them per speaker."""

    prompts: int
    annotated: int


L2ARCTIC_PRESETS: dict[str, L2ArcticPreset] = {
    "tiny": L2ArcticPreset(prompts=4, annotated=2),
    "mini": L2ArcticPreset(
        prompts=150, annotated=40
    ),  # ~1 h annotated; ~2 h unannotated, of which the 18 training speakers give the unlabelled set
}


@dataclass(frozen=True)
class ErrorConfig:
    error_rate: float = 0.12  # per eligible phone
    clean_share: float = 0.2  # utterances spoken without any error
    accent_mark_rate: float = 0.05  # error labels whose PPL carries the real corpus's '*'
    stray_space_rate: float = 0.02  # labels with a stray space, as in a few real files


@dataclass(frozen=True)
class Prompt:
    name: str  # arctic_a0001
    text: str  # as written
    words: tuple[str, ...]  # normalised, upper case
    prons: tuple[tuple[str, ...], ...]  # CMUdict, first variant, with stress


@dataclass(frozen=True)
class SpeakerTask:
    root: str
    speaker: str
    gender: str
    l1: str
    prompts: tuple[Prompt, ...]
    annotated: frozenset[str]
    errors: ErrorConfig
    seed: tuple[int, ...]
    family: str = "espeak"


class AlignmentError(RuntimeError):
    """espeak-ng's phoneme events do not account for every requested phone."""


Interval = tuple[float, float, str]


# --- espeak-ng phoneme events → phone spans -------------------------------------------------------


def _event_phones(mnemonic: str) -> tuple[str, ...]:
    return ESPEAK_TO_ARPABET.get(mnemonic.replace("'", "").replace(",", ""), ())


def align_events(requested: list[str], events: list[tuple[str, float, float]]) -> list[tuple[float, float]]:
    """The (start, end) of each requested ARPAbet phone among espeak-ng's phoneme events.

    espeak-ng renames some phones (``t``→``t#``), inserts linking ones (``r-`` after ``3``) and
    gives some zero length (an ``l`` merged into the vowel before it). An edit-distance alignment
    matches every requested phone to an event of the same phone (identical mnemonic preferred);
    extra events are merged into the preceding phone, zero-length phones share their predecessor's
    span. Raises :class:`AlignmentError` when a requested phone has no matching event.
    """
    want = [ARPABET_TO_ESPEAK.get(p, ARPABET_TO_ESPEAK[strip_stress(p)]) for p in requested]
    n, m, inf = len(requested), len(events), float("inf")
    cost = np.full((n + 1, m + 1), inf)
    cost[0, :] = np.arange(m + 1)
    for i in range(1, n + 1):
        base = strip_stress(requested[i - 1])
        for j in range(i, m + 1):
            skip = cost[i, j - 1] + 1  # events[j-1] is an extra
            name = events[j - 1][0]
            match = (
                0.0
                if name == want[i - 1]
                else 0.1
                if _event_phones(name) == (base,)
                else 0.5
                if name in ALLOPHONES.get(base, ())
                else inf
            )
            cost[i, j] = min(skip, cost[i - 1, j - 1] + match)
    if cost[n, m] == inf:
        i = int(np.argmax(np.isinf(cost).all(axis=1)))  # the first phone that cannot be placed
        raise AlignmentError(
            f"espeak-ng did not speak {requested[i - 1]} of "
            f"{' '.join(requested[max(0, i - 4) : i + 2])} (events: {' '.join(e[0] for e in events)})"
        )
    owner = [-1] * m  # requested index each event belongs to
    i, j = n, m
    while j > 0:
        if i > 0 and cost[i, j] != cost[i, j - 1] + 1:
            owner[j - 1], i = i - 1, i - 1
        j -= 1
    spans: list[list[float]] = [[0.0, 0.0] for _ in range(n)]
    current, lead_start = -1, None
    for (_, start, end), k in zip(events, owner, strict=True):
        if k >= 0:
            spans[k], current = [start, end], k
            if current == 0 and lead_start is not None:  # extras before the first phone belong to it
                spans[0][0] = lead_start
        elif current >= 0:  # extra event: part of the phone before it
            spans[current][1] = max(spans[current][1], end)
        elif lead_start is None:
            lead_start = start
    return _share_zero_length(spans)


def _share_zero_length(spans: list[list[float]]) -> list[tuple[float, float]]:
    """Split a phone's span evenly with the zero-length phones that follow (or precede) it."""
    n, k = len(spans), 0
    while k < n:
        run_end = k + 1
        while run_end < n and spans[run_end][1] - spans[run_end][0] <= 1e-6:
            run_end += 1
        if spans[k][1] - spans[k][0] <= 1e-6 and run_end < n:  # leading zero-length: share the next one
            run_end += 1
            while run_end < n and spans[run_end][1] - spans[run_end][0] <= 1e-6:
                run_end += 1
        start, end = min(s[0] for s in spans[k:run_end]), max(s[1] for s in spans[k:run_end])
        step = (end - start) / (run_end - k)
        for q in range(k, run_end):
            spans[q] = [start + (q - k) * step, start + (q - k + 1) * step]
        k = run_end
    if any(e - s <= 1e-4 for s, e in spans):
        raise AlignmentError("a phone has no duration in espeak-ng's events")
    return [(s, e) for s, e in spans]


def resynthesize(requests: list[tuple[str, Voice]]) -> list[Synthesis]:
    """Speak ``(espeak phonemes, voice)`` requests exactly as :func:`synth_l2arctic` did."""
    with IsolatedSynthesizer() as tts:
        return [tts.synthesize(phonemes, voice, SAMPLE_RATE) for phonemes, voice in requests]


# --- audio and tiers -------------------------------------------------------------------------------


def finish_audio(samples: np.ndarray, lead: int, trail: int, snr_db: float, noise_seed: int) -> np.ndarray:
    """Pad espeak-ng's audio with ``lead``/``trail`` samples of silence and add light noise."""
    padded = np.concatenate([np.zeros(lead, np.float32), samples, np.zeros(trail, np.float32)])
    return add_noise(padded, snr_db, np.random.default_rng(noise_seed))


@dataclass
class SlotTimes:
    slot: Slot
    word: int
    start: float
    end: float


def _slot_times(words: list[list[Slot]], spans: list[tuple[float, float]]) -> list[SlotTimes]:
    """Times of every slot: spoken ones from espeak-ng, deleted ones carved from their predecessor."""
    out: list[SlotTimes] = []
    spans_iter = iter(spans)
    for w, word in enumerate(words):
        for slot in word:
            if slot.spoken:
                start, end = next(spans_iter)
                out.append(SlotTimes(slot, w, start, end))
                continue
            prev = out[-1]  # deletions are word-final after a vowel, so there is a predecessor
            take = min(MAX_DELETION_S, (prev.end - prev.start) / 3)
            prev.end -= take
            out.append(SlotTimes(slot, w, prev.end, prev.end + take))
    # pauses between phones: short ones become part of the phone before, long ones stay gaps (sil)
    for a, b in zip(out, out[1:], strict=False):
        if b.start - a.end < MIN_PAUSE_S:
            a.end = b.start
    return out


def _with_silence(items: list[Interval], total: float, silence: str) -> list[Interval]:
    """Fill the gaps before, between and after ``items`` with ``silence`` intervals."""
    out: list[Interval] = []
    t = 0.0
    for start, end, label in items:
        if start > t + 1e-9:
            out.append((t, start, silence))
        out.append((start, end, label))
        t = end
    if total > t + 1e-9:
        out.append((t, total, silence))
    return out


def build_tiers(
    words: list[str], slots: list[list[Slot]], times: list[SlotTimes], total: float, labels: list[str]
) -> dict[str, list[Interval]]:
    """Tiers of both TextGrids: ``words``, annotation ``phones`` and forced-alignment ``canonical``."""
    word_items = []
    for w, word in enumerate(words):
        mine = [t for t in times if t.word == w]
        word_items.append((mine[0].start, mine[-1].end, word.lower()))
    phones = [(t.start, t.end, label) for t, label in zip(times, labels, strict=True)]
    canonical: list[list] = []
    for t in times:
        if t.slot.canonical is None:  # an added phone: forced alignment gives its time to the phone before
            canonical[-1][1] = t.end
        else:
            canonical.append([t.start, t.end, t.slot.canonical])
    return {
        "words": _with_silence(word_items, total, ""),
        "phones": _with_silence(phones, total, "sil"),
        "canonical": _with_silence([tuple(c) for c in canonical], total, "sil"),
    }


def textgrid_text(tiers: list[tuple[str, list[Interval]]], total: float) -> str:
    """A TextGrid in Praat's long text format (what L2-ARCTIC ships); times rounded to 0.1 ms."""

    def num(x: float) -> str:
        return repr(round(x, 4))

    end = num(total)
    lines = [
        'File type = "ooTextFile"',
        'Object class = "TextGrid"',
        "",
        "xmin = 0 ",
        f"xmax = {end} ",
        "tiers? <exists> ",
        f"size = {len(tiers)} ",
        "item []: ",
    ]
    for k, (name, intervals) in enumerate(tiers, 1):
        lines += [
            f"    item [{k}]:",
            '        class = "IntervalTier" ',
            f'        name = "{name}" ',
            "        xmin = 0 ",
            f"        xmax = {end} ",
            f"        intervals: size = {len(intervals)} ",
        ]
        for q, (start, stop, label) in enumerate(intervals, 1):
            if num(stop) == num(start) or (q == len(intervals) and num(stop) != end):
                raise AlignmentError(f"interval {label!r} of tier {name} is empty after rounding")
            text = label.replace('"', '""')
            lines += [
                f"        intervals [{q}]:",
                f"            xmin = {num(start)} ",
                f"            xmax = {num(stop)} ",
                f'            text = "{text}" ',
            ]
    return "\n".join(lines) + "\n"


# --- one speaker -----------------------------------------------------------------------------------


def _annotation_labels(slots: list[Slot], rng: np.random.Generator, cfg: ErrorConfig) -> list[str]:
    """L2-ARCTIC labels of the slots, with a few accent marks and stray spaces as in the real files."""
    labels = []
    for slot in slots:
        accent = bool(slot.kind) and rng.random() < cfg.accent_mark_rate
        space = rng.random() < cfg.stray_space_rate
        labels.append(slot.label(accent_mark=accent, stray_space=space))
    return labels


def _speak(speaker: Speaker, spoken: list[list[str]]) -> tuple[np.ndarray, list[tuple[float, float]], dict]:
    """The spoken phones as audio, each phone's (start, end), and what the log records of the input.

    espeak-ng: the phone string as ``[[...]]`` phonemes, spans from its phoneme events
    (:func:`align_events`); piper: the phones as IPA symbols, spans from the samples the model gave
    each symbol (its duration predictor's own frames).
    """
    if isinstance(speaker, PiperSpeaker):
        utterance, spans, ipa = speaker.say_phones(spoken, SAMPLE_RATE)
        return utterance.samples, spans, {"ipa": ipa}
    phonemes = phones_to_espeak(spoken)
    synthesis = speaker.tts.synthesize(phonemes, speaker.voice, SAMPLE_RATE)
    spans = align_events([p for word in spoken for p in word], synthesis.phones)
    return synthesis.samples, spans, {"espeak": phonemes}


def _render(
    speaker: Speaker, prompt: Prompt, slots: list[list[Slot]], rng: np.random.Generator, cfg: ErrorConfig
) -> tuple[np.ndarray, dict, str, str]:
    """Speak the slots; returns audio, the log entry, and the annotation and forced-alignment TextGrids."""
    spoken = spoken_phones(slots)
    raw, spans, spoken_as = _speak(speaker, spoken)
    lead, trail = (int(round(rng.uniform(0.02, 0.08) * SAMPLE_RATE)) for _ in range(2))
    snr_db, noise_seed = round(float(rng.uniform(30, 45)), 2), int(rng.integers(2**31))
    samples = finish_audio(raw, lead, trail, snr_db, noise_seed)
    total = len(samples) / SAMPLE_RATE
    offset = lead / SAMPLE_RATE
    times = _slot_times(slots, [(s + offset, e + offset) for s, e in spans])
    flat = [s for word in slots for s in word]
    tiers = build_tiers(list(prompt.words), slots, times, total, _annotation_labels(flat, rng, cfg))
    annotation = textgrid_text([("words", tiers["words"]), ("phones", tiers["phones"])], total)
    alignment = textgrid_text([("words", tiers["words"]), ("phones", tiers["canonical"])], total)
    entry = {
        "utterance": prompt.name,
        "text": prompt.text,
        "words": list(prompt.words),
        "voice": speaker.describe(),
        **spoken_as,
        "canonical": canonical_phones(slots),
        "perceived": spoken,
        "errors": [
            {"word": w, "canonical": s.canonical, "perceived": s.spoken, "type": s.kind}
            for w, word in enumerate(slots)
            for s in word
            if s.kind
        ],
        "lead_samples": lead,
        "trail_samples": trail,
        "snr_db": snr_db,
        "noise_seed": noise_seed,
        "duration": round(total, 6),
    }
    return samples, entry, annotation, alignment


def _synthesize_speaker(task: SpeakerTask) -> list[dict]:
    """Write every utterance of one speaker; deterministic for ``task.seed``."""
    rng = np.random.default_rng(list(task.seed))
    voice_rng = np.random.default_rng([*task.seed, 91])  # non-espeak voices: a stream of their own
    held_out = task.speaker in TEST_SPEAKERS
    with open_speaker(task.family, rng, voice_rng, task.gender, held_out=held_out, name="en-us") as speaker:
        return _speak_speaker(speaker, rng, task)


def _speak_speaker(speaker: Speaker, rng: np.random.Generator, task: SpeakerTask) -> list[dict]:
    favoured = L1_FAVOURITES.get(task.l1, frozenset())
    root = Path(task.root) / task.speaker
    entries = []
    for prompt in task.prompts:
        clean = rng.random() < task.errors.clean_share
        for attempt in range(_MAX_TRIES + 1):
            last = attempt == _MAX_TRIES  # last resort: the canonical pronunciation
            slots = [
                correct(list(p))
                if clean or last
                else mispronounce(list(p), rng, task.errors.error_rate, favoured)
                for p in prompt.prons
            ]
            try:
                samples, entry, annotation, alignment = _render(speaker, prompt, slots, rng, task.errors)
                break
            except AlignmentError as exc:
                if last:
                    raise AlignmentError(f"{task.speaker}/{prompt.name}: {exc}") from exc
        annotated = prompt.name in task.annotated
        write_audio(root / "wav" / f"{prompt.name}.wav", samples, SAMPLE_RATE)
        write_text(root / "transcript" / f"{prompt.name}.txt", prompt.text)
        write_text(root / "textgrid" / f"{prompt.name}.TextGrid", alignment)
        if annotated:
            write_text(root / "annotation" / f"{prompt.name}.TextGrid", annotation)
        entries.append({"speaker": task.speaker, "annotated": annotated, **entry})
    return entries


# --- the corpus ------------------------------------------------------------------------------------


def utterance_name(index: int) -> str:
    """CMU ARCTIC prompt names: arctic_a0001 … arctic_a0593, then arctic_b0001 …"""
    return f"arctic_a{index + 1:04d}" if index < 593 else f"arctic_b{index - 592:04d}"


def choose_prompts(n: int, seed: int) -> tuple[Prompt, ...]:
    """``n`` prompts from the training sentence pool (never LibriSpeech dev/test text)."""
    pool = sentence_pools()["train"]
    rng = np.random.default_rng([seed, 0])
    picked = [pool[int(i)] for i in rng.choice(len(pool), size=n, replace=False)]
    lexicon = Lexicon.from_cmudict()
    return tuple(
        Prompt(utterance_name(k), s.text, s.words, tuple(tuple(p) for p in lexicon.canonical(s.words)))
        for k, s in enumerate(picked)
    )


def synth_l2arctic(
    out_dir: Path,
    preset: str = "tiny",
    seed: int = 0,
    error_rate: float = 0.12,
    clean_share: float = 0.2,
    num_jobs: int = 1,
    voices: dict[str, float] | None = None,
) -> Path:
    """Synthesise ``out_dir/L2-ARCTIC`` for ``preset`` (tiny | mini); returns the corpus root.

    Also writes ``out_dir/L2-ARCTIC.synth.jsonl``: per utterance, the voice, the espeak-ng phoneme
    string spoken (piper: the IPA), the canonical and perceived phones, and the padding and noise
    applied; and ``out_dir/L2-ARCTIC.voices.json``: the voice-family shares (default: the preset's,
    :data:`L2_SHARES`; espeak and piper only) and every speaker's voice.
    """
    if preset not in L2ARCTIC_PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose from {sorted(L2ARCTIC_PRESETS)}")
    start = time.time()
    spec = L2ARCTIC_PRESETS[preset]
    root = Path(out_dir) / "L2-ARCTIC"
    prompts = choose_prompts(spec.prompts, seed)
    errors = ErrorConfig(error_rate=error_rate, clean_share=clean_share)
    voices = voices or L2_SHARES[preset]
    families = assign_families(voices, len(SPEAKERS), family_rng(seed, 3))
    tasks = []
    for k, (speaker, gender, l1) in enumerate(SPEAKERS):
        rng = np.random.default_rng([seed, 1, k])
        annotated = frozenset(
            prompts[int(i)].name for i in rng.choice(len(prompts), spec.annotated, replace=False)
        )
        tasks.append(
            SpeakerTask(str(root), speaker, gender, l1, prompts, annotated, errors, (seed, 2, k), families[k])
        )
    results = run_tasks(_synthesize_speaker, tasks, num_jobs, "synthesising L2-ARCTIC")
    entries = [e for speaker_entries in results for e in speaker_entries]
    write_text(Path(out_dir) / "L2-ARCTIC.synth.jsonl", "".join(json.dumps(e) + "\n" for e in entries))
    first = {e["speaker"]: e["voice"] for e in reversed(entries)}
    write_voices_json(
        Path(out_dir) / "L2-ARCTIC.voices.json",
        voices,
        {t.speaker: {"family": t.family, "voice": first[t.speaker]} for t in tasks},
    )
    hours = {a: sum(e["duration"] for e in entries if e["annotated"] == a) / 3600 for a in (True, False)}
    log.info(
        "L2-ARCTIC (%s): %.2f h annotated + %.2f h unannotated in %.1f s",
        preset,
        hours[True],
        hours[False],
        time.time() - start,
    )
    return root

"""Known-answer test utterances: espeak-ng speech whose truth is set by how it was made (issue 21, T7).

Each judgement of :class:`asr.mdd.assessment.Assessor` beyond the phone (rate, pauses, lexical stress,
intonation, breaks, monotone, word miscues, inline pronunciations) gets one constructor here. A constructor
takes an :class:`~asr.text.espeak.IsolatedSynthesizer` (history-free, so the samples depend on the request
alone), a seeded ``numpy`` generator and a number of cases, and returns :class:`Case` s: the prompt a
learner would have been shown, the audio, and the truth the assessor should find. The same seed gives the
same cases, byte for byte (:func:`build` seeds each judgement apart, so one judgement's draws do not depend
on another's count).

Every case is espeak-ng's ``en-us`` voice with a variant of :data:`VARIANTS`, a pitch drawn from 40-60 and a
pitch range from 50-70 (the monotone cases set it), at 170 words per minute (the rate cases set it). Each
synthesis is trimmed of espeak-ng's own leading and trailing silence (samples within :data:`SILENT_AMP`
of zero), and every case gets :data:`PAD` s of digital silence before and after, as a recording has.
Constructions (``k``: the boundary after the ``k``-th word, 0-based; ``j``: a word index):

* **rate** (:func:`speaking_rate`): one prompt of :data:`PROMPTS` and one voice per series, read at each
  rate of :data:`RATES` (espeak-ng words per minute). Truth: that rate.
* **pauses** (:func:`pauses`): the prompt's words up to ``k`` and the rest synthesised apart and joined by
  each silence of :data:`PAUSE_SECONDS` (0.0: joined directly). Truth: a pause of that length at ``k``, none
  elsewhere (0.0: no pause at all).
* **stress** (:func:`lexical_stress`): a word of two or more syllables with a single CMUdict pronunciation
  (:data:`STRESS_WORDS`) inside a carrier of one-syllable words (:data:`CARRIERS`), the whole sentence
  spoken from ARPAbet (:func:`asr.text.phones.phones_to_espeak`): once with the dictionary's stress, once
  with the primary stress moved to another vowel (the two vowels' stress digits swapped; nothing else
  changes). Truth: the stressed vowel (0-based among the word's vowels).
* **intonation** (:func:`intonation`): a prompt ending in "?" (:data:`QUESTIONS`) or "." (:data:`PROMPTS`)
  read as written (matched) and, by the same voice, with the final mark swapped (mismatched); espeak-ng
  rises at "?" and falls at ".". Truth: the matched reading is the one that follows the prompt.
* **breaks** (:func:`breaks`): as the pauses, a silence of 0.3, 0.6 or 1.0 s at ``k`` of a prompt without a
  comma (the reference reader makes no break there). Truth: an unexpected break at ``k``. Every other case
  is a clean reading (one synthesis). Truth: no unexpected break.
* **monotone** (:func:`monotone`): a prompt read with pitch range 0 (flat) and, by the same variant, with a
  range from 50-70. Truth: monotone for range 0 only.
* **miscues** (:func:`miscues`): per prompt and voice, a clean reading (truth: no miscue), and readings with
  word ``j`` left out, word ``j`` said twice, and a word of :data:`EXTRA_WORDS` (none of the prompt's)
  inserted after word ``j`` (``j`` before the last word). Truth: the kind and ``j``.
* **custom** (:func:`custom_pronunciations`): a word with two CMUdict pronunciations (:data:`CUSTOM_WORDS`)
  spoken from ARPAbet with one of them, A (drawn), in a carrier; the prompt gives the word's pronunciation
  inline, either A (truth: the word is correct) or only the other one, B (truth: the word is flagged).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from asr.text.espeak import IsolatedSynthesizer, Voice
from asr.text.lexicon import Lexicon
from asr.text.phones import VOWELS, phones_to_espeak, stress_of, strip_stress

SAMPLE_RATE = 16000
#: silence (s) before and after every case
PAD = 0.2
#: samples of a synthesis within this of zero at its ends are espeak-ng's silence (-80 dBFS), trimmed
SILENT_AMP = 1e-4
#: espeak-ng en-us variants the cases are spoken by (male and female)
VARIANTS = ("m1", "m3", "m5", "m7", "f1", "f2", "f3", "f4")
#: statements without commas, plain common words of CMUdict
PROMPTS = (
    "The dog ran to the park.",
    "She reads a book every night.",
    "We walked home after the game.",
    "My brother likes green apples.",
    "The children played in the garden.",
    "He opened the window this morning.",
    "They bought fresh bread at the market.",
    "Please close the door behind you.",
)
#: yes/no questions (espeak-ng reads "?" with a rise)
QUESTIONS = (
    "Is the dog in the park?",
    "Did she read the book?",
    "Are they coming home today?",
    "Can you open the window?",
    "Do you like green apples?",
    "Was the market open?",
)
RATES = (110, 140, 170, 200, 230)
PAUSE_SECONDS = (0.0, 0.3, 0.6, 1.0)
BREAK_SECONDS = (0.3, 0.6, 1.0)
#: words of two or more syllables with one CMUdict pronunciation
STRESS_WORDS = (
    "paper",
    "water",
    "window",
    "hotel",
    "table",
    "banana",
    "computer",
    "yellow",
    "garden",
    "police",
    "machine",
    "animal",
    "develop",
    "pencil",
    "music",
    "guitar",
    "balloon",
    "potato",
    "river",
    "lemon",
    "seven",
    "believe",
)
#: carrier sentences of one-syllable words; ``{}`` is the word judged
CARRIERS = ("Say {} now.", "I said {} twice.", "We heard {} here.", "Read {} to me.")
#: words with two CMUdict pronunciations that differ in a vowel or more
CUSTOM_WORDS = ("either", "neither", "data", "tomato", "route", "vase", "aunt", "status", "leisure")
#: words inserted into a reading (none is in a prompt)
EXTRA_WORDS = ("really", "very", "always", "maybe", "never", "quickly", "also")

Synthesize = Callable[[str, Voice], np.ndarray]


@dataclass
class Case:
    """One constructed utterance: the ``prompt`` shown, the audio (16 kHz float32), the truth by construction,
    the voice, and what espeak-ng was given (``spoken``: parts joined apart are separated by `` | ``)."""

    judgement: str
    prompt: str
    samples: np.ndarray
    truth: dict
    voice: Voice
    spoken: str = ""


def words_of(prompt: str) -> list[str]:
    """The words of a prompt of this module (plain words, a final "." or "?")."""
    return re.sub(r"[.?,!]", " ", prompt).split()


def trim(samples: np.ndarray) -> np.ndarray:
    """``samples`` without the leading and trailing samples within :data:`SILENT_AMP` of zero."""
    loud = np.flatnonzero(np.abs(samples) > SILENT_AMP)
    if not len(loud):
        return samples[:0]
    return samples[loud[0] : loud[-1] + 1]


def silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * SAMPLE_RATE), np.float32)


def join(parts: Sequence[np.ndarray], gaps: Sequence[float] = ()) -> np.ndarray:
    """The trimmed ``parts`` with ``gaps[i]`` s of silence after part ``i``, padded by :data:`PAD` s."""
    pieces = [silence(PAD)]
    for i, part in enumerate(parts):
        pieces.append(trim(part))
        if i < len(parts) - 1:
            pieces.append(silence(gaps[i] if i < len(gaps) else 0.0))
    pieces.append(silence(PAD))
    return np.concatenate(pieces).astype(np.float32)


def draw_voice(rng: np.random.Generator, rate: int = 170, range_: int | None = None) -> Voice:
    """An en-us voice: a variant of :data:`VARIANTS`, pitch 40-60, range 50-70 (unless given)."""
    return Voice(
        name="en-us",
        variant=str(rng.choice(VARIANTS)),
        rate=rate,
        pitch=int(rng.integers(40, 61)),
        range=int(rng.integers(50, 71)) if range_ is None else range_,
        word_gap=0,
    )


def speaker(tts: IsolatedSynthesizer) -> Synthesize:
    """``tts`` as a function of (text or ``[[phonemes]]``, voice) → 16 kHz samples."""
    return lambda text, voice: tts.synthesize(text, voice, sample_rate=SAMPLE_RATE).samples


def move_stress(pron: Sequence[str], to: int) -> list[str]:
    """``pron`` (ARPAbet with stress digits) with its primary stress moved to vowel ``to`` (0-based among the
    vowels): the two vowels swap their digits, nothing else changes."""
    vowels = [i for i, p in enumerate(pron) if strip_stress(p) in VOWELS]
    primary = next(i for i in vowels if stress_of(pron[i]) == 1)
    target = vowels[to]
    out = list(pron)
    out[primary] = strip_stress(pron[primary]) + str(stress_of(pron[target]))
    out[target] = strip_stress(pron[target]) + "1"
    return out


def stressed_vowel(pron: Sequence[str]) -> int:
    """The vowel (0-based among the vowels) with primary stress."""
    vowels = [p for p in pron if strip_stress(p) in VOWELS]
    return next(i for i, p in enumerate(vowels) if stress_of(p) == 1)


def _carried(lexicon: Lexicon, carrier: str, word: str, pron: Sequence[str]) -> tuple[str, int]:
    """The carrier spoken from ARPAbet (its words' first CMUdict pronunciations, ``pron`` for the slot),
    and the slot's word index."""
    words, slot = words_of(carrier.format(word)), words_of(carrier).index("{}")
    prons = [list(pron) if i == slot else list(lexicon.pronunciations(w)[0]) for i, w in enumerate(words)]
    return phones_to_espeak(prons), slot


# ---- one constructor per judgement ---------------------------------------------------------------------


def speaking_rate(say: Synthesize, rng: np.random.Generator, n: int) -> list[Case]:
    """Series of one prompt and voice at every rate of :data:`RATES`; about ``n`` cases."""
    out = []
    for series in range(max(1, -(-n // len(RATES)))):
        prompt = PROMPTS[series % len(PROMPTS)]
        base = draw_voice(rng)
        for rate in RATES:
            voice = replace(base, rate=rate)
            out.append(
                Case(
                    "rate",
                    prompt,
                    join([say(prompt, voice)]),
                    {"rate_wpm": rate, "series": series},
                    voice,
                    prompt,
                )
            )
    return out


def _split_reading(say: Synthesize, prompt: str, k: int, voice: Voice) -> tuple[list[np.ndarray], str]:
    """The prompt's words up to ``k`` and the rest (with the final mark), synthesised apart."""
    words = words_of(prompt)
    first, rest = " ".join(words[: k + 1]), " ".join(words[k + 1 :]) + prompt.rstrip()[-1]
    return [say(first, voice), say(rest, voice)], f"{first} | {rest}"


def pauses(say: Synthesize, rng: np.random.Generator, n: int) -> list[Case]:
    """Groups of one prompt, voice and boundary ``k`` with every silence of :data:`PAUSE_SECONDS` there."""
    out = []
    for group in range(max(1, -(-n // len(PAUSE_SECONDS)))):
        prompt = PROMPTS[group % len(PROMPTS)]
        voice = draw_voice(rng)
        k = int(rng.integers(0, len(words_of(prompt)) - 1))
        parts, spoken = _split_reading(say, prompt, k, voice)
        for gap in PAUSE_SECONDS:
            truth = {"boundary": k, "pause": gap, "group": group}
            out.append(Case("pauses", prompt, join(parts, [gap]), truth, voice, spoken))
    return out


def lexical_stress(
    say: Synthesize, rng: np.random.Generator, n: int, lexicon: Lexicon | None = None
) -> list[Case]:
    """Pairs of one word, carrier and voice: the dictionary's stress, and the stress moved to another vowel."""
    lexicon = lexicon or Lexicon.from_cmudict()
    order = rng.permutation(len(STRESS_WORDS))
    out = []
    for pair in range(max(1, -(-n // 2))):
        word = STRESS_WORDS[int(order[pair % len(order)])]
        carrier = CARRIERS[int(rng.integers(len(CARRIERS)))]
        voice = draw_voice(rng)
        pron = list(lexicon.pronunciations(word)[0])
        dictionary = stressed_vowel(pron)
        others = [v for v in range(sum(strip_stress(p) in VOWELS for p in pron)) if v != dictionary]
        moved_to = int(rng.choice(others))
        prompt = carrier.format(word)
        for moved, phones in ((False, pron), (True, move_stress(pron, moved_to))):
            spoken, slot = _carried(lexicon, carrier, word, phones)
            truth = {
                "word_index": slot,
                "word": word,
                "stressed": moved_to if moved else dictionary,
                "dictionary": dictionary,
                "moved": moved,
                "phones": phones,
                "pair": pair,
            }
            out.append(Case("stress", prompt, join([say(spoken, voice)]), truth, voice, spoken))
    return out


def _swap_mark(prompt: str) -> str:
    return prompt[:-1] + {"?": ".", ".": "?"}[prompt[-1]]


def intonation(say: Synthesize, rng: np.random.Generator, n: int) -> list[Case]:
    """Pairs of one prompt and voice: read with its own final mark (matched) and with the other (mismatched);
    questions and statements alternate."""
    out = []
    for pair in range(max(1, -(-n // 2))):
        source = QUESTIONS if pair % 2 == 0 else PROMPTS
        prompt = source[(pair // 2) % len(source)]
        voice = draw_voice(rng)
        for matched, read in ((True, prompt), (False, _swap_mark(prompt))):
            truth = {"matched": matched, "written": prompt[-1], "read": read[-1], "pair": pair}
            out.append(Case("intonation", prompt, join([say(read, voice)]), truth, voice, read))
    return out


def breaks(say: Synthesize, rng: np.random.Generator, n: int) -> list[Case]:
    """Readings with a silence of :data:`BREAK_SECONDS` (in turn) at a boundary ``k`` without a comma, and
    clean readings, alternating."""
    out = []
    for i in range(n):
        prompt = PROMPTS[(i // 2) % len(PROMPTS)]
        voice = draw_voice(rng)
        if i % 2 == 0:
            k = int(rng.integers(0, len(words_of(prompt)) - 1))
            gap = BREAK_SECONDS[(i // 2) % len(BREAK_SECONDS)]
            parts, spoken = _split_reading(say, prompt, k, voice)
            out.append(
                Case("breaks", prompt, join(parts, [gap]), {"break_after": k, "pause": gap}, voice, spoken)
            )
        else:
            out.append(
                Case(
                    "breaks",
                    prompt,
                    join([say(prompt, voice)]),
                    {"break_after": None, "pause": 0.0},
                    voice,
                    prompt,
                )
            )
    return out


def monotone(say: Synthesize, rng: np.random.Generator, n: int) -> list[Case]:
    """Pairs of one prompt and variant: pitch range 0 (truth: monotone) and 50-70 (truth: not)."""
    out = []
    for pair in range(max(1, -(-n // 2))):
        prompt = (PROMPTS + QUESTIONS)[pair % (len(PROMPTS) + len(QUESTIONS))]
        lively = draw_voice(rng)
        for voice in (replace(lively, range=0), lively):
            truth = {"monotone": voice.range == 0, "range": voice.range, "pair": pair}
            out.append(Case("monotone", prompt, join([say(prompt, voice)]), truth, voice, prompt))
    return out


MISCUE_KINDS = (None, "omitted", "repeated", "inserted")


def miscue_reading(prompt: str, kind: str | None, j: int, extra: str = "") -> list[str]:
    """The words said for ``prompt`` with miscue ``kind`` at word ``j`` (inserted: ``extra`` after it)."""
    words = words_of(prompt)
    if kind is None:
        return words
    if kind == "omitted":
        return words[:j] + words[j + 1 :]
    if kind == "repeated":
        return words[: j + 1] + [words[j]] + words[j + 1 :]
    if kind == "inserted":
        return words[: j + 1] + [extra] + words[j + 1 :]
    raise ValueError(f"unknown miscue kind {kind!r}")


def miscues(say: Synthesize, rng: np.random.Generator, n: int) -> list[Case]:
    """Groups of one prompt and voice: a clean reading, and one with each kind of :data:`MISCUE_KINDS` at a
    word ``j`` drawn per kind (inserted: after ``j``, before the last word)."""
    out = []
    for group in range(max(1, -(-n // len(MISCUE_KINDS)))):
        prompt = PROMPTS[group % len(PROMPTS)]
        voice = draw_voice(rng)
        count = len(words_of(prompt))
        for kind in MISCUE_KINDS:
            j = int(rng.integers(0, count - 1 if kind == "inserted" else count))
            extra = str(rng.choice(EXTRA_WORDS)) if kind == "inserted" else ""
            said = " ".join(miscue_reading(prompt, kind, j, extra)) + prompt[-1]
            truth = {"kind": kind, "word_index": None if kind is None else j, "extra": extra, "group": group}
            if kind is not None:
                truth["word"] = extra if kind == "inserted" else words_of(prompt)[j]
            out.append(Case("miscues", prompt, join([say(said, voice)]), truth, voice, said))
    return out


def custom_pronunciations(
    say: Synthesize, rng: np.random.Generator, n: int, lexicon: Lexicon | None = None
) -> list[Case]:
    """Pairs of one word said with pronunciation A in a carrier: the prompt gives ``word[A]`` (truth:
    correct) or only ``word[B]`` (truth: flagged)."""
    lexicon = lexicon or Lexicon.from_cmudict()
    order = rng.permutation(len(CUSTOM_WORDS))
    out = []
    for pair in range(max(1, -(-n // 2))):
        word = CUSTOM_WORDS[int(order[pair % len(order)])]
        a, b = (list(p) for p in lexicon.pronunciations(word)[:2])
        if rng.integers(2):
            a, b = b, a
        carrier = CARRIERS[int(rng.integers(len(CARRIERS)))]
        voice = draw_voice(rng)
        spoken, slot = _carried(lexicon, carrier, word, a)
        samples = join([say(spoken, voice)])
        for given, correct in ((a, True), (b, False)):
            inline = " ".join(strip_stress(p) for p in given)
            prompt = carrier.format(f"{word}[{inline}]")
            truth = {
                "word_index": slot,
                "word": word,
                "correct": correct,
                "said": [strip_stress(p) for p in a],
                "given": [strip_stress(p) for p in given],
                "pair": pair,
            }
            out.append(Case("custom", prompt, samples, truth, voice, spoken))
    return out


#: judgement → constructor, in the order of the table
CONSTRUCTORS: dict[str, Callable[..., list[Case]]] = {
    "rate": speaking_rate,
    "pauses": pauses,
    "stress": lexical_stress,
    "intonation": intonation,
    "breaks": breaks,
    "monotone": monotone,
    "miscues": miscues,
    "custom": custom_pronunciations,
}


def build(
    tts: IsolatedSynthesizer, n: int, seed: int = 0, judgements: Sequence[str] = tuple(CONSTRUCTORS)
) -> dict[str, list[Case]]:
    """About ``n`` cases of each judgement, each judgement from its own generator of ``seed``."""
    say = speaker(tts)
    out = {}
    for name in judgements:
        rng = np.random.default_rng([seed, list(CONSTRUCTORS).index(name)])
        out[name] = CONSTRUCTORS[name](say, rng, n)
    return out


__all__ = [
    "CONSTRUCTORS",
    "Case",
    "build",
    "join",
    "miscue_reading",
    "move_stress",
    "stressed_vowel",
    "trim",
    "words_of",
]

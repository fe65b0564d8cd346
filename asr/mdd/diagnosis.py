"""Diagnose one recording of a prompt: which sounds were right, which were wrong and what was said instead.

The path, for audio ``x`` and prompt text ``t``:

1. ``t`` → words → canonical phones (:mod:`asr.mdd.pronunciation`; CMUdict variants, G2P fallback, or
   the pronunciations the prompt gives in brackets: ``tomato[T AH M AA T OW]``, ``either[/ˈaɪðɚ/|IY DH ER]``).
2. The phone CTC model gives log-posteriors ``[T, V]`` for ``x`` (20 ms frames).
3. Pronunciation variants: for each word with several pronunciations (CMUdict's, or the prompt's), the
   variant whose forced alignment scores best is kept (so "either" said as IY or AY is not an error).
4. CTC forced alignment of the canonical phones (:func:`asr.decoding.forced_align.forced_align`) gives
   every phone's and word's time span (a phone runs from its first aligned frame to the next phone's).
5. Goodness of pronunciation per canonical phone, from the posteriors over its aligned frames with the
   blank removed and renormalised: ``gop`` = mean log-posterior ratio of the canonical phone against the
   best competing phone (> 0: the canonical phone wins), ``score`` = 100 × its mean posterior.
6. The recognised phones (greedy CTC) are aligned with the canonical ones by the same edit-distance
   alignment the MDD scorer uses (:func:`asr.mdd.align.align`, phonetic costs): each canonical phone is
   ``correct``, ``substituted`` (with the phone said) or ``deleted``; recognised phones left over are
   ``inserted``. A phone the recogniser missed or heard as another stays ``correct`` while its GOP is at
   least ``flag_below_gop`` (default 0: no other phone is likelier over its frames).
7. Word accuracy = mean phone score of the word (0-100); completeness = share of its canonical phones not
   deleted; the sentence's are the same over all canonical phones.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from asr.data.audio import SAMPLE_RATE, Audio, AudioLimits, read_audio, to_mono_16k
from asr.decoding.forced_align import AlignmentError, forced_align, frames_needed
from asr.errors import UserError
from asr.text.lexicon import Lexicon
from asr.text.phones import SIL

from .align import Costs, align
from .model_card import read_calibration, read_model_card
from .pronunciation import WordPronunciation, canonical_pronunciation

STATUSES = ("correct", "substituted", "deleted", "inserted")
#: How :class:`Diagnosis` scores are made when no score model is attached (the app says which it shows).
HEURISTIC_SCORING = (
    "heuristic: accuracy is 100 × the mean posterior of the canonical phones, completeness the share of "
    "them not missing; not fitted to human scores"
)
#: A score model: one diagnosis and the model's frame shift -> (expert-scale scores, how they were made).
Scorer = Callable[["Diagnosis", float], tuple[dict, str]]


class DiagnosisError(UserError):
    """A recording or model that cannot be diagnosed; the message says why."""


@dataclass(frozen=True)
class DiagnoseConfig:
    """Limits and choices of one analysis; the defaults suit a learner's sentence."""

    limits: AudioLimits = field(default_factory=AudioLimits)
    max_words: int = 60
    #: Try CMUdict's other pronunciations of a word (kept when their forced alignment scores better).
    variants: bool = True
    costs: Costs = "phonetic"
    #: A canonical phone the recogniser did not hear as itself is flagged only when its GOP is below this,
    #: i.e. when another phone is likelier over its aligned frames (at 0: any other phone). A model that has
    #: not heard voices like the learner's emits too little (blank wins), and the greedy phones then miss
    #: sounds said right; None flags every disagreement of the recogniser.
    flag_below_gop: float | None = 0.0


@dataclass
class PhoneResult:
    """One canonical phone (``phone``) or an inserted one (``phone`` None); ``said`` is what was recognised."""

    phone: str | None
    status: str
    said: str | None
    start: float
    end: float
    gop: float | None = None
    score: float | None = None


@dataclass
class WordResult:
    word: str
    start: float
    end: float
    accuracy: float
    completeness: float
    pronunciation: list[str]
    phones: list[PhoneResult]
    g2p: bool = False
    #: the pronunciation was given in the prompt (``word[K AE T]``), not taken from the dictionary
    custom: bool = False

    @property
    def errors(self) -> list[PhoneResult]:
        return [p for p in self.phones if p.status != "correct"]


@dataclass
class Diagnosis:
    """The result of one analysis; :meth:`to_dict` is what ``asr mdd diagnose --json`` prints."""

    text: str
    normalized_text: str
    duration: float
    accuracy: float
    completeness: float
    words: list[WordResult]
    recognised: list[str]
    warnings: list[str] = field(default_factory=list)
    #: what made the scores (:data:`HEURISTIC_SCORING`, or the attached score model's description)
    scoring: str = HEURISTIC_SCORING
    #: where the prompt came from: "given" (the learner's text) or "recognised" (unscripted mode: the words
    #: a word recogniser heard, :mod:`asr.mdd.unscripted`)
    prompt_source: str = "given"
    #: a score model's predictions on the experts' scales (speechocean762's: sentence accuracy, fluency,
    #: prosodic, total 0-10, completeness 0-1; per word accuracy and total 0-10 and phone accuracy 0-2),
    #: None without a score model
    expert_scores: dict | None = None

    @property
    def unknown_words(self) -> list[str]:
        return [w.word for w in self.words if w.g2p]

    def to_dict(self) -> dict:
        out = asdict(self)
        out["unknown_words"] = self.unknown_words
        out["mispronounced_words"] = [w.word for w in self.words if w.errors]
        return out

    def summary(self) -> str:
        """A few readable lines: the scores, then each word with its errors."""
        lines = [
            f"accuracy {self.accuracy:.0f}/100, completeness {self.completeness:.0f}/100, "
            f"{self.duration:.2f} s"
        ]
        if self.prompt_source == "recognised":
            lines.append(f"words recognised, not given: {self.normalized_text}")
        lines += [f"warning: {w}" for w in self.warnings]
        for w in self.words:
            notes = [_describe(p) for p in w.errors]
            flag = " (not in the dictionary: pronunciation guessed)" if w.g2p else ""
            lines.append(
                f"{w.start:6.2f}-{w.end:5.2f} s  {w.word:<14} {w.accuracy:5.1f}  "
                f"{'; '.join(notes) if notes else 'ok'}{flag}"
            )
        return "\n".join(lines)


def _describe(p: PhoneResult) -> str:
    if p.status == "substituted":
        return f"said {p.said} instead of {p.phone}"
    if p.status == "deleted":
        return f"{p.phone} missing"
    return f"extra {p.said}"


class PronunciationAssessor:
    """A phone CTC model and a lexicon, ready to diagnose recordings (see the module docs)."""

    def __init__(
        self, model, tokenizer, lexicon: Lexicon | None = None, cfg: DiagnoseConfig | None = None
    ) -> None:
        if getattr(tokenizer, "kind", None) != "phone":
            raise DiagnosisError(
                f"the model recognises {getattr(tokenizer, 'kind', '?')} units; pronunciation assessment needs a "
                "phone model (asr finetune --tokenizer <a phone tokenizer>)"
            )
        self.model = model
        self.tokenizer = tokenizer
        self.lexicon = lexicon or tokenizer.lexicon
        self.cfg = cfg or DiagnoseConfig()
        self._sil = tokenizer.token_to_id(SIL) if SIL in tokenizer.tokens else None
        self.model_name = "a phone model given in memory"
        #: what the model heard in training (:mod:`asr.mdd.model_card`), None when unknown
        self.model_card: dict | None = None
        #: ``calibration.json`` of the model, when it has one (:func:`asr.mdd.experts.calibrate`)
        self.calibration: dict | None = None
        #: a learned score model applied to every diagnosis (:func:`asr.mdd.score_model.attach_score_model`)
        self.scorer: Scorer | None = None

    @property
    def about(self) -> str:
        """Which model this is and what it heard, in words for a learner (the app shows it)."""
        from .model_card import describe

        served = getattr(self.model, "description", "") or self.model_name
        text = f"Model: {served}. {describe(self.model_card)}"
        if self.calibration and self.cfg.flag_below_gop == self.calibration["flag_below_gop"]:
            text += (
                f" Its leniency was set on {self.calibration['dev_correct_words']} words that experts heard as "
                f"correct from other learners, {100 * self.calibration['dev_false_rejection']:.0f} % of which "
                "it flags."
            )
        return text

    @classmethod
    def from_path(cls, path: str | Path, cfg: DiagnoseConfig | None = None) -> PronunciationAssessor:
        """From an experiment folder (its ``ctc_model.pt``), a ``ctc_model.pt`` or an ``.onnx`` export."""
        from asr.export.onnx import load_ctc_model_and_tokenizer

        path = Path(path)
        if path.is_dir():
            path = path / "ctc_model.pt"
        model, tokenizer = load_ctc_model_and_tokenizer(path)
        calibration = read_calibration(path)
        if cfg is None and calibration is not None:  # the leniency chosen on held-out learners
            cfg = DiagnoseConfig(flag_below_gop=calibration["flag_below_gop"])
        assessor = cls(model, tokenizer, cfg=cfg)
        assessor.calibration = calibration
        assessor.model_name = str(path.parent if path.name == "ctc_model.pt" else path)
        assessor.model_card = read_model_card(path)
        return assessor

    def diagnose_file(self, path: str | Path, text: str) -> Diagnosis:
        return self.diagnose(read_audio(path, self.cfg.limits), text)

    def diagnose_samples(self, samples: np.ndarray, sample_rate: int, text: str) -> Diagnosis:
        audio = to_mono_16k(samples, sample_rate)
        if audio.duration > self.cfg.limits.max_seconds:
            raise DiagnosisError(
                f"the recording is {audio.duration:.1f} s long; the limit is "
                f"{self.cfg.limits.max_seconds:g} s"
            )
        return self.diagnose(audio, text)

    @torch.inference_mode()
    def diagnose(self, audio: Audio, text: str) -> Diagnosis:
        words = canonical_pronunciation(text, self.lexicon, self.cfg.max_words)
        warnings = self._check(audio)
        log_probs = self._log_probs(audio.samples)
        if unmappable := getattr(
            self.model, "last_unmappable", None
        ):  # public IPA checkpoints (asr.models.hf_ctc)
            warnings.append(
                f"the model heard {sum(unmappable.values())} sound(s) with no English phone "
                f"({' '.join(sorted(unmappable))}); they are left out of the scores"
            )
        if frames_needed(self._ids(words, [0] * len(words))) > log_probs.shape[0]:
            raise DiagnosisError(
                f"the recording ({audio.duration:.2f} s) is too short for the "
                f"{sum(len(w.phones) for w in words)} sounds of the text; say the whole sentence"
            )
        choice = self._choose_variants(log_probs, words) if self.cfg.variants else [0] * len(words)
        recognised, recognised_frames = self._recognise(log_probs)
        phones_by_word = self._judge(log_probs, words, choice, recognised, recognised_frames)
        results = [
            self._word(w, c, phones) for w, c, phones in zip(words, choice, phones_by_word, strict=True)
        ]
        scored = [p for w in results for p in w.phones if p.phone is not None]
        diagnosis = Diagnosis(
            text=text,
            normalized_text=" ".join(w.word for w in words),
            duration=round(audio.duration, 3),
            accuracy=round(float(np.mean([p.score for p in scored])), 1),
            completeness=round(100 * sum(p.status != "deleted" for p in scored) / len(scored), 1),
            words=results,
            recognised=recognised,
            warnings=warnings,
        )
        if self.scorer is not None:
            try:
                diagnosis.expert_scores, diagnosis.scoring = self.scorer(diagnosis, self.model_frame_shift)
            except DiagnosisError as exc:  # the phone verdicts stand; only the learned scores are missing
                diagnosis.warnings.append(f"the score model could not score this recording ({exc})")
        return diagnosis

    def _check(self, audio: Audio) -> list[str]:
        """Refuse audio that cannot hold speech; warnings for audio that can but is doubtful."""
        if np.abs(audio.samples).max() < self.cfg.limits.silence_peak:
            raise DiagnosisError("the recording is silent: nothing to assess (check the microphone)")
        if len(audio.samples) < self.model.min_samples:
            raise DiagnosisError(
                f"the recording is {audio.duration * 1000:.0f} ms long: too short to hold a phone"
            )
        if audio.clipped > 0.001:
            return [f"{100 * audio.clipped:.1f} % of the samples are clipped: record a little quieter"]
        return []

    def _judge(
        self,
        log_probs: torch.Tensor,
        words: list[WordPronunciation],
        choice: list[int],
        recognised: list[str],
        recognised_frames: list[int],
    ) -> list[list[PhoneResult]]:
        """Each word's phones: canonical ones with times, GOP and verdict, and the recognised extras."""
        ids = self._ids(words, choice)
        spans, _ = forced_align(log_probs, ids)
        # a phone's time runs to the next phone's first frame (CTC spikes leave the frames between to blank)
        bounds = [(a.start, b.start) for a, b in zip(spans, spans[1:], strict=False)]
        bounds.append((spans[-1].start, min(log_probs.shape[0], spans[-1].end + 5)))
        canonical = [p for w, c in zip(words, choice, strict=True) for p in w.variants[c]]
        word_of = [i for i, (w, c) in enumerate(zip(words, choice, strict=True)) for _ in w.variants[c]]
        phones_by_word: list[list[PhoneResult]] = [[] for _ in words]
        fs = self.model_frame_shift
        k_can = k_rec = 0
        for edit in align(canonical, recognised, self.cfg.costs):
            if edit.ref is None:  # inserted: belongs to the word of the canonical phone before it
                t = recognised_frames[k_rec]
                phones_by_word[word_of[max(k_can - 1, 0)]].append(
                    PhoneResult(None, "inserted", edit.hyp, t * fs, (t + 1) * fs)
                )
                k_rec += 1
                continue
            span, (start, end) = spans[k_can], bounds[k_can]
            gop, score = self._gop(log_probs[span.start : span.end], ids[k_can])
            status = "correct" if edit.op == "C" else "deleted" if edit.op == "D" else "substituted"
            said = edit.hyp
            if status != "correct" and self.cfg.flag_below_gop is not None and gop >= self.cfg.flag_below_gop:
                status, said = "correct", edit.ref  # the canonical phone is still the likeliest there
            phones_by_word[word_of[k_can]].append(
                PhoneResult(edit.ref, status, said, start * fs, end * fs, gop, score)
            )
            k_can += 1
            k_rec += edit.hyp is not None
        return phones_by_word

    @property
    def model_frame_shift(self) -> float:
        encoder = getattr(self.model, "encoder", None)
        return float(getattr(encoder, "frame_shift", 0.02))

    def _log_probs(self, samples: np.ndarray) -> torch.Tensor:
        audio = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))[None]
        log_probs, frames = self.model.log_probs(audio, torch.tensor([audio.shape[1]]))
        return log_probs[0, : int(frames[0])].float().cpu()

    def _ids(self, words: Sequence[WordPronunciation], choice: Sequence[int]) -> list[int]:
        return [
            self.tokenizer.token_to_id(p) for w, c in zip(words, choice, strict=True) for p in w.variants[c]
        ]

    def _choose_variants(self, log_probs: torch.Tensor, words: list[WordPronunciation]) -> list[int]:
        """Word by word, the variant whose forced alignment (others fixed) has the highest log-probability."""
        choice = [0] * len(words)
        best = forced_align(log_probs, self._ids(words, choice))[1]
        for i, word in enumerate(words):
            for v in range(1, len(word.variants)):
                trial = [*choice[:i], v, *choice[i + 1 :]]
                ids = self._ids(words, trial)
                if frames_needed(ids) > log_probs.shape[0]:
                    continue
                try:
                    score = forced_align(log_probs, ids)[1]
                except AlignmentError:
                    continue
                if score > best:
                    best, choice = score, trial
        return choice

    def _recognise(self, log_probs: torch.Tensor) -> tuple[list[str], list[int]]:
        """Greedy CTC phones (``sil`` dropped: prompts have no silence phone) and the frame each starts at."""
        best = log_probs.argmax(dim=-1).tolist()
        phones, frames, previous = [], [], 0
        for t, token in enumerate(best):
            if token != previous and token != 0 and token != self._sil:
                phones.append(self.tokenizer.id_to_token(token))
                frames.append(t)
            previous = token
        return phones, frames

    def _gop(self, frames: torch.Tensor, target: int) -> tuple[float, float]:
        """(mean log-posterior ratio of ``target`` against its best competitor, 100 × mean posterior) over
        ``frames`` [n, V], blank excluded and the phones renormalised."""
        phones = frames[:, 1:]
        phones = phones - torch.logsumexp(phones, dim=-1, keepdim=True)
        own = phones[:, target - 1]
        others = phones.clone()
        others[:, target - 1] = -math.inf
        gop = float((own - others.max(dim=-1).values).mean())
        return round(gop, 3), round(100 * float(own.exp().mean()), 1)

    def _word(self, word: WordPronunciation, choice: int, phones: list[PhoneResult]) -> WordResult:
        canonical = [p for p in phones if p.phone is not None]
        return WordResult(
            word=word.word,
            start=round(min(p.start for p in canonical), 3),
            end=round(max(p.end for p in canonical), 3),
            accuracy=round(float(np.mean([p.score for p in canonical])), 1),
            completeness=round(100 * sum(p.status != "deleted" for p in canonical) / len(canonical), 1),
            pronunciation=list(word.variants[choice]),
            phones=[_rounded(p) for p in phones],
            g2p=word.g2p,
            custom=word.custom,
        )


def _rounded(p: PhoneResult) -> PhoneResult:
    return PhoneResult(p.phone, p.status, p.said, round(p.start, 3), round(p.end, 3), p.gop, p.score)


__all__ = [
    "Diagnosis",
    "DiagnosisError",
    "DiagnoseConfig",
    "PhoneResult",
    "PronunciationAssessor",
    "WordResult",
    "SAMPLE_RATE",
    "STATUSES",
]

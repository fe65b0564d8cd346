"""One recording judged beyond the phone: what the app and ``asr mdd diagnose`` show.

:meth:`Assessor.assess` puts together, for a recording and its prompt (or, unscripted, the words a word
model heard):

1. the phone-level :class:`~asr.mdd.diagnosis.Diagnosis` (and a score model's expert-scale scores when one
   is attached);
2. fluency (:mod:`asr.mdd.fluency`): rates and pauses from the energy inside the sentence, a 0-100 score;
3. lexical stress (:mod:`asr.mdd.stress`) of each word of two or more syllables whose dictionary
   pronunciation carries stress marks (a pronunciation given in the prompt, or a word CMUdict lacks,
   has none to compare with);
4. word miscues (:mod:`asr.mdd.miscues`): omitted, inserted and repeated words with times;
5. prosody (:mod:`asr.mdd.prosody`) against a reference speaker: espeak-ng reads the prompt (its
   punctuation kept, so its phrasing has the breaks a reader would make) and the same phone model aligns
   that reading, so both speakers' words have times. The reference of a prompt is the same every time, so
   the last :data:`REFERENCES_KEPT` are kept;
6. IPA beside ARPAbet for every phone in :meth:`Assessment.to_dict`.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from asr.data.audio import SAMPLE_RATE, Audio, to_mono_16k
from asr.text.espeak import IsolatedSynthesizer, Voice
from asr.text.ipa import arpabet_to_ipa, ipa_sequence

from .acoustics import Contours, contours
from .diagnosis import Diagnosis, DiagnosisError, PronunciationAssessor
from .fluency import Fluency, FluencyConfig, assess_fluency
from .miscues import Miscue, MiscueConfig, find_miscues
from .pronunciation import without_pronunciations
from .prosody import Prosody, ProsodyConfig, assess_prosody
from .stress import WordStress, assess_stress
from .unscripted import WordRecogniser, diagnose_unscripted

#: Prompts whose reference reading (audio, diagnosis, contours) an assessor keeps.
REFERENCES_KEPT = 32


@dataclass(frozen=True)
class AssessConfig:
    """What an assessment measures beyond the phones; the defaults suit a learner's sentence."""

    fluency: FluencyConfig = field(default_factory=FluencyConfig)
    prosody: ProsodyConfig = field(default_factory=ProsodyConfig)
    miscues: MiscueConfig = field(default_factory=MiscueConfig)
    #: Read the prompt with espeak-ng and compare intonation and breaks with it (off: no prosody).
    reference: bool = True
    reference_voice: Voice = field(default_factory=lambda: Voice("en-us", rate=150))


@dataclass
class Reference:
    """The reference speaker's reading of one prompt: its audio, diagnosis and contours."""

    samples: np.ndarray
    diagnosis: Diagnosis
    contours: Contours


@dataclass
class Assessment:
    """Everything judged about one recording (see the module docstring); :meth:`to_dict` is its JSON."""

    diagnosis: Diagnosis
    fluency: Fluency
    stress: list[WordStress]
    miscues: list[Miscue]
    prosody: Prosody | None = None
    reference: Reference | None = None

    def to_dict(self) -> dict[str, Any]:
        """The diagnosis's JSON with IPA beside every ARPAbet phone, and the other judgements."""
        out = self.diagnosis.to_dict()
        for word in out["words"]:
            word["pronunciation_ipa"] = ipa_sequence(word["pronunciation"])
            for p in word["phones"]:
                p["phone_ipa"] = _ipa(p["phone"])
                p["said_ipa"] = _ipa(p["said"])
        out["recognised_ipa"] = [_ipa(p) for p in out["recognised"]]
        out["fluency"] = asdict(self.fluency)
        out["stress"] = [asdict(s) for s in self.stress]
        out["miscues"] = [asdict(m) for m in self.miscues]
        out["prosody"] = None if self.prosody is None else _prosody_dict(self.prosody)
        return out

    def summary(self) -> str:
        """The diagnosis's lines, then fluency, stress, miscues and prosody, one line each."""
        f = self.fluency
        lines = [
            self.diagnosis.summary(),
            f"fluency {f.score:.0f}/100: {f.articulation_rate:.1f} syllables/s articulating, "
            f"{f.pause_count} pause(s) inside the sentence ({f.pause_total:.2f} s, longest {f.longest_pause:.2f} s)",
        ]
        for s in self.stress:
            verdict = "ok" if s.correct else f"stressed syllable {s.detected + 1}, expected {s.expected + 1}"
            lines.append(f"stress {s.word}: {verdict}")
        lines += [f"{m.kind} word: {m.word or ' '.join(m.phones)} at {m.start:.2f} s" for m in self.miscues]
        if self.prosody is not None:
            p = self.prosody
            score = "-" if p.intonation_score is None else f"{p.intonation_score:.0f}/100"
            lines.append(
                f"intonation {score} against the reference; breaks: {len(p.unexpected_breaks)} unexpected, "
                f"{len(p.missing_breaks)} missing{'; monotone' if p.monotone else ''}"
            )
        return "\n".join(lines)


def _ipa(phone: str | None) -> str | None:
    if phone is None:
        return None
    try:
        return arpabet_to_ipa(phone)
    except ValueError:  # sil: shown as it is
        return phone


def _prosody_dict(p: Prosody) -> dict[str, Any]:
    out = asdict(p)
    for name in ("learner", "reference"):
        c: Contours = getattr(p, name)
        out[name] = {
            "times": [round(float(t), 3) for t in c.times],
            "f0": [None if not np.isfinite(v) else round(float(v), 1) for v in c.f0],
            "energy_db": [round(float(v), 1) for v in c.energy_db],
        }
    return out


class Assessor:
    """A phone model's assessor, an optional word model for unscripted speech, and the reference reader."""

    def __init__(
        self,
        phones: PronunciationAssessor,
        words: WordRecogniser | None = None,
        cfg: AssessConfig | None = None,
    ) -> None:
        self.phones = phones
        self.words = words
        self.cfg = cfg or AssessConfig()
        self._references: OrderedDict[str, Reference] = OrderedDict()
        self._lock = threading.Lock()  # the app answers two requests at a time
        self._tts: IsolatedSynthesizer | None = None

    def assess(self, audio: Audio, text: str | None) -> Assessment:
        """Judge ``audio`` against ``text``; without a text, the word model's words (unscripted)."""
        if text and text.strip():
            d = self.phones.diagnose(audio, text)
        elif self.words is None:
            raise DiagnosisError(
                "type the sentence you are going to say (no word model for unscripted speech)"
            )
        else:
            d = diagnose_unscripted(self.phones, self.words, audio)
        c = contours(audio.samples, SAMPLE_RATE)
        stressed = self.stressed(d)
        marked = {i for i, p in enumerate(stressed) if any(x[-1].isdigit() for x in p)}
        stress = [s for s in assess_stress(d, stressed, c) if s.index in marked]
        fluency = assess_fluency(d, c, self.cfg.fluency)
        assessment = Assessment(d, fluency, stress, find_miscues(d, self.cfg.miscues))
        if self.cfg.reference:
            try:
                ref = self.reference(d)
            except DiagnosisError as exc:  # the learner's verdicts stand; only the comparison is missing
                d.warnings.append(f"no reference reading to compare the intonation with ({exc})")
            else:
                assessment.reference = ref
                assessment.prosody = assess_prosody(
                    d, c, ref.diagnosis, ref.contours, self.cfg.fluency, self.cfg.prosody
                )
        return assessment

    def stressed(self, d: Diagnosis) -> list[list[str]]:
        """Each word's judged pronunciation with the lexicon's stress digits; the bare phones where the
        lexicon has no such pronunciation or the prompt gave it (no expected stress: no verdict)."""
        out = []
        for w in d.words:
            prons = [] if w.custom else self.phones.lexicon.pronunciations(w.word)
            match = [p for p in prons if [x.rstrip("012") for x in p] == w.pronunciation]
            out.append(list(match[0]) if match else list(w.pronunciation))
        return out

    def reference(self, d: Diagnosis) -> Reference:
        """espeak-ng's reading of ``d``'s prompt, diagnosed by the same phone model (kept per prompt)."""
        key = d.text
        with self._lock:
            if key in self._references:
                self._references.move_to_end(key)
                return self._references[key]
            if self._tts is None:
                self._tts = IsolatedSynthesizer()
            # the prompt as written (punctuation shapes the reading), less inline pronunciations
            prompt = d.text if d.prompt_source == "given" else d.normalized_text
            spoken = without_pronunciations(prompt)
            samples = self._tts.synthesize(spoken, self.cfg.reference_voice, sample_rate=SAMPLE_RATE).samples
        plain = copy.copy(self.phones)  # the reference needs no learned scores
        plain.scorer = None
        ref_d = plain.diagnose(to_mono_16k(samples, SAMPLE_RATE, "the reference reading"), prompt)
        ref = Reference(samples, ref_d, contours(samples, SAMPLE_RATE))
        with self._lock:
            self._references[key] = ref
            while len(self._references) > REFERENCES_KEPT:
                self._references.popitem(last=False)
        return ref

    def close(self) -> None:
        """Stop the reference reader's helper process."""
        if self._tts is not None:
            self._tts.close()
            self._tts = None

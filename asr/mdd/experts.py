"""The assessor's verdicts against human experts on real learners (speechocean762's scored utterances).

For each scored utterance the assessor diagnoses the recording against its prompt, exactly as the app
does, and each word's verdict (flagged: any phone not ``correct``) is set beside the experts' marks
(``custom["scores"]`` from :mod:`asr.data.speechocean762`):

* **expert-correct** word: no expert scored any of its phones 0 ("wrong or missing"); flagging it is a
  *false rejection*, the failure a learner meets most;
* **expert-marked** word: at least one expert scored a phone 0; flagging it is a *detection*. Where only
  the experts' means are known (scores.json), a phone whose mean is below 1 marks the word, and a word is
  expert-correct when every phone's mean is at least 1.5 (words in between count in neither).

Also the phone error rate of the recognised phones against the corpus's canonical phones on utterances the
experts scored at least ``good_accuracy`` (sentence accuracy, 0-10): on well-spoken speech the canonical
phones are close to what was said, so this PER is mostly the recogniser's own error. Utterances without
scores contribute the share of words flagged (a proxy: these speakers are mostly good).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm import tqdm

from asr.errors import UserError
from asr.files import write_atomic

from .align import align, error_counts
from .diagnosis import DiagnosisError, PronunciationAssessor

log = logging.getLogger(__name__)


class ExpertDataError(UserError):
    """Cuts without what the comparison needs (scores, canonical phones); the message names the file."""


def expert_verdict(word: dict) -> str | None:
    """``"correct"``, ``"marked"`` or None (in between, means only) for one normalised scored word."""
    if word.get("wrong_votes") is not None:
        return "marked" if word["wrong_votes"] > 0 else "correct"
    accuracy = word.get("phone_accuracy") or []
    if any(a < 1.0 for a in accuracy):
        return "marked"
    return "correct" if accuracy and min(accuracy) >= 1.5 else None


@dataclass
class ExpertReport:
    """Counts behind T6 (see the module docs); rates are None where nothing was counted."""

    utterances: int = 0
    scored_utterances: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    correct_words: int = 0
    false_rejections: int = 0
    marked_words: int = 0
    detections: int = 0
    good_utterances: int = 0
    good_phone_errors: int = 0
    good_phones: int = 0
    words: int = 0
    flagged_words: int = 0
    #: (expert verdict, the word's lowest phone GOP) of every judged word: the threshold-free view
    word_gops: list[tuple[str, float]] = field(default_factory=list)

    @staticmethod
    def _rate(num: int, den: int) -> float | None:
        return round(num / den, 4) if den else None

    @property
    def false_rejection_rate(self) -> float | None:
        return self._rate(self.false_rejections, self.correct_words)

    @property
    def detection_rate(self) -> float | None:
        return self._rate(self.detections, self.marked_words)

    @property
    def good_per(self) -> float | None:
        return self._rate(self.good_phone_errors, self.good_phones)

    @property
    def flagged_share(self) -> float | None:
        return self._rate(self.flagged_words, self.words)

    @property
    def auc(self) -> float | None:
        """How well the lowest phone GOP of a word tells expert-marked words from expert-correct ones, with no
        threshold: the chance that a marked word scores below a correct one (ties count half; 0.5 = no
        information, 1 = perfect). None without words of both kinds."""
        marked = [g for v, g in self.word_gops if v == "marked"]
        correct = [g for v, g in self.word_gops if v == "correct"]
        if not marked or not correct:
            return None
        wins = sum((m < c) + 0.5 * (m == c) for m in marked for c in correct)
        return round(wins / (len(marked) * len(correct)), 4)

    def to_dict(self) -> dict:
        out = asdict(self)
        out.update(
            false_rejection_rate=self.false_rejection_rate,
            detection_rate=self.detection_rate,
            good_per=self.good_per,
            flagged_share=self.flagged_share,
            auc=self.auc,
        )
        return out

    def summary(self) -> str:
        def pct(x: float | None) -> str:
            return "n/a" if x is None else f"{100 * x:.1f} %"

        lines = [
            f"{self.scored_utterances} scored of {self.utterances} utterances ({len(self.skipped)} skipped)",
            f"false rejections: {self.false_rejections}/{self.correct_words} expert-correct words flagged "
            f"({pct(self.false_rejection_rate)})",
            f"detections: {self.detections}/{self.marked_words} expert-marked words flagged ({pct(self.detection_rate)})",
            f"marked vs correct words by their lowest phone GOP, no threshold: AUC {self.auc}",
            f"PER against canonical phones, {self.good_utterances} well-spoken utterances: {pct(self.good_per)}",
            f"all utterances: {self.flagged_words}/{self.words} words flagged ({pct(self.flagged_share)})",
        ]
        return "\n".join(lines)


def judge_against_experts(
    assessor: PronunciationAssessor,
    cuts: Iterable,
    good_accuracy: float = 9.0,
    words_out: Path | None = None,
    progress: bool = True,
) -> ExpertReport:
    """Diagnose every cut (mono 16 kHz lhotse cuts with one supervision) and count against the experts.

    ``words_out``: one JSON line per word (utterance, word, expert verdict, flagged, the phones' statuses)
    for reading the errors by hand.
    """
    report = ExpertReport()
    rows = []
    for cut in tqdm(list(cuts), desc="diagnose", disable=not progress):
        sup = cut.supervisions[0]
        custom = sup.custom or {}
        report.utterances += 1
        try:
            samples = cut.load_audio()[0]
            diagnosis = assessor.diagnose_samples(samples, cut.sampling_rate, sup.text)
        except DiagnosisError as exc:
            report.skipped.append((cut.id, str(exc)))
            continue
        flagged = [bool(w.errors) for w in diagnosis.words]
        report.words += len(flagged)
        report.flagged_words += sum(flagged)
        scores = custom.get("scores")
        if scores is None:
            continue
        if len(scores["words"]) != len(diagnosis.words):
            report.skipped.append(
                (cut.id, f"the prompt gives {len(diagnosis.words)} words, the scores {len(scores['words'])}")
            )
            continue
        report.scored_utterances += 1
        for word, result, flag in zip(scores["words"], diagnosis.words, flagged, strict=True):
            verdict = expert_verdict(word)
            if verdict is not None:
                report.word_gops.append((verdict, min(p.gop for p in result.phones if p.phone is not None)))
            if verdict == "correct":
                report.correct_words += 1
                report.false_rejections += flag
            elif verdict == "marked":
                report.marked_words += 1
                report.detections += flag
            rows.append(
                {
                    "utterance": cut.id,
                    "word": result.word,
                    "expert": verdict,
                    "flagged": flag,
                    "expert_phones": word.get("expert_phones"),
                    "phones": [(p.phone, p.status, p.said) for p in result.phones],
                }
            )
        canonical = custom.get("canonical_phones")
        if canonical and scores["accuracy"] >= good_accuracy:
            counts = error_counts(align(canonical, diagnosis.recognised))
            report.good_utterances += 1
            report.good_phone_errors += counts["S"] + counts["D"] + counts["I"]
            report.good_phones += len(canonical)
    if words_out is not None:
        write_atomic(Path(words_out), "".join(json.dumps(r) + "\n" for r in rows).encode())
    return report


@dataclass(frozen=True)
class Calibration:
    """The leniency calibrated on held-out scored learners (``calibration.json`` beside the model)."""

    flag_below_gop: float | None  # None: flag every disagreement (the target holds without leniency)
    target_false_rejection: float
    dev_cuts: str
    dev_correct_words: int
    dev_false_rejection: float
    dev_marked_words: int
    dev_detection: float | None


def calibrate(
    assessor: PronunciationAssessor,
    cuts: Iterable,
    target: float = 0.15,
    dev_cuts: str = "",
    progress: bool = True,
) -> Calibration:
    """The largest ``flag_below_gop`` whose false rejection of expert-correct words on ``cuts`` is at most
    ``target``: an operating point chosen on learners the test never sees, as a detector's threshold is set
    for a false-alarm rate. Raises :class:`ExpertDataError` when ``cuts`` hold no expert-correct word."""
    from dataclasses import replace

    if not 0 <= target < 1:
        raise ExpertDataError(f"the target false rejection must be in [0, 1), got {target}")
    saved = assessor.cfg
    assessor.cfg = replace(saved, flag_below_gop=None)  # every disagreement, with its GOP
    words: list[
        tuple[str, bool, list[float]]
    ] = []  # (expert verdict, has an insertion, GOPs of disagreements)
    try:
        for cut in tqdm(list(cuts), desc="calibrate", disable=not progress):
            scores = (cut.supervisions[0].custom or {}).get("scores")
            if scores is None:
                continue
            try:
                diagnosis = assessor.diagnose_samples(
                    cut.load_audio()[0], cut.sampling_rate, cut.supervisions[0].text
                )
            except DiagnosisError:
                continue
            if len(diagnosis.words) != len(scores["words"]):
                continue
            for word, result in zip(scores["words"], diagnosis.words, strict=True):
                verdict = expert_verdict(word)
                if verdict is not None:
                    gops = [p.gop for p in result.phones if p.phone is not None and p.status != "correct"]
                    words.append((verdict, any(p.status == "inserted" for p in result.phones), gops))
    finally:
        assessor.cfg = saved

    def rate(threshold: float, verdict: str) -> float | None:
        chosen = [(ins, gops) for v, ins, gops in words if v == verdict]
        flagged = sum(ins or any(g < threshold for g in gops) for ins, gops in chosen)
        return flagged / len(chosen) if chosen else None

    correct = sum(v == "correct" for v, _, _ in words)
    if not correct:
        raise ExpertDataError(f"{dev_cuts or 'the calibration cuts'}: no expert-correct word to calibrate on")
    # flagging is monotone in the threshold: try every GOP that changes a verdict, from the strictest down
    candidates = sorted({g for _, _, gops in words for g in gops} | {math.inf, 0.0, -math.inf}, reverse=True)
    best = next(t for t in candidates if rate(t, "correct") <= target)
    return Calibration(
        None if best == math.inf else best,
        target,
        dev_cuts,
        correct,
        round(rate(best, "correct"), 4),
        sum(v == "marked" for v, _, _ in words),
        None if rate(best, "marked") is None else round(rate(best, "marked"), 4),
    )


def load_scored_cuts(path: Path, scored_only: bool = False):
    """A cut manifest of :mod:`asr.data.speechocean762` (any cuts with ``custom["scores"]`` work);
    ``scored_only`` keeps only the cuts that carry scores."""
    from lhotse import CutSet

    path = Path(path)
    if not path.is_file():
        raise ExpertDataError(f"cuts not found: {path}")
    try:
        cuts = CutSet.from_file(path).to_eager()
    except Exception as exc:  # lhotse raises assorted errors for files of another kind
        raise ExpertDataError(f"{path}: not a readable cut manifest ({type(exc).__name__})") from None
    if not all(hasattr(c, "supervisions") for c in cuts):
        raise ExpertDataError(f"{path}: not a cut manifest (recordings or supervisions?)")
    if not any((c.supervisions[0].custom or {}).get("scores") for c in cuts if c.supervisions):
        raise ExpertDataError(
            f"{path}: no cut has expert scores (custom['scores']); prepare a scored "
            "speechocean762 folder with `asr prepare speechocean762`"
        )
    if scored_only:
        cuts = cuts.filter(lambda c: "scores" in (c.supervisions[0].custom or {})).to_eager()
    return cuts


def check_unseen_speakers(cuts, training_cuts: Iterable[Path]) -> None:
    """Refuse (:class:`ExpertDataError`) when a speaker of ``cuts`` occurs in any of ``training_cuts``."""
    from lhotse import CutSet

    judged = {s.speaker for c in cuts for s in c.supervisions}
    for path in training_cuts:
        if not Path(path).is_file():
            raise ExpertDataError(f"training cuts not found: {path}")
        seen = judged & {s.speaker for c in CutSet.from_file(path) for s in c.supervisions}
        if seen:
            raise ExpertDataError(
                f"{path}: the model trained on speakers {sorted(seen)[:5]} that are judged here; "
                "judge on speakers it never heard"
            )

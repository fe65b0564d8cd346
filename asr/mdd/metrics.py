"""Mispronunciation detection and diagnosis metrics, as MDD papers on L2-ARCTIC count them.

Three phone sequences per utterance: *canonical* (what the prompt should sound like), *perceived* (what
annotators heard) and *recognised* (the system's output). The convention is that of the scoring scripts
published with ``cageyoko/CTC-Attention-Mispronunciation`` (Fu et al. 2021 and most later papers), which
align canonical↔perceived, perceived↔recognised and canonical↔recognised with Kaldi's ``align-text``:

* every perceived phone (correct, substituted or inserted by the speaker) is judged through the
  perceived↔recognised alignment:

  - annotated correct: recognised as heard → **TA** (true acceptance), otherwise → **FR** (false rejection);
  - annotated substitution: recognised as heard → **CD** (correct diagnosis); recognised as the canonical
    phone → **FA** (false acceptance, the error was missed); anything else (another phone, or nothing)
    → **DE** (diagnosis error);
  - speaker insertion: recognised as heard → CD; recognised as another phone → DE; not recognised → FA;

* every canonical phone the speaker deleted is judged through the canonical↔recognised alignment:
  recogniser deleted it too → CD; recognised another phone → DE; recognised the canonical phone → FA;
* recogniser insertions where annotators marked none are not counted.

TR = CD + DE; precision = TR/(TR+FR); recall = TR/(TR+FA); F1; diagnosis error rate DER = DE/(CD+DE);
detection accuracy = (TA+TR)/all; PER = edit distance of recognised against perceived / perceived phones.
Rates are fractions (0-1).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from asr.errors import UserError
from asr.files import write_atomic
from asr.text.phones import ARPABET_PHONES, ERR, SIL, normalize_phone

from .align import Costs, Edit, align

VERDICTS = ("TA", "FR", "FA", "CD", "DE")


class MddInputError(UserError):
    """A scoring file that cannot be used (unknown phone, duplicate or mismatched utterance ids)."""


def _ratio(num: float, den: float) -> float:
    return num / den if den else 0.0


@dataclass
class MddCounts:
    """The verdict counts of one or more utterances, and the recogniser's phone errors against perceived."""

    ta: int = 0
    fr: int = 0
    fa: int = 0
    cd: int = 0
    de: int = 0
    phone_errors: int = 0  # recognised vs perceived: substitutions + deletions + insertions
    perceived_phones: int = 0

    def add(self, other: MddCounts) -> None:
        for name in ("ta", "fr", "fa", "cd", "de", "phone_errors", "perceived_phones"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def tr(self) -> int:
        return self.cd + self.de

    @property
    def precision(self) -> float:
        return _ratio(self.tr, self.tr + self.fr)

    @property
    def recall(self) -> float:
        return _ratio(self.tr, self.tr + self.fa)

    @property
    def f1(self) -> float:
        return _ratio(2 * self.precision * self.recall, self.precision + self.recall)

    @property
    def der(self) -> float:
        return _ratio(self.de, self.cd + self.de)

    @property
    def detection_accuracy(self) -> float:
        return _ratio(self.ta + self.tr, self.ta + self.fr + self.fa + self.tr)

    @property
    def per(self) -> float:
        return _ratio(self.phone_errors, self.perceived_phones)

    def to_dict(self, digits: int = 4) -> dict[str, float | int]:
        """The keys ``asr score mdd --json`` prints (rates rounded to ``digits``)."""
        rates = {
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "der": self.der,
            "per": self.per,
            "detection_accuracy": self.detection_accuracy,
        }
        return {
            "ta": self.ta,
            "fr": self.fr,
            "fa": self.fa,
            "tr": self.tr,
            "cd": self.cd,
            "de": self.de,
            **{k: round(v, digits) for k, v in rates.items()},
            "phone_errors": self.phone_errors,
            "perceived_phones": self.perceived_phones,
        }


@dataclass(frozen=True)
class Column:
    """One position of an utterance's joint alignment; ``verdict`` is one of :data:`VERDICTS`, or ``None``
    for a recogniser insertion (not scored)."""

    canonical: str | None
    perceived: str | None
    recognised: str | None
    verdict: str | None


@dataclass
class UtteranceScore:
    utt_id: str
    columns: list[Column]
    counts: MddCounts
    perceived_vs_recognised: list[Edit] = field(repr=False, default_factory=list)

    def alignment_text(self) -> str:
        """Four aligned rows (canonical, perceived, recognised, verdict); ``*`` marks a missing phone."""
        rows = [
            ("canonical", [c.canonical for c in self.columns]),
            ("perceived", [c.perceived for c in self.columns]),
            ("recognised", [c.recognised for c in self.columns]),
            ("verdict", [c.verdict or "ins" for c in self.columns]),
        ]
        cells = [[(v or "*").lower() if name != "verdict" else v for v in values] for name, values in rows]
        widths = [max(len(row[i]) for row in cells) for i in range(len(self.columns))]
        lines = [
            f"{self.utt_id} {name:<10} " + " ".join(v.ljust(w) for v, w in zip(row, widths, strict=True))
            for (name, _), row in zip(rows, cells, strict=True)
        ]
        return "\n".join(line.rstrip() for line in lines)


def _verdict(heard: str | None, expected: str | None, recognised: str | None, op: str) -> str:
    """The verdict on one perceived phone (op ``C``/``S``/``I`` of canonical↔perceived) or one speaker
    deletion (op ``D``; ``heard`` is None)."""
    if op == "C":
        return "TA" if recognised == heard else "FR"
    if op == "S":
        return "CD" if recognised == heard else "FA" if recognised == expected else "DE"
    if op == "I":
        return "CD" if recognised == heard else "FA" if recognised is None else "DE"
    # speaker deletion: what did the recogniser make of the canonical phone?
    return "CD" if recognised is None else "FA" if recognised == expected else "DE"


def score_utterance(
    utt_id: str,
    canonical: Sequence[str],
    perceived: Sequence[str],
    recognised: Sequence[str],
    costs: Costs = "kaldi",
) -> UtteranceScore:
    """Judge every perceived phone and every speaker deletion of one utterance (see the module docs)."""
    can_per = align(canonical, perceived, costs)
    per_rec = align(perceived, recognised, costs)
    can_rec = align(canonical, recognised, costs)
    # for the k-th perceived phone: its recognised counterpart, and the recogniser insertions before it
    by_perceived: list[tuple[str | None, list[str]]] = []
    pending: list[str] = []
    for edit in per_rec:
        if edit.ref is None:
            pending.append(edit.hyp)  # type: ignore[arg-type]
        else:
            by_perceived.append((edit.hyp, pending))
            pending = []
    by_canonical = [edit.hyp for edit in can_rec if edit.ref is not None]
    counts = MddCounts(perceived_phones=len(perceived))
    counts.phone_errors = sum(edit.op != "C" for edit in per_rec)
    columns: list[Column] = []
    k_per = k_can = 0
    for edit in can_per:
        op = edit.op
        if op == "D":
            recognised_phone = by_canonical[k_can]
        else:
            recognised_phone, inserted = by_perceived[k_per]
            columns.extend(Column(None, None, phone, None) for phone in inserted)
            k_per += 1
        if edit.ref is not None:
            k_can += 1
        verdict = _verdict(edit.hyp, edit.ref, recognised_phone, op)
        setattr(counts, verdict.lower(), getattr(counts, verdict.lower()) + 1)
        columns.append(Column(edit.ref, edit.hyp, recognised_phone, verdict))
    columns.extend(Column(None, None, phone, None) for phone in pending)
    return UtteranceScore(utt_id, columns, counts, per_rec)


@dataclass
class MddReport:
    """Scores of a test set: totals, and each utterance's joint alignment."""

    counts: MddCounts
    utterances: list[UtteranceScore]

    def summary(self) -> str:
        c = self.counts
        return (
            f"TA {c.ta} FR {c.fr} FA {c.fa} TR {c.tr} (CD {c.cd} DE {c.de})  precision {c.precision:.4f} "
            f"recall {c.recall:.4f} F1 {c.f1:.4f} DER {c.der:.4f} detection accuracy "
            f"{c.detection_accuracy:.4f}  PER {100 * c.per:.2f} % ({c.phone_errors}/{c.perceived_phones})"
        )

    def confusion(self) -> Counter[tuple[str, str]]:
        """(perceived, recognised) pair counts over the perceived↔recognised alignments; a recogniser
        deletion is recognised as ``<del>``, an insertion is perceived as ``<ins>``."""
        pairs: Counter[tuple[str, str]] = Counter()
        for utt in self.utterances:
            for edit in utt.perceived_vs_recognised:
                pairs[(edit.ref or "<ins>", edit.hyp or "<del>")] += 1
        return pairs


def score_sequences(
    canonical: Mapping[str, Sequence[str]],
    perceived: Mapping[str, Sequence[str]],
    recognised: Mapping[str, Sequence[str]],
    costs: Costs = "kaldi",
) -> MddReport:
    """Score every utterance (the three mappings must hold the same ids) and add the counts up."""
    _check_same_ids({"canonical": canonical, "perceived": perceived, "recognised": recognised})
    total = MddCounts()
    utterances = []
    for utt_id in canonical:
        utt = score_utterance(utt_id, canonical[utt_id], perceived[utt_id], recognised[utt_id], costs)
        total.add(utt.counts)
        utterances.append(utt)
    return MddReport(total, utterances)


def _check_same_ids(named: Mapping[str, Mapping[str, object]]) -> None:
    (first_name, first), *others = named.items()
    for name, other in others:
        only_first, only_other = sorted(first.keys() - other.keys()), sorted(other.keys() - first.keys())
        if only_first or only_other:
            parts = [
                f"{len(ids)} only in {where} (e.g. {', '.join(ids[:3])})"
                for ids, where in ((only_first, first_name), (only_other, name))
                if ids
            ]
            raise MddInputError(f"utterance ids of {first_name} and {name} differ: {'; '.join(parts)}")


def normalize_sequence(labels: Iterable[str], where: str) -> list[str]:
    """Phone labels → upper-case stress-less ARPAbet (``err`` kept, ``sil`` dropped: MDD scores 39 phones).

    Raises :class:`MddInputError` naming ``where`` (file and utterance) and the label if one is not a phone.
    """
    out = []
    for label in labels:
        try:
            phone = normalize_phone(label)
        except ValueError:
            raise MddInputError(
                f"{where}: {label!r} is not a phone (39 ARPAbet phones, sil or err)"
            ) from None
        if phone != SIL:
            out.append(phone)
    return out


def read_phone_file(path: str | Path) -> dict[str, list[str]]:
    """A Kaldi-style phone file (``utt-id ph ph …`` per line; case and stress digits free) → id → phones."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such phone file")
    out: dict[str, list[str]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        utt_id, labels = fields[0], fields[1:]
        if utt_id in out:
            raise MddInputError(f"{path}:{number}: utterance {utt_id} appears twice")
        out[utt_id] = normalize_sequence(labels, f"{path}:{number} (utterance {utt_id})")
    if not out:
        raise MddInputError(f"{path}: no utterances in the file")
    return out


def score_files(canonical: Path, perceived: Path, hyp: Path, costs: Costs = "kaldi") -> MddReport:
    """:func:`score_sequences` of three Kaldi-style phone files."""
    return score_sequences(
        read_phone_file(canonical), read_phone_file(perceived), read_phone_file(hyp), costs
    )


def write_report(report: MddReport, out_dir: Path) -> list[Path]:
    """``mdd.json`` (totals), ``alignment.txt`` (per utterance) and ``confusion.png`` in ``out_dir``."""

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / "mdd.json", out_dir / "alignment.txt", out_dir / "confusion.png"]
    write_atomic(written[0], (json.dumps(report.counts.to_dict(), indent=1) + "\n").encode())
    text = "\n\n".join(u.alignment_text() for u in report.utterances) + "\n"
    write_atomic(written[1], text.encode())
    write_atomic(written[2], confusion_png(report.confusion()))
    return written


def confusion_png(pairs: Counter[tuple[str, str]]) -> bytes:
    """A perceived × recognised confusion matrix (each row normalised to shares) as PNG."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    labels = [*ARPABET_PHONES, ERR]
    rows, cols = [*labels, "<ins>"], [*labels, "<del>"]
    matrix = np.zeros((len(rows), len(cols)))
    for (heard, recognised), n in pairs.items():
        if heard in rows and recognised in cols:
            matrix[rows.index(heard), cols.index(recognised)] += n
    share = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(11, 10), dpi=100)
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(cols)), [c.lower() for c in cols], rotation=90, fontsize=7)
    ax.set_yticks(range(len(rows)), [r.lower() for r in rows], fontsize=7)
    ax.set_xlabel("recognised")
    ax.set_ylabel("perceived (annotated)")
    ax.set_title("phone confusions (share of each perceived phone)")
    fig.colorbar(image, ax=ax, fraction=0.04)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()

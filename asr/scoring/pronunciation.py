"""Pronunciation scores against speechocean762's experts: PCC and MSE per level and aspect, as GOPT reports.

GOPT (Gong et al., ICASSP 2022) scores a model on speechocean762's test set by the Pearson correlation (PCC)
and the mean squared error (MSE) of its predictions against the experts' mean scores, pooled over the whole
set at each level: phone accuracy over every canonical phone of every utterance, word accuracy / stress /
total over every word, sentence accuracy / completeness / fluency / prosodic / total over every utterance.
Pooling matters: the PCC of all phones together is not the mean of per-utterance PCCs.

- :func:`read_reference` reads the experts' scores (a corpus folder, ``scores.json``, ``scores-detail.json``
  or the MI-1 ``utt2score``) into the normalised shape of :func:`asr.data.speechocean762.normalise_scores`;
- :func:`read_hypothesis` reads predicted scores in that same shape (the format is in its docstring);
- :func:`score_pronunciation` computes the table; :func:`score_files` does all three from paths;
- :func:`inter_expert_agreement` gives the human ceiling: each expert against the mean of the others.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from asr.data.speechocean762 import (
    SENTENCE_ASPECTS,
    WORD_ASPECTS,
    normalise_scores,
    parse_expert_phones,
    read_kaldi_map,
    read_score_file,
    read_scores,
    read_text_phone,
)
from asr.files import write_atomic
from asr.scoring.wer import ScoringError

#: Level -> the aspects scored there, in GOPT's order.
LEVELS: dict[str, tuple[str, ...]] = {
    "phone": ("accuracy",),
    "word": WORD_ASPECTS,
    "sentence": SENTENCE_ASPECTS,
}
#: How many ids an error message lists before it only counts them.
_FEW = 5


def _few(ids: Sequence[str]) -> str:
    head = ", ".join(ids[:_FEW])
    return head + (f", ... ({len(ids) - _FEW} more)" if len(ids) > _FEW else "")


# -- statistics -----------------------------------------------------------------------------------------
def pearson(
    ref: Sequence[float], hyp: Sequence[float], names: tuple[str, str] = ("reference", "prediction")
) -> tuple[float | None, str | None]:
    """Pearson correlation of two equally long sequences: ``(pcc, None)`` or ``(None, reason)``.

    The PCC is undefined (None, never NaN) for fewer than two values or when either side is constant;
    ``names`` name the two sides in the reason."""
    x, y = np.asarray(ref, dtype=np.float64), np.asarray(hyp, dtype=np.float64)
    if len(x) < 2:
        return None, f"{len(x)} value(s): a correlation needs at least 2"
    # exact equality, not a variance threshold: the mean of equal floats can differ from them in the last bit
    if np.all(x == x[0]):
        return None, f"constant {names[0]}"
    if np.all(y == y[0]):
        return None, f"constant {names[1]}"
    xc, yc = x - x.mean(), y - y.mean()
    pcc = float(np.dot(xc, yc) / math.sqrt(float(np.dot(xc, xc)) * float(np.dot(yc, yc))))
    return max(-1.0, min(1.0, pcc)), None  # rounding can step just past +-1


def mse(ref: Sequence[float], hyp: Sequence[float]) -> float:
    """Mean squared error of ``hyp`` against ``ref`` (equally long, not empty)."""
    d = np.asarray(hyp, dtype=np.float64) - np.asarray(ref, dtype=np.float64)
    return float(np.mean(d * d))


def _stats(
    ref: Sequence[float], hyp: Sequence[float], names: tuple[str, str] = ("reference", "prediction")
) -> dict[str, Any]:
    pcc, note = pearson(ref, hyp, names)
    out: dict[str, Any] = {"n": len(ref), "pcc": pcc, "mse": mse(ref, hyp) if len(ref) else None}
    if note:
        out["note"] = note
    return out


# -- reading --------------------------------------------------------------------------------------------
def find_text_phone(path: Path) -> Path:
    """The corpus's ``resource/text-phone`` for a reference path: inside a corpus folder, beside
    ``resource/scores*.json``, or two levels up from ``expert-scores-mi1/utt2score``."""
    path = Path(path)
    candidates = (
        [path / "resource" / "text-phone"]
        if path.is_dir()
        else [path.parent / "text-phone", path.parent.parent / "resource" / "text-phone"]
    )
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ScoringError(
        f"{path}: no resource/text-phone found beside it (the canonical phones); give it with --text-phone"
    )


def _read_raw(
    path: Path, utterances: Sequence[str] | None = None, split: str | None = None
) -> tuple[dict[str, Any], str]:
    """The experts' raw scores per utterance and their source name, from a folder or one score file;
    only ``utterances`` when given (each must be scored there), only the scored utterances of the corpus
    folder's ``split`` (``train``, ``test``: its ``<split>/text``) when given."""
    path = Path(path)
    if path.is_dir():
        raw, source = read_scores(path)
        if source is None:
            raise ScoringError(
                f"{path}: no resource/scores-detail.json, resource/scores.json or expert-scores-mi1/utt2score"
            )
    elif not path.is_file():
        raise ScoringError(f"reference scores not found: {path}")
    else:
        raw, source = read_score_file(path)
    if utterances is not None:
        unknown = sorted(set(utterances) - set(raw))
        if unknown:
            raise ScoringError(
                f"{path}: no scores for {len(unknown)} of the listed utterances ({_few(unknown)})"
            )
        raw = {utt: raw[utt] for utt in utterances}
    if split is not None:
        text = path / split / "text"
        if not text.is_file():
            raise ScoringError(f"--split {split} needs the corpus folder as the reference: {text} not found")
        listed = set(read_kaldi_map(text))
        raw = {utt: scores for utt, scores in raw.items() if utt in listed}
        if not raw:
            raise ScoringError(f"{path}: no scored utterance in {text}")
    if not raw:
        raise ScoringError(f"{path}: holds no scored utterances")
    return raw, source


def _canonical(path: Path, text_phone: Path | None, utts: Sequence[str]) -> dict[str, list[list[str]]]:
    """Canonical phones per word of each of ``utts``, from ``text_phone`` or the one found beside ``path``."""
    tp_path = Path(text_phone) if text_phone is not None else find_text_phone(path)
    if not tp_path.is_file():
        raise ScoringError(f"text-phone file not found: {tp_path}")
    by_utt = read_text_phone(tp_path)
    out, missing = {}, []
    for utt in utts:
        words = by_utt.get(utt)
        if not words or sorted(words) != list(range(len(words))):
            missing.append(utt)
            continue
        out[utt] = [words[i] for i in range(len(words))]
    if missing:
        raise ScoringError(
            f"{tp_path}: no complete canonical phones for {len(missing)} utterances ({_few(missing)})"
        )
    return out


def read_reference(
    path: Path,
    text_phone: Path | None = None,
    utterances: Sequence[str] | None = None,
    split: str | None = None,
) -> dict[str, dict]:
    """The experts' scores per utterance, normalised (:func:`asr.data.speechocean762.normalise_scores`).

    ``path``: a speechocean762 folder (its most detailed score file is read), ``scores.json``,
    ``scores-detail.json`` or the MI-1 ``expert-scores-mi1/utt2score``. The canonical phones (needed to
    line the experts' phone scores up) come from ``text_phone``, by default the corpus's
    ``resource/text-phone`` found from ``path`` (:func:`find_text_phone`). A word whose experts' phone
    transcriptions do not align with the canonical phones has ``phone_accuracy`` None. ``utterances``: only
    these, each of which must be scored in ``path``; ``split``: only the scored utterances of the corpus
    folder's split (``test``, as the literature reports)."""
    raw, source = _read_raw(path, utterances, split)
    canonical = _canonical(path, text_phone, sorted(raw))
    try:
        return {
            utt: normalise_scores(raw[utt], canonical[utt], source, f"{path}: {utt}") for utt in sorted(raw)
        }
    except ValueError as exc:
        raise ScoringError(str(exc)) from None


def _number(value: Any, where: str) -> float:
    # bool is an int in Python, but true/false in a score file is a mistake, not a 1 or a 0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ScoringError(f"{where}: expected a finite number, got {value!r}")
    return float(value)


def _check_hypothesis(scores: Any, where: str) -> dict:
    """One utterance's predicted scores, checked: numbers where numbers belong, lists where lists do."""
    if not isinstance(scores, dict):
        raise ScoringError(f"{where}: expected an object of scores, got {type(scores).__name__}")
    # a sentence aspect may be null: the system gives no judgement there (scored without that utterance)
    out: dict[str, Any] = {
        a: None if scores[a] is None else _number(scores[a], f"{where}.{a}")
        for a in SENTENCE_ASPECTS
        if a in scores
    }
    if "words" in scores:
        words = scores["words"]
        if not isinstance(words, list) or not all(isinstance(w, dict) for w in words):
            raise ScoringError(f"{where}.words: expected a list of word objects")
        out["words"] = []
        for i, word in enumerate(words):
            w = f"{where}.words[{i}]"
            checked: dict[str, Any] = {a: _number(word[a], f"{w}.{a}") for a in WORD_ASPECTS if a in word}
            phones = word.get("phone_accuracy")
            if phones is not None:
                if not isinstance(phones, list):
                    raise ScoringError(f"{w}.phone_accuracy: expected a list of numbers, got {phones!r}")
                checked["phone_accuracy"] = [
                    _number(p, f"{w}.phone_accuracy[{j}]") for j, p in enumerate(phones)
                ]
            out["words"].append(checked)
    return out


def read_hypothesis(path: Path) -> dict[str, dict]:
    """Predicted scores per utterance, in the reference's normalised shape, any subset of aspects::

        {"<utt>": {"accuracy": 8.1, "completeness": 0.98, "fluency": 8.5, "prosodic": 8.0, "total": 8.2,
                   "words": [{"accuracy": 9.0, "stress": 10.0, "total": 9.2,
                              "phone_accuracy": [2.0, 1.7]}, ...]}, ...}

    ``*.jsonl``: one object a line, the utterance id in ``"id"`` and the scores beside it; any other name:
    one JSON object of utterance ids. Sentence aspects are on the reference's scales (completeness 0-1 as
    the normalised reference has it), word aspects 0-10, phone accuracy 0-2 per canonical phone. Other keys
    (``text``, ``source``, ...) are ignored, so a normalised reference reads as a hypothesis."""
    path = Path(path)
    if not path.is_file():
        raise ScoringError(f"hypothesis scores not found: {path}")
    text = path.read_text(encoding="utf-8")
    raw: dict[str, Any] = {}
    if path.suffix == ".jsonl":
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ScoringError(f"{path}:{n}: not readable JSON ({exc})") from None
            if not isinstance(obj, dict) or not isinstance(obj.get("id"), str):
                raise ScoringError(f'{path}:{n}: expected an object with a string "id"')
            if obj["id"] in raw:
                raise ScoringError(f"{path}:{n}: duplicate utterance id {obj['id']!r}")
            raw[obj["id"]] = obj
    else:
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ScoringError(
                f"{path}: not readable JSON ({exc}); JSON lines need the .jsonl suffix"
            ) from None
        if not isinstance(raw, dict):
            raise ScoringError(f"{path}: expected an object of utterance ids")
    if not raw:
        raise ScoringError(f"{path}: holds no utterances")
    return {utt: _check_hypothesis(s, f"{path}: {utt}") for utt, s in raw.items()}


def read_hypotheses(paths: Sequence[Path]) -> dict[str, dict]:
    """The predictions of several files (:func:`read_hypothesis` each: one split's in each, say) as one;
    an utterance predicted in two files is an error naming both."""
    out: dict[str, dict] = {}
    where: dict[str, Path] = {}
    for path in paths:
        for utt, scores in read_hypothesis(path).items():
            if utt in out:
                raise ScoringError(f"{path}: {utt} is predicted in {where[utt]} too")
            out[utt], where[utt] = scores, Path(path)
    return out


# -- scoring --------------------------------------------------------------------------------------------
def score_pronunciation(
    ref: Mapping[str, dict], hyp: Mapping[str, dict], hyp_name: str = "hypothesis"
) -> dict[str, Any]:
    """PCC, MSE and n per level and aspect of ``hyp`` against ``ref``, pooled as GOPT pools them.

    Both map utterance ids to the normalised shape (:func:`read_reference`, :func:`read_hypothesis`).
    Every reference utterance must be in ``hyp`` (else :class:`ScoringError` with the count and a few ids);
    extra ``hyp`` utterances are ignored and counted (``hyp_ignored``), so predictions for a whole corpus
    can be scored against a subset. An aspect is scored when ``hyp`` gives it for any utterance, and then
    it must give it for every one (a score over a silently chosen subset would not be comparable); a
    sentence aspect given as None is an abstention: that utterance is left out of it and counted
    (``abstained``). Words
    whose reference phone accuracy is unknown (the experts' transcriptions did not align) are left out of
    the phone level and counted (``phone_words_skipped``). ``hyp_name`` names ``hyp`` in messages.

    Returns ``{"utterances", "hyp_ignored", "phone_words_skipped",
    "levels": {level: {aspect: {"n", "pcc", "mse"[, "note"]}}}}``; ``pcc`` is None, with ``note`` saying
    why, where it is undefined."""
    missing = sorted(set(ref) - set(hyp))
    if missing:
        raise ScoringError(
            f"{hyp_name}: no scores for {len(missing)} of the {len(ref)} reference utterances ({_few(missing)})"
        )
    utts = sorted(ref)
    if not utts:
        raise ScoringError("no reference utterances to score")
    present = {
        "sentence": [a for a in SENTENCE_ASPECTS if any(a in hyp[u] for u in utts)],
        "word": [a for a in WORD_ASPECTS if any(a in w for u in utts for w in hyp[u].get("words", []))],
        "phone": ["accuracy"]
        if any(w.get("phone_accuracy") is not None for u in utts for w in hyp[u].get("words", []))
        else [],
    }
    if not any(present.values()):
        raise ScoringError(f"{hyp_name}: no score aspect of any level for the reference utterances")
    pairs: dict[str, dict[str, tuple[list[float], list[float]]]] = {
        level: {a: ([], []) for a in aspects} for level, aspects in present.items()
    }
    skipped = 0
    abstained = dict.fromkeys(present["sentence"], 0)
    for utt in utts:
        r, h = ref[utt], hyp[utt]
        for a in present["sentence"]:
            if a not in h:
                raise ScoringError(f"{hyp_name}: {utt} has no {a!r} (other utterances have it)")
            if h[a] is None:
                abstained[a] += 1
                continue
            pairs["sentence"][a][0].append(float(r[a]))
            pairs["sentence"][a][1].append(float(h[a]))
        if not (present["word"] or present["phone"]):
            continue
        h_words, r_words = h.get("words"), r["words"]
        if h_words is None or len(h_words) != len(r_words):
            n = "no" if h_words is None else len(h_words)
            raise ScoringError(f"{hyp_name}: {utt} has {n} words but the reference has {len(r_words)}")
        for i, (rw, hw) in enumerate(zip(r_words, h_words, strict=True)):
            for a in present["word"]:
                if a not in hw:
                    raise ScoringError(f"{hyp_name}: {utt} word {i} has no {a!r} (other words have it)")
                pairs["word"][a][0].append(float(rw[a]))
                pairs["word"][a][1].append(float(hw[a]))
            if not present["phone"]:
                continue
            hp, rp = hw.get("phone_accuracy"), rw.get("phone_accuracy")
            if rp is None:
                skipped += 1
                continue
            if hp is None:
                raise ScoringError(f"{hyp_name}: {utt} word {i} has no phone_accuracy (other words have it)")
            if len(hp) != len(rp):
                raise ScoringError(
                    f"{hyp_name}: {utt} word {i} has {len(hp)} phone scores but {len(rp)} canonical phones"
                )
            pairs["phone"]["accuracy"][0].extend(float(v) for v in rp)
            pairs["phone"]["accuracy"][1].extend(float(v) for v in hp)
    result = {
        "utterances": len(utts),
        "hyp_ignored": len(set(hyp) - set(ref)),
        "phone_words_skipped": skipped,
        "levels": {
            level: {a: _stats(*pairs[level][a]) for a in present[level]} for level in LEVELS if present[level]
        },
    }
    for a, n in abstained.items():
        if n:
            result["levels"]["sentence"][a]["abstained"] = n
    return result


def score_files(
    ref_path: Path,
    hyp_path: Path | Sequence[Path],
    text_phone: Path | None = None,
    utterances: Sequence[str] | None = None,
    split: str | None = None,
) -> dict[str, Any]:
    """:func:`score_pronunciation` of the files (:func:`read_reference`; :func:`read_hypotheses` of one or
    several hypothesis files)."""
    paths = [hyp_path] if isinstance(hyp_path, (str, Path)) else list(hyp_path)
    reference = read_reference(ref_path, text_phone, utterances, split)
    return score_pronunciation(reference, read_hypotheses(paths), ", ".join(map(str, paths)))


# -- the human ceiling ----------------------------------------------------------------------------------
def _per_expert(value: Any, experts: int | None, where: str) -> list[float]:
    if not isinstance(value, list):
        raise ScoringError(
            f"{where} holds one number, not one per expert: the file has only the experts' means (scores.json?); "
            "use scores-detail.json or expert-scores-mi1/utt2score"
        )
    if experts is not None and len(value) != experts:
        raise ScoringError(f"{where}: {len(value)} values but {experts} experts elsewhere")
    return [_number(v, where) for v in value]


def inter_expert_agreement(
    raw: Mapping[str, dict],
    canonical: Mapping[str, list[list[str]]] | None = None,
    where: str = "scores",
) -> dict[str, Any]:
    """Each expert against the mean of the other experts: PCC and MSE per level and aspect, then their mean.

    ``raw``: utterance id -> the corpus's raw scores with one value per expert in every field
    (``scores-detail.json``, MI-1 ``utt2score``); a file of means only (``scores.json``) raises
    :class:`ScoringError`. Pooled like :func:`score_pronunciation` (all utterances, all words). The phone
    level needs ``canonical`` (utterance id -> canonical phones per word) and uses normalise_scores' rule:
    an expert's transcription aligns when its phones, inserted ones set aside, are as many as the
    canonical phones; a word is used only when every expert's transcription aligns (so each expert is
    compared with the mean of all the others on the same phones), the rest are counted
    (``phone_words_skipped``). Without ``canonical`` the phone level is left out. ``where`` names the
    source in messages.

    Returns ``{"experts", "utterances", "phone_words_used", "phone_words_skipped", "levels": {level:
    {aspect: {"n", "pcc", "mse", "pcc_per_expert", "mse_per_expert"[, "note"]}}}}``; ``pcc`` is the mean
    of the experts' defined PCCs."""
    if not raw:
        raise ScoringError(f"{where}: holds no scored utterances")
    experts: int | None = None
    sentence: dict[str, list[list[float]]] = {a: [] for a in SENTENCE_ASPECTS}
    word: dict[str, list[list[float]]] = {a: [] for a in WORD_ASPECTS}
    phone: list[list[float]] = []
    used = skipped = 0
    for utt in sorted(raw):
        r, at = raw[utt], f"{where}: {utt}"
        if not isinstance(r, dict):
            raise ScoringError(f"{at}: expected an object of scores")
        for a in SENTENCE_ASPECTS:
            if a not in r:
                raise ScoringError(f"{at}: no field {a!r}")
            sentence[a].append(_per_expert(r[a], experts, f"{at}.{a}"))
            experts = len(sentence[a][-1])
        words = r.get("words")
        if not isinstance(words, list):
            raise ScoringError(f"{at}: no list of words")
        if canonical is not None and len(words) != len(canonical[utt]):
            raise ScoringError(f"{at}: {len(words)} scored words but {len(canonical[utt])} canonical words")
        for i, w in enumerate(words):
            wat = f"{at}.words[{i}]"
            for a in WORD_ASPECTS:
                if a not in w:
                    raise ScoringError(f"{wat}: no field {a!r}")
                word[a].append(_per_expert(w[a], experts, f"{wat}.{a}"))
            if canonical is None:
                continue
            transcriptions = w.get("phones")
            if not isinstance(transcriptions, list) or len(transcriptions) != experts:
                raise ScoringError(f"{wat}.phones: expected {experts} transcriptions, got {transcriptions!r}")
            try:
                aligned = [
                    [p.score for p in parse_expert_phones(t) if not p.inserted] for t in transcriptions
                ]
            except (ValueError, AttributeError) as exc:
                raise ScoringError(f"{wat}.phones: {exc}") from None
            if all(len(a) == len(canonical[utt][i]) for a in aligned):
                used += 1
                phone.extend([float(a[j]) for a in aligned] for j in range(len(canonical[utt][i])))
            else:
                skipped += 1
    assert experts is not None
    if experts < 2:
        raise ScoringError(f"{where}: {experts} expert(s); agreement needs at least 2")
    levels: dict[str, dict[str, list[list[float]]]] = {"word": word, "sentence": sentence}
    if canonical is not None:
        levels = {"phone": {"accuracy": phone}, **levels}
    out: dict[str, Any] = {
        "experts": experts,
        "utterances": len(raw),
        "phone_words_used": used if canonical is not None else None,
        "phone_words_skipped": skipped if canonical is not None else None,
        "levels": {},
    }
    for level, aspects in levels.items():
        out["levels"][level] = {}
        for a, rows in aspects.items():
            m = np.asarray(rows, dtype=np.float64).reshape(-1, experts)
            stats = []
            for k in range(experts):
                others = (m.sum(axis=1) - m[:, k]) / (experts - 1)
                stats.append(_stats(others, m[:, k], ("mean of the others", "scores of this expert")))
            pccs = [s["pcc"] for s in stats if s["pcc"] is not None]
            entry: dict[str, Any] = {
                "n": len(m),
                "pcc": float(np.mean(pccs)) if pccs else None,
                "mse": float(np.mean([s["mse"] for s in stats])) if len(m) else None,
                "pcc_per_expert": [s["pcc"] for s in stats],
                "mse_per_expert": [s["mse"] for s in stats],
            }
            notes = sorted({f"expert {k + 1}: {s['note']}" for k, s in enumerate(stats) if "note" in s})
            if notes:
                entry["note"] = "; ".join(notes)
            out["levels"][level][a] = entry
    return out


def expert_agreement_file(
    path: Path,
    text_phone: Path | None = None,
    utterances: Sequence[str] | None = None,
    split: str | None = None,
) -> dict[str, Any]:
    """:func:`inter_expert_agreement` of a folder, ``scores-detail.json`` or MI-1 ``utt2score`` (see
    :func:`read_reference` for ``path``, ``text_phone``, ``utterances`` and ``split``)."""
    raw, _ = _read_raw(path, utterances, split)
    return inter_expert_agreement(raw, _canonical(path, text_phone, sorted(raw)), str(path))


# -- output ---------------------------------------------------------------------------------------------
def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def format_table(result: Mapping[str, Any]) -> str:
    """A result of :func:`score_pronunciation` or :func:`inter_expert_agreement` as an aligned text table."""
    experts = "experts" in result
    header = ["level", "aspect", "n", "PCC", "MSE"] + (["PCC per expert"] if experts else [])
    rows = [header]
    notes = []
    for level, aspects in result["levels"].items():
        for aspect, s in aspects.items():
            row = [level, aspect, str(s["n"]), _fmt(s["pcc"]), _fmt(s["mse"])]
            if experts:
                row.append(" ".join(_fmt(p) for p in s["pcc_per_expert"]))
            rows.append(row)
            if s.get("abstained"):
                notes.append(f"{level} {aspect}: no judgement on {s['abstained']} utterances (left out)")
            if "note" in s:
                # for the experts, an undefined PCC drops that expert from the mean; say whose and why
                what = "PCC undefined, left out of the mean" if experts else "PCC undefined"
                notes.append(f"{level} {aspect}: {what} ({s['note']})")
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    if experts:
        lines.insert(
            0,
            f"{result['experts']} experts, each against the mean of the others; {result['utterances']}"
            f" utterances; phone level on {result['phone_words_used']} words "
            f"({result['phone_words_skipped']} skipped: a transcription does not align)",
        )
    else:
        lines.insert(
            0,
            f"{result['utterances']} utterances ({result['hyp_ignored']} more in the hypothesis "
            f"ignored); {result['phone_words_skipped']} words without reference phone scores skipped",
        )
    return "\n".join(lines + notes)


def write_json(result: Mapping[str, Any], path: Path) -> None:
    """Write a result as indented JSON, atomically."""
    write_atomic(Path(path), (json.dumps(result, indent=2) + "\n").encode("utf-8"))

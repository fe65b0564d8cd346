#!/usr/bin/env python3
"""RESULTS.md's T7: each judgement of the assessor beyond the phone against a truth set by construction.

``t7.py --model MODEL --out-dir DIR [--results RESULTS.md] [--per-judgement N] [--seed S]`` builds about N
espeak-ng utterances per judgement with :mod:`data_prep.known_answers` (rate, pauses, lexical stress,
intonation, breaks, monotone, word miscues, inline pronunciations), runs one
:class:`asr.mdd.assessment.Assessor` of MODEL over them (one assessor, so each prompt's reference reading is
made once), and scores each judgement with the figure that fits it (the ``*_metrics`` functions below).
Writes ``DIR/t7.json`` (every figure with its counts), ``DIR/t7_cases.jsonl`` (one line per case: prompt,
voice, what espeak-ng was given, truth, what was measured) and ``DIR/RESULTS.md``; with ``--results FILE``
also FILE's section ``mini T7``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT))
from asr.files import write_atomic  # noqa: E402
from asr.results import bench_command, fmt, publish, read_json, results_page, share, table_row  # noqa: E402
from asr.scoring.pronunciation import pearson  # noqa: E402

TABLE = "T7"
KEY = "mini T7"
#: cases per judgement by default: the whole run (8 judgements, ~1,600 cases) takes about 2 min on 2 CPU cores
DEFAULT_PER_JUDGEMENT = 200

# ---- what the assessor said about one case ---------------------------------------------------------------


def measure(judgement: str, truth: dict, a) -> dict:
    """The part of assessment ``a`` that ``judgement`` is about (plain JSON values)."""
    if judgement == "rate":
        f = a.fluency
        return {
            "articulation_rate": f.articulation_rate,
            "speech_rate": f.speech_rate,
            "syllables": f.syllables,
        }
    if judgement == "pauses":
        return {"pauses": [[p.after_word, round(p.duration, 3)] for p in a.fluency.pauses]}
    if judgement == "stress":
        verdict = next((s for s in a.stress if s.index == truth["word_index"]), None)
        word = a.diagnosis.words[truth["word_index"]]
        return {
            "detected": None if verdict is None else verdict.detected,
            "expected": None if verdict is None else verdict.expected,
            "correct": None if verdict is None else verdict.correct,
            "prominence": None if verdict is None else verdict.prominence,
            "pronunciation": word.pronunciation,
        }
    if judgement == "intonation":
        p = a.prosody
        return {"score": p.intonation_score, "correlation": p.correlation}
    if judgement == "breaks":
        p = a.prosody
        return {
            "unexpected": [b.after_word for b in p.unexpected_breaks],
            "missing": [b.after_word for b in p.missing_breaks],
        }
    if judgement == "monotone":
        return {"monotone": a.prosody.monotone, "f0_range_st": a.prosody.f0_range_st}
    if judgement == "miscues":
        return {"miscues": [[m.kind, m.word_index] for m in a.miscues]}
    if judgement == "custom":
        word = a.diagnosis.words[truth["word_index"]]
        errors = [[p.phone, p.status, p.said] for p in word.phones if p.status != "correct"]
        return {"flagged": bool(errors), "accuracy": word.accuracy, "errors": errors}
    raise ValueError(f"unknown judgement {judgement!r}")


# ---- figures: each takes the case records of one judgement ({"truth": ..., "measured": ...}) -------------


def _ok(records: Sequence[dict]) -> list[dict]:
    """The records the assessor measured (a refused recording has ``measured`` None)."""
    return [r for r in records if r.get("measured") is not None]


def _ranks(x: Sequence[float]) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(x)


def correlations(x: Sequence[float], y: Sequence[float]) -> tuple[float | None, float | None]:
    """Pearson and Spearman (Pearson of average ranks) correlation; None where undefined."""
    r, _ = pearson(x, y)
    rho, _ = pearson(_ranks(x), _ranks(y)) if len(x) >= 2 else (None, None)
    return r, rho


def rate_metrics(records: Sequence[dict]) -> dict:
    """Correlation of the measured articulation rate with espeak-ng's rate, pooled and within each series
    (one prompt and voice at every rate); series whose measured rates rise strictly with the truth."""
    ok = _ok(records)
    x = [r["truth"]["rate_wpm"] for r in ok]
    y = [r["measured"]["articulation_rate"] for r in ok]
    pooled_r, pooled_rho = correlations(x, y)
    series = defaultdict(list)
    for r in ok:
        series[r["truth"]["series"]].append((r["truth"]["rate_wpm"], r["measured"]["articulation_rate"]))
    within, ordered = [], 0
    for points in series.values():
        points.sort()
        _, rho = correlations([p[0] for p in points], [p[1] for p in points])
        if rho is not None:
            within.append(rho)
        ordered += all(b[1] > a[1] for a, b in zip(points, points[1:], strict=False))
    return {
        "cases": len(records),
        "measured": len(ok),
        "pearson": pooled_r,
        "spearman": pooled_rho,
        "series": len(series),
        "within_series_spearman_mean": float(np.mean(within)) if within else None,
        "series_in_order": ordered,
    }


def pause_metrics(records: Sequence[dict], min_truth: float = 0.3) -> dict:
    """Pauses at the right boundary. A true positive: a case with an inserted pause of at least ``min_truth``
    s and a pause found at its boundary (one per case, the longest there). Precision: true positives over all
    pauses found in all cases (those of the 0.0 s cases, and any at another boundary, are false); recall: over
    the cases with such a pause. Duration error: mean |found - inserted| of the true positives."""
    ok = _ok(records)
    found = sum(len(r["measured"]["pauses"]) for r in ok)
    positives = [r for r in records if r["truth"]["pause"] >= min_truth - 1e-9]
    errors, signed = [], []
    by_length: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in positives:
        at = [d for k, d in (r["measured"] or {}).get("pauses", []) if k == r["truth"]["boundary"]]
        cell = by_length[f"{r['truth']['pause']:g}"]
        cell[1] += 1
        if at:
            signed.append(max(at) - r["truth"]["pause"])
            errors.append(abs(signed[-1]))
            cell[0] += 1
    silent = [r for r in ok if r["truth"]["pause"] < min_truth - 1e-9]
    return {
        "cases": len(records),
        "measured": len(ok),
        "pauses_found": found,
        "true_positives": len(errors),
        "positives": len(positives),
        "precision": len(errors) / found if found else None,
        "recall": len(errors) / len(positives) if positives else None,
        "duration_mae_s": float(np.mean(errors)) if errors else None,
        "duration_bias_s": float(np.mean(signed)) if signed else None,
        "recall_by_length": {k: {"found": v[0], "cases": v[1]} for k, v in sorted(by_length.items())},
        "short_cases": len(silent),
        "short_cases_with_a_pause": sum(bool(r["measured"]["pauses"]) for r in silent),
    }


def stress_metrics(records: Sequence[dict]) -> dict:
    """Detected stressed vowel == the vowel stressed by construction: on all cases, on the dictionary-stress
    cases (the word passes) and on the moved-stress ones; and the moved ones the assessor flags (its verdict
    ``correct`` False, whichever vowel it heard). A word without a verdict counts as wrong."""

    def hits(rs: Sequence[dict]) -> int:
        return sum((r["measured"] or {}).get("detected") == r["truth"]["stressed"] for r in rs)

    moved = [r for r in records if r["truth"]["moved"]]
    kept = [r for r in records if not r["truth"]["moved"]]
    return {
        "cases": len(records),
        "correct": hits(records),
        "accuracy": hits(records) / len(records) if records else None,
        "dictionary_cases": len(kept),
        "dictionary_correct": hits(kept),
        "moved_cases": len(moved),
        "moved_correct": hits(moved),
        "moved_flagged": sum((r["measured"] or {}).get("correct") is False for r in moved),
        "dictionary_flagged": sum((r["measured"] or {}).get("correct") is False for r in kept),
        "no_verdict": sum((r["measured"] or {}).get("detected") is None for r in records),
    }


def _pairs(records: Sequence[dict]) -> list[tuple[dict, dict]]:
    """(truth-positive, truth-negative) records of each ``pair``."""
    by_pair: dict[int, dict[bool, dict]] = defaultdict(dict)
    for r in records:
        key = r["truth"].get("matched", r["truth"].get("correct"))
        by_pair[r["truth"]["pair"]][bool(key)] = r
    return [(p[True], p[False]) for _, p in sorted(by_pair.items()) if True in p and False in p]


def intonation_metrics(records: Sequence[dict]) -> dict:
    """Pairs (one prompt and voice) where the matched reading's intonation score is above the mismatched
    one's; ties (equal scores, e.g. both 0) and undefined scores are counted apart, and the comparison is
    repeated on the correlation (the score before clipping at 0)."""
    out: dict = {"cases": len(records)}
    for key in ("score", "correlation"):
        above = tie = undefined = 0
        for matched, mismatched in _pairs(records):
            a, b = ((r["measured"] or {}).get(key) for r in (matched, mismatched))
            if a is None or b is None:
                undefined += 1
            elif a > b:
                above += 1
            elif a == b:
                tie += 1
        out[key] = {"above": above, "tie": tie, "undefined": undefined}
    pairs = _pairs(records)
    out["pairs"] = len(pairs)
    out["by_written_mark"] = {
        mark: sum(
            ((m["measured"] or {}).get("score") or 0) > ((x["measured"] or {}).get("score") or 0)
            for m, x in pairs
            if m["truth"]["written"] == mark
        )
        for mark in ("?", ".")
    }
    out["pairs_by_written_mark"] = {
        mark: sum(m["truth"]["written"] == mark for m, _ in pairs) for mark in "?."
    }
    return out


def break_metrics(records: Sequence[dict]) -> dict:
    """Recall of the unexpected break at the boundary of an inserted pause; false alarms: clean readings with
    any unexpected break."""
    inserted = [r for r in records if r["truth"]["break_after"] is not None]
    clean = [r for r in records if r["truth"]["break_after"] is None]
    unexpected = [(r, (r["measured"] or {}).get("unexpected", [])) for r in inserted]
    return {
        "cases": len(records),
        "break_cases": len(inserted),
        "found_at_boundary": sum(r["truth"]["break_after"] in u for r, u in unexpected),
        "found_anywhere": sum(bool(u) for _, u in unexpected),
        "clean_cases": len(clean),
        "clean_with_a_break": sum(bool((r["measured"] or {}).get("unexpected")) for r in clean),
        "clean_with_a_missing_break": sum(bool((r["measured"] or {}).get("missing")) for r in clean),
    }


def monotone_metrics(records: Sequence[dict]) -> dict:
    """Accuracy of the monotone flag; the flat and the lively readings apart."""
    flat = [r for r in records if r["truth"]["monotone"]]
    lively = [r for r in records if not r["truth"]["monotone"]]

    def right(rs: Sequence[dict]) -> int:
        return sum((r["measured"] or {}).get("monotone") == r["truth"]["monotone"] for r in rs)

    return {
        "cases": len(records),
        "correct": right(records),
        "flat_cases": len(flat),
        "flat_flagged": right(flat),
        "lively_cases": len(lively),
        "lively_passed": right(lively),
    }


def miscue_metrics(records: Sequence[dict]) -> dict:
    """Per kind, the readings where a miscue of that kind was found at the truth's word (and of that kind
    anywhere; and of any kind at the truth's word); false alarms: miscues found in clean readings, per clean reading, and the clean readings with
    any."""
    out: dict = {"cases": len(records)}
    for kind in ("omitted", "repeated", "inserted"):
        rs = [r for r in records if r["truth"]["kind"] == kind]
        found = [[tuple(m) for m in (r["measured"] or {}).get("miscues", [])] for r in rs]
        out[kind] = {
            "cases": len(rs),
            "found": sum((kind, r["truth"]["word_index"]) in f for r, f in zip(rs, found, strict=True)),
            "kind_anywhere": sum(any(m[0] == kind for m in f) for f in found),
            "any_at_word": sum(
                any(m[1] == r["truth"]["word_index"] for m in f) for r, f in zip(rs, found, strict=True)
            ),
        }
    clean = [r for r in records if r["truth"]["kind"] is None]
    false = [len((r["measured"] or {}).get("miscues", [])) for r in clean]
    out["clean"] = {
        "cases": len(clean),
        "false_alarms": sum(false),
        "per_utterance": sum(false) / len(clean) if clean else None,
        "with_any": sum(n > 0 for n in false),
    }
    return out


def custom_metrics(records: Sequence[dict]) -> dict:
    """The word's verdict against the truth: passed when the prompt gave the pronunciation said ([A]),
    flagged when it gave only the other ([B]); and pairs where the word's accuracy under [A] is above that
    under [B]."""
    given_said = [r for r in records if r["truth"]["correct"]]
    given_other = [r for r in records if not r["truth"]["correct"]]
    pairs = _pairs(records)
    return {
        "cases": len(records),
        "correct": sum((r["measured"] or {}).get("flagged") == (not r["truth"]["correct"]) for r in records),
        "said_cases": len(given_said),
        "said_passed": sum((r["measured"] or {}).get("flagged") is False for r in given_said),
        "other_cases": len(given_other),
        "other_flagged": sum((r["measured"] or {}).get("flagged") is True for r in given_other),
        "pairs": len(pairs),
        "pairs_accuracy_above": sum(
            (a["measured"] or {}).get("accuracy", -1) > (b["measured"] or {}).get("accuracy", 1e9)
            for a, b in pairs
        ),
    }


METRICS = {
    "rate": rate_metrics,
    "pauses": pause_metrics,
    "stress": stress_metrics,
    "intonation": intonation_metrics,
    "breaks": break_metrics,
    "monotone": monotone_metrics,
    "miscues": miscue_metrics,
    "custom": custom_metrics,
}

# ---- the table --------------------------------------------------------------------------------------------


def rows(figures: dict) -> list[str]:
    """One table row per figure: judgement, truth by construction, figure, value, cases (the judgement and
    its construction named on its first row only)."""
    out = []
    named: set[str] = set()

    def row(judgement: str, truth: str, figure: str, value: str, cases: object) -> None:
        first = judgement not in named
        named.add(judgement)
        out.append(table_row(judgement if first else "", truth if first else "", figure, value, cases))

    if m := figures.get("rate"):
        truth = f"espeak-ng rate {'/'.join(map(str, _rates()))} wpm, {m['series']} prompt-voice series"
        row(
            "speaking rate",
            truth,
            "Pearson r, articulation rate vs rate",
            fmt(m["pearson"], ".3f"),
            m["measured"],
        )
        row(
            "speaking rate",
            truth,
            "Spearman ρ (pooled; mean within a series)",
            f"{fmt(m['spearman'], '.3f')}; {fmt(m['within_series_spearman_mean'], '.3f')}",
            m["measured"],
        )
        row(
            "speaking rate",
            truth,
            "series whose measured rate rises at every step",
            share(m["series_in_order"], m["series"]),
            m["series"],
        )
    if m := figures.get("pauses"):
        truth = "silence of 0/0.3/0.6/1.0 s joined in after word k"
        row(
            "pauses",
            truth,
            "precision: pauses found at k of a ≥0.3 s insertion / all pauses found",
            share(m["true_positives"], m["pauses_found"]),
            m["cases"],
        )
        by = ", ".join(f"{k} s {v['found']}/{v['cases']}" for k, v in m["recall_by_length"].items())
        row(
            "pauses",
            truth,
            f"recall of ≥0.3 s pauses at k ({by})",
            share(m["true_positives"], m["positives"]),
            m["positives"],
        )
        row(
            "pauses",
            truth,
            "duration: mean abs. error (mean signed error), s",
            f"{fmt(m['duration_mae_s'], '.3f')} ({fmt(m['duration_bias_s'], '+.3f')})",
            m["true_positives"],
        )
        row(
            "pauses",
            truth,
            "0.0 s joins with any pause found",
            share(m["short_cases_with_a_pause"], m["short_cases"]),
            m["short_cases"],
        )
    if m := figures.get("stress"):
        truth = "word spoken from ARPAbet, primary stress on the dictionary's vowel or moved"
        row(
            "lexical stress",
            truth,
            "detected vowel = stressed vowel, all",
            share(m["correct"], m["cases"]),
            m["cases"],
        )
        row(
            "lexical stress",
            truth,
            "… dictionary stress (word passes)",
            share(m["dictionary_correct"], m["dictionary_cases"]),
            m["dictionary_cases"],
        )
        row(
            "lexical stress",
            truth,
            "… moved stress (detected = moved vowel)",
            share(m["moved_correct"], m["moved_cases"]),
            m["moved_cases"],
        )
        row(
            "lexical stress",
            truth,
            "moved stress flagged (any wrong vowel)",
            share(m["moved_flagged"], m["moved_cases"]),
            m["moved_cases"],
        )
    if m := figures.get("intonation"):
        truth = "the prompt read with its own final ? or . (matched) and with the other (mismatched)"
        s, c = m["score"], m["correlation"]
        row(
            "intonation",
            truth,
            f"pairs where the matched reading scores higher (ties {s['tie']}, undefined {s['undefined']})",
            share(s["above"], m["pairs"]),
            m["pairs"],
        )
        row(
            "intonation",
            truth,
            "… by correlation (the score before clipping at 0)",
            share(c["above"], m["pairs"]),
            m["pairs"],
        )
        q, d = m["by_written_mark"], m["pairs_by_written_mark"]
        row(
            "intonation",
            truth,
            "… by score: questions; statements",
            f"{share(q['?'], d['?'])}; {share(q['.'], d['.'])}",
            m["pairs"],
        )
    if m := figures.get("breaks"):
        truth = "silence of 0.3/0.6/1.0 s after word k, the prompt has no comma; clean readings"
        row(
            "breaks",
            truth,
            "recall: unexpected break at k",
            share(m["found_at_boundary"], m["break_cases"]),
            m["break_cases"],
        )
        row(
            "breaks",
            truth,
            "false alarms: clean readings with an unexpected break",
            share(m["clean_with_a_break"], m["clean_cases"]),
            m["clean_cases"],
        )
    if m := figures.get("monotone"):
        truth = "espeak-ng pitch range 0 (monotone) vs 50-70"
        row(
            "monotone",
            truth,
            "accuracy (range 0 flagged; 50-70 passed)",
            f"{share(m['correct'], m['cases'])} ({m['flat_flagged']}/{m['flat_cases']}; {m['lively_passed']}/{m['lively_cases']})",
            m["cases"],
        )
    if m := figures.get("miscues"):
        truth = "word j left out, said twice, or an extra word after j; clean readings"
        for kind in ("omitted", "repeated", "inserted"):
            k = m[kind]
            row(
                "word miscues",
                truth,
                f"recall, {kind} (kind and word right; kind anywhere; any kind at the word)",
                f"{share(k['found'], k['cases'])}; {share(k['kind_anywhere'], k['cases'])}; "
                f"{share(k['any_at_word'], k['cases'])}",
                k["cases"],
            )
        c = m["clean"]
        row(
            "word miscues",
            truth,
            "false alarms per clean reading (readings with any)",
            f"{fmt(c['per_utterance'], '.2f')} ({c['with_any']}/{c['cases']})",
            c["cases"],
        )
    if m := figures.get("custom"):
        truth = "word said with pronunciation A; prompt gives word[A] or only word[B]"
        row(
            "inline pronunciations",
            truth,
            "accuracy of the word's verdict (pass [A], flag [B])",
            f"{share(m['correct'], m['cases'])} ({m['said_passed']}/{m['said_cases']}; {m['other_flagged']}/{m['other_cases']})",
            m["cases"],
        )
        row(
            "inline pronunciations",
            truth,
            "pairs where the word's accuracy under [A] is above [B]",
            share(m["pairs_accuracy_above"], m["pairs"]),
            m["pairs"],
        )
    return out


def _rates() -> tuple[int, ...]:
    from data_prep.known_answers import RATES

    return RATES


def page(summary: dict, command: str) -> str:
    flag = summary.get("flag_below_gop")
    rule = "every disagreement of the recogniser" if flag is None else f"GOP < {flag:g}"
    intro = f"""## {TABLE}. Known answers: each judgement against a truth set by construction (espeak-ng)

What the assessor (`asr.mdd.assessment.Assessor`: the app's judgements beyond the phone) finds in speech whose
truth is known because it was made so (`data_prep/known_answers.py`, seed {summary["seed"]}, about
{summary["per_judgement"]} utterances per judgement): espeak-ng's en-us voice, variants m1 m3 m5 m7 f1-f4,
pitch 40-60, pitch range 50-70, 170 wpm unless the case sets them, 0.2 s of silence before and after. Prompts:
8 statements without commas and 6 yes/no questions of common words; single words sit in carriers of
one-syllable words ("Say … now."). Stress and inline-pronunciation cases are spoken from ARPAbet (the
stress moved by swapping two vowels' stress digits; the pronunciation said is one of the word's two CMUdict
variants), the others from text; a pause or break is the prompt's two halves synthesised apart and joined
by digital silence of the stated length; a miscue is the prompt's words with one left out, said twice or
with an extra word. The reference reader (intonation, breaks) is espeak-ng's en-us default voice at 150
wpm, diagnosed by the same model. Model: {summary["model_name"]} (`{summary["model"]}`), trained on
{summary["model_trained_on"]}, its flagging rule {rule} (its calibration); {summary["cases"]} cases in
{summary["seconds"]:.0f} s on {summary["machine"]}. The voices are of the family the model was trained on
and the silences are digital: these figures test the judgements' rules on clean speech, not their
robustness to real voices or noise. Per case: `t7_cases.jsonl` beside `t7.json`.

"""
    return results_page(
        intro,
        ("judgement", "truth by construction", "figure", "value", "cases"),
        rows(summary["figures"]),
        command,
    )


# ---- main -------------------------------------------------------------------------------------------------


def run(
    model: str, per_judgement: int, seed: int, judgements: Sequence[str]
) -> tuple[list[dict], dict[str, float], float | None]:
    """Build the cases and assess each; (records, seconds per judgement, the model's flagging threshold)."""
    from tqdm import tqdm

    from asr.data.audio import SAMPLE_RATE, to_mono_16k
    from asr.errors import UserError
    from asr.mdd.assessment import Assessor
    from asr.mdd.diagnosis import PronunciationAssessor
    from asr.text.espeak import IsolatedSynthesizer
    from data_prep.known_answers import CONSTRUCTORS, speaker

    assessor = Assessor(PronunciationAssessor.from_path(model))
    records: list[dict] = []
    seconds: dict[str, float] = {}
    try:
        with IsolatedSynthesizer() as tts:
            say = speaker(tts)
            for index, name in enumerate(judgements):
                start = time.perf_counter()
                rng = np.random.default_rng([seed, list(CONSTRUCTORS).index(name)])
                cases = CONSTRUCTORS[name](say, rng, per_judgement)
                for i, case in enumerate(tqdm(cases, desc=f"{name:>10}", file=sys.stderr, leave=False)):
                    record = {
                        "id": f"{name}-{i:03d}",
                        "judgement": name,
                        "prompt": case.prompt,
                        "spoken": case.spoken,
                        "voice": asdict(case.voice),
                        "seconds": round(len(case.samples) / SAMPLE_RATE, 3),
                        "truth": case.truth,
                    }
                    try:
                        a = assessor.assess(to_mono_16k(case.samples, SAMPLE_RATE, record["id"]), case.prompt)
                        record["measured"] = measure(name, case.truth, a)
                    except UserError as exc:  # a refused recording is a miss, recorded with its reason
                        record["measured"], record["error"] = None, str(exc)
                    records.append(record)
                seconds[name] = round(time.perf_counter() - start, 1)
                print(
                    f"[{index + 1}/{len(judgements)}] {name}: {len(cases)} cases in {seconds[name]:.1f} s",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        assessor.close()
    return records, seconds, assessor.phones.cfg.flag_below_gop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True, help="The phone model (experiment folder or ctc_model.pt).")
    parser.add_argument("--out-dir", type=Path, required=True)
    parser.add_argument("--results", type=Path, help=f"Also put the table into this file's section {KEY!r}.")
    parser.add_argument(
        "--per-judgement",
        type=int,
        default=DEFAULT_PER_JUDGEMENT,
        metavar="N",
        help=f"About N cases per judgement (default {DEFAULT_PER_JUDGEMENT}).",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--judgements",
        nargs="+",
        choices=list(METRICS),
        default=list(METRICS),
        help="Only these judgements (default: all).",
    )
    parser.add_argument("--command", help="The command shown under the table (default: this one).")
    args = parser.parse_args(argv)
    if args.per_judgement < 1:
        parser.error("--per-judgement must be at least 1")
    from asr.results import machine

    start = time.perf_counter()
    records, seconds, flag_below_gop = run(args.model, args.per_judgement, args.seed, args.judgements)
    by_judgement = defaultdict(list)
    for r in records:
        by_judgement[r["judgement"]].append(r)
    figures = {name: METRICS[name](by_judgement[name]) for name in args.judgements}
    model = Path(args.model)
    card = read_json((model if model.is_dir() else model.parent) / "model_card.json") or {}
    summary = {
        "model": args.model,
        "model_name": card.get("name") or model.name,
        "model_trained_on": card.get("trained_on", "unknown (no model card)"),
        "per_judgement": args.per_judgement,
        "seed": args.seed,
        "cases": len(records),
        "refused": sum(r["measured"] is None for r in records),
        "seconds": round(time.perf_counter() - start, 1),
        "seconds_by_judgement": seconds,
        "machine": machine(),
        "flag_below_gop": flag_below_gop,
        "figures": figures,
    }
    out = args.out_dir
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    write_atomic(out / "t7_cases.jsonl", lines.encode("utf-8"))
    write_atomic(out / "t7.json", (json.dumps(summary, indent=1, ensure_ascii=False) + "\n").encode("utf-8"))
    command = args.command or bench_command(__file__, argv)
    publish(page(summary, command), out / "RESULTS.md", args.results, KEY)
    return 0


__all__ = ["METRICS", "main", "measure"]

if __name__ == "__main__":
    raise SystemExit(main())

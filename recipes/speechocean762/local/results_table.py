"""The speechocean762 recipe's results table: PCC against the experts per level and aspect, for every run of
the recipe (each a folder of EXP_ROOT), the experts' own agreement, and the published systems beside them.

Reads ``<run>/scores/{score_model,heuristic,experts}.pcc.json`` (stage 5: ``asr score pronunciation
--json``) and ``<run>/run.json`` (what this script records for the run it is called for); writes
``<run>/RESULTS.md``, and with ``--results FILE`` the same table into FILE's section ``T8``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT))
from asr import published  # noqa: E402
from asr.files import write_atomic  # noqa: E402
from asr.results import fmt, publish, read_json, results_page, subfolders, table_row  # noqa: E402

TABLE = "T8"
# (level, aspect, published.json's value key, column title)
COLUMNS = (
    ("phone", "accuracy", "phone_accuracy", "phone acc."),
    ("word", "accuracy", "word_accuracy", "word acc."),
    ("word", "stress", "word_stress", "word stress"),
    ("word", "total", "word_total", "word total"),
    ("sentence", "accuracy", "sentence_accuracy", "sent. acc."),
    ("sentence", "completeness", "sentence_completeness", "completeness"),
    ("sentence", "fluency", "sentence_fluency", "fluency"),
    ("sentence", "prosodic", "sentence_prosodic", "prosodic"),
    ("sentence", "total", "sentence_total", "sent. total"),
)
SYSTEMS = (
    ("score_model", "score model (ridge on GOP features), fit on the train split"),
    ("cross_validated", "score model, leave one speaker out over both splits"),
    ("heuristic", "the app's heuristic scores (asr mdd scores)"),
    ("heuristic_all", "the app's heuristic scores, every scored utterance"),
)
EXPERTS = ("experts", "experts_all")  # on the test split; on every scored utterance


def pccs(result: dict) -> list[str]:
    """One cell per column: the PCC, or ``-`` where the aspect is not predicted or undefined."""
    levels = result.get("levels", {})
    return [fmt(levels.get(level, {}).get(aspect, {}).get("pcc"), ".3f") for level, aspect, _, _ in COLUMNS]


def run_rows(run: Path) -> tuple[list[str], list[dict]]:
    """The rows of one run (its systems), and its experts' agreement (on the test split, on all)."""
    info = read_json(run / "run.json") or {}
    model = info.get("model_name", run.name)
    rows = []
    for system, label in SYSTEMS:
        result = read_json(run / "scores" / f"{system}.pcc.json")
        if result is not None:
            rows.append(table_row(f"{run.name}: {label}", model, result["utterances"], *pccs(result)))
    experts = [read_json(run / "scores" / f"{name}.pcc.json") for name in EXPERTS]
    return rows, [e for e in experts if e is not None]


def published_rows() -> list[str]:
    rows = []
    for entry in published.rows(TABLE, HERE / "published.json"):
        if not entry.values:  # unverified: no number is printed
            continue
        cells = [fmt(entry.values.get(key), ".3f") for _, _, key, _ in COLUMNS]
        model = entry.model or "(see the source)"
        rows.append(table_row(f"published: {entry.paper}", model, "2500 (full test split)", *cells))
    return rows


def sources() -> str:
    lines = []
    for entry in published.rows(TABLE, HERE / "published.json"):
        if entry.values:
            lines.append(f"- {entry.paper}: {entry.setting}. {entry.source}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--exp", type=Path, required=True, help="exp/<tag>: the run just made")
    parser.add_argument("--command", required=True, help="The recipe command that made it.")
    parser.add_argument("--model", required=True, help="The phone model it scored with.")
    parser.add_argument("--corpus", required=True, help="The speechocean762 folder.")
    parser.add_argument("--results", type=Path, help="Also put the table into this file's section T8.")
    args = parser.parse_args()
    card = read_json(Path(args.model) / "model_card.json") if Path(args.model).is_dir() else None
    info = {
        "command": args.command,
        "model": args.model,
        "model_name": (card or {}).get("name") or Path(args.model).name,
        "model_trained_on": (card or {}).get("trained_on", "unknown (the model has no model card)"),
        "corpus": args.corpus,
    }
    write_atomic(args.exp / "run.json", (json.dumps(info, indent=1) + "\n").encode("utf-8"))

    rows, ceilings, models = [], {}, []
    for run in subfolders(args.exp.parent):
        info = read_json(run / "run.json")
        if info is not None:
            models.append(
                f"- {run.name}: {info['model_name']}, trained on {info['model_trained_on']}; "
                f"made by `{info['command']}`"
            )
        run_table, agreements = run_rows(run)
        rows += run_table
        for experts in agreements:  # the same learners give the same ceiling: one row per set of utterances
            ceilings.setdefault(experts["utterances"], experts)
    for n, experts in sorted(ceilings.items()):
        label = f"human ceiling: each of {experts['experts']} experts against the mean of the others"
        rows.append(table_row(label, "-", n, *pccs(experts)))
    rows += published_rows()
    corpus = os.path.relpath(Path(args.corpus).resolve(), ROOT)
    columns = ("system", "model", "test utterances", *(title for *_, title in COLUMNS))
    intro = f"""## {TABLE}. Pronunciation scores against speechocean762's experts (PCC)

Pearson correlation with the experts' mean on the scored test-split utterances of the corpus
(`asr score pronunciation --split test`), pooled as GOPT reports it: phone accuracy over all canonical
phones, word aspects over all words, sentence aspects over all utterances. The leave-one-speaker-out rows
score every scored utterance of both splits, each predicted by a model fitted without its speaker (the
heuristic fits nothing, so its row over every scored utterance needs no such care); pooled
over few speakers, their sentence-level PCCs are biased low (each held-out speaker is predicted near the
other speakers' mean, which moves against its own). `–`: not predicted (the score model judges no
stress) or undefined (constant scores). The heuristic rows are the app's own judgements mapped onto the
corpus's scales without fitting (`asr mdd scores`): accuracy, completeness, the fluency score / 10, the
intonation score / 10 as prosodic (no judgement where it is undefined), and word stress 5 where the
detected stressed syllable is not the dictionary's, else 10. The human ceiling is each
expert against the mean of the other four on the same utterances. Our runs were made on {corpus}; the
published rows are on the full test split (2,500 utterances of 125 learners) with recognisers trained on
LibriSpeech: set beside ours for scale, not as a like-for-like comparison when ours are on the sample's
few learners. The phone recognisers of our runs:

{chr(10).join(models)}

"""
    page = (
        results_page(intro, columns, rows, args.command) + f"\nSources of the published rows:\n{sources()}\n"
    )
    publish(page, args.exp / "RESULTS.md", args.results, TABLE)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

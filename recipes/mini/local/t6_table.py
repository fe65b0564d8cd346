#!/usr/bin/env python3
"""RESULTS.md's T6: the served phone model's verdicts against human experts on real learners.

Reads every ``<exp-root>/<tag>*/t6/<system>/experts.json`` (``asr mdd experts``, written by the mini recipe's
stage 10: the run with synthetic voices only, runs with other voices, the run with ``--real-l2``) and the
cross-voice MDD scores (``<exp-root>/<tag>*/t6-voices/<model>/<test voices>/mdd.json``) when present.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from asr.results import MISSING, date_line, read_json, share, table_head, table_row, update_section


def _rule(r: dict) -> str:
    """How the row's verdicts were made (``asr mdd diagnose --flag-below-gop``)."""
    cal, value = r.get("calibration"), r.get("flag_below_gop")
    if cal:
        where = "every disagreement" if value is None else f"GOP < {value:.2f}"
        return (
            f"calibrated: {where} (on {cal['dev_correct_words']} held-out expert-correct words: "
            f"{100 * cal['dev_false_rejection']:.0f} % flagged)"
        )
    return "every disagreement of the recogniser" if value is None else f"GOP < {value:g}"


def rows(exp_root: Path, tag: str) -> list[dict]:
    out = []
    for path in sorted(exp_root.glob(f"{tag}*/t6/*/experts.json")):
        data = read_json(path)
        data["run"] = path.parent.parent.parent.name
        out.append(data)
    return out


def t6(exp_root: Path, tag: str, command: str, note: str = "") -> str:
    found = rows(exp_root, tag)
    lines = [
        "## T6. Real voices: the served phone model against human experts on real learners",
        "",
        f"Command: `{command}` (with `--real-l2 DIR` for the rows with real learners)  ",
        date_line() + "; judged on speechocean762's expert-scored test-split "
        "utterances (speakers no model trained on; `asr mdd experts`). A word is *expert-correct* when no "
        "expert scored any of its phones 0, *expert-marked* when at least one did. Before this table existed "
        "the main job's app model flagged 212 of 215 expert-correct words (98.6 %) on all 60 scored utterances "
        "of the shared sample (issue 19). A phone the recogniser missed or heard as another is flagged when its GOP "
        "(log-posterior ratio against the best other phone over its aligned frames) is below the rule's threshold; "
        "the calibrated rule takes the largest threshold that flags at most 15 % of the expert-correct words of "
        "other held-out learners (the sample's train-split speakers, never trained on). AUC: how well a word's "
        "lowest phone GOP separates expert-marked from expert-correct words with no threshold (0.5: not at all); "
        "a detection rate no higher than the false-rejection rate means the verdicts carry no information. "
        "The flagged share of all test utterances (340, most unscored) is a proxy: these speakers are mostly "
        "good.",
        "",
        *table_head(
            "model (run)",
            "heard real speech",
            "flagging rule",
            "false rejections: expert-correct words flagged, %",
            "detections: expert-marked words flagged, %",
            "AUC, marked vs correct words",
            "PER on well-spoken utterances, %",
            "all test utterances: words flagged, %",
        ),
    ]
    for r in found:
        card = r.get("model_card") or {}
        heard = {True: "yes", False: "no"}.get(card.get("real_speech"), "unknown")
        good = r.get("good_per")
        per = MISSING if good is None else f"{100 * good:.1f} ({r['good_utterances']} utt.)"
        scored_only = r["utterances"] == r["scored_utterances"] + len(r["skipped"])
        flagged = MISSING if scored_only else share(r["flagged_words"], r["words"])
        lines.append(
            table_row(
                f"{r.get('label') or r['model']} ({r['run']})",
                heard,
                _rule(r),
                share(r["false_rejections"], r["correct_words"]),
                share(r["detections"], r["marked_words"]),
                MISSING if r.get("auc") is None else r["auc"],
                per,
                flagged,
            )
        )
    if not found:
        lines.append(
            "| (no run judged real learners yet: the recipe needs a scored speechocean762 folder) | | | | | |"
        )
    lines += [
        "",
        "Aim (issue 19): false rejection of expert-correct words ≤ 15 %." + (f" {note}" if note else ""),
    ]
    cross = sorted(exp_root.glob(f"{tag}*/t6-voices/*/*/mdd.json"))  # <run>/t6-voices/<model>/<voices>/
    if cross:
        lines += [
            "",
            "Cross-voice: MDD on the held-out synthetic L2-ARCTIC speakers, spoken by other voices than "
            "the model was trained on.",
            "",
            *table_head(
                "model (run)", "test voices", "PER, %", "F1", "false rejections: correct phones flagged, %"
            ),
        ]
        for path in cross:
            m = read_json(path)
            c = m.get("counts", m)
            model = f"{path.parent.parent.name} ({path.parent.parent.parent.parent.name})"
            rejected = share(c["fr"], c["ta"] + c["fr"])
            lines.append(
                table_row(model, path.parent.name, f"{100 * c['per']:.1f}", f"{c['f1']:.3f}", rejected)
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--exp-root", type=Path, required=True, help="The recipe's exp/ folder.")
    parser.add_argument(
        "--tag", required=True, help="<preset>_seed<N>: runs of this tag (and its _real) are read."
    )
    parser.add_argument("--results", type=Path, required=True, help="The Markdown file to update.")
    parser.add_argument("--command", default="bash recipes/mini/run.sh")
    parser.add_argument("--note", default="", help="A sentence after the table (e.g. how rows were made).")
    args = parser.parse_args(argv)
    update_section(
        args.results, f"{args.tag.split('_')[0]} T6", t6(args.exp_root, args.tag, args.command, args.note)
    )
    print(f"{args.results}: T6 updated", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``asr mdd diagnose`` over every annotated utterance of a cut set: does it run, how fast, what it finds.

Not run in CI. For each cut, the library's :class:`asr.mdd.diagnosis.PronunciationAssessor` diagnoses the
audio against the cut's prompt text, as the app and the CLI do (canonical phones from CMUdict/G2P, not
from the annotation). Its figures, one JSON line each with its unit:

* ``diagnose_run``: utterances, failures (their first messages go to stderr), wall time per utterance
  (p50/p95, model loaded once) and audio seconds per second;
* ``diagnose_detection``: against the annotators' labels, per canonical phone: a phone the annotators
  marked substituted or deleted is a mispronunciation; ``recall`` = share of those the diagnosis flags
  (substituted or deleted), ``false_rejection`` = share of correctly said phones it flags, and
  ``precision``. Only utterances whose dictionary canonical phones equal the annotation's canonical
  phones are counted (the rest are listed as ``skipped_mismatch``), so every phone has one label.

Lines are printed and appended to ``bench/results/mdd-DATE.jsonl``.

    python bench/mdd_diagnose.py --model recipes/mini/exp/mini_seed0/mdd/native-online \
        --cuts recipes/mini/data/manifests/mini_seed0/l2arctic_cuts_test.jsonl.gz
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from asr.results import bench_command, figures, write_figures  # noqa: E402

UNITS = {
    "diagnose_run": {
        "utterances": "utterances",
        "failures": "utterances",
        "p50_s": "s",
        "p95_s": "s",
        "audio_s_per_s": "audio s/s",
    },
    "diagnose_detection": {
        "scored_utterances": "utterances",
        "skipped_mismatch": "utterances",
        "mispronounced": "phones",
        "correct": "phones",
        "recall": "fraction",
        "precision": "fraction",
        "false_rejection": "fraction",
    },
}


def annotated_flags(supervision) -> tuple[list[str], list[bool]] | None:
    """The annotation's canonical phones and whether each was mispronounced (substituted or deleted;
    an error's ``index`` is its position in the canonical phones, asr.data.l2arctic)."""
    custom = supervision.custom or {}
    if not custom.get("annotated") or "canonical_phones" not in custom:
        return None
    wrong = {e["index"] for e in custom.get("errors", []) if e["type"] in ("s", "d")}
    canonical = list(custom["canonical_phones"])
    return canonical, [k in wrong for k in range(len(canonical))]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, required=True, help="experiment folder or ctc_model.pt / .onnx")
    parser.add_argument("--cuts", type=Path, required=True, help="annotated L2-ARCTIC cuts")
    parser.add_argument("--limit", type=int, help="only the first N cuts")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "bench" / "results" / f"mdd-{datetime.date.today()}.jsonl",
        help="JSON lines are appended here too",
    )
    args = parser.parse_args()

    import torch

    from asr.data.audio import to_mono_16k
    from asr.data.dataset import load_cuts
    from asr.errors import UserError
    from asr.mdd.diagnosis import PronunciationAssessor

    torch.set_num_threads(args.threads)
    assessor = PronunciationAssessor.from_path(args.model)
    cuts = list(load_cuts(args.cuts))[: args.limit]
    times, audio_seconds, failures = [], 0.0, []
    tp = fp = fn = tn = mismatch = 0
    for cut in cuts:
        sup = cut.supervisions[0]
        samples = cut.resample(16000).load_audio()
        start = time.perf_counter()
        try:
            result = assessor.diagnose(to_mono_16k(samples.T, 16000, cut.id), sup.text)
        except UserError as exc:
            failures.append(f"{cut.id}: {exc}")
            continue
        times.append(time.perf_counter() - start)
        audio_seconds += cut.duration
        labels = annotated_flags(sup)
        said = [p for w in result.words for p in w.phones if p.phone is not None]
        if labels is None or [p.phone for p in said] != labels[0]:
            mismatch += 1
            continue
        for phone, wrong in zip(said, labels[1], strict=True):
            flagged = phone.status != "correct"
            tp += wrong and flagged
            fn += wrong and not flagged
            fp += flagged and not wrong
            tn += not (flagged or wrong)
    for failure in failures[:5]:
        print(f"failed: {failure}", file=sys.stderr)
    run = {
        "utterances": len(cuts),
        "failures": len(failures),
        "p50_s": round(float(np.percentile(times, 50)), 4) if times else None,
        "p95_s": round(float(np.percentile(times, 95)), 4) if times else None,
        "audio_s_per_s": round(audio_seconds / sum(times), 1) if times else None,
    }
    detection = {
        "scored_utterances": len(times) - mismatch,
        "skipped_mismatch": mismatch,
        "mispronounced": tp + fn,
        "correct": fp + tn,
        "recall": round(tp / max(tp + fn, 1), 4),
        "precision": round(tp / max(tp + fp, 1), 4),
        "false_rejection": round(fp / max(fp + tn, 1), 4),
    }
    model, command = str(args.model), bench_command(__file__)
    found = figures(
        "diagnose_run", run, UNITS["diagnose_run"], {"model": model, "threads": args.threads}, command
    )
    if detection[
        "scored_utterances"
    ]:  # cuts without L2-ARCTIC's annotation (speechocean762's) time the run only
        found += figures(
            "diagnose_detection", detection, UNITS["diagnose_detection"], {"model": model}, command
        )
    write_figures(args.out, found)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

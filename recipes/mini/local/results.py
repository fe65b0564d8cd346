"""Write RESULTS.md's tables T1-T4 for the mini recipe from its experiment folders (never by hand).

T1 label-scarce fine-tuning (WER by encoder init, greedy and LM decoding), T2 semi-supervised training, T3
mispronunciation detection and diagnosis, T4 cost (seconds and audio-seconds per second of each stage, and
the pretraining objectives at equal wall-clock from ``bench/results.jsonl``). Each table comes with the
command and date that made it, the published figures of the corresponding papers (``published.json``), and
findings computed from the numbers, so the text cannot drift from the tables.

    python recipes/mini/local/results.py --exp recipes/mini/exp/mini_seed0 \\
        --done recipes/mini/data/.done/mini_seed0 --results RESULTS.md
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path[:0] = [str(ROOT), str(HERE)]
PUBLISHED = HERE / "published.json"
import mdd_table  # noqa: E402
import semi_table  # noqa: E402
import wer_table  # noqa: E402

from asr import published  # noqa: E402
from asr.files import write_atomic  # noqa: E402
from asr.results import (  # noqa: E402
    MISSING,
    date_line,
    drop_section,
    known_first,
    machine,
    read_figures,
    read_json,
    read_jsonl,
    read_scalars,
    table_head,
    table_row,
    update_section,
)

# sections older versions of the recipe wrote; T1-T3 replace them
LEGACY_SECTIONS = ("recipes/mini (mini)", "recipes/mini semi-supervised (mini)", "mdd")

# step-name prefixes -> stage (recipes/mini/run.sh), for T4
STAGES = (
    (0, "synthesise corpora (espeak-ng)", ("synth-",)),
    (1, "lhotse manifests", ("prepare-",)),
    (2, "self-supervised pretraining", ("pretrain-", "hubert-")),
    (3, "LM text, tokenizers", ("lm-text", "tokenizer-char", "tokenizer-bpe")),
    (4, "n-gram LMs", ("lm-3gram", "lm-tokens")),
    (5, "CTC fine-tuning", ("finetune-",)),
    (6, "decoding + WER", ("decode-",)),
    (7, "semi-supervised words", ("semi-words-",)),
    (8, "phone recogniser, semi-supervised", ("tokenizer-phone", "l2-dev-split", "semi-phones-")),
    (9, "decoding semi-supervised systems", ("semi-decode-",)),
    (10, "MDD: native-speech systems, scoring", ("mdd-",)),
)


def published_table(table: str) -> list[str]:
    """The published figures of a table (``published.json``), labelled as such (real speech, more compute)."""
    entries = [e for e in published.rows(table, PUBLISHED) if e.values]  # unverified entries carry no numbers
    if not entries:
        return []
    lines = [
        "Published (real speech, full-size models and compute; for direction and scale, not reproduced here):",
        "",
        *table_head("paper", "setting", "metric", "values", "source"),
    ]
    for e in entries:
        values = ", ".join(f"{k} {v}" for k, v in e.values.items())
        lines.append(table_row(e.paper, e.setting, e.metric, values, e.source))
    return lines


def _header(title: str, command: str, stamp: str) -> list[str]:
    return [f"## {title}", "", f"Command: `{command}`  ", stamp, ""]


# ---- T1 ----------------------------------------------------------------------------------------------------


def _train_signals(run_dir: Path) -> dict[str, float]:
    """Last logged training loss and mean audio-seconds per second of a training run (its TensorBoard log)."""
    scalars = read_scalars(run_dir, "train/loss", "train/audio_seconds_per_second")
    out = {}
    if losses := [v for _, v in scalars["train/loss"]]:
        out["loss_first"], out["loss_last"] = losses[0], sum(losses[-3:]) / len(losses[-3:])
    if rates := [v for _, v in scalars["train/audio_seconds_per_second"]]:
        out["audio_per_second"] = sum(rates) / len(rates)
    return out


def _cer(row: dict, part: str) -> str:
    scored = row["wer"].get(("greedy", part))
    return f"{scored['cer']:.1f}" if scored and "cer" in scored else MISSING


def _curve(run: Path) -> str:
    """A run's dev error rate at a few points of its learning curve (``valid.jsonl``): still falling at the end?"""
    path = run / "valid.jsonl"
    if not path.is_file():
        return MISSING
    points = read_jsonl(path)
    metric = "cer" if points and "cer" in points[0] else "per"
    if len(points) > 4:
        points = [points[len(points) * i // 4] for i in range(4)] + [points[-1]]
    return (
        " → ".join(f"{p[metric]:.0f}" for p in points)
        + f" (updates {points[0]['step']}…{points[-1]['step']})"
    )


def _empty_share(hyp: Path) -> float | None:
    """Share of utterances whose hypothesis is empty (a CTC model stuck emitting blanks outputs nothing)."""
    try:
        lines = hyp.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    return sum(1 for line in lines if len(line.split(maxsplit=1)) < 2) / max(len(lines), 1)


def t1(exp: Path, command: str, stamp: str) -> str:
    decode = exp / "decode"
    rows = wer_table.collect(decode) if decode.is_dir() else []
    methods = [m for m in wer_table.METHODS if any((m, "test-clean") in r["wer"] for r in rows)]
    lines = table_head(
        "split",
        "encoder init",
        "greedy CER dev",
        "greedy CER test",
        *(f"{m} WER {part}" for m in methods for part in ("dev", "test")),
        "empty greedy output (dev)",
        "train loss first → last",
        "dev CER along the run",
    )
    signals = {}
    for r in rows:
        run = exp / "finetune" / r["split"] / r["init"]
        signals[r["split"], r["init"]] = s = _train_signals(run)
        empty = _empty_share(decode / r["split"] / r["init"] / "greedy" / "dev-clean" / "hyp.txt")
        cells = (wer_table.cell(r, m, part) for m in methods for part in ("dev-clean", "test-clean"))
        loss = f"{s['loss_first']:.2f} → {s['loss_last']:.2f}" if "loss_last" in s else MISSING
        cer = (_cer(r, part) for part in ("dev-clean", "test-clean"))
        empty = MISSING if empty is None else f"{100 * empty:.0f} %"
        lines.append(table_row(r["split"], r["init"], *cer, *cells, empty, loss, _curve(run)))
    out = _header("T1. Label-scarce fine-tuning: WER (%) by encoder initialisation", command, stamp)
    out += [
        "Synthetic espeak-ng LibriSpeech dev-clean / test-clean; CTC on characters fine-tuned on the synthetic "
        "Libri-light 10 min / 1 h splits (stage 5), from random weights (`scratch`, `conf/finetune_scratch.yaml`) "
        "or from an encoder pretrained by stage 2 (`conf/finetune_pretrained.yaml`), the same number of updates "
        "for every initialisation. CER: characters including the spaces between words, greedy decoding. LM: word "
        "3-gram; beam and WFST weights tuned on dev (so dev is optimistic), applied to test. Ablations (`--all`, "
        "1 h): `scratch-as-pretrained` = random weights with the pretrained encoders' settings, "
        "`<objective>-as-scratch` = that encoder with the from-scratch settings. The last column is the dev CER "
        "of the learning curve (5 min of dev-clean spread over its speakers, greedy) at five points of the run. Per-decoder tables "
        "with tuned weights and search speed: `exp/<tag>/decode/wer_table.md`.",
        "",
        *lines,
        "",
        *t1_findings(rows, signals),
        "",
        *published_table("T1"),
    ]
    return "\n".join(out)


def _wer(rows: list[dict], split: str, init: str, method: str, part: str = "test-clean") -> float | None:
    for r in rows:
        if r["split"] == split and r["init"] == init and (method, part) in r["wer"]:
            return r["wer"][method, part]["wer"]
    return None


def t1_findings(rows: list[dict], signals: dict) -> list[str]:
    found = []
    for r in rows:
        split, init = r["split"], r["init"]
        if init == "scratch" or "-" in init:  # the ablations are compared below
            continue
        pairs = []
        for method in ("greedy", "beam"):
            a, b = _wer(rows, split, "scratch", method), _wer(rows, split, init, method)
            if a is not None and b is not None:
                pairs.append((method, a, b))
        if pairs:
            better = sum(b < a - 0.5 for _, a, b in pairs)
            verdict = "helps" if better == len(pairs) else "does not help" if better == 0 else "helps partly"
            shown = ", ".join(
                f"{m} {b:.1f} vs {a:.1f} ({100 * (a - b) / a:+.1f} % relative)" for m, a, b in pairs
            )
            found.append(
                f"- {split}: {init} pretraining {verdict} (test WER {shown} from scratch; the target is "
                "+20 % relative with the LM)."
            )
    stuck = [f"{s}/{i}" for (s, i), sig in signals.items() if sig.get("loss_last", 0) > 2.5]
    if stuck:
        found.append(
            f"- Training loss still above 2.5 nats per frame at the last update for {', '.join(stuck)}: "
            "these models have not left CTC's blank plateau (see the empty-output column), so their WER "
            "says little about the encoder's features."
        )
    pairs = [("scratch", "scratch-as-pretrained", "the pretrained encoders' settings with random weights")]
    for r in rows:
        if r["split"] == "1h" and r["init"].endswith("-as-scratch"):
            objective = r["init"][: -len("-as-scratch")]
            pairs += [
                (objective, r["init"], f"the from-scratch settings with the {objective} weights"),
                ("scratch", r["init"], f"the {objective} weights with the from-scratch settings"),
            ]
    for a, b, what in pairs:
        wa, wb = _wer(rows, "1h", a, "greedy"), _wer(rows, "1h", b, "greedy")
        la, lb = signals.get(("1h", a), {}).get("loss_last"), signals.get(("1h", b), {}).get("loss_last")
        if wa is not None and wb is not None and la is not None and lb is not None:
            found.append(
                f"- Ablation ({what}): {a} vs {b}: greedy test WER {wa:.1f} vs {wb:.1f}, last training loss "
                f"{la:.2f} vs {lb:.2f}."
            )
    return ["Findings (computed from the table):", "", *found] if found else []


# ---- T2 / T3 -----------------------------------------------------------------------------------------------


def t2(exp: Path, command: str, stamp: str, split: str) -> str:
    semi = exp / "semi"
    words, phones = semi / "words", semi / "phones"
    out = _header(
        "T2. Semi-supervised training: noisy student and online-ensemble pseudo-labels", command, stamp
    )
    out += [
        "Every system after a baseline continues from it with the same settings and number of updates; they "
        "differ only in their training data. `continued` is the labels-only control, so a semi-supervised gain "
        "is measured against it, not against the shorter-trained baseline. `round2-*` start from round 1's "
        "control (a stronger teacher) and are compared with `round2-continued`. Systems marked --all are "
        "trained only by `bash recipes/mini/run.sh --all`.",
        "",
    ]
    if (words / "decode").is_dir():
        out += [
            f"Words ({split} labels + the Libri-light unlabelled set), WER (%):",
            "",
            *semi_table.words_table(words),
            "",
            semi_table.differences(words, ("greedy", "beam"), ("dev-clean", "test-clean"), "WER") + ".",
            "",
        ]
    else:
        out += ["Words: not run (semi-supervised word recognition is part of `--all`).", ""]
    if (phones / "decode").is_dir():
        out += [
            "Phones (annotated L2-ARCTIC speakers + their unannotated utterances), PER (%); dev: 2 annotated "
            "training speakers (they read the training prompts, so dev says little); test: the 6 held-out "
            "speakers:",
            "",
            *semi_table.phones_table(phones),
            "",
            semi_table.differences(phones, ("greedy",), ("dev", "test"), "PER") + ".",
            "",
        ]
    out += [
        f"Training / pseudo-labelling speed, audio-seconds per second: words: {semi_table.speeds(words)}; "
        f"phones: {semi_table.speeds(phones)}.",
        "",
        *published_table("T2"),
    ]
    return "\n".join(out)


def t3(exp: Path, command: str, stamp: str) -> str:
    scores = mdd_table.scores(exp / "mdd" / "scores")
    out = _header("T3. Mispronunciation detection and diagnosis on the held-out L2 speakers", command, stamp)
    out += [
        "Test: the annotated utterances of the six standard held-out L2-ARCTIC speakers (TLV NJS TNI TXHC ZHAA "
        "YKWK) of the synthetic corpus; canonical and perceived phones from its annotations (`asr mdd reference`), "
        "scored by `asr score mdd` (the CTC-Attention-Mispronunciation convention; DER = diagnosis errors / "
        "correct detections). Greedy phone decoding. Per-system alignments and confusion plots: "
        "`exp/<tag>/mdd/scores/<system>/`.",
        "",
        *mdd_table.rows(exp / "mdd" / "scores"),
        "",
    ]
    pairs = (
        ("round2-continued", "round2-nst-gen1"),
        ("round2-continued", "round2-online-ensemble"),
        ("native", "native-online"),
        ("continued", "online-ensemble"),
    )
    found = []
    for a, b in pairs:
        if a in scores and b in scores:
            x, y = scores[a], scores[b]
            found.append(
                f"- labelled-only `{a}` → with pseudo-labels `{b}`: F1 {x['f1']:.3f} → {y['f1']:.3f} "
                f"({y['f1'] - x['f1']:+.3f}), PER {100 * x['per']:.1f} → {100 * y['per']:.1f} "
                f"({100 * (y['per'] - x['per']):+.1f}), DER {x['der']:.3f} → {y['der']:.3f}."
            )
    if found:
        out += [
            "Labelled-only against the same training with pseudo-labels (same init, same updates):",
            "",
            *found,
            "",
        ]
    out += published_table("T3")
    return "\n".join(out)


# ---- learning curves (curves.py's PNGs) -------------------------------------------------------------------

# the figures each table links: (file name glob, what it shows)
FIGURES = {
    "T1": (("finetune-*.png", "dev CER and training loss against updates, scratch vs each encoder"),),
    "T2": (
        ("semi-words.png", "semi-supervised words: dev CER against updates"),
        ("semi-phones.png", "semi-supervised phones: dev PER against updates"),
    ),
    "T5": (("pretrain.png", "pretraining loss against updates, and the probe along the pretraining"),),
}


def figure_links(plots: Path | None, results: Path, names) -> str:
    """Markdown lines embedding the learning-curve PNGs a table has, relative to the results file."""
    if plots is None or not plots.is_dir():
        return ""
    lines = []
    for pattern, what in names:
        for png in sorted(plots.glob(pattern)):
            rel = os.path.relpath(png.resolve(), results.resolve().parent)
            lines.append(f"![{png.stem}: {what}]({rel})")
    return (
        (
            "\n\nLearning curves (`recipes/mini/local/curves.py`; is each model still learning when it stops?):\n\n"
            + "\n".join(lines)
            + "\n"
        )
        if lines
        else ""
    )


# ---- T5 ----------------------------------------------------------------------------------------------------

PROBE_ORDER = ("random", "wav2vec2", "hubert-iter1", "hubert-iter2", "data2vec", "data2vec2")


def probes(exp: Path) -> dict[str, dict]:
    """name -> probe.json of every frozen-encoder probe the recipe ran (``exp/probe/<name>/``), in T5's order."""
    found = {p.parent.name: read_json(p) for p in (exp / "probe").glob("*/probe.json")}
    order = known_first(PROBE_ORDER)
    return {k: found[k] for k in sorted(found, key=order) if found[k]}


def t5(exp: Path, command: str, stamp: str) -> str:
    found = probes(exp)
    out = _header(
        "T5. Frozen-encoder phone probe: what each self-supervised objective's features know", command, stamp
    )
    if not found:
        return "\n".join(out + ["No probe has run yet (stage 5 probes every encoder before fine-tuning)."])
    first = next(iter(found.values()))
    cfg = first.get("config", {})
    out += [
        "SUPERB's phoneme-recognition task, scaled down (`asr probe`): the encoder is frozen; a softmax-weighted sum "
        "of its layers (the body's input and every block's output, each layer-normalised) and a linear CTC head "
        f"are trained for {cfg.get('steps', '?')} updates (Adam, lr {cfg.get('lr', '?')}) on the phones of the "
        f"synthetic Libri-light 1 h split ({first.get('train_utterances', '?')} utterances; phones from the "
        f"lexicon), then scored by greedy PER on {first.get('dev_utterances', '?')} dev-clean utterances taken "
        f"round-robin over its speakers ({first.get('dev_speakers') or '?'} speakers). "
        "Same budget for every encoder; `random` is the same architecture with random weights, the baseline every "
        "objective must beat. Layer weights: body input, then blocks 1-4.",
        "",
        *table_head(
            "encoder",
            "pretraining updates",
            "probe PER (%)",
            "dev loss",
            "train loss",
            "layer weights",
            "vs random",
        ),
    ]
    base = found.get("random", {}).get("per")
    for name, r in found.items():
        updates = r.get("encoder", {}).get("step", 0 if name == "random" else MISSING)
        versus = MISSING if base is None or name == "random" else f"{r['per'] - base:+.1f}"
        weights = " ".join(f"{w:.2f}" for w in r.get("layer_weights", []))
        losses = (f"{r[k]:.3f}" for k in ("dev_loss", "train_loss"))
        out.append(table_row(name, updates, f"{r['per']:.1f}", *losses, weights, versus))
    if base is not None:
        better = [n for n, r in found.items() if n != "random" and r["per"] < base - 2.0]
        worse = [n for n, r in found.items() if n != "random" and n not in better]
        out += [
            "",
            "Findings (computed from the table): "
            + (
                f"{', '.join(better)} beat random weights by more than 2 PER points"
                if better
                else "no objective beats random weights by more than 2 PER points"
            )
            + (f"; {', '.join(worse)} do not" if worse and better else "")
            + ".",
        ]
    out += ["", *published_table("T5")]
    return "\n".join(out)


# ---- T4 ----------------------------------------------------------------------------------------------------


def _steps(done: Path) -> dict[str, int]:
    seconds = {}
    for p in done.glob("*.seconds"):
        try:
            seconds[p.name[: -len(".seconds")]] = int(p.read_text().strip())
        except ValueError:
            continue
    return seconds


def _stage_of(step: str) -> int | None:
    for stage, _, prefixes in STAGES:
        if any(step == p or (p.endswith("-") and step.startswith(p)) for p in prefixes):
            return stage
    return None


def _audio_rates(exp: Path) -> dict[int, list[float]]:
    """Audio-seconds per second of the runs that process audio, by stage (training logs, decoding timings)."""
    rates: dict[int, list[float]] = {}
    groups = {
        2: exp.glob("pretrain/**/tensorboard"),
        5: exp.glob("finetune/*/*/tensorboard"),
        7: exp.glob("semi/words/*/tensorboard"),
        8: exp.glob("semi/phones/**/tensorboard"),
        10: exp.glob("mdd/*/tensorboard"),
    }
    for stage, dirs in groups.items():
        for d in dirs:
            rate = _train_signals(d.parent).get("audio_per_second")
            if rate:
                rates.setdefault(stage, []).append(rate)
    for stage, pattern in (
        (6, "decode/*/*/greedy/*/hyp.timing.json"),
        (9, "semi/*/decode/*/greedy/*/hyp.timing.json"),
    ):
        audio = network = 0.0
        for p in exp.glob(pattern):
            t = read_json(p) or {}
            audio += t.get("audio_seconds", 0.0)
            network += t.get("network_seconds", 0.0) + t.get("search_seconds", 0.0)
        if network:
            rates[stage] = [audio / network]
    return rates


def _path(done: Path, name: str) -> set[str] | None:
    path = done / f"path-{name}.steps"
    return set(path.read_text().split()) if path.exists() else None


# bench/pretrain.py's figures T4 shows, in this order (bench/results.jsonl has more)
PRETRAIN_FIGURES = {
    "train_seconds": "training s",
    "steps": "updates",
    "audio_s_per_s": "audio s / s",
    "seconds_per_step": "s / update",
    "peak_rss_mib": "peak RSS (MiB)",
    "loss_start": "loss start",
    "loss_end": "loss end",
}


def _bench_pretrain() -> list[str]:
    """The pretraining objectives at equal wall-clock, from bench/results.jsonl (bench/collect.py's figures)."""
    path = ROOT / "bench" / "results.jsonl"
    figures = []
    if path.exists():
        figures = [
            f for f in read_figures(path) if f["bench"] == "pretrain" and f["figure"] in PRETRAIN_FIGURES
        ]
    if not figures:
        return [
            "Pretraining objectives at equal wall-clock: no `bench/results.jsonl` yet (`bash bench/run_all.sh`)."
        ]
    table: dict[str, dict[str, str]] = {}
    for f in figures:
        value = f["value"]
        shown = f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"
        table.setdefault(str(f["setting"].get("objective", "?")), {})[f["figure"]] = shown
    first = figures[0]
    lines = [
        f"Pretraining objectives at equal wall-clock (`{first['command']}`, {first['date']}, "
        f"{first['machine']}; from `bench/results.jsonl`; losses are each objective's own, compare how far "
        "each fell):",
        "",
        *table_head("objective", *PRETRAIN_FIGURES.values()),
    ]
    for objective, values in table.items():
        lines.append(table_row(objective, *(values.get(n, MISSING) for n in PRETRAIN_FIGURES)))
    return lines


def t4(exp: Path, done: Path, command: str, stamp: str) -> str:
    seconds = _steps(done)
    rates = _audio_rates(exp)
    paths = {name: _path(done, name) for name in ("default", "all")}
    lines = table_head("stage", "what", "steps", "default path (s)", "all steps present (s)", "audio s / s")
    totals = {"default": 0, "all": 0}
    for stage, what, _ in STAGES:
        steps = {s: v for s, v in seconds.items() if _stage_of(s) == stage}
        default = sum(v for s, v in steps.items() if paths["default"] is not None and s in paths["default"])
        every = sum(steps.values())
        totals["default"] += default
        totals["all"] += every
        rate = rates.get(stage)
        shown = default if paths["default"] is not None else MISSING
        average = f"{sum(rate) / len(rate):.0f}" if rate else MISSING
        lines.append(table_row(stage, what, len(steps), shown, every, average))
    default_total = (
        f"{totals['default']} ({totals['default'] / 60:.0f} min)" if paths["default"] is not None else MISSING
    )
    lines.append(
        f"| | total | {len(seconds)} | {default_total} | {totals['all']} ({totals['all'] / 60:.0f} min) | |"
    )
    walls = [
        f"{name} path: {int(p.read_text())} s ({int(p.read_text()) / 60:.0f} min)"
        for name in ("default", "all")
        if (p := done / f"path-{name}.wall").exists()
    ]
    out = _header("T4. Cost: wall time and throughput of each stage", command, stamp)
    if walls:
        out += [
            "Wall time of the last run of each path from stage 0 to its tables (the recipe's own clock, set-up "
            "and the app excluded): " + "; ".join(walls) + ".",
            "",
        ]
    out += [
        "Seconds each step took when it last ran (`data/.done/<tag>/*.seconds`, written by `recipes/lib.sh`); "
        "`default path` sums the steps the README's command visits (`path-default.steps`), `all steps "
        "present` every step of this tag, `--all` runs included. Set-up (`scripts/setup.sh`) and the app are not "
        "counted. Audio s / s: training runs' mean logged throughput (stages 2, 5, 7, 8, 10) or decoding's audio "
        "seconds per network + search second (greedy, stages 6 and 9).",
        "",
        *lines,
        "",
        *_bench_pretrain(),
        "",
        *published_table("T4"),
    ]
    return "\n".join(out)


def refresh_published(results: Path) -> None:
    """Replace the published-figures block of every T1-T5 section in ``results`` by today's
    :func:`published_table` (a block runs from its heading line to the end of its table)."""
    heading = (
        "Published (real speech, full-size models and compute; for direction and scale, not reproduced here):"
    )
    lines = results.read_text(encoding="utf-8").split("\n")
    out, table = [], None
    i = 0
    while i < len(lines):
        line = lines[i]
        begin = line.startswith("<!-- mini ") and line.endswith(": begin -->")
        if begin:
            table = line.split()[-3].rstrip(":")  # "<!-- mini --all T1: begin -->" -> T1
        if line == heading and table is not None:
            i += 2  # the heading and the blank line after it
            while i < len(lines) and lines[i].startswith("|"):
                i += 1
            out += published_table(table)
            continue
        out.append(line)
        i += 1
    write_atomic(results, "\n".join(out).encode("utf-8"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--exp", type=Path, help="exp/<tag> of the mini recipe")
    parser.add_argument("--done", type=Path, help="data/.done/<tag> (the step markers and times)")
    parser.add_argument(
        "--results", type=Path, required=True, help="The Markdown file to update (RESULTS.md)."
    )
    parser.add_argument("--preset", default="mini")
    parser.add_argument(
        "--split", default="1h", help="The labelled split of the semi-supervised word systems."
    )
    parser.add_argument(
        "--command", default="bash recipes/mini/run.sh", help="The command shown with the tables."
    )
    parser.add_argument("--plots", type=Path, help="Folder of curves.py's PNGs, linked from the tables.")
    parser.add_argument(
        "--label",
        default="",
        help="Tells this run's tables apart (e.g. 'all'): section keys "
        "and headings carry it, so the default path's tables and --all's live side by side.",
    )
    parser.add_argument(
        "--published-only",
        action="store_true",
        help="Only re-render the published figures inside the T1-T5 sections already in --results "
        "(after published.json changed); the measured rows stay as they are.",
    )
    args = parser.parse_args(argv)
    if args.published_only:
        refresh_published(args.results)
        print(f"{args.results}: published figures of T1-T5 re-rendered", file=sys.stderr)
        return 0
    if args.exp is None or args.done is None:
        parser.error("--exp and --done are required (unless --published-only)")
    for folder in (args.exp, args.done):
        if not folder.is_dir():
            print(f"{folder}: no such folder (run the mini recipe first)", file=sys.stderr)
            return 2
    stamp = date_line(
        f"preset {args.preset}", f"machine: {machine()}", "xs encoder (fbank + Conformer, ~4 M parameters)."
    )
    sections = {
        "T1": t1(args.exp, args.command, stamp),
        "T2": t2(args.exp, args.command, stamp, args.split),
        "T3": t3(args.exp, args.command, stamp),
        "T4": t4(args.exp, args.done, args.command, stamp),
        "T5": t5(args.exp, args.command, stamp),
    }
    for key, names in FIGURES.items():
        sections[key] += figure_links(args.plots, args.results, names)
    for key, body in sections.items():
        if args.label:
            body = body.replace(f"## {key}.", f"## {key} ({args.label}).", 1)
        update_section(args.results, " ".join(filter(None, ("mini", args.label, key))), body)
    drop_section(args.results, *LEGACY_SECTIONS)
    print(f"{args.results}: T1-T5 updated", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

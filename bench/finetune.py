"""Fine-tuning and decoding speed on this machine (not run in CI); one JSON line per figure, on stdout.

1. **Pipeline overhead of ``asr finetune``**: the real command (subprocess; lhotse sampling, audio reading,
   tokenising, padding, the training loop's bookkeeping, logging, checkpoints) against a bare PyTorch loop
   (forward, backward, clip, AdamW, schedule) over the *same* model and the *same* batches held in memory
   as tensors. Both run ``--steps`` updates from the same seed; throughput is audio seconds per wall
   second of the update steps, and ``overhead = bare / pipeline - 1`` (aim: <= 10 %).
2. **Decoding real-time factor** of ``asr decode`` for greedy, LM beam and WFST: (network + search)
   seconds per audio second, and the search alone, on ``--decode-cuts``.

Defaults use the mini recipe's data when it exists (Libri-light 1 h split, its LM, dev-clean) and fall back
to a spoken-digits corpus made on the spot, so the script runs on a fresh checkout::

    python bench/finetune.py                       # both parts
    python bench/finetune.py --skip-decode --steps 30
"""

from __future__ import annotations

import argparse
import functools
import json
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from asr.results import bench_command, figures, write_figures  # noqa: E402

MINI = ROOT / "recipes/mini/data/manifests/mini_seed0"
MINI_LANG = ROOT / "recipes/mini/data/lang/mini_seed0"
CONF = ROOT / "recipes/mini/conf/finetune_scratch.yaml"
ASR = [sys.executable, "-m", "asr.cli"]
# the mini recipe's search settings (recipes/mini/run.sh, stage 6), so the RTFs are those of its table
SEARCH_SETTINGS = {"beam": {"beam_size": 20}, "wfst": {"beam": 8.0, "max_active": 1000}}


# the figures of each kind of measurement, with their units
UNITS = {
    "finetune_throughput": {
        "pipeline_audio_s_per_s": "audio s/s",
        "pipeline_audio_seconds": "audio s",
        "bare_audio_s_per_s": "audio s/s",
        "bare_audio_seconds": "audio s",
        "overhead": "fraction",
    },
    "decode_rtf": {
        "cuts": "cuts",
        "audio_seconds": "audio s",
        "network_seconds": "s",
        "search_seconds": "s",
        "rtf": "s/audio s",
        "search_rtf": "s/audio s",
    },
}


def emit(record: str, measured: dict, setting: dict) -> None:
    """Print one measurement's figures (bench/run_all.sh appends them to bench/results/finetune-DATE.jsonl)."""
    units = UNITS[record]
    values = {k: measured[k] for k in units if k in measured}
    write_figures(None, figures(record, values, units, setting, bench_command(__file__)))


def run(argv: list[str]) -> None:
    print("+ " + shlex.join(argv[2:] if argv[:3] == ASR else argv), file=sys.stderr, flush=True)
    subprocess.run(argv, check=True, stdout=sys.stderr)


def settings(conf: Path, steps: int) -> dict:
    s = yaml.safe_load(conf.read_text())
    s.setdefault("train", {}).update(max_steps=steps, checkpoint_every=10**6, device="cpu", progress=False)
    return s


def bare_loop(cuts_path: Path, tokenizer_dir: Path, conf: dict, steps: int, seed: int) -> dict:
    """The same model and batches as ``asr finetune``, trained by a minimal loop on in-memory tensors."""
    import torch

    from asr.data.dataset import AudioDataset, load_cuts
    from asr.objectives import ctc
    from asr.text.tokenizer import load_tokenizer
    from asr.training.config import TrainConfig
    from asr.training.data import BatchStream, make_sampler
    from asr.training.pretrain import build_model
    from asr.training.schedule import lr_scale

    tokenizer = load_tokenizer(tokenizer_dir)
    cfg = TrainConfig(**{**conf["train"], "exp_dir": "unused"})
    torch.manual_seed(cfg.seed)
    encoder = build_model(conf["model"])
    objective_settings = {"freeze_frontend": False, **conf.get("objective", {})}
    objective = ctc.build(encoder, tokenizer.vocab_size, **objective_settings)

    tokenize = functools.partial(ctc.transcript_ids, tokenizer)
    dataset = AudioDataset(min_samples=encoder.min_samples, label_fields=(), tokenize=tokenize)
    sampler = make_sampler(load_cuts(cuts_path), cfg.max_duration, cfg.shuffle, cfg.seed, cfg.num_buckets)
    batches = []
    for cut_batch, _ in BatchStream(sampler):  # the pipeline's own epoch-by-epoch order
        batch = dataset[cut_batch]
        if batch is not None:
            batches.append(batch)
        if len(batches) == steps:
            break
    params = [p for p in objective.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        params, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, weight_decay=cfg.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_scale(s, cfg))
    objective.train()
    audio = 0.0
    start = time.perf_counter()
    for step, batch in enumerate(batches, 1):
        out = objective(batch)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(params, cfg.clip_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        scheduler.step()
        objective.step_end(step)
        audio += batch.duration
    seconds = time.perf_counter() - start
    return {
        "steps": steps,
        "audio_seconds": audio,
        "seconds": seconds,
        "audio_s_per_s": audio / seconds,
        "last_loss": float(out.loss.detach()),
    }


def digits_corpus(work: Path) -> dict[str, Path]:
    from data_prep.digits import synth_digits

    return synth_digits(work / "digits", num_train=200, num_test=40, seed=0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cuts", type=Path, help="Labelled training cuts [mini 1 h split, else digits].")
    parser.add_argument("--config", type=Path, default=CONF, help="finetune YAML (model/objective/train).")
    parser.add_argument("--steps", type=int, default=40, help="Updates timed in each of the two loops.")
    parser.add_argument(
        "--model",
        type=Path,
        help="ctc_model.pt to decode with [mini 1h scratch model, else the one the throughput part trains].",
    )
    parser.add_argument("--lm", type=Path, help="`asr lm build` folder [mini recipe's, else from the cuts].")
    parser.add_argument("--decode-cuts", type=Path, help="Cuts to decode [mini dev-clean, else digits test].")
    parser.add_argument("--methods", nargs="+", default=["greedy", "beam", "wfst"])
    parser.add_argument("--skip-train", action="store_true")
    parser.add_argument("--skip-decode", action="store_true")
    parser.add_argument("--work", type=Path, help="Scratch folder (default: a temporary one).")
    args = parser.parse_args(argv)

    work = args.work or Path(tempfile.mkdtemp(prefix="bench-finetune-"))
    work.mkdir(parents=True, exist_ok=True)
    mini_1h = MINI / "librispeech_finetuning_cuts_1h.jsonl.gz"
    digits = None
    if args.cuts is None and not mini_1h.exists() or args.decode_cuts is None and not MINI.exists():
        digits = digits_corpus(work)
    cuts = args.cuts or (mini_1h if mini_1h.exists() else digits["train"])
    tokenizer = work / "chars"
    run([*ASR, "tokenizer", "train", "--kind", "char", "--out", str(tokenizer)])
    model = args.model
    threads = None

    if not args.skip_train:
        import torch

        threads = torch.get_num_threads()
        conf = settings(args.config, args.steps)
        conf_file = work / "finetune.yaml"
        conf_file.write_text(yaml.safe_dump(conf))
        exp = work / "exp"
        run(
            [
                *ASR,
                "finetune",
                "--cuts",
                str(cuts),
                "--tokenizer",
                str(tokenizer),
                "--exp-dir",
                str(exp),
                "--config",
                str(conf_file),
                "--no-resume",
                "--no-progress",
            ]
        )
        piped = json.loads((exp / "train_result.json").read_text())
        bare = bare_loop(cuts, tokenizer, conf, args.steps, conf["train"].get("seed", 0))
        overhead = bare["audio_s_per_s"] / piped["audio_seconds_per_second"] - 1
        emit(
            "finetune_throughput",
            {
                "pipeline_audio_s_per_s": round(piped["audio_seconds_per_second"], 2),
                "pipeline_audio_seconds": round(piped["audio_seconds"], 1),
                "bare_audio_s_per_s": round(bare["audio_s_per_s"], 2),
                "bare_audio_seconds": round(bare["audio_seconds"], 1),
                "overhead": round(overhead, 4),
            },
            {"cuts_file": str(cuts), "steps": args.steps, "threads": threads},
        )
        model = model or exp / "ctc_model.pt"

    if not args.skip_decode:
        mini_model = ROOT / "recipes/mini/exp/mini_seed0/finetune/1h/scratch/ctc_model.pt"
        model = args.model or (mini_model if mini_model.exists() else model)
        if model is None or not Path(model).exists():
            print("no model to decode with: pass --model or run the throughput part", file=sys.stderr)
            return 2
        decode_cuts = args.decode_cuts or (
            MINI / "librispeech_cuts_dev-clean.jsonl.gz" if MINI.exists() else digits["test"]
        )
        lm = args.lm or (MINI_LANG / "lm" if (MINI_LANG / "lm" / "lm.arpa").exists() else None)
        if lm is None:
            lm = work / "lm"
            run([*ASR, "lm", "build", "--text", str(cuts), "--order", "3", "--out", str(lm)])
        from asr.decoding.factory import make_decoder
        from asr.decoding.pipeline import decode_corpus
        from asr.objectives.ctc import load_ctc_model
        from asr.text.tokenizer import load_tokenizer

        for method in args.methods:
            out = work / "decode" / method / "hyp.txt"
            if method == "wfst":  # the graph is built (and cached) on first use: build it outside the timing
                make_decoder("wfst", load_tokenizer(load_ctc_model(model)[1]), lm)
            print(f"+ decode {method} {model} {decode_cuts}", file=sys.stderr, flush=True)
            timing = decode_corpus(
                Path(model),
                Path(decode_cuts),
                out,
                method,
                lm_dir=None if method == "greedy" else Path(lm),
                progress=False,
                settings=SEARCH_SETTINGS.get(method, {}),
            ).timing
            setting = {"model": str(model), "cuts_file": str(decode_cuts), "lm": str(lm), "method": method}
            emit("decode_rtf", timing, setting)
    return 0


if __name__ == "__main__":
    sys.exit(main())

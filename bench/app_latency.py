"""How long the pronunciation app takes to answer (not run in CI); one JSON line per figure.

For English sentences of about 2, 5 and 10 s (spoken by espeak-ng, with their texts), with the model run by
torch and by onnxruntime (an ``asr export onnx`` of the same model, made once per run unless ``--onnx``):

* ``app_library``: wall time of one :meth:`asr.mdd.assessment.Assessor.assess`, what the app runs (model
  loaded once, audio already read, the prompt's reference reading kept from the warm-up):
  p50/p95/max over ``--repeats`` runs after ``--warmup``; ``app_library_new_prompt``: the same with the
  reference reading made within each request (a prompt the app has not seen);
* ``app_api``: the same analysis end to end through the app's API (``/diagnose``) with ``gradio_client``
  against the app started in-process on a free port: upload, queue, reading the file, diagnosis, JSON back;
* ``app_http``: the same request as plain HTTP (upload, ``POST /gradio_api/call/diagnose``, its event
  stream), as a browser or ``curl`` makes it: ``gradio_client`` adds its own ~0.15 s (it polls for messages
  every 50 ms in threads), so this is the app's own latency;
* ``app_concurrency``: ``--concurrent`` requests submitted at once (``client.submit``) on the 5 s sentence:
  all answered and right (none lost), total wall time and each request's latency (submit to answer).

The issue's aim: p95 <= 0.3 s for a 5 s utterance with the xs model (``summary`` line, ``*_aim_met``). The
client runs in the app's process (one more thread on the same cores). The machine's load average is recorded:
the numbers only mean something on an otherwise idle machine.

Each measurement's figures (its fields with a unit, :data:`UNITS`) are printed and appended to
``bench/results/app-DATE.jsonl``; the summary's copies of them and whether the aim is met go to stderr::

    python bench/app_latency.py                                  # the mini recipe's model, torch and ONNX
    python bench/app_latency.py --runtimes torch --repeats 10 --skip-api
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import functools
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from asr.results import bench_command, figures, write_figures  # noqa: E402

DEFAULT_MODEL = ROOT / "recipes/mini/exp/mini_seed0/app_model"
# about 2, 5 and 10 s at espeak-ng's en-us, 160 words per minute (the actual durations are reported)
SENTENCES = {
    2: "The red car is very fast today.",
    5: "I think the weather is nice today, so we should all walk to the park after our lunch.",
    10: "She sells shells by the shore every summer, and her younger brother helps her carry the heavy baskets "
    "back to the little house near the harbor before the evening rain begins to fall.",
}
AIM_SECONDS, AIM_P95 = 5, 0.3


LATENCY = ("runtime", "model", "threads", "utterance_s", "words", "n")
#: the fields of each kind of measurement that say what was measured
SETTING = {
    "app_library": LATENCY,
    "app_library_new_prompt": LATENCY,
    "app_api": LATENCY,
    "app_http": LATENCY,
    "app_concurrency": ("runtime", "model", "threads", "utterance_s", "requests"),
    "summary": ("model", "threads"),
}
#: the fields that are figures, with their units (the rest, lists and copies, are not figures)
UNITS = {
    "load_avg_1m": "load",
    "load_avg_1m_at_start": "load",
    "onnx_export_s": "s",
    "answered": "requests",
    "right": "requests",
    "lost": "requests",
    "total_s": "s",
    "p50_s": "s",
    "p95_s": "s",
    "mean_s": "s",
    "max_s": "s",
}


def emit(row: dict, out: Path) -> None:
    """A measurement's figures, printed and appended to ``out``."""
    record = row["bench"]
    setting = {k: row[k] for k in SETTING[record] if k in row}
    values = {k: v for k, v in row.items() if k in UNITS}
    write_figures(out, figures(record, values, UNITS, setting, bench_command(__file__)))


def stats(times: list[float]) -> dict:
    t = np.asarray(times)
    return {
        "n": len(t),
        "p50_s": round(float(np.percentile(t, 50)), 4),
        "p95_s": round(float(np.percentile(t, 95)), 4),
        "mean_s": round(float(t.mean()), 4),
        "max_s": round(float(t.max()), 4),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def synthesise(folder: Path, seconds: list[int]) -> dict[int, tuple[Path, str, float]]:
    """``seconds -> (wav, text, duration)`` for each wanted length, spoken by espeak-ng."""
    import soundfile as sf

    from asr.text.espeak import IsolatedSynthesizer, Voice

    utterances = {}
    with IsolatedSynthesizer() as tts:
        for s in seconds:
            speech = tts.synthesize(SENTENCES[s], Voice("en-us", rate=160), sample_rate=16000)
            path = folder / f"say_{s}s.wav"
            sf.write(path, speech.samples, 16000)
            utterances[s] = (path, SENTENCES[s], round(len(speech.samples) / 16000, 2))
    return utterances


def export_onnx(model: Path, folder: Path) -> tuple[Path, float]:
    """``asr export onnx`` of ``model`` (an experiment folder or a ``ctc_model.pt``) into ``folder``."""
    src = model / "ctc_model.pt" if model.is_dir() else model
    out = folder / "model.onnx"
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "asr.cli", "export", "onnx", "--model", str(src), "--out", str(out)],
        check=True,
        stdout=sys.stderr,
    )
    return out, round(time.perf_counter() - start, 1)


def bench_library(assessor, utterances, warmup: int, repeats: int, base: dict, out: Path) -> dict[int, dict]:
    """The app's analysis in the library: :meth:`Assessor.assess` (phones, fluency, stress, miscues, prosody
    against the reference reading). The reference reading of a prompt is kept, so a learner repeating a
    sentence waits for it once: ``app_library`` is that case, ``app_library_new_prompt`` a prompt never seen
    (the reading made and aligned within the request)."""
    from asr.data.audio import read_audio
    from asr.mdd.assessment import Assessor

    judge = Assessor(assessor)
    rows = {}
    try:
        for s, (wav, text, duration) in utterances.items():
            audio = read_audio(wav, assessor.cfg.limits)
            for _ in range(warmup):
                judge.assess(audio, text)
            for bench, fresh in (("app_library", False), ("app_library_new_prompt", True)):
                times = []
                for _ in range(repeats):
                    if fresh:
                        judge._references.clear()
                    start = time.perf_counter()
                    judge.assess(audio, text)
                    times.append(time.perf_counter() - start)
                row = {
                    "bench": bench,
                    **base,
                    "utterance_s": duration,
                    "words": len(text.split()),
                    **stats(times),
                }
                emit(row, out)
                if not fresh:
                    rows[s] = row
    finally:
        judge.close()
    return rows


def start_app(assessor):
    from apps.pronunciation.app import AppConfig, build_app

    cfg = AppConfig()
    demo = build_app(assessor, cfg)
    port = free_port()
    demo.launch(
        server_name="127.0.0.1",
        server_port=port,
        prevent_thread_lock=True,
        quiet=True,
        max_file_size=cfg.limits.max_bytes,
    )
    return demo, f"http://127.0.0.1:{port}/"


def client_call(client):
    """One analysis through ``gradio_client`` (what the module docs of the app show)."""
    from gradio_client import handle_file

    return lambda wav, text: client.predict(handle_file(str(wav)), text, api_name="/diagnose")


def http_call(url: str):
    """One analysis through Gradio's plain HTTP API, as a browser or ``curl`` does it: upload the file,
    ``POST /gradio_api/call/diagnose``, read the answer's event stream (no client-side polling)."""
    import httpx

    http = httpx.Client(base_url=url.rstrip("/") + "/gradio_api", timeout=120)

    def call(wav: Path, text: str) -> dict:
        with wav.open("rb") as f:
            (uploaded,) = (
                http.post("/upload", files={"files": (wav.name, f, "audio/wav")}).raise_for_status().json()
            )
        data = [{"path": uploaded, "orig_name": wav.name, "meta": {"_type": "gradio.FileData"}}, text]
        event = http.post("/call/diagnose", json={"data": data}).raise_for_status().json()["event_id"]
        stream = http.get(f"/call/diagnose/{event}").raise_for_status().text
        kind, payload = None, None
        for line in stream.splitlines():
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: ") and kind in ("complete", "error"):
                payload = line.removeprefix("data: ")
        if kind != "complete" or payload is None:
            raise RuntimeError(f"no answer: {stream[-300:]}")
        return json.loads(payload)[0]

    return call


def bench_api(
    call, name: str, utterances, warmup: int, repeats: int, base: dict, out: Path
) -> dict[int, dict]:
    rows = {}
    for s, (wav, text, duration) in utterances.items():
        for _ in range(warmup):
            call(wav, text)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            result = call(wav, text)
            times.append(time.perf_counter() - start)
        assert len(result["words"]) == len(text.split()), result
        rows[s] = {"bench": name, **base, "utterance_s": duration, "words": len(text.split()), **stats(times)}
        emit(rows[s], out)
    return rows


def bench_concurrency(client, utterance, count: int, base: dict, out: Path) -> dict:
    """``count`` requests submitted at once; each one's latency from its submission to its answer."""
    from gradio_client import handle_file

    wav, text, duration = utterance
    done: dict[int, float] = {}
    lock = threading.Lock()

    def finished(i):
        def callback(_future):
            with lock:
                done[i] = time.perf_counter()

        return callback

    submitted, jobs = [], []
    start = time.perf_counter()
    for i in range(count):
        submitted.append(time.perf_counter())
        job = client.submit(handle_file(str(wav)), text, api_name="/diagnose")
        job.future.add_done_callback(finished(i))
        jobs.append(job)
    answers, errors = [], []
    for job in jobs:
        try:
            answers.append(job.result(timeout=600))
        except Exception as exc:  # a lost or failed request is what this measures
            errors.append(f"{type(exc).__name__}: {exc}"[:200])
    total = time.perf_counter() - start
    time.sleep(0.05)  # let the last done-callbacks run
    right = sum(len(a["words"]) == len(text.split()) for a in answers)
    latencies = [round(done[i] - submitted[i], 3) for i in range(count) if i in done]
    row = {
        "bench": "app_concurrency",
        **base,
        "utterance_s": duration,
        "requests": count,
        "answered": len(answers),
        "right": right,
        "lost": count - len(answers),
        "errors": errors[:3],
        "total_s": round(total, 3),
        "latencies_s": sorted(latencies),
        **{k: v for k, v in stats(latencies).items() if k != "n"},
    }
    emit(row, out)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="experiment folder or ctc_model.pt")
    parser.add_argument(
        "--onnx", type=Path, help="an existing ONNX export of --model (default: export one now)"
    )
    parser.add_argument("--runtimes", nargs="+", choices=["torch", "onnx"], default=["torch", "onnx"])
    parser.add_argument(
        "--seconds", nargs="+", type=int, choices=sorted(SENTENCES), default=sorted(SENTENCES)
    )
    parser.add_argument("--repeats", type=int, default=20, help="timed analyses per utterance and path")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--concurrent", type=int, default=10, help="simultaneous API requests (0: skip)")
    parser.add_argument("--skip-api", action="store_true", help="only the library call")
    parser.add_argument(
        "--threads", type=int, default=2, help="torch intra-op threads (onnxruntime: its default)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "bench" / "results" / f"app-{datetime.date.today()}.jsonl",
        help="JSON lines are appended here too",
    )
    args = parser.parse_args()

    import torch

    from asr.mdd.diagnosis import PronunciationAssessor

    torch.set_num_threads(args.threads)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    summary = {
        "bench": "summary",
        "model": str(args.model),
        "cpus": os.cpu_count(),
        "threads": args.threads,
        "load_avg_1m_at_start": round(os.getloadavg()[0], 2),
    }
    table, concurrent = [], []
    with tempfile.TemporaryDirectory(prefix="app-latency-") as tmp:
        tmp = Path(tmp)
        utterances = synthesise(tmp, args.seconds)
        paths = {"torch": args.model}
        if "onnx" in args.runtimes:
            if args.onnx:
                paths["onnx"] = args.onnx
            else:
                paths["onnx"], summary["onnx_export_s"] = export_onnx(args.model, tmp)
        for runtime in args.runtimes:
            assessor = PronunciationAssessor.from_path(paths[runtime])
            base = {
                "runtime": runtime,
                "model": str(args.model),
                "threads": args.threads,
                "load_avg_1m": round(os.getloadavg()[0], 2),
            }
            library = bench_library(assessor, utterances, args.warmup, args.repeats, base, args.out)
            table.append((runtime, "library", library))
            if AIM_SECONDS in library:
                summary[f"{runtime}_library_aim_met"] = library[AIM_SECONDS]["p95_s"] <= AIM_P95
            summary[f"{runtime}_library_p50_p95_s"] = {
                f"{s}s": [r["p50_s"], r["p95_s"]] for s, r in library.items()
            }
            if args.skip_api:
                continue
            from gradio_client import Client

            demo, url = start_app(assessor)
            try:
                client = Client(url, verbose=False)
                api = bench_api(
                    client_call(client), "app_api", utterances, args.warmup, args.repeats, base, args.out
                )
                summary[f"{runtime}_api_p50_p95_s"] = {
                    f"{s}s": [r["p50_s"], r["p95_s"]] for s, r in api.items()
                }
                http = bench_api(
                    http_call(url), "app_http", utterances, args.warmup, args.repeats, base, args.out
                )
                summary[f"{runtime}_http_p50_p95_s"] = {
                    f"{s}s": [r["p50_s"], r["p95_s"]] for s, r in http.items()
                }
                if args.concurrent:
                    middle = (
                        utterances[AIM_SECONDS]
                        if AIM_SECONDS in utterances
                        else next(iter(utterances.values()))
                    )
                    c = bench_concurrency(client, middle, args.concurrent, base, args.out)
                    concurrent.append(c)
                    summary[f"{runtime}_concurrent"] = {
                        k: c[k] for k in ("requests", "answered", "lost", "total_s", "p50_s", "max_s")
                    }
                client.close()
            finally:
                with contextlib.redirect_stdout(sys.stderr):  # gradio's "Closing server" off the JSON lines
                    demo.close()
            table += [(runtime, "api", api), (runtime, "http", http)]
            if AIM_SECONDS in api:
                summary[f"{runtime}_api_aim_met"] = api[AIM_SECONDS]["p95_s"] <= AIM_P95
                summary[f"{runtime}_http_aim_met"] = http[AIM_SECONDS]["p95_s"] <= AIM_P95
    summary["aim"] = f"p95 <= {AIM_P95} s for a {AIM_SECONDS} s utterance"
    emit(summary, args.out)
    print_summary(utterances, table, concurrent, summary)
    return 0


def print_summary(utterances, table, concurrent, summary) -> None:
    """A short table on stderr (stdout holds the JSON lines)."""
    say = functools.partial(print, file=sys.stderr)
    say(
        f"\nwall time of one analysis, p50 / p95 in s ({summary['cpus']} CPUs, {summary['threads']} torch threads, "
        f"load average at start {summary['load_avg_1m_at_start']}):"
    )
    say(
        f"{'runtime':8} {'path':8} "
        + " ".join(f"{f'{d:.1f} s audio':>14}" for _, _, d in utterances.values())
    )
    for runtime, path, rows in table:
        say(
            f"{runtime:8} {path:8} "
            + " ".join(f"{rows[s]['p50_s']:6.3f} /{rows[s]['p95_s']:6.3f}" for s in utterances)
        )
    for c in concurrent:
        say(
            f"{c['runtime']}: {c['requests']} simultaneous requests ({c['utterance_s']} s audio): {c['answered']} answered, "
            f"{c['right']} right, {c['lost']} lost; all done in {c['total_s']:.2f} s; latency p50 {c['p50_s']:.2f} s, "
            f"max {c['max_s']:.2f} s"
        )
    met = {k: v for k, v in summary.items() if k.endswith("_aim_met")}
    say(
        f"aim ({summary['aim']}): "
        + ", ".join(f"{k.removesuffix('_aim_met')} {'met' if v else 'NOT met'}" for k, v in met.items())
    )


if __name__ == "__main__":
    raise SystemExit(main())

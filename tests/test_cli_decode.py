"""``asr decode``: its files (hypotheses, n-best with confidences, timings, tuning), the posteriors cache,
and user mistakes ending in exit status 2 with the file or option named."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest
import torch
from conftest import run_cli as asr
from conftest import tiny_encoder, write_tone_cuts
from lhotse import CutSet, SupervisionSegment

from asr.objectives.ctc import CTCModel, save_ctc_model
from asr.text.tokenizer import CharTokenizer

pytestmark = pytest.mark.usefixtures("one_thread")

TEXTS = ["A CAT", "THE DOG", "A DOG", "THE CAT SAT"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> dict[str, Path]:
    """A random char CTC model, tone cuts with transcripts, and an LM over the transcripts' words."""
    root = tmp_path_factory.mktemp("decode")
    tones = write_tone_cuts(root, 4, 1.0, 2.0)
    cuts = []
    for cut, text in zip(CutSet.from_file(tones), TEXTS, strict=True):
        cut.supervisions = [SupervisionSegment(cut.id, cut.recording_id, 0.0, cut.duration, text=text)]
        cuts.append(cut)
    cuts = CutSet.from_cuts(cuts)
    cuts.to_file(root / "cuts.jsonl.gz")
    tokenizer_dir = CharTokenizer().save(root / "chars")
    encoder = tiny_encoder("fbank", dim=64, layers=1, fbank_layers=((64, 3, 2),))
    model = CTCModel(encoder, CharTokenizer().vocab_size)
    save_ctc_model(model, root / "ctc_model.pt", tokenizer_dir)
    code, out = asr("lm", "build", "--text", root / "cuts.jsonl.gz", "--order", 2, "--out", root / "lm")
    assert code == 0, out
    return {"root": root, "cuts": root / "cuts.jsonl.gz", "model": root / "ctc_model.pt", "lm": root / "lm"}


def decode(setup, out: Path, *options) -> tuple[int, str]:
    return asr(
        "decode", "--model", setup["model"], "--cuts", setup["cuts"], "--out", out, "--no-progress", *options
    )


def test_outputs_cover_every_cut(setup, tmp_path):
    code, out = decode(setup, tmp_path / "hyp.txt")
    assert code == 0 and "RTF" in out, out
    ids = sorted(c.id for c in CutSet.from_file(setup["cuts"]))
    assert sorted(line.split(" ")[0] for line in (tmp_path / "hyp.txt").read_text().splitlines()) == ids
    nbest = [json.loads(line) for line in (tmp_path / "hyp.nbest.jsonl").read_text().splitlines()]
    assert [r["id"] for r in nbest] == ids
    for record in nbest:
        (best,) = record["hyps"]
        assert (
            len(best["token_confidence"]) == len(best["tokens"]) == len(best["frames"]) == len(best["pieces"])
        )
        assert 0.0 <= best["confidence"] <= 1.0 and best["posterior"] == 1.0
    timing = json.loads((tmp_path / "hyp.timing.json").read_text())
    assert timing["cuts"] == 4 and timing["audio_seconds"] > 0 and timing["rtf"] > 0


def test_emissions_batch_cuts_of_like_duration_and_cover_every_cut(setup):
    """The network sees duration-sorted windows; every cut comes back once, with its own frames."""
    from asr.data.dataset import by_duration
    from asr.decoding.emissions import iter_emissions
    from asr.objectives.ctc import load_ctc_model

    cuts = CutSet.from_file(setup["cuts"]).to_eager()
    windows = [[c.duration for c in w] for w in by_duration(cuts, window=3)]
    assert [len(w) for w in windows] == [3, 1] and all(w == sorted(w) for w in windows)
    model, _ = load_ctc_model(setup["model"])
    emissions = dict(iter_emissions(model, cuts, max_duration=2.5, progress=False))
    assert sorted(emissions) == sorted(c.id for c in cuts)
    alone = {c.id: dict(iter_emissions(model, CutSet.from_cuts([c]), progress=False))[c.id] for c in cuts}
    for cut_id, log_probs in emissions.items():
        torch.testing.assert_close(log_probs, alone[cut_id], rtol=1e-4, atol=1e-4)


def test_posteriors_cache_is_reused_until_inputs_change(setup, tmp_path, caplog):
    cache = tmp_path / "posteriors.pt"
    assert decode(setup, tmp_path / "a.txt", "--emissions", cache)[0] == 0
    first = cache.stat().st_mtime_ns
    assert decode(setup, tmp_path / "b.txt", "--emissions", cache)[0] == 0
    assert cache.stat().st_mtime_ns == first  # reused
    assert (tmp_path / "a.txt").read_text() == (tmp_path / "b.txt").read_text()
    stat = setup["cuts"].stat()
    os.utime(setup["cuts"], ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # the cuts "changed"
    assert decode(setup, tmp_path / "c.txt", "--emissions", cache)[0] == 0
    assert cache.stat().st_mtime_ns != first


def hypotheses(path: Path) -> dict[str, str]:
    """A Kaldi text file: utterance id -> its words ("" for an empty line)."""
    return dict((line.split(" ", 1) + [""])[:2] for line in path.read_text().splitlines())


def word_errors(refs: dict[str, str], hyps: dict[str, str]) -> int:
    """Substitutions + deletions + insertions, counted by jiwer (not the project's scorer)."""
    import jiwer

    assert sorted(hyps) == sorted(refs)
    total = 0
    for cut_id, ref in refs.items():
        if hyps[cut_id].split():
            out = jiwer.process_words(ref, hyps[cut_id])
            total += out.substitutions + out.deletions + out.insertions
        else:
            total += len(ref.split())
    return total


SCALES = (3.0, 1.0, 0.5, 0.05)  # the random model's errors: 30, 14, 6, 6 (the worst first; the best tied)


def test_tune_picks_the_lowest_error_and_params_decode_with_it(setup, tmp_path):
    refs = {c.id: c.supervisions[0].text for c in CutSet.from_file(setup["cuts"])}
    cache = ("--method", "wfst", "--lm", setup["lm"], "--emissions", tmp_path / "posteriors.pt")
    grid = "acoustic_scale=" + ",".join(f"{s:g}" for s in SCALES)
    code, out = decode(setup, tmp_path / "dev.txt", *cache, "--tune", "--grid", grid)
    assert code == 0, out
    tuned = json.loads((tmp_path / "dev.tune.json").read_text())
    assert tuned["method"] == "wfst" and [p["acoustic_scale"] for p in tuned["grid"]] == list(SCALES)
    # every grid point decoded on its own and scored independently
    errors = {}
    for scale in SCALES:
        code, out = decode(setup, tmp_path / f"scale{scale:g}.txt", *cache, "--acoustic-scale", scale)
        assert code == 0, out
        errors[scale] = word_errors(refs, hypotheses(tmp_path / f"scale{scale:g}.txt"))
    assert [p["errors"] for p in tuned["grid"]] == [errors[s] for s in SCALES], (tuned, errors)
    # the grid discriminates: the first point is not the best, and not every point scores alike
    assert errors[SCALES[0]] > min(errors.values())
    best = min(SCALES, key=errors.get)  # the lowest error; a tie goes to the earlier point
    assert tuned["best"] == {"acoustic_scale": best}, (tuned["best"], errors)
    words = sum(len(text.split()) for text in TEXTS)
    assert tuned["best_wer"] == pytest.approx(100 * errors[best] / words) and tuned["ref_words"] == words
    assert hypotheses(tmp_path / "dev.txt") == hypotheses(tmp_path / f"scale{best:g}.txt")
    # --params: the same output as the tuned weights given as options ...
    code, out = decode(setup, tmp_path / "test.txt", *cache, "--params", tmp_path / "dev.tune.json")
    assert code == 0, out
    assert hypotheses(tmp_path / "test.txt") == hypotheses(tmp_path / f"scale{best:g}.txt")
    # ... and a file with other weights decodes with those
    worst = max(SCALES, key=errors.get)
    other = tmp_path / "other.tune.json"
    other.write_text(json.dumps({**tuned, "best": {"acoustic_scale": worst}}))
    code, out = decode(setup, tmp_path / "other.txt", *cache, "--params", other)
    assert code == 0, out
    assert hypotheses(tmp_path / "other.txt") == hypotheses(tmp_path / f"scale{worst:g}.txt")
    assert hypotheses(tmp_path / "other.txt") != hypotheses(tmp_path / "test.txt")


@pytest.mark.parametrize(
    "options, expected",
    [
        (("--method", "beam", "--lm", "{root}/no-lm"), "no-lm"),
        (("--method", "wfst", "--lm", "{root}/no-lm"), "no-lm"),
        (
            (
                "--method",
                "wfst",
            ),
            "--lm",
        ),
        (
            ("--params", "{root}/missing.tune.json", "--method", "wfst", "--lm", "{root}/lm"),
            "missing.tune.json",
        ),
        (("--tune",), "no weights to tune"),
        (("--method", "wfst", "--lm", "{root}/lm", "--tune", "--grid", "lm_weight=1"), "lm_weight"),
        (("--method", "wfst", "--lm", "{root}/lm", "--tune", "--grid", "acoustic_scale=x"), "acoustic_scale"),
        (("--method", "wfst", "--lm", "{root}/lm", "--acoustic-scale", "-1"), "acoustic_scale"),
        (("--tokenizer", "{root}/nowhere"), "nowhere"),
        pytest.param(
            ("--method", "wfst-k2", "--lm", "{root}/lm"),
            "k2 is not installed",
            marks=pytest.mark.skipif(importlib.util.find_spec("k2") is not None, reason="k2 installed"),
        ),
    ],
)
def test_user_mistakes(setup, tmp_path, options, expected):
    options = [o.format(root=setup["root"]) for o in options]
    code, out = decode(setup, tmp_path / "hyp.txt", *options)
    assert code == 2 and expected in out, out
    assert not (tmp_path / "hyp.txt").exists()


def test_tokenizer_model_mismatch(setup, tmp_path):
    from asr.text.tokenizer import PhoneTokenizer

    phones = PhoneTokenizer().save(tmp_path / "phones")
    code, out = decode(setup, tmp_path / "hyp.txt", "--tokenizer", phones)
    assert code == 2 and "tokens" in out and str(phones) in out, out


def test_missing_lm_file_in_lm_folder(setup, tmp_path):
    broken = tmp_path / "lm"
    broken.mkdir()
    (broken / "words.txt").write_text((setup["lm"] / "words.txt").read_text())  # no lm.arpa
    code, out = decode(setup, tmp_path / "hyp.txt", "--method", "wfst", "--lm", broken)
    assert code == 2 and "lm.arpa" in out, out

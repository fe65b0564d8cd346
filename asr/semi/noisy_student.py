"""The noisy-student loop (Park et al., 2020): teacher → pseudo-labels → noisy student → next teacher.

Generation ``g`` (1 … G) lives in ``exp_dir/gen<g>/``:

* ``pseudo/``: the teacher's pseudo-labels of the unlabelled cuts (:func:`~asr.semi.pseudo_label.pseudo_label`),
* ``train_cuts.jsonl.gz``: the labelled cuts and the kept pseudo-labelled cuts, mixed so that about
  ``labelled_share`` of the audio is labelled (the smaller side repeated),
* ``student/``: the student, trained *with noise* (the fine-tuning settings' SpecAugment-style masking
  and dropout, plus speed perturbation) from ``student_init``; its ``ctc_model.pt`` is the next teacher,
* ``dev/``: the student's dev-set hypotheses and error rate, and ``done.json`` when all of that is finished.

Every step resumes (pseudo-labelling by chunk, training from its last checkpoint); a generation with
``done.json`` is skipped, so a killed loop continues in the generation it was killed in.
``exp_dir/generations.json`` lists each generation's dev error rate and pseudo-label counts.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lhotse import CutSet

from asr.data.common import save_manifest
from asr.data.dataset import load_cuts, unlabelled_cuts
from asr.decoding.emissions import decode_cuts
from asr.decoding.factory import make_decoder
from asr.errors import UserError
from asr.files import load_checkpoint, write_atomic
from asr.objectives.ctc import load_ctc_model, transcript_ids
from asr.scoring.wer import compute_wer
from asr.text.tokenizer import load_tokenizer
from asr.training.checkpoint import plain
from asr.training.finetune import check_units, finetune

from .online_ensemble import repeat_to_share
from .pseudo_label import FilterConfig, pseudo_label

log = logging.getLogger(__name__)

STUDENT_INITS = ("scratch", "teacher")


@dataclass
class NoisyStudentConfig:
    """The loop's settings (the student's training settings are the fine-tuning ones)."""

    generations: int = 2
    labelled_share: float = 0.5  # share of each student's training audio that is labelled; <= 0: plain union
    student_init: str = "teacher"  # "teacher" (continue from it), "scratch", or a path to an encoder
    speed_perturb: bool = True  # noise on the input, besides the settings' masking and dropout
    method: str = "beam"  # how the teacher decodes: greedy | beam | wfst
    lm_dir: str | None = None
    decoder_settings: dict[str, Any] = field(default_factory=dict)  # BeamSearchConfig / WfstConfig fields
    filter: FilterConfig = field(default_factory=FilterConfig)
    chunk_size: int = 200
    average: int = 1

    def __post_init__(self) -> None:
        if isinstance(self.filter, dict):
            self.filter = FilterConfig(**self.filter)
        if self.generations < 1:
            raise ValueError(f"generations must be >= 1, got {self.generations}")


class NoisyStudentError(UserError):
    """The loop cannot go on (the message says why and what to do)."""


def error_rate(
    model_path: Path,
    cuts_path: Path,
    out_dir: Path,
    method: str,
    lm_dir: Path | None,
    settings: dict[str, Any],
    progress: bool = False,
) -> dict[str, Any]:
    """Decode ``cuts_path`` with the model and score against its transcripts (phones for phone units).

    Writes ``out_dir/hyp.txt``, ``ref.txt`` and ``wer.json``; returns the score (``wer``: word, character
    or phone error rate in %, by the tokenizer's units).
    """

    model, tokenizer_dir = load_ctc_model(model_path)
    tokenizer = load_tokenizer(tokenizer_dir)
    decoder = make_decoder(method, tokenizer, lm_dir, **(settings if method != "greedy" else {}))
    cuts = load_cuts(cuts_path)
    refs = {c.id: tokenizer.decode(transcript_ids(tokenizer, c)).split() for c in cuts}
    nbest = decode_cuts(model, cuts, decoder, progress=progress)
    hyps = {k: (v[0].text.split() if v else []) for k, v in nbest.items()}
    result = compute_wer(refs, hyps)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, texts in (("ref.txt", refs), ("hyp.txt", hyps)):
        write_atomic(
            out_dir / name, "".join(f"{k} {' '.join(v)}\n" for k, v in sorted(texts.items())).encode()
        )
    score = {
        "wer": round(result.wer, 2),
        "errors": result.errors,
        "ref_words": result.ref_words,
        "units": tokenizer.kind,
        "method": method,
        "model": str(model_path),
        "cuts": str(cuts_path),
    }
    write_atomic(out_dir / "wer.json", (json.dumps(score) + "\n").encode())
    return score


def run_noisy_student(
    labelled: Path,
    unlabelled: Path,
    dev: Path,
    tokenizer_dir: Path,
    teacher: Path,
    exp_dir: Path,
    settings: dict[str, dict[str, Any]],
    cfg: NoisyStudentConfig,
    progress: bool = True,
    validator=None,
) -> list[dict[str, Any]]:
    """Run (or resume) ``cfg.generations`` noisy-student generations from the CTC model ``teacher``.

    ``settings``: the student's fine-tuning sections (``model``, ``objective``, ``train``). Returns one
    record per generation (also written to ``exp_dir/generations.json``). ``validator``: each student's
    learning curve (:func:`asr.training.finetune.finetune`'s).
    """

    from asr.text.tokenizer import load_tokenizer

    exp_dir, tokenizer_dir = Path(exp_dir), Path(tokenizer_dir)
    tokenizer = load_tokenizer(tokenizer_dir)
    if not Path(teacher).is_file():
        raise FileNotFoundError(f"{teacher}: no such teacher model (a ctc_model.pt from asr finetune)")
    check_units(Path(teacher), load_checkpoint(teacher), tokenizer, tokenizer_dir)
    lm_dir = Path(cfg.lm_dir) if cfg.lm_dir else None
    exp_dir.mkdir(parents=True, exist_ok=True)
    record = plain(cfg) | {"teacher": str(teacher)}
    write_atomic(exp_dir / "nst.json", (json.dumps(record, indent=1) + "\n").encode())
    records = []
    if not (exp_dir / "gen0" / "dev" / "wer.json").is_file():
        error_rate(
            Path(teacher), dev, exp_dir / "gen0" / "dev", cfg.method, lm_dir, cfg.decoder_settings, progress
        )
    records.append(
        {
            "generation": 0,
            "model": str(teacher),
            "dev": json.loads((exp_dir / "gen0" / "dev" / "wer.json").read_text()),
        }
    )
    pool = None
    for g in range(1, cfg.generations + 1):
        gen = exp_dir / f"gen{g}"
        done = gen / "done.json"
        if done.is_file():
            record = json.loads(done.read_text())
            records.append(record)
            teacher = Path(record["model"])
            log.info("generation %d already done (dev error rate %.2f %%)", g, record["dev"]["wer"])
            continue
        log.info("generation %d: teacher %s", g, teacher)
        model, _ = load_ctc_model(teacher)
        decoder = make_decoder(
            cfg.method, tokenizer, lm_dir, **(cfg.decoder_settings if cfg.method != "greedy" else {})
        )
        if pool is None:
            pool = unlabelled_cuts(unlabelled)
        summary = pseudo_label(
            model,
            tokenizer,
            decoder,
            pool,
            gen / "pseudo",
            cfg.filter,
            teacher=str(teacher),
            chunk_size=cfg.chunk_size,
            progress=progress,
        )
        if summary is None:
            raise NoisyStudentError(f"{gen / 'pseudo'}: pseudo-labelling is not complete")
        train_cuts = gen / "train_cuts.jsonl.gz"
        if not train_cuts.is_file():
            pseudo = CutSet.from_file(gen / "pseudo" / "cuts.jsonl.gz").to_eager()
            mixed = repeat_to_share(load_cuts(labelled).to_eager(), pseudo, cfg.labelled_share)
            save_manifest(mixed, train_cuts)
        init = {"teacher": teacher, "scratch": None}.get(cfg.student_init, cfg.student_init)
        student = finetune(
            train_cuts,
            tokenizer_dir,
            gen / "student",
            settings,
            Path(init) if init else None,
            speed_perturb=cfg.speed_perturb,
            average=cfg.average,
            validator=validator,
            extra={"noisy_student": {"generation": g, "teacher": str(teacher)}},
        )
        dev_score = error_rate(
            student.model_path, dev, gen / "dev", cfg.method, lm_dir, cfg.decoder_settings, progress
        )
        record = {
            "generation": g,
            "model": str(student.model_path),
            "teacher": str(teacher),
            "dev": dev_score,
            "pseudo_labels": {k: summary[k] for k in ("cuts", "kept", "dropped_by_reason", "kept_seconds")},
            "steps": student.step,
        }
        write_atomic(done, (json.dumps(record, indent=1) + "\n").encode())
        records.append(record)
        teacher = student.model_path
    write_atomic(exp_dir / "generations.json", (json.dumps(records, indent=1) + "\n").encode())
    return records

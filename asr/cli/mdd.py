"""``asr mdd``: pronunciation assessment of a recording, and the reference files MDD scoring reads."""

from __future__ import annotations

import json
from pathlib import Path

import click

from asr.files import write_atomic

from . import cli

_file = click.Path(dir_okay=False, path_type=Path)


def model_option(help: str = "Phone model, as for `asr mdd diagnose`."):
    """The ``--model`` option of the commands that run a phone model."""
    return click.option("--model", "model_path", required=True, type=click.Path(path_type=Path), help=help)


def cuts_option(help: str):
    """The ``--cuts`` option of the commands that read a cut manifest."""
    return click.option("--cuts", "cuts_path", required=True, type=_file, help=help)


def score_model_option(f):
    """``--score-model PATH|none``: the learned scores a diagnosis carries (default: beside the model)."""
    return click.option(
        "--score-model",
        "score_model_path",
        help="Score model (asr mdd score-model fit: a folder with score_model.json, or the file) whose "
        "expert-scale scores each diagnosis carries; default: score_model.json beside the phone model when "
        "there is one; 'none': the heuristic scores only.",
    )(f)


def _scoring_run_options(f):
    """``--scored-only``, ``--threads`` and ``--progress`` of the commands that diagnose a corpus."""
    f = click.option("--progress/--no-progress", default=True, show_default=True)(f)
    f = click.option("--threads", type=int, help="torch CPU threads.")(f)
    return click.option("--scored-only", is_flag=True, help="Only the cuts that carry expert scores.")(f)


def _assessor_and_cuts(model_path: Path, cuts_path: Path, scored_only: bool, threads: int | None):
    """The phone model's assessor (its calibrated settings) and the scored cuts it is to judge."""
    import torch

    from asr.mdd.diagnosis import PronunciationAssessor
    from asr.mdd.experts import load_scored_cuts

    if threads:
        torch.set_num_threads(threads)
    return PronunciationAssessor.from_path(model_path), load_scored_cuts(cuts_path, scored_only)


@cli.group()
def mdd() -> None:
    """Mispronunciation detection and diagnosis (asr.mdd); scoring is `asr score mdd`."""


@mdd.command("diagnose")
@model_option("Phone model: an experiment folder (its ctc_model.pt), a ctc_model.pt or an .onnx export.")
@click.option(
    "--audio",
    "audio_path",
    required=True,
    type=_file,
    help="wav/flac/ogg/mp3, any rate and channel count.",
)
@click.option(
    "--text",
    help="What the speaker was asked to say. A word may carry its expected pronunciation in brackets: "
    "tomato[T AH M AA T OW], tomato[/təˈmɑːtoʊ/], alternatives either[IY DH ER|AY DH ER].",
)
@click.option(
    "--word-model",
    "word_model_path",
    type=click.Path(path_type=Path),
    help="Unscripted speech (no --text): a word CTC model (characters or BPE) recognises the words first.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the full result as one JSON object.")
@click.option(
    "--max-seconds", type=float, default=30.0, show_default=True, help="Longest recording accepted."
)
@click.option(
    "--flag-below-gop",
    default="0",
    show_default=True,
    help="Flag a phone the recogniser missed or heard as another only when its GOP is below this "
    "(another phone likelier there); 'none': flag every disagreement.",
)
@score_model_option
@click.option(
    "--prosody/--no-prosody",
    default=True,
    show_default=True,
    help="Compare intonation and breaks with espeak-ng's reading of the prompt.",
)
@click.option("--threads", type=int, help="torch CPU threads.")
def diagnose(
    model_path: Path,
    audio_path: Path,
    text: str | None,
    word_model_path: Path | None,
    as_json: bool,
    max_seconds: float,
    flag_below_gop: str,
    score_model_path: str | None,
    prosody: bool,
    threads: int | None,
) -> None:
    """Which sounds of TEXT were said right, which wrong, and what was said instead (with times and scores);
    fluency, lexical stress, word miscues and intonation against a reference reading; IPA in the JSON.

    Without --text (unscripted speech), --word-model recognises the words and they are judged instead; the
    output says so."""
    import torch

    from asr.data.audio import AudioLimits, read_audio
    from asr.mdd.assessment import AssessConfig, Assessor
    from asr.mdd.diagnosis import DiagnoseConfig, PronunciationAssessor
    from asr.mdd.score_model import attach_score_model
    from asr.mdd.unscripted import WordRecogniser

    if (text is None) == (word_model_path is None):
        raise click.UsageError(
            "give --text (the prompt), or --word-model to recognise the words (unscripted)"
        )
    if threads:
        torch.set_num_threads(threads)
    cfg = DiagnoseConfig(
        limits=AudioLimits(max_seconds=max_seconds), flag_below_gop=_gop_threshold(flag_below_gop)
    )
    assessor = PronunciationAssessor.from_path(model_path, cfg)
    attach_score_model(assessor, score_model_path)
    words = None if word_model_path is None else WordRecogniser.from_path(word_model_path)
    judge = Assessor(assessor, words, AssessConfig(reference=prosody))
    try:
        result = judge.assess(read_audio(audio_path, cfg.limits), text)
    finally:
        judge.close()
    if as_json:
        click.echo(json.dumps({**result.to_dict(), "model": assessor.about}, ensure_ascii=False))
    else:
        click.echo(f"{assessor.about}\n{result.summary()}")


@mdd.command("calibrate")
@click.option(
    "--model",
    "model_path",
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="Phone model (an experiment folder): calibration.json goes beside it.",
)
@cuts_option("Scored learners the model never heard and the test never uses (e.g. the sample's train part).")
@click.option(
    "--target-false-rejection",
    type=float,
    default=0.15,
    show_default=True,
    help="Share of expert-correct words the app may flag.",
)
@click.option(
    "--training-cuts",
    multiple=True,
    type=_file,
    help="Cuts the model trained on: refused if a calibration speaker is among theirs (repeatable).",
)
@click.option("--threads", type=int, help="torch CPU threads.")
def calibrate(
    model_path: Path,
    cuts_path: Path,
    target_false_rejection: float,
    training_cuts: tuple[Path, ...],
    threads: int | None,
) -> None:
    """Choose the leniency (flag_below_gop) whose false rejection on held-out scored learners meets the target."""
    from dataclasses import asdict

    import torch

    from asr.mdd.diagnosis import DiagnoseConfig, PronunciationAssessor
    from asr.mdd.experts import calibrate as run_calibration
    from asr.mdd.experts import check_unseen_speakers, load_scored_cuts
    from asr.mdd.model_card import write_calibration

    if threads:
        torch.set_num_threads(threads)
    cuts = load_scored_cuts(cuts_path)
    check_unseen_speakers(cuts, training_cuts)
    assessor = PronunciationAssessor.from_path(model_path, DiagnoseConfig())
    result = run_calibration(assessor, cuts, target_false_rejection, str(cuts_path))
    path = write_calibration(model_path, asdict(result))
    click.echo(
        f"flag_below_gop {result.flag_below_gop}: {100 * result.dev_false_rejection:.1f} % of "
        f"{result.dev_correct_words} expert-correct words flagged on {cuts_path.name} -> {path}"
    )


def _gop_threshold(value: str) -> float | None:
    if value.strip().lower() == "none":
        return None
    try:
        return float(value)
    except ValueError:
        raise click.BadParameter(f"{value!r}: a number or 'none'", param_hint="--flag-below-gop") from None


@mdd.command("reference")
@cuts_option("Annotated cuts (asr prepare l2arctic's test part).")
@click.option("--out-dir", required=True, type=click.Path(file_okay=False, path_type=Path))
def reference(cuts_path: Path, out_dir: Path) -> None:
    """Write canonical.txt and perceived.txt (utt-id ph ph ..., keyed by cut id) for `asr score mdd`."""
    from asr.mdd.reference import write_reference

    counts = write_reference(cuts_path, out_dir)
    click.echo(
        f"{counts['utterances']} utterances ({counts['skipped']} without annotation skipped) -> {out_dir}"
    )


@mdd.command("experts")
@model_option()
@cuts_option("Scored cuts (asr prepare speechocean762), e.g. its test part.")
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write experts.json (the counts) and words.jsonl (every word's verdicts).",
)
@click.option(
    "--good-accuracy",
    type=float,
    default=9.0,
    show_default=True,
    help="Sentence accuracy (0-10) from which an utterance counts as well spoken (PER column).",
)
@click.option(
    "--training-cuts",
    multiple=True,
    type=_file,
    help="Cuts the model trained on: refused if any judged speaker is among theirs (repeatable).",
)
@click.option("--label", default="", help="What this model is (a row name for T6), kept in experts.json.")
@click.option("--scored-only", is_flag=True, help="Diagnose only the scored cuts (no flagged-share proxy).")
@click.option(
    "--flag-below-gop",
    default="model",
    show_default=True,
    help="Flag a phone the recogniser missed or heard as another only when its GOP is below this "
    "(another phone likelier there); 'none': flag every disagreement; 'model': the model's "
    "calibration.json (asr mdd calibrate), else 0.",
)
@click.option("--threads", type=int, help="torch CPU threads.")
def experts(
    model_path: Path,
    cuts_path: Path,
    out_dir: Path | None,
    good_accuracy: float,
    training_cuts: tuple[Path, ...],
    label: str,
    scored_only: bool,
    flag_below_gop: str,
    threads: int | None,
) -> None:
    """The assessor's word verdicts against the experts' on real learners: false rejections and detections."""
    import torch

    from asr.mdd.diagnosis import PronunciationAssessor
    from asr.mdd.experts import check_unseen_speakers, judge_against_experts, load_scored_cuts

    if threads:
        torch.set_num_threads(threads)
    cuts = load_scored_cuts(cuts_path)
    check_unseen_speakers(cuts, training_cuts)
    if scored_only:
        cuts = cuts.filter(lambda c: "scores" in (c.supervisions[0].custom or {})).to_eager()
    from asr.mdd.diagnosis import DiagnoseConfig

    cfg = None if flag_below_gop == "model" else DiagnoseConfig(flag_below_gop=_gop_threshold(flag_below_gop))
    assessor = PronunciationAssessor.from_path(model_path, cfg)
    words_out = out_dir / "words.jsonl" if out_dir else None
    report = judge_against_experts(assessor, cuts, good_accuracy, words_out)
    click.echo(report.summary())
    if out_dir:
        data = {
            "label": label,
            "flag_below_gop": assessor.cfg.flag_below_gop,
            "calibration": assessor.calibration if cfg is None else None,
            "model": str(model_path),
            "cuts": str(cuts_path),
            "model_card": assessor.model_card,
            **report.to_dict(),
        }
        write_atomic(out_dir / "experts.json", (json.dumps(data, indent=1) + "\n").encode())


_scores_out = click.option("--out", required=True, type=_file, help="Scores JSON to write.")


def _features_option(help: str, multiple: bool = False):
    """``--features``: a feature file of ``asr mdd features`` (several with ``multiple``)."""
    name = "features_paths" if multiple else "features_path"
    return click.option("--features", name, required=True, multiple=multiple, type=_file, help=help)


@mdd.command("scores")
@model_option()
@cuts_option("Cuts whose text is the prompt (e.g. asr prepare speechocean762's test part).")
@_scores_out
@_scoring_run_options
def scores(
    model_path: Path, cuts_path: Path, out: Path, scored_only: bool, threads: int | None, progress: bool
) -> None:
    """The assessor's phone, word and sentence scores in speechocean762's shape (for `asr score pronunciation`):
    accuracy and completeness, and from the assessment fluency, intonation (prosodic) and word stress."""
    from asr.mdd.assessment import Assessor
    from asr.mdd.scores import predict_scores, write_scores

    assessor, cuts = _assessor_and_cuts(model_path, cuts_path, scored_only, threads)
    judge = Assessor(assessor)
    try:
        predicted, skipped = predict_scores(judge, cuts, progress)
    finally:
        judge.close()
    write_scores(predicted, out)
    for cut_id, why in skipped:
        click.echo(f"skipped {cut_id}: {why}", err=True)
    click.echo(f"{assessor.about}\nscored {len(predicted)} utterances ({len(skipped)} skipped) -> {out}")


@mdd.command("card")
@click.option(
    "--model",
    "model_path",
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="The model's experiment folder (or its ctc_model.pt): the card goes beside it.",
)
@click.option("--trained-on", required=True, help="Which corpora and voices it was trained on, in words.")
@click.option(
    "--real-speech/--synthetic-only",
    required=True,
    help="Whether any training audio was recorded from people.",
)
@click.option("--name", default="", help="A short name for the model.")
def card(model_path: Path, trained_on: str, real_speech: bool, name: str) -> None:
    """Write model_card.json (what the model heard), which `asr app` and `asr mdd diagnose` show."""
    from asr.mdd.model_card import write_model_card

    click.echo(write_model_card(model_path, trained_on, real_speech, name))


@mdd.command("features")
@model_option()
@cuts_option("Cuts whose text is the prompt, with expert scores to fit on (asr prepare speechocean762).")
@click.option("--out", required=True, type=_file, help="Features (.npz) to write.")
@_scoring_run_options
def features(
    model_path: Path, cuts_path: Path, out: Path, scored_only: bool, threads: int | None, progress: bool
) -> None:
    """Diagnose the cuts once and keep the score model's features (per canonical phone, word, utterance).

    Example: asr mdd features --model EXP --cuts speechocean762_cuts_train.jsonl.gz --scored-only
    --out train.npz, then `asr mdd score-model fit`.
    """
    from asr.mdd.score_model import extract_features

    assessor, cuts = _assessor_and_cuts(model_path, cuts_path, scored_only, threads)
    fs, skipped = extract_features(assessor, cuts, progress, str(cuts_path))
    fs.save(out)
    for cut_id, why in skipped:
        click.echo(f"skipped {cut_id}: {why}", err=True)
    click.echo(
        f"{len(fs.utt_id)} utterances, {len(fs.word_utt)} words, {len(fs.phone_utt)} phones "
        f"({len(skipped)} skipped) -> {out}"
    )


@mdd.group("score-model")
def score_model() -> None:
    """A learned score model (asr.mdd.score_model): fit on features with expert scores, then predict.

    asr mdd score-model fit --features train.npz --out-dir MODEL_DIR;
    asr mdd score-model predict --model-dir MODEL_DIR --features test.npz --out hyp.json;
    then asr score pronunciation --ref CORPUS --hyp hyp.json.
    """


_utterances = click.option(
    "--utterances",
    "utterances_path",
    type=_file,
    help="Use only these utterances: a cut manifest (its supervision ids) or one id a line.",
)


def _read_features(path: Path, utterances_path: Path | None):
    from asr.data.common import read_utterance_ids
    from asr.mdd.score_model import FeatureSet

    fs = FeatureSet.load(path)
    return fs if utterances_path is None else fs.subset(read_utterance_ids(utterances_path))


@score_model.command("fit")
@_features_option("Features with expert scores (asr mdd features).")
@click.option(
    "--out-dir", required=True, type=click.Path(file_okay=False, path_type=Path), help="Model folder."
)
@_utterances
def score_model_fit(features_path: Path, out_dir: Path, utterances_path: Path | None) -> None:
    """Fit ridge regressions per level and aspect; writes OUT_DIR/score_model.json (coefficients only)."""
    from asr.mdd.score_model import fit_score_model

    model = fit_score_model(_read_features(features_path, utterances_path), str(features_path))
    path = model.save(out_dir)
    for name, m in model.models.items():
        click.echo(f"{name:<22} rows {m.rows:5d}  alpha {m.alpha:g}  cross-validated PCC {m.cv_pcc}")
    click.echo(f"-> {path}")


@score_model.command("predict")
@click.option(
    "--model-dir",
    required=True,
    type=click.Path(path_type=Path),
    help="A folder with score_model.json (or the file).",
)
@_features_option("Features to score (asr mdd features).")
@_scores_out
@_utterances
def score_model_predict(
    model_dir: Path, features_path: Path, out: Path, utterances_path: Path | None
) -> None:
    """Predicted scores in `asr mdd scores`'s shape, for `asr score pronunciation --hyp`."""
    from asr.mdd.score_model import ScoreModel
    from asr.mdd.scores import write_scores

    model = ScoreModel.load(model_dir)
    predicted = model.predict(_read_features(features_path, utterances_path), str(features_path))
    write_scores(predicted, out)
    click.echo(f"scored {len(predicted)} utterances -> {out}")


@score_model.command("cv")
@_features_option(
    "Features with expert scores (asr mdd features); repeat to join several (both splits).", multiple=True
)
@click.option(
    "--cuts",
    "cuts_paths",
    required=True,
    multiple=True,
    type=_file,
    help="Cut manifests that name each utterance's speaker (the groups held out in turn); repeatable.",
)
@_scores_out
def score_model_cv(features_paths: tuple[Path, ...], cuts_paths: tuple[Path, ...], out: Path) -> None:
    """Leave one speaker out: every utterance predicted by a model fitted on the other speakers' utterances.

    On a small scored set (the shared sample: 60 utterances, 3 learners) this uses every scored utterance
    for the estimate instead of one split's; score the output with asr score pronunciation --hyp.
    """
    from lhotse import CutSet

    from asr.data.common import CorpusError
    from asr.mdd.score_model import FeatureSet, cross_validate
    from asr.mdd.scores import write_scores

    fs = FeatureSet.concat([FeatureSet.load(p) for p in features_paths], ", ".join(map(str, features_paths)))
    groups = {}
    for path in cuts_paths:
        if not path.is_file():
            raise CorpusError(f"cut manifest not found: {path}")
        for cut in CutSet.from_file(path):
            for sup in cut.supervisions:
                groups[sup.id] = str(sup.speaker)
    predicted = cross_validate(fs, groups, ", ".join(map(str, features_paths)))
    write_scores(predicted, out)
    speakers = {groups[u] for u in predicted}
    click.echo(
        f"{len(predicted)} utterances of {len(speakers)} speakers, each held out with its speaker -> {out}"
    )

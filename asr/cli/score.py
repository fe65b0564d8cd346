"""``asr score``: recognition output against references → WER as sclite counts it, and report files."""

from __future__ import annotations

from pathlib import Path

import click

from . import cli

_file = click.Path(dir_okay=False, path_type=Path)


@cli.group()
def score() -> None:
    """Score recognition output (Kaldi-style text files or lhotse cut manifests)."""


@score.command("wer")
@click.option("--ref", "ref_path", required=True, type=_file, help="Reference: text file or cuts.jsonl(.gz).")
@click.option(
    "--hyp", "hyp_path", required=True, type=_file, help="Hypothesis: text file or cuts.jsonl(.gz)."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the %WER line.")
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write recogs-, errs-, wer-summary-NAME.txt and ref-, hyp-NAME.trn here.",
)
@click.option("--name", help="Name in the report files (default: the hypothesis file's stem).")
@click.option("--case", type=click.Choice(["keep", "upper", "lower"]), default="keep", show_default=True)
@click.option("--punctuation", type=click.Choice(["keep", "remove"]), default="keep", show_default=True)
@click.option(
    "--ref-field", help="Score against this supervision field of --ref cuts (e.g. perceived_phones: PER)."
)
def wer(
    ref_path: Path,
    hyp_path: Path,
    as_json: bool,
    out_dir: Path | None,
    name: str | None,
    case: str,
    punctuation: str,
    ref_field: str | None,
) -> None:
    """Word (or, with --ref-field, phone) error rate of --hyp against --ref; both must hold the same utterance ids.

    --json also gives the character error rate of words (spaces between words counted as characters).
    """
    from asr.scoring.wer import Normalization, result_json, score_files, write_reports

    normalization = Normalization(case=case, punctuation=punctuation)  # type: ignore[arg-type]
    result = score_files(ref_path, hyp_path, normalization, ref_field)
    if out_dir is not None:
        write_reports(out_dir, name or _stem(hyp_path), result)
    # stdout holds only the result (one line), so that scripts can parse it; logs go to stderr.
    # Words also get their character error rate (phones, scored with --ref-field, do not).
    click.echo(result_json(result, cer=ref_field is None) if as_json else result.summary_line())


def _stem(path: Path) -> str:
    """``hyp.txt`` → ``hyp``; ``cuts_dev.jsonl.gz`` → ``cuts_dev`` (both suffixes go)."""
    name = path.name
    for suffix in (".jsonl.gz", ".jsonl"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


@score.command("mdd")
@click.option(
    "--canonical", "canonical_path", required=True, type=_file, help="Canonical phones (utt-id ph ph ...)."
)
@click.option(
    "--perceived", "perceived_path", required=True, type=_file, help="Annotated (perceived) phones."
)
@click.option("--hyp", "hyp_path", required=True, type=_file, help="Recognised phones.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print one JSON object (ta fr fa tr cd de precision recall f1 der per ...).",
)
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write mdd.json, alignment.txt (per utterance) and confusion.png here.",
)
@click.option(
    "--costs",
    type=click.Choice(["kaldi", "phonetic"]),
    default="kaldi",
    show_default=True,
    help="Alignment costs: kaldi = align-text's unit costs (the published convention).",
)
def mdd(
    canonical_path: Path,
    perceived_path: Path,
    hyp_path: Path,
    as_json: bool,
    out_dir: Path | None,
    costs: str,
) -> None:
    """Mispronunciation detection and diagnosis metrics (L2-ARCTIC convention; see asr.mdd.metrics).

    The three files must hold the same utterance ids; phones are ARPAbet in any case, stress digits and
    sil are dropped, err is kept. Rates are fractions.
    """
    import json

    from asr.mdd.metrics import score_files, write_report

    report = score_files(canonical_path, perceived_path, hyp_path, costs)  # type: ignore[arg-type]
    if out_dir is not None:
        write_report(report, out_dir)
    click.echo(json.dumps(report.counts.to_dict()) if as_json else report.summary())


@score.command("pronunciation")
@click.option(
    "--ref",
    "ref_path",
    required=True,
    type=click.Path(path_type=Path),
    help="Experts' scores: speechocean762 folder, scores.json, scores-detail.json or MI-1 utt2score.",
)
@click.option(
    "--hyp",
    "hyp_paths",
    type=_file,
    multiple=True,
    help="Predicted scores: JSON object, or JSON lines (*.jsonl); repeat for predictions split over files.",
)
@click.option("--experts", is_flag=True, help="Instead of --hyp: each expert against the mean of the others.")
@click.option(
    "--text-phone",
    type=_file,
    help="Canonical phones (default: the corpus's resource/text-phone found from --ref).",
)
@click.option(
    "--utterances",
    "utterances_path",
    type=_file,
    help="Score only these reference utterances: a cut manifest, a Kaldi text (e.g. CORPUS/test/text) "
    "or one id a line.",
)
@click.option(
    "--split",
    type=click.Choice(["train", "test"]),
    help="Score only the scored utterances of this split of the corpus folder --ref (its <split>/text).",
)
@click.option("--json", "json_out", type=_file, help="Also write the numbers here as JSON.")
def pronunciation(
    ref_path: Path,
    hyp_paths: tuple[Path, ...],
    experts: bool,
    text_phone: Path | None,
    utterances_path: Path | None,
    split: str | None,
    json_out: Path | None,
) -> None:
    """PCC and MSE of predicted pronunciation scores per level and aspect, pooled as GOPT does.

    With --experts: the human ceiling, each expert's scores against the mean of the other experts
    (needs per-expert scores: scores-detail.json or expert-scores-mi1/utt2score).
    """
    from asr.data.common import read_utterance_ids
    from asr.scoring.pronunciation import expert_agreement_file, format_table, score_files, write_json

    if experts == bool(hyp_paths):
        raise click.UsageError("give --hyp (one or more files) or --experts, not both")
    utterances = None if utterances_path is None else read_utterance_ids(utterances_path)
    if experts:
        result = expert_agreement_file(ref_path, text_phone, utterances, split)
    else:
        result = score_files(ref_path, hyp_paths, text_phone, utterances, split)
    if json_out is not None:
        write_json(result, json_out)
    click.echo(format_table(result))

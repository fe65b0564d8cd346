"""Scoring: word error rate as NIST sclite counts it (:mod:`asr.scoring.wer`) and pronunciation scores
against speechocean762's experts, PCC and MSE as GOPT reports them (:mod:`asr.scoring.pronunciation`)."""

from asr.scoring.pronunciation import (
    expert_agreement_file,
    inter_expert_agreement,
    read_hypothesis,
    read_reference,
    score_pronunciation,
)
from asr.scoring.wer import (
    Normalization,
    ScoringError,
    UttScore,
    WerResult,
    align,
    compute_wer,
    read_transcripts,
    score_files,
    write_reports,
)

__all__ = [
    "Normalization",
    "ScoringError",
    "UttScore",
    "WerResult",
    "align",
    "compute_wer",
    "read_transcripts",
    "score_files",
    "write_reports",
    "expert_agreement_file",
    "inter_expert_agreement",
    "read_hypothesis",
    "read_reference",
    "score_pronunciation",
]

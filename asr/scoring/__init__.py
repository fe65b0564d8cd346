"""Scoring recognition output: word error rate as NIST sclite counts it (:mod:`asr.scoring.wer`)."""

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
]

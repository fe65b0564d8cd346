"""Decoding CTC models: greedy best path over lhotse cuts (LM beam search and WFST decoding: planned)."""

from .greedy import transcribe, write_kaldi_text

__all__ = ["transcribe", "write_kaldi_text"]

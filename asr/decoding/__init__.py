"""Decoding CTC models: posteriors once (:mod:`.emissions`), then any search over them.

* :mod:`.greedy`: best path;
* :mod:`.beam`: beam search with a KenLM n-gram (torchaudio's flashlight decoder), lexicon-constrained or
  lexicon-free;
* :mod:`.wfst`: a TLG graph (kaldifst/kaldilm) searched with kaldi-decoder, or with k2 when installed;
* :mod:`.hypothesis`: n-best lists with posterior-based confidences, and their JSON-lines file.
"""

from .emissions import Decoder, collect_emissions, decode_cuts, iter_emissions, search
from .greedy import GreedyDecoder, transcribe, write_kaldi_text
from .hypothesis import Hypothesis, best_texts, read_nbest, write_nbest

__all__ = [
    "Decoder",
    "GreedyDecoder",
    "Hypothesis",
    "best_texts",
    "collect_emissions",
    "decode_cuts",
    "iter_emissions",
    "read_nbest",
    "search",
    "transcribe",
    "write_kaldi_text",
    "write_nbest",
]

"""Self-supervised objectives: wav2vec 2.0, HuBERT, data2vec, data2vec 2.0 (one module each, one interface)."""

from .base import LossOutput, Objective

__all__ = ["LossOutput", "Objective"]

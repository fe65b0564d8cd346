"""Semi-supervised training: offline pseudo-labels and noisy students; online-ensemble dynamic pseudo-labels."""

from .online_ensemble import OnlineEnsembleConfig, OnlineEnsembleObjective, combine_posteriors, mix_cuts
from .pseudo_label import FilterConfig, PseudoLabelError, Shard, filter_reason, pseudo_label

__all__ = [
    "FilterConfig",
    "OnlineEnsembleConfig",
    "OnlineEnsembleObjective",
    "PseudoLabelError",
    "Shard",
    "combine_posteriors",
    "filter_reason",
    "mix_cuts",
    "pseudo_label",
]

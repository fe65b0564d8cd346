"""One way to name a decoder: method + tokenizer + LM folder + settings -> a :class:`Decoder`.

The CLI, the tuning grid, the benchmarks and the semi-supervised recipes all build decoders here, so
"beam with lm_weight 1.5" means the same search everywhere.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from asr.errors import UserError
from asr.text.tokenizer import Tokenizer

from .emissions import Decoder
from .greedy import GreedyDecoder

METHODS = ("greedy", "beam", "wfst", "wfst-k2")

#: The settings ``asr decode --tune`` searches per method, and the default grids.
TUNABLE: dict[str, dict[str, tuple[float, ...]]] = {
    "greedy": {},
    "beam": {"lm_weight": (0.0, 0.5, 1.0, 2.0, 3.0), "word_score": (-1.0, 0.0, 1.0, 2.0)},
    "wfst": {"acoustic_scale": (0.3, 0.5, 0.7, 1.0, 1.5)},
    "wfst-k2": {"acoustic_scale": (0.3, 0.5, 0.7, 1.0, 1.5)},
}


class DecoderSettingsError(UserError):
    """A decoding method used with settings it does not take, or without the LM it needs."""


def _config(cls, settings: dict, method: str):
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(settings) - names)
    if unknown:
        raise DecoderSettingsError(
            f"{method} decoding has no setting(s) {unknown} (it takes {sorted(names)})"
        )
    try:
        return cls(**settings)
    except (TypeError, ValueError) as exc:
        raise DecoderSettingsError(f"{method} decoding: {exc}") from None


def make_decoder(
    method: str,
    tokenizer: Tokenizer,
    lm_dir: Path | None = None,
    *,
    lexicon_free: bool = False,
    graph_dir: Path | None = None,
    **settings,
) -> Decoder:
    """Build a decoder; ``settings`` are fields of the method's config (``BeamSearchConfig``, ``WfstConfig``).

    * ``greedy``: no LM, no settings;
    * ``beam``: ``lm_dir`` from ``asr lm build`` (``None``: beam search without an LM), lexicon-constrained
      unless ``lexicon_free``;
    * ``wfst``: the TLG graph in ``graph_dir``, or built (once, cached) from ``lm_dir``, searched by
      kaldi-decoder; ``wfst-k2``: the same graph searched by k2 (needs k2 installed).
    """
    settings = {k: v for k, v in settings.items() if v is not None}
    if method == "greedy":
        if settings:
            raise DecoderSettingsError(f"greedy decoding takes no settings, got {sorted(settings)}")
        return GreedyDecoder(tokenizer.decode, tokenizer.blank_id)
    if method == "beam":
        from .beam import BeamSearchConfig, build_beam_decoder

        cfg = _config(BeamSearchConfig, settings, method)
        return build_beam_decoder(tokenizer, Path(lm_dir) if lm_dir else None, cfg, lexicon_free=lexicon_free)
    if method in ("wfst", "wfst-k2"):
        from .wfst import K2WfstDecoder, WfstConfig, WfstDecoder, build_tlg

        cfg = _config(WfstConfig, settings, method)
        if graph_dir is None:
            if lm_dir is None:
                raise DecoderSettingsError("wfst decoding needs --lm (an `asr lm build` folder) or --graph")
            graph_dir = build_tlg(tokenizer, Path(lm_dir))
        decoder = K2WfstDecoder if method == "wfst-k2" else WfstDecoder
        return decoder(tokenizer, Path(graph_dir), cfg)
    raise DecoderSettingsError(f"unknown decoding method {method!r} (one of {', '.join(METHODS)})")

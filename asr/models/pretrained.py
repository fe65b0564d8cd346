"""Import local wav2vec 2.0 / HuBERT checkpoints (fairseq files or Hugging Face folders) into an Encoder.

Both formats go through torchaudio's import utilities to a torchaudio ``Wav2Vec2Model`` (Hugging Face: its
``import_huggingface_model``; fairseq, which need not be installed: its fairseq key conversion plus a model
config read from the checkpoint's ``cfg``/``args``), whose weights then map onto :class:`Encoder` by renaming
module prefixes. Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import ast
import json
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torchaudio.models.wav2vec2 import Wav2Vec2Model, wav2vec2_model
from torchaudio.models.wav2vec2.utils.import_fairseq import _convert_state_dict
from torchaudio.models.wav2vec2.utils.import_huggingface import _get_config, import_huggingface_model

from asr.errors import UserError
from asr.files import load_model_strict

from .encoder import Encoder, EncoderConfig


class PretrainedCheckpointError(UserError, ValueError):
    """A checkpoint in a format (or of an architecture) we cannot import; the message names the path."""


# torchaudio Wav2Vec2Model prefix -> Encoder prefix
_PREFIXES = (
    ("feature_extractor.", "feature_extractor."),
    ("encoder.feature_projection.", "feature_projection."),
    ("encoder.transformer.pos_conv_embed.", "pos_conv_embed."),
    ("encoder.transformer.layer_norm.", "layer_norm."),
    ("encoder.transformer.layers.", "layers."),
)
# fairseq Wav2Vec2Config / HubertConfig defaults for fields an old checkpoint may not spell out
_FAIRSEQ_DEFAULTS: dict[str, Any] = {
    "extractor_mode": "default",
    "conv_feature_layers": "[(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512, 2, 2)] * 2",
    "conv_bias": False,
    "encoder_embed_dim": 768,
    "dropout_input": 0.0,
    "conv_pos": 128,
    "conv_pos_groups": 16,
    "encoder_layers": 12,
    "encoder_attention_heads": 12,
    "attention_dropout": 0.1,
    "encoder_ffn_embed_dim": 3072,
    "activation_dropout": 0.0,
    "dropout": 0.1,
    "layer_norm_first": False,
    "encoder_layerdrop": 0.0,
}


def load_pretrained_encoder(path: str | Path, *, trust_pickle: bool = False, **overrides) -> Encoder:
    """An :class:`Encoder` (conv front-end + Transformer) with the weights of a local checkpoint.

    ``path`` is a fairseq wav2vec 2.0 / HuBERT checkpoint file (pretrained or CTC fine-tuned; the CTC head is
    dropped) or a Hugging Face model folder (``config.json`` + weights; ``wav2vec2`` or ``hubert``).
    fairseq files are read with ``torch.load(weights_only=True)``; a file that needs arbitrary unpickling is
    refused unless ``trust_pickle=True``. ``overrides`` change non-shape config fields (dropouts,
    ``layer_drop``, ``feature_grad_mult``).
    Raises ``FileNotFoundError`` or :class:`PretrainedCheckpointError`.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such checkpoint file or folder")
    if path.is_dir():
        model, config, mask_emb, normalize = _import_huggingface(path)
    else:
        model, config, mask_emb, normalize = _import_fairseq(path, trust_pickle)
    return encoder_from_wav2vec2(
        model, config, mask_embedding=mask_emb, normalize_audio=normalize, **overrides
    )


def load_encoder(path: str | Path, *, trust_pickle: bool = False, **overrides) -> Encoder:
    """An :class:`Encoder` from any checkpoint the toolkit reads, loaded strictly.

    ``path`` is this toolkit's ``encoder.pt`` (written at the end of ``asr pretrain``), one of its training
    checkpoints (``checkpoint-N.pt``: the encoder part of the objective), or what
    :func:`load_pretrained_encoder` imports (a fairseq file, a Hugging Face folder). ``overrides`` change
    non-shape config fields (dropouts, ``layer_drop``, ``feature_grad_mult``).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such checkpoint file or folder")
    if path.is_dir():
        return load_pretrained_encoder(path, trust_pickle=trust_pickle, **overrides)
    state = _load_checkpoint(path, trust_pickle)
    if isinstance(state, dict) and "encoder_config" in state and ("encoder" in state or "model" in state):
        if "encoder" in state:
            weights = state["encoder"]
        else:  # a training checkpoint: the objective's weights, the encoder's under "encoder." (CTC: "model.encoder.")
            prefix = (
                "model.encoder."
                if any(k.startswith("model.encoder.") for k in state["model"])
                else "encoder."
            )
            weights = {k[len(prefix) :]: v for k, v in state["model"].items() if k.startswith(prefix)}
        config = dict(state["encoder_config"])
        unknown = set(overrides) - set(config)
        if unknown:
            raise ValueError(f"unknown EncoderConfig field(s): {sorted(unknown)}")
        encoder = Encoder(EncoderConfig(**{**config, **overrides}))

        load_model_strict(encoder, weights, path)
        return encoder
    return load_pretrained_encoder(path, trust_pickle=trust_pickle, **overrides)


def encoder_from_wav2vec2(
    model: Wav2Vec2Model,
    config: Mapping[str, Any],
    mask_embedding: torch.Tensor | None = None,
    normalize_audio: bool = False,
    **overrides,
) -> Encoder:
    """Copy a torchaudio ``Wav2Vec2Model`` built by ``wav2vec2_model(**config)`` into a new :class:`Encoder`.

    Loads strictly: every source weight must have a place and every encoder weight a source (the mask
    embedding keeps its fresh initialisation when the source has none).
    """
    cfg = EncoderConfig(
        frontend="conv",
        body="transformer",
        dim=config["encoder_embed_dim"],
        layers=config["encoder_num_layers"],
        heads=config["encoder_num_heads"],
        ffn_dim=config["encoder_ff_interm_features"],
        conv_layers=tuple(config["extractor_conv_layer_config"]),
        conv_norm=config["extractor_mode"],
        conv_bias=config["extractor_conv_bias"],
        normalize_audio=normalize_audio,
        pos_conv_kernel=config["encoder_pos_conv_kernel"],
        pos_conv_groups=config["encoder_pos_conv_groups"],
        layer_norm_first=config["encoder_layer_norm_first"],
        dropout_input=config["encoder_projection_dropout"],
        dropout=config["encoder_dropout"],
        attention_dropout=config["encoder_attention_dropout"],
        activation_dropout=config["encoder_ff_interm_dropout"],
        layer_drop=config["encoder_layer_drop"],
    )
    for name, value in overrides.items():
        if not hasattr(cfg, name):
            raise ValueError(f"unknown EncoderConfig field {name!r}")
        setattr(cfg, name, value)
    encoder = Encoder(cfg)
    state = {}
    for key, value in model.state_dict().items():
        if key.startswith("aux."):  # a fine-tuned model's CTC head: not part of the encoder
            continue
        for src, dst in _PREFIXES:
            if key.startswith(src):
                state[dst + key[len(src) :]] = value
                break
        else:
            raise PretrainedCheckpointError(f"no place in Encoder for torchaudio weight {key!r}")
    state["mask_embedding"] = (
        encoder.mask_embedding.detach().clone() if mask_embedding is None else mask_embedding
    )
    encoder.load_state_dict(state, strict=True)
    return encoder


# -- Hugging Face -------------------------------------------------------------------------------------------
def _import_huggingface(path: Path) -> tuple[Wav2Vec2Model, dict, torch.Tensor | None, bool]:
    if not (path / "config.json").is_file():
        raise PretrainedCheckpointError(f"{path}: a folder without config.json is not a Hugging Face model")
    try:
        import transformers
    except ImportError as e:  # only a dev dependency
        raise PretrainedCheckpointError(f"{path}: importing a Hugging Face model needs `transformers`") from e
    try:
        hf_config = transformers.AutoConfig.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError) as e:
        raise PretrainedCheckpointError(f"{path}: unreadable config.json: {e}") from e
    if hf_config.model_type not in ("wav2vec2", "hubert"):
        raise PretrainedCheckpointError(
            f"{path}: model_type {hf_config.model_type!r} is not supported (wav2vec2 and hubert are)"
        )
    for name in ("feat_extract_activation", "hidden_act"):
        if getattr(hf_config, name, "gelu") != "gelu":
            raise PretrainedCheckpointError(f"{path}: {name}={getattr(hf_config, name)!r} is not supported")
    if hf_config.model_type == "hubert" and not getattr(hf_config, "feat_proj_layer_norm", True):
        raise PretrainedCheckpointError(
            f"{path}: HuBERT without a feature-projection layer norm is not supported"
        )
    try:
        # AutoModel gives the bare encoder even for a *ForCTC / *ForPreTraining folder (the head is dropped)
        original = transformers.AutoModel.from_pretrained(path, local_files_only=True).eval()
    except (OSError, ValueError) as e:
        raise PretrainedCheckpointError(f"{path}: cannot load the model weights: {e}") from e
    model = import_huggingface_model(original)
    mask_emb = getattr(original, "masked_spec_embed", None)
    mask_emb = None if mask_emb is None else mask_emb.detach().clone()
    normalize = False
    preprocessor = path / "preprocessor_config.json"
    if preprocessor.is_file():  # what the model's own pipeline did to the waveform
        normalize = bool(json.loads(preprocessor.read_text()).get("do_normalize", False))
    return model, _get_config(original.config), mask_emb, normalize


# -- fairseq ------------------------------------------------------------------------------------------------
def _import_fairseq(path: Path, trust_pickle: bool) -> tuple[Wav2Vec2Model, dict, torch.Tensor | None, bool]:
    checkpoint = _load_checkpoint(path, trust_pickle)
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("model"), Mapping):
        raise PretrainedCheckpointError(f"{path}: not a fairseq checkpoint (no 'model' state dict)")
    model_cfg, task_cfg = _fairseq_model_cfg(checkpoint, path)
    name = model_cfg.get("_name") or model_cfg.get("arch") or "wav2vec2"
    if not any(name.startswith(prefix) for prefix in ("wav2vec2", "hubert")):
        raise PretrainedCheckpointError(
            f"{path}: fairseq model {name!r} is not supported (wav2vec2 and hubert are)"
        )
    if (
        model_cfg.get("layer_type", "transformer") != "transformer"
        or int(model_cfg.get("pos_conv_depth", 1)) != 1
    ):
        raise PretrainedCheckpointError(
            f"{path}: only the plain Transformer wav2vec 2.0 / HuBERT encoder is supported"
        )
    config = _fairseq_to_torchaudio_config(model_cfg, path)

    state = {}
    for key, value in checkpoint["model"].items():
        key = key.removeprefix("w2v_encoder.")  # fine-tuned: w2v_encoder.w2v_model.* (+ w2v_encoder.proj)
        state[key] = value
    mask_emb = state.get("w2v_model.mask_emb", state.get("mask_emb"))
    try:
        converted = _convert_state_dict(state)
    except ValueError as e:
        raise PretrainedCheckpointError(f"{path}: {e}") from e
    # a fine-tuned model's CTC projection and HuBERT's label embeddings are not part of the encoder
    converted = {k: v for k, v in converted.items() if not k.startswith("aux.") and k != "label_embs_concat"}
    model = wav2vec2_model(**config, aux_num_out=None)
    model.load_state_dict(converted, strict=True)
    return model.eval(), config, mask_emb, bool(task_cfg.get("normalize", False))


def _load_checkpoint(path: Path, trust_pickle: bool) -> Any:
    try:
        if trust_pickle:
            return torch.load(path, map_location="cpu", weights_only=False)
        with torch.serialization.safe_globals([argparse.Namespace]):  # old checkpoints keep `args` as one
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        hint = "" if trust_pickle else " (if you trust the file, pass trust_pickle=True)"
        raise PretrainedCheckpointError(f"{path}: cannot read the checkpoint{hint}: {e}") from e
    except Exception as e:  # torch.load on a non-checkpoint fails in many ways (KeyError, EOFError, ...)
        raise PretrainedCheckpointError(f"{path}: not a readable torch checkpoint: {e}") from e


def _as_dict(cfg: Any) -> dict:
    if cfg is None:
        return {}
    if isinstance(cfg, argparse.Namespace):
        return vars(cfg)
    if isinstance(cfg, Mapping):
        return dict(cfg)
    raise TypeError(f"unexpected config type {type(cfg).__name__}")


def _fairseq_model_cfg(checkpoint: dict, path: Path) -> tuple[dict, dict]:
    """(model cfg, task cfg) of a new-style (``cfg``: dict of sections) or old-style (``args``) checkpoint;
    for a fine-tuned model, those of the pretrained model it wraps (``w2v_args``)."""
    try:
        if checkpoint.get("cfg") is not None:
            cfg = _as_dict(checkpoint["cfg"])
            model_cfg, task_cfg = _as_dict(cfg.get("model")), _as_dict(cfg.get("task"))
        elif checkpoint.get("args") is not None:
            model_cfg = task_cfg = _as_dict(checkpoint["args"])
        else:
            raise PretrainedCheckpointError(f"{path}: fairseq checkpoint without 'cfg' or 'args'")
        inner = model_cfg.get("w2v_args")
        if inner is not None:
            inner = _as_dict(inner)
            if "model" in inner:
                return _as_dict(inner["model"]), _as_dict(inner.get("task"))
            return inner, inner
        if "w2v_path" in model_cfg:
            raise PretrainedCheckpointError(
                f"{path}: fine-tuned checkpoint without the pretrained model's w2v_args"
            )
    except TypeError as e:
        raise PretrainedCheckpointError(f"{path}: unreadable fairseq config: {e}") from e
    return model_cfg, task_cfg


def _fairseq_to_torchaudio_config(model_cfg: dict, path: Path) -> dict:
    """torchaudio ``wav2vec2_model`` arguments from a fairseq model config (fairseq defaults fill gaps)."""
    c = {**_FAIRSEQ_DEFAULTS, **{k: v for k, v in model_cfg.items() if v is not None}}
    modes = {"default": "group_norm", "layer_norm": "layer_norm"}
    if c["extractor_mode"] not in modes:
        raise PretrainedCheckpointError(f"{path}: unknown extractor_mode {c['extractor_mode']!r}")
    try:
        conv_layers = [tuple(int(v) for v in layer) for layer in _literal(c["conv_feature_layers"])]
    except (ValueError, TypeError) as e:
        raise PretrainedCheckpointError(
            f"{path}: bad conv_feature_layers {c['conv_feature_layers']!r}"
        ) from e
    return {
        "extractor_mode": modes[c["extractor_mode"]],
        "extractor_conv_layer_config": conv_layers,
        "extractor_conv_bias": bool(c["conv_bias"]),
        "encoder_embed_dim": int(c["encoder_embed_dim"]),
        "encoder_projection_dropout": float(c["dropout_input"]),
        "encoder_pos_conv_kernel": int(c["conv_pos"]),
        "encoder_pos_conv_groups": int(c["conv_pos_groups"]),
        "encoder_num_layers": int(c["encoder_layers"]),
        "encoder_num_heads": int(c["encoder_attention_heads"]),
        "encoder_attention_dropout": float(c["attention_dropout"]),
        "encoder_ff_interm_features": int(c["encoder_ffn_embed_dim"]),
        "encoder_ff_interm_dropout": float(c["activation_dropout"]),
        "encoder_dropout": float(c["dropout"]),
        "encoder_layer_norm_first": bool(c["layer_norm_first"]),
        "encoder_layer_drop": float(c["encoder_layerdrop"]),
    }


def _literal(expr: Any) -> Any:
    """Evaluate fairseq's conv spec string ("[(512, 10, 5)] + [(512, 3, 2)] * 4 ...") without ``eval``:
    literals combined with ``+`` and ``*`` only."""
    if not isinstance(expr, str):
        return expr

    def ev(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return node.value
        if isinstance(node, ast.List | ast.Tuple):
            return [ev(e) for e in node.elts]
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mult):
            left, right = ev(node.left), ev(node.right)
            return left + right if isinstance(node.op, ast.Add) else left * right
        raise ValueError(f"unsupported expression {ast.dump(node)}")

    return ev(ast.parse(expr, mode="eval"))

"""Public fine-tuned CTC checkpoints in Hugging Face's ``Wav2Vec2ForCTC`` folder layout, as our CTC models.

A folder holds ``config.json``, ``model.safetensors`` or ``pytorch_model.bin``, ``vocab.json`` and usually
``preprocessor_config.json`` (what ``huggingface-cli download`` or ``git clone`` of a model page gives).
:func:`load_hf_ctc_model` turns it into an :class:`HFCTCModel`: the decoding interface of
:class:`~asr.objectives.ctc.CTCModel` (``log_probs(audio, lengths) -> (log_probs [B, T, V], frames)``,
``vocab_size``, ``min_samples``, ``encoder.frame_shift``) over one of *our* tokenizers, so ``asr decode``,
``asr mdd diagnose`` and ``asr app`` use it unchanged. Nothing is downloaded and ``transformers`` is not
needed: the network is torchaudio's ``wav2vec2_model`` built from ``config.json`` with torchaudio's own
config translation (``_get_config``, as in :mod:`asr.models.pretrained`), the weights renamed onto it.

The model's outputs are mapped onto our vocabulary by merging posteriors (log-sum-exp of the tokens that
map to one of ours; ``<pad>``, the models' CTC blank, is our blank):

* **phoneme models** (espeak-ng IPA vocabularies, e.g. ``facebook/wav2vec2-lv-60-espeak-cv-ft``): each IPA
  token goes to its ARPAbet phone(s) by :func:`asr.text.ipa.ipa_to_arpabet`; the model presents the phone
  tokenizer's vocabulary without ``sil``/``err`` (blank + 39 phones). A token that is *two* phones
  (``ɑːɹ`` = AA R, ``ts`` = T S) needs two frames, so phoneme models run at twice the frame rate
  (``frame_shift`` 10 ms): each network frame ``t`` becomes two frames, the first giving such a token's
  probability to its first phone, the second splitting it by whether the token goes on in frame ``t + 1``
  (``p_t · p_{t+1}`` stays on the first phone, ``p_t · (1 - p_{t+1})`` moves to the second), so a run of
  frames of one token reads "first ... first second", one of each phone after CTC's merging of repeats.
  One-phone tokens (and the blank) keep their probability on both frames; every frame still sums to one.
* **character models** (e.g. ``facebook/wav2vec2-base-960h``): letters (upper-cased), ``'`` and the word
  delimiter ``|`` go to :class:`~asr.text.tokenizer.CharTokenizer`'s tokens, at the network's frame rate.

Outputs with no place in our vocabulary (``<s>``, ``<unk>``, ``ʔ``, a digit in a character model) are
*unmappable*: their probability goes to the blank (the frame then says "no phone of ours here"), and each
one greedy CTC decoding would have emitted is counted in :attr:`HFCTCModel.unmappable` for the caller to
report. ``preprocessor_config.json``'s ``do_normalize`` (zero mean, unit variance per utterance over its
valid samples, as the Hugging Face feature extractor does) is honoured; without the file, utterances are
normalised for layer-norm (large, "stable layer norm") models, as they were trained, and not otherwise.
"""

from __future__ import annotations

import atexit
import json
import logging
import math
import shutil
import struct
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch
from torch import Tensor, nn
from torchaudio.models.wav2vec2 import wav2vec2_model
from torchaudio.models.wav2vec2.utils.import_huggingface import _get_config

from .pretrained import PretrainedCheckpointError

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
CONFIG, VOCAB, PREPROCESSOR = "config.json", "vocab.json", "preprocessor_config.json"
WEIGHTS = ("model.safetensors", "pytorch_model.bin")
#: Files that make a folder a Hugging Face model folder (for the loaders' dispatch).
HF_FILES = (CONFIG, VOCAB, PREPROCESSOR, *WEIGHTS)
#: Log-probability of one of our tokens no output maps to (exp underflows to 0; finite, so sums stay finite).
FLOOR = -1e4
# transformers' Wav2Vec2Config defaults, for fields a config.json leaves out
_HF_DEFAULTS: dict[str, Any] = {
    "feat_extract_norm": "group",
    "conv_dim": [512] * 7,
    "conv_kernel": [10, 3, 3, 3, 3, 2, 2],
    "conv_stride": [5, 2, 2, 2, 2, 2, 2],
    "conv_bias": False,
    "hidden_size": 768,
    "feat_proj_dropout": 0.0,
    "num_conv_pos_embeddings": 128,
    "num_conv_pos_embedding_groups": 16,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "attention_dropout": 0.1,
    "intermediate_size": 3072,
    "activation_dropout": 0.1,
    "hidden_dropout": 0.1,
    "do_stable_layer_norm": False,
    "layerdrop": 0.1,
}
# Hugging Face Wav2Vec2ForCTC prefix -> torchaudio Wav2Vec2Model prefix
_RENAMES = (
    ("wav2vec2.feature_extractor.", "feature_extractor."),
    ("wav2vec2.feature_projection.", "encoder.feature_projection."),
    ("wav2vec2.encoder.", "encoder.transformer."),
    ("lm_head.", "aux."),
)
_SAFETENSORS_DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}


def is_hf_ctc_folder(path: str | Path) -> bool:
    """True for a folder with any Hugging Face model file and no ``ctc_model.pt`` of ours."""
    path = Path(path)
    return (
        path.is_dir()
        and not (path / "ctc_model.pt").exists()
        and any((path / name).exists() for name in HF_FILES)
    )


# -- the vocabulary map -------------------------------------------------------------------------------------
@dataclass
class VocabMap:
    """Where each of the checkpoint's outputs goes among our tokens.

    ``first[v]`` is output ``v``'s token of ours (0, the blank, for the blank and unmappable outputs);
    ``second[v]`` the second phone of a two-phone output, -1 otherwise. ``unmappable`` names the outputs that
    have no place, with the reason.
    """

    kind: str  # "phone" or "char": the tokenizer whose tokens are the targets
    source: list[str]  # the checkpoint's vocabulary, by id
    targets: list[str]  # our tokens, by id (0 = blank)
    first: list[int]
    second: list[int]
    blank: int  # the checkpoint's blank id
    unmappable: dict[str, str] = field(default_factory=dict)

    @property
    def doubled(self) -> bool:
        """Whether some output is two tokens of ours (then frames are doubled, see the module docs)."""
        return any(s >= 0 for s in self.second)


def phone_vocab_map(source: list[str], blank: int) -> VocabMap:
    """An espeak-ng IPA vocabulary onto blank + 39 ARPAbet phones (:func:`asr.text.ipa.ipa_to_arpabet`)."""
    from asr.text.ipa import UnmappableToken, ipa_to_arpabet
    from asr.text.phones import ARPABET_PHONES
    from asr.text.tokenizer import BLANK

    targets = [BLANK, *ARPABET_PHONES]
    index = {t: i for i, t in enumerate(targets)}
    first, second, unmappable = [], [], {}
    for v, symbol in enumerate(source):
        phones: tuple[str, ...] = ()
        if v != blank:
            try:
                phones = ipa_to_arpabet(symbol)
            except UnmappableToken as exc:
                unmappable[symbol] = exc.reason
        first.append(index[phones[0]] if phones else 0)
        second.append(index[phones[1]] if len(phones) == 2 else -1)
    return VocabMap("phone", source, targets, first, second, blank, unmappable)


def char_vocab_map(source: list[str], blank: int) -> VocabMap:
    """A letter vocabulary (``|`` or a space between words) onto :class:`~asr.text.tokenizer.CharTokenizer`'s
    tokens; letters of either case go to the upper-case token."""
    from asr.text.tokenizer import CharTokenizer

    targets = CharTokenizer().tokens
    index = {t: i for i, t in enumerate(targets)}
    first, unmappable = [], {}
    for v, symbol in enumerate(source):
        ours = "|" if symbol == " " else symbol.upper() if len(symbol) == 1 else symbol
        if v != blank and ours not in index:
            unmappable[symbol] = "not a letter, apostrophe or word delimiter"
        first.append(index.get(ours, 0) if v != blank else 0)
    return VocabMap("char", source, targets, first, [-1] * len(source), blank, unmappable)


def _grouped_logsumexp(values: Tensor, columns: Tensor, width: int) -> Tensor:
    """``out[..., c] = logsumexp(values[..., k] for k with columns[k] == c)`` (-inf where none), float64."""
    top = values.amax(dim=-1, keepdim=True).clamp_min(-1e30)  # -inf frames: keep exp() finite
    onehot = torch.zeros(values.shape[-1], width, dtype=values.dtype)
    onehot[torch.arange(values.shape[-1]), columns] = 1.0
    return torch.log(torch.exp(values - top) @ onehot) + top


def _log1mexp(x: Tensor) -> Tensor:
    """log(1 - exp(x)) for x <= 0, accurate at both ends."""
    return torch.where(x > -math.log(2), torch.log(-torch.expm1(x)), torch.log1p(-torch.exp(x)))


def merge_log_probs(log_probs: Tensor, frames: Tensor, vmap: VocabMap) -> tuple[Tensor, Tensor]:
    """The checkpoint's log-probabilities ``[B, T, V]`` as ours ``[B, T', C]`` (``T' = 2T`` when
    :attr:`VocabMap.doubled`), with the valid frames per row; the merge is the module docs'."""
    lp = log_probs.detach().to("cpu", torch.float64)
    first = torch.tensor(vmap.first)
    width = len(vmap.targets)
    merged = _grouped_logsumexp(lp, first, width)
    if vmap.doubled:
        two = torch.tensor([v for v, s in enumerate(vmap.second) if s >= 0])
        second = torch.tensor([vmap.second[v] for v in two.tolist()])
        # the token's log-probability in the next valid frame (-inf after the last one)
        valid_next = torch.arange(lp.shape[1])[None, :] + 1 < frames.to("cpu")[:, None]
        nxt = torch.full_like(lp[..., two], -math.inf)
        nxt[:, :-1] = lp[:, 1:, two]
        nxt = nxt.masked_fill(~valid_next[..., None], -math.inf)
        stay = lp.clone()
        stay[..., two] = lp[..., two] + nxt
        moved = lp[..., two] + _log1mexp(nxt)
        later = _grouped_logsumexp(torch.cat([stay, moved], -1), torch.cat([first, second]), width)
        merged = torch.stack([merged, later], dim=2).flatten(1, 2)
        frames = frames * 2
    return merged.clamp_min(FLOOR).float(), frames


def count_unmappable(log_probs: Tensor, frames: Tensor, vmap: VocabMap) -> Counter[str]:
    """Unmappable outputs that greedy CTC decoding of ``log_probs`` [B, T, V] would emit, by symbol."""
    counts: Counter[str] = Counter()
    if not vmap.unmappable:
        return counts
    best = log_probs.argmax(dim=-1).cpu()
    for row, n in enumerate(frames.tolist()):
        previous = -1
        for token in best[row, :n].tolist():
            if token != previous and token != vmap.blank and vmap.source[token] in vmap.unmappable:
                counts[vmap.source[token]] += 1
            previous = token
    return counts


# -- the model ----------------------------------------------------------------------------------------------
class _Frames:
    """What callers read of ``model.encoder``: the frame shift in seconds."""

    def __init__(self, frame_shift: float) -> None:
        self.frame_shift = frame_shift


class HFCTCModel(nn.Module):
    """A Hugging Face ``Wav2Vec2ForCTC`` checkpoint with our CTC model's decoding interface (module docs).

    ``network`` is the torchaudio ``Wav2Vec2Model`` (with its CTC head); ``vmap`` maps its outputs onto
    our tokens. ``unmappable`` counts, over all calls, the unmappable outputs greedy decoding would have
    emitted (``last_unmappable``: those of the last call); ``description`` says in one line what is served.
    """

    def __init__(
        self,
        network: nn.Module,
        vmap: VocabMap,
        *,
        normalize: bool,
        per_utterance: bool,
        conv_layers: list[tuple[int, int, int]],
        tokenizer_dir: Path | None = None,
        description: str = "",
    ) -> None:
        super().__init__()
        self.network = network.eval()
        self.vmap = vmap
        self.normalize = normalize
        # group-norm feature extractors normalise over the whole (padded) input: run rows one at a time
        self.per_utterance = per_utterance
        self.conv_layers = conv_layers
        stride = math.prod(s for _, _, s in conv_layers)
        self.encoder = _Frames(stride / SAMPLE_RATE / (2 if vmap.doubled else 1))
        self.tokenizer_dir = tokenizer_dir
        self.description = description
        self.unmappable: Counter[str] = Counter()
        self.last_unmappable: Counter[str] = Counter()

    @property
    def vocab_size(self) -> int:
        """Size of *our* vocabulary (blank included), which :meth:`log_probs` covers."""
        return len(self.vmap.targets)

    @property
    def min_samples(self) -> int:
        """The shortest input (in samples) the feature extractor gives a frame for (its receptive field)."""
        field_, jump = 1, 1
        for _, kernel, stride in self.conv_layers:
            field_ += (kernel - 1) * jump
            jump *= stride
        return field_

    def num_frames(self, samples: Tensor) -> Tensor:
        """Network frames for inputs of ``samples`` samples (before any doubling)."""
        n = samples.clone()
        for _, kernel, stride in self.conv_layers:
            n = torch.div(n - kernel, stride, rounding_mode="floor") + 1
        return n.clamp_min(0)

    def network_log_probs(self, audio: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """The checkpoint's own log-probabilities ``[B, T, V]`` over its vocabulary, and valid frames."""
        from asr.models.encoder import check_audio_batch

        check_audio_batch(audio, self.min_samples)
        device = next(self.network.parameters()).device
        audio = audio.to(device, torch.float32)
        if lengths is None:
            lengths = torch.full((audio.shape[0],), audio.shape[1], dtype=torch.long)
        lengths = lengths.to(device)
        if self.normalize:  # Wav2Vec2FeatureExtractor's zero_mean_unit_var_norm over the valid samples
            valid = torch.arange(audio.shape[1], device=device)[None, :] < lengths[:, None]
            n = lengths[:, None].to(audio.dtype)
            mean = (audio * valid).sum(1, keepdim=True) / n
            var = (((audio - mean) * valid) ** 2).sum(1, keepdim=True) / n
            audio = torch.where(valid, (audio - mean) / torch.sqrt(var + 1e-7), 0.0)
        with torch.no_grad():
            if self.per_utterance:
                frames = self.num_frames(lengths)
                logits = torch.full(
                    (audio.shape[0], int(frames.max()), len(self.vmap.source)), 0.0, device=device
                )
                for row, n in enumerate(lengths.tolist()):
                    out, _ = self.network(audio[row : row + 1, :n])
                    logits[row, : out.shape[1]] = out[0]
            else:
                logits, frames = self.network(audio, lengths)
                frames = self.num_frames(lengths) if frames is None else frames
        return torch.log_softmax(logits.float(), dim=-1), frames

    def log_probs(self, audio: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``(log_probs [B, T, V] over our tokens, valid frames [B])`` for audio ``[B, S]`` at 16 kHz."""
        source, frames = self.network_log_probs(audio, lengths)
        self.last_unmappable = count_unmappable(source, frames, self.vmap)
        self.unmappable.update(self.last_unmappable)
        merged, frames = merge_log_probs(source, frames, self.vmap)
        return merged.to(audio.device), frames.to(audio.device)

    def forward(self, audio: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return self.log_probs(audio, lengths)


# -- loading ------------------------------------------------------------------------------------------------
def _read_json(path: Path, what: str) -> Any:
    if not path.is_file():
        raise PretrainedCheckpointError(
            f"{path}: missing ({what}); is this a Hugging Face Wav2Vec2ForCTC folder?"
        )
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PretrainedCheckpointError(f"{path}: unreadable JSON ({exc})") from exc


def read_safetensors(path: Path) -> dict[str, Tensor]:
    """The tensors of a ``.safetensors`` file (its documented layout: a u64 header size, a JSON header of
    dtypes, shapes and byte offsets, then the data), without the ``safetensors`` package."""
    data = bytearray(path.read_bytes())
    try:
        (size,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8 : 8 + size].decode("utf-8"))
        out = {}
        for name, entry in header.items():
            if name == "__metadata__":
                continue
            dtype, shape = _SAFETENSORS_DTYPES[entry["dtype"]], entry["shape"]
            begin, end = entry["data_offsets"]
            count = math.prod(shape)
            if end - begin != count * dtype.itemsize or 8 + size + end > len(data):
                raise ValueError(f"tensor {name!r}: byte range does not fit its shape or the file")
            raw = data[8 + size + begin : 8 + size + end]
            out[name] = (
                torch.frombuffer(raw, dtype=dtype, count=count).reshape(shape)
                if count
                else torch.empty(shape, dtype=dtype)
            )
        return out
    except (struct.error, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise PretrainedCheckpointError(f"{path}: not a readable safetensors file ({exc})") from exc


def _read_weights(folder: Path) -> tuple[dict[str, Tensor], Path]:
    for name in WEIGHTS:
        path = folder / name
        if not path.is_file():
            continue
        if name.endswith(".safetensors"):
            return read_safetensors(path), path
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except (
            Exception
        ) as exc:  # torch.load fails in many ways on a bad file (UnpicklingError, EOFError, ...)
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise PretrainedCheckpointError(f"{path}: not a readable torch weights file ({message})") from exc
        if not isinstance(state, dict):
            raise PretrainedCheckpointError(f"{path}: expected a state dict of tensors")
        return state, path
    sharded = [
        n for n in ("model.safetensors.index.json", "pytorch_model.bin.index.json") if (folder / n).exists()
    ]
    hint = f" (sharded weights, {sharded[0]}, are not supported)" if sharded else ""
    raise PretrainedCheckpointError(
        f"{folder / WEIGHTS[0]}: missing (nor {WEIGHTS[1]}): no model weights{hint}"
    )


def _rename(state: dict[str, Tensor], weights: Path) -> dict[str, Tensor]:
    """Hugging Face Wav2Vec2ForCTC weight names -> torchaudio Wav2Vec2Model (with ``aux`` as the CTC head)."""
    out, unknown = {}, []
    for key, value in state.items():
        if key in ("wav2vec2.masked_spec_embed",):  # training-time masking only
            continue
        # weight norm of the positional convolution: old files name its two halves weight_g / weight_v
        key = key.replace(".conv.weight_g", ".conv.parametrizations.weight.original0")
        key = key.replace(".conv.weight_v", ".conv.parametrizations.weight.original1")
        for src, dst in _RENAMES:
            if key.startswith(src):
                out[dst + key[len(src) :]] = value
                break
        else:
            unknown.append(key)
    if unknown:
        raise PretrainedCheckpointError(
            f"{weights}: weights that are not Wav2Vec2ForCTC's: {', '.join(sorted(unknown)[:4])}"
            f"{' ...' if len(unknown) > 4 else ''}"
        )
    return out


def _check_config(config: Any, path: Path) -> dict[str, Any]:
    if not isinstance(config, dict):
        raise PretrainedCheckpointError(f"{path}: expected a JSON object")
    if config.get("model_type", "wav2vec2") != "wav2vec2":
        raise PretrainedCheckpointError(
            f"{path}: model_type {config.get('model_type')!r}; only wav2vec2 (Wav2Vec2ForCTC) is supported"
        )
    architectures = config.get("architectures") or ["Wav2Vec2ForCTC"]
    if "Wav2Vec2ForCTC" not in architectures:
        raise PretrainedCheckpointError(f"{path}: architectures {architectures}: not a Wav2Vec2ForCTC model")
    for name in ("feat_extract_activation", "hidden_act"):
        if config.get(name, "gelu") != "gelu":
            raise PretrainedCheckpointError(f"{path}: {name}={config[name]!r} is not supported (gelu is)")
    if config.get("add_adapter"):
        raise PretrainedCheckpointError(f"{path}: add_adapter=true is not supported")
    if config.get("feat_extract_norm", "group") not in ("group", "layer"):
        raise PretrainedCheckpointError(
            f"{path}: feat_extract_norm={config['feat_extract_norm']!r} is not supported"
        )
    return {**_HF_DEFAULTS, **{k: v for k, v in config.items() if k in _HF_DEFAULTS and v is not None}}


def _read_vocab(path: Path) -> list[str]:
    vocab = _read_json(path, "the output symbols")
    if not isinstance(vocab, dict) or not vocab:
        raise PretrainedCheckpointError(f"{path}: expected a JSON object of symbol: id")
    ids = sorted(vocab.values()) if all(isinstance(i, int) for i in vocab.values()) else None
    if ids != list(range(len(vocab))):
        raise PretrainedCheckpointError(f"{path}: ids must be the integers 0..{len(vocab) - 1}, each once")
    source = [""] * len(vocab)
    for symbol, i in vocab.items():
        source[i] = symbol
    return source


def _kind(folder: Path, source: list[str], blank: int) -> str:
    """ "phone" (IPA) or "char" (letters): the tokenizer config's class, else the look of the vocabulary."""
    tokenizer_config = folder / "tokenizer_config.json"
    if tokenizer_config.is_file():
        try:
            name = str(json.loads(tokenizer_config.read_text(encoding="utf-8")).get("tokenizer_class", ""))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
            name = ""
        if "Phoneme" in name:
            return "phone"
    symbols = [s for i, s in enumerate(source) if i != blank and not s.startswith("<") and s not in "|' "]
    letters = sum(len(s) == 1 and s.isalpha() for s in symbols)
    has_delimiter = "|" in source or " " in source
    return "char" if has_delimiter and letters >= 0.8 * max(len(symbols), 1) else "phone"


_TOKENIZER_DIRS: dict[str, Path] = {}


def tokenizer_dir(kind: str) -> Path:
    """A tokenizer folder (written once per process, removed at exit) of the tokenizer an HF model maps onto:
    ``phone`` = blank + 39 ARPAbet phones (no ``sil``/``err``), ``char`` = :class:`CharTokenizer`."""
    if kind not in _TOKENIZER_DIRS:
        from asr.text.lexicon import Lexicon
        from asr.text.tokenizer import CharTokenizer, PhoneTokenizer

        root = Path(tempfile.mkdtemp(prefix=f"asr-hf-{kind}-tokenizer-"))
        atexit.register(shutil.rmtree, root, True)
        if kind == "phone":  # an empty lexicon: only the token list is saved, the loader brings CMUdict
            tokenizer = PhoneTokenizer(sil=False, err=False, lexicon=Lexicon(entries={}))
        else:
            tokenizer = CharTokenizer()
        _TOKENIZER_DIRS[kind] = tokenizer.save(root)
    return _TOKENIZER_DIRS[kind]


def load_hf_ctc_model(path: str | Path) -> tuple[HFCTCModel, Path]:
    """``(model, tokenizer folder)`` from a local Hugging Face ``Wav2Vec2ForCTC`` folder (module docs).

    Raises :class:`~asr.models.pretrained.PretrainedCheckpointError` naming the file at fault: a missing or
    unreadable ``config.json``/``vocab.json``/weights, an unsupported architecture, weights that do not fit
    the config, or a vocabulary whose size differs from the model's outputs.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise PretrainedCheckpointError(f"{folder}: not a folder (a Hugging Face model folder was expected)")
    config_path = folder / CONFIG
    raw = _read_json(config_path, "the model's settings")
    hf_config = _check_config(raw, config_path)
    source = _read_vocab(folder / VOCAB)
    blank = raw.get("pad_token_id")
    blank = (
        source.index("<pad>") if blank is None and "<pad>" in source else blank if blank is not None else 0
    )
    if not isinstance(blank, int) or not 0 <= blank < len(source):
        raise PretrainedCheckpointError(f"{config_path}: pad_token_id {blank!r} is not an id of {VOCAB}")
    state, weights = _read_weights(folder)
    head = state.get("lm_head.weight")
    if head is None or head.ndim != 2:
        raise PretrainedCheckpointError(f"{weights}: no lm_head.weight: not a CTC fine-tuned model")
    outputs = head.shape[0]
    if outputs != len(source):
        raise PretrainedCheckpointError(
            f"{folder / VOCAB}: {len(source)} symbols, but the model ({weights.name}) has {outputs} outputs"
        )
    if raw.get("vocab_size", outputs) != outputs:
        raise PretrainedCheckpointError(
            f"{config_path}: vocab_size {raw['vocab_size']}, but the model ({weights.name}) has {outputs} "
            "outputs"
        )
    ta_config = _get_config(SimpleNamespace(**hf_config))
    network = wav2vec2_model(**ta_config, aux_num_out=outputs)
    try:
        network.load_state_dict(_rename(state, weights), strict=True)
    except RuntimeError as exc:  # missing / unexpected keys, shape mismatches
        message = " ".join(str(exc).split())
        raise PretrainedCheckpointError(f"{weights}: weights do not fit {CONFIG}: {message[:300]}") from exc
    preprocessor = folder / PREPROCESSOR
    layer_norm = hf_config["feat_extract_norm"] == "layer"
    normalize = layer_norm
    if preprocessor.is_file():
        settings = _read_json(preprocessor, "")
        if not isinstance(settings, dict):
            raise PretrainedCheckpointError(f"{preprocessor}: expected a JSON object")
        if settings.get("sampling_rate", SAMPLE_RATE) != SAMPLE_RATE:
            raise PretrainedCheckpointError(
                f"{preprocessor}: sampling_rate {settings['sampling_rate']}; "
                f"only {SAMPLE_RATE} Hz models are supported"
            )
        normalize = bool(settings.get("do_normalize", True))  # the feature extractor's default
    kind = _kind(folder, source, blank)
    vmap = phone_vocab_map(source, blank) if kind == "phone" else char_vocab_map(source, blank)
    if kind == "phone":
        what = f"{len(source)} espeak-ng IPA phonemes mapped onto 39 ARPAbet phones"
    else:
        what = f"{len(source)} characters mapped onto A-Z, ' and |"
    unmappable = f", {len(vmap.unmappable)} outputs unmappable" if vmap.unmappable else ""
    description = f"{folder.name} (Hugging Face Wav2Vec2ForCTC; {what}{unmappable})"
    if vmap.unmappable:
        log.info("%s: outputs with no token of ours (ignored): %s", folder, " ".join(sorted(vmap.unmappable)))
    model = HFCTCModel(
        network,
        vmap,
        normalize=normalize,
        per_utterance=not layer_norm,
        conv_layers=[tuple(c) for c in ta_config["extractor_conv_layer_config"]],
        tokenizer_dir=tokenizer_dir(kind),
        description=description,
    )
    return model.eval(), model.tokenizer_dir

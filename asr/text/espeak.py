"""A small binding to the espeak-ng library: speech with phone timings, and phonemisation.

espeak-ng is the project's only speech source for synthetic corpora and the app's reference
pronunciations. It is driven through ``libespeak-ng`` with ctypes rather than the command line so
that (a) one process synthesises thousands of utterances without a process start each, and (b) the
library's *phoneme events* give the start sample of every phone it speaks, which is what makes the
phone boundaries of the synthetic L2-ARCTIC annotations real.

The library keeps one global synthesiser per process; :class:`EspeakEngine` is a thin handle to
it, so create one per process (worker) and do not share it between threads.

libespeak-ng 1.51 also keeps state *between* calls (a static pitch-flutter index, the wave phase,
libc ``rand()`` noise), so the same request gives different samples depending on what the process
spoke before. :class:`IsolatedSynthesizer` removes that history: each request is spoken in a child
forked from a helper process that initialised espeak-ng and never spoke, so the samples depend on
the request alone. Corpus synthesis uses it; that is what makes a corpus byte-identical for a seed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import pickle
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from asr.errors import UserError

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INIT_PHONEME_EVENTS = 0x0001
_INIT_DONT_EXIT = 0x8000
_POS_CHARACTER = 1
_CHARS_UTF8 = 0x1
_PHONEMES = 0x100  # accept [[...]] phoneme input
_EV_LIST_TERMINATED, _EV_WORD, _EV_END, _EV_PHONEME = 0, 1, 5, 7
_RATE, _VOLUME, _PITCH, _RANGE, _WORDGAP = 1, 2, 3, 4, 7
#: espeak-ng pause mnemonics; they appear in phoneme events but are not phones.
PAUSES = frozenset({"_", "_:", "_!", "_^_", "_#", "||", "|"})


class EspeakError(UserError, RuntimeError):
    """espeak-ng is missing or refused a request."""


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


@dataclass(frozen=True)
class Voice:
    """How espeak-ng should sound: voice name (``en-us``), variant (``m3``), rate in words per
    minute, pitch and pitch range (0–99), gap between words in units of 10 ms."""

    name: str = "en-us"
    variant: str | None = None
    rate: int = 170
    pitch: int = 50
    range: int = 50
    word_gap: int = 0

    @property
    def spec(self) -> str:
        return f"{self.name}+{self.variant}" if self.variant else self.name


@dataclass
class Synthesis:
    """Audio and timings of one synthesised utterance.

    ``phones`` holds ``(mnemonic, start_s, end_s)`` for every phone espeak-ng spoke (pauses
    excluded); ``words`` holds ``(text_offset, start_s)`` for each word event.
    """

    samples: np.ndarray  # float32 in [-1, 1]
    sample_rate: int
    phones: list[tuple[str, float, float]] = field(default_factory=list)
    words: list[tuple[int, float]] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate


def _load_library() -> ctypes.CDLL:
    name = ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1"
    try:
        return ctypes.CDLL(name)
    except OSError as exc:
        raise EspeakError(
            "libespeak-ng is not installed; run scripts/setup.sh (Debian package espeak-ng)"
        ) from exc


class EspeakEngine:
    """Handle to the process-wide espeak-ng synthesiser."""

    _lib: ctypes.CDLL | None = None
    _native_rate: int = 0

    def __init__(self) -> None:
        cls = type(self)
        if cls._lib is None:
            lib = _load_library()
            rate = lib.espeak_Initialize(
                _AUDIO_OUTPUT_SYNCHRONOUS, 0, None, _INIT_PHONEME_EVENTS | _INIT_DONT_EXIT
            )
            if rate <= 0:
                raise EspeakError("espeak_Initialize failed (is espeak-ng-data installed?)")
            cls._lib, cls._native_rate = lib, rate
        self._lib = cls._lib
        self.native_rate = cls._native_rate
        self._chunks: list[np.ndarray] = []
        self._events: list[tuple[int, int, int, str]] = []
        self._callback = _CALLBACK(self._on_audio)  # kept alive as long as the engine

    def _on_audio(self, wav, n, events) -> int:
        if n > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, (n,)).copy())
        i = 0
        while events[i].type != _EV_LIST_TERMINATED:
            ev = events[i]
            name = ev.id.string.decode("utf-8", "replace") if ev.type == _EV_PHONEME else ""
            self._events.append((ev.type, ev.sample, ev.text_position, name))
            i += 1
        return 0

    def _set_voice(self, voice: Voice) -> None:
        if self._lib.espeak_SetVoiceByName(voice.spec.encode()) != 0:
            raise EspeakError(f"espeak-ng has no voice {voice.spec!r}")
        for param, value in (
            (_RATE, voice.rate),
            (_PITCH, voice.pitch),
            (_RANGE, voice.range),
            (_WORDGAP, voice.word_gap),
            (_VOLUME, 100),
        ):
            self._lib.espeak_SetParameter(param, int(value), 0)

    def synthesize(self, text: str, voice: Voice = Voice(), sample_rate: int | None = None) -> Synthesis:
        """Speak ``text`` (plain text, or ``[[...]]`` espeak phonemes) and return audio + timings.

        ``sample_rate`` resamples from espeak-ng's native 22050 Hz (timings are in seconds, so they
        do not change).
        """
        self._set_voice(voice)
        self._chunks, self._events = [], []
        self._lib.espeak_SetSynthCallback(self._callback)
        data = text.encode("utf-8")
        err = self._lib.espeak_Synth(
            ctypes.c_char_p(data), len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8 | _PHONEMES, None, None
        )
        self._lib.espeak_Synchronize()
        if err != 0:
            raise EspeakError(f"espeak_Synth failed with code {err} for {text[:60]!r}")
        pcm = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        samples = pcm.astype(np.float32) / 32768.0
        sr = self.native_rate
        total = len(samples) / sr
        marks = [(s / sr, name) for t, s, _, name in self._events if t == _EV_PHONEME]
        phones = []
        for k, (start, name) in enumerate(marks):
            if name in PAUSES:
                continue
            end = marks[k + 1][0] if k + 1 < len(marks) else total
            phones.append((name, start, min(end, total)))
        words = [(pos, s / sr) for t, s, pos, _ in self._events if t == _EV_WORD]
        if sample_rate and sample_rate != sr:
            samples = resample(samples, sr, sample_rate)
            sr = sample_rate
        return Synthesis(samples=samples, sample_rate=sr, phones=phones, words=words)


class IsolatedSynthesizer:
    """History-free synthesis: every :meth:`synthesize` starts from a freshly initialised espeak-ng.

    Holds one helper ("zygote") process that initialises espeak-ng once and forks a child per
    request (a fork is much cheaper than initialising espeak-ng). Use as a context manager, one per worker
    process::

        with IsolatedSynthesizer() as tts:
            syn = tts.synthesize("[[h@|l'oU]]", Voice("en-us", "m3"), sample_rate=16000)
    """

    def __init__(self) -> None:
        root = str(Path(__file__).resolve().parents[2])  # importable even without an installed package
        path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
        self._proc = subprocess.Popen(
            [sys.executable, "-c", "from asr.text.espeak import _zygote_main; _zygote_main()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": path},
        )

    def synthesize(self, text: str, voice: Voice = Voice(), sample_rate: int | None = None) -> Synthesis:
        """As :meth:`EspeakEngine.synthesize`, but independent of every earlier request."""
        _send(self._proc.stdin, (text, asdict(voice)))
        answer = _receive(self._proc.stdout)
        if answer is None:
            raise EspeakError(f"the espeak-ng helper process died (exit code {self._proc.poll()})")
        kind, value = answer
        if kind != "ok":
            raise EspeakError(f"{value} for {text[:60]!r}")
        if sample_rate and sample_rate != value.sample_rate:  # here, so the helper never imports scipy
            value.samples = resample(value.samples, value.sample_rate, sample_rate)
            value.sample_rate = sample_rate
        return value

    def close(self) -> None:
        """Stop the helper process."""
        if self._proc.poll() is None:
            self._proc.stdin.close()
            self._proc.wait(timeout=30)
        self._proc.stdout.close()

    def __enter__(self) -> IsolatedSynthesizer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _send(stream, obj) -> None:
    data = pickle.dumps(obj)
    stream.write(len(data).to_bytes(8, "little") + data)
    stream.flush()


def _receive(stream):
    head = stream.read(8)
    if len(head) < 8:
        return None
    return pickle.loads(stream.read(int.from_bytes(head, "little")))


def _synthesize_in_child(text: str, voice: Voice) -> tuple[str, object]:
    """("ok", Synthesis) or ("error", message), from a child forked from this (clean) process."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: speak, send the result, exit without running the parent's cleanup
        code = 0
        try:
            os.close(read_fd)
            try:
                result = ("ok", EspeakEngine().synthesize(text, voice))
            except Exception as exc:  # reported to the parent rather than lost with the child
                result = ("error", f"{type(exc).__name__}: {exc}")
            with os.fdopen(write_fd, "wb") as f:
                f.write(pickle.dumps(result))
        except BaseException:
            code = 1
        os._exit(code)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as f:
        data = f.read()
    _, status = os.waitpid(pid, 0)
    if status != 0 or not data:
        return "error", f"espeak-ng child process failed (status {status})"
    return pickle.loads(data)


def _zygote_main() -> None:
    """Serve (text, voice) requests from stdin; answers go to the original stdout."""
    EspeakEngine()  # initialised here, never used, so children start from a fresh synthesiser
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # stray prints must not corrupt the answers
    while (request := _receive(sys.stdin.buffer)) is not None:
        text, voice = request
        _send(out, _synthesize_in_child(text, Voice(**voice)))


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Polyphase resampling (scipy), float32 in and out."""
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(from_rate, to_rate)
    return resample_poly(samples, to_rate // g, from_rate // g).astype(np.float32)


def phonemize(words: list[str], voice: str = "en-us") -> list[list[str]]:
    """espeak-ng's phonemes (mnemonics) for each word, e.g. ``["hello"]`` → ``[["h", "@", "l", "'oU"]]``.

    Runs the ``espeak-ng`` command once for all words (one word a line) with a space between phonemes;
    stress marks stay attached to the following vowel. Pauses espeak-ng inserts (``_!``, ``_|``, ...) are
    kept: they are mnemonics too, and telling them from phones is the reader's job.
    """
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise EspeakError("the espeak-ng command is not installed; run scripts/setup.sh")
    if not words:
        return []
    # the separator is a space because no mnemonic holds one; "_" would cut the pause "_!" into "!"
    out = subprocess.run(
        [exe, "-q", "-x", "--sep= ", "-v", voice],
        input="\n".join(words),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    if len(lines) == len(words):
        return [line.split() for line in lines]
    if len(words) == 1:  # espeak-ng broke one word's output over several lines
        return [[p for line in lines for p in line.split()]]
    return [phonemize([w], voice)[0] for w in words]  # it merged lines: one call per word instead

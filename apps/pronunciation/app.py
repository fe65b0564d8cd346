"""The pronunciation-practice app: record or upload a sentence, see which sounds were wrong, hear the difference.

The UI only: every judgement comes from :class:`asr.mdd.assessment.Assessor` (phones, fluency, stress,
word miscues, prosody against a reference reading). Start it with ``asr app`` (see ``asr app --help``) or
:func:`build_app` + ``launch()``.

API: ``api_name="diagnose"`` takes an audio file and a text and returns the JSON of
``asr mdd diagnose --json``; with ``gradio_client``::

    Client("http://127.0.0.1:7860/").predict(handle_file("me.wav"), "Think fast", api_name="/diagnose")
"""

from __future__ import annotations

import copy
import html
import json
import shutil
import tempfile
import threading
import weakref
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from asr.data.audio import SAMPLE_RATE, AudioLimits, read_audio
from asr.errors import UserError
from asr.mdd.assessment import AssessConfig, Assessment, Assessor
from asr.mdd.diagnosis import HEURISTIC_SCORING, Diagnosis, PronunciationAssessor
from asr.mdd.score_model import attach_score_model
from asr.mdd.unscripted import WordRecogniser
from asr.text.ipa import arpabet_to_ipa

EXAMPLES_DIR = Path(__file__).parent / "examples"
STATUS_STYLE = {  # status -> (colour, how the phone is written under the word)
    "correct": ("#1a7f37", "{phone}"),
    "substituted": ("#cf222e", "{phone}→{said}"),
    "deleted": ("#6e7781", "<s>{phone}</s>"),
    "inserted": ("#bc4c00", "+{said}"),
}
#: JSON downloads the app keeps on disk. Gradio copies a file a request returns into its own cache while it
#: answers that request, so only the files of requests still being answered are needed, and the queue
#: answers two at a time.
DOWNLOADS_KEPT = 8


@dataclass(frozen=True)
class AppConfig:
    """What the app accepts; defaults suit practising one sentence at a time."""

    limits: AudioLimits = field(default_factory=AudioLimits)
    max_words: int = 40
    max_text_chars: int = 400
    #: Gradio's copies of a request's files (the recording, the plot, the audio clips, the JSON) are deleted
    #: this long after they were made; a server that runs for months must not fill its disk.
    cache_seconds: int = 3600
    #: Compare intonation and breaks with espeak-ng's reading of the prompt (its pitch plot too).
    prosody: bool = True


def examples() -> list[tuple[str, str]]:
    """``(recording, sentence)`` pairs shipped with the app (``examples/examples.json``), for the demo."""
    listing = EXAMPLES_DIR / "examples.json"
    if not listing.is_file():
        return []
    return [(str(EXAMPLES_DIR / e["audio"]), e["text"]) for e in json.loads(listing.read_text())]


class Analyser:
    """The app's logic, independent of the widgets: checked inputs in, diagnosis and its views out."""

    def __init__(
        self,
        assessor: PronunciationAssessor,
        cfg: AppConfig | None = None,
        words: WordRecogniser | None = None,
    ) -> None:
        self.cfg = cfg or AppConfig()
        # the app's limits, the assessor's own judgement settings (a calibrated leniency among them), on a
        # shallow copy: the model and lexicon are shared, the settings of the assessor given stay its own
        self.assessor = copy.copy(assessor)
        self.assessor.cfg = replace(assessor.cfg, limits=self.cfg.limits, max_words=self.cfg.max_words)
        self.judge = Assessor(self.assessor, words, AssessConfig(reference=self.cfg.prosody))
        self._downloads = _Downloads()

    @property
    def unscripted(self) -> bool:
        """Whether a recording without a prompt can be judged (a word model recognises its words)."""
        return self.judge.words is not None

    def assess(self, audio_path: str | None, text: str | None) -> tuple[Assessment, np.ndarray]:
        """Assess an uploaded or recorded file against ``text`` (none: unscripted, with a word model); raises
        :class:`asr.errors.UserError` with a message for the learner on any bad input."""
        text = (text or "").strip()
        if not text and not self.unscripted:
            raise UserError("type the sentence you are going to say (or choose an example)")
        if len(text) > self.cfg.max_text_chars:
            raise UserError(
                f"the sentence has {len(text)} characters; the limit is {self.cfg.max_text_chars}"
            )
        if not audio_path:
            raise UserError("record yourself or upload a recording first")
        audio = read_audio(uploaded_file(audio_path), self.cfg.limits)
        return self.judge.assess(audio, text), audio.samples

    def json_file(self, assessment: Assessment) -> str:
        """The full result as a JSON file, for the download button (see :class:`_Downloads`)."""
        return self._downloads.write(assessment)

    def reference_audio(self, diagnosis: Diagnosis, index: int) -> tuple[int, np.ndarray]:
        """Word ``index`` spoken by espeak-ng from its canonical phones (the variant the learner was judged on)."""
        from asr.text.espeak import IsolatedSynthesizer, Voice
        from asr.text.phones import phones_to_espeak

        stressed = self.judge.stressed(diagnosis)[index]
        with IsolatedSynthesizer() as tts:
            speech = tts.synthesize(
                phones_to_espeak([list(stressed)]), Voice("en-us", rate=140), sample_rate=SAMPLE_RATE
            )
        return SAMPLE_RATE, speech.samples


def uploaded_file(path: str | Path) -> Path:
    """``path`` if it lies in Gradio's upload area; a request cannot make the app read any other file."""
    from gradio.utils import get_upload_folder

    resolved, area = Path(path).resolve(), Path(get_upload_folder()).resolve()
    if area not in resolved.parents:
        raise UserError("the recording must be uploaded through the app")
    return resolved


def _colour(score: float) -> str:
    """Red (0) → amber (60) → green (100) for a word's background."""
    if score >= 85:
        return "#dafbe1"
    if score >= 60:
        return "#fff8c5"
    return "#ffebe9"


ALPHABETS = ("ARPAbet", "IPA")


def _shown(phone: str | None, alphabet: str) -> str:
    """A phone as the learner chose to read them."""
    if phone is None or alphabet != "IPA":
        return phone or ""
    try:
        return arpabet_to_ipa(phone)
    except ValueError:
        return phone


def result_html(a: Assessment, alphabet: str = "ARPAbet") -> str:
    """The sentence, each word coloured by its score, its phones marked underneath (in ``alphabet``), its
    stress verdict and any word miscue beside it."""
    d = a.diagnosis
    stress = {s.index: s for s in a.stress}
    miscues: dict[int, list[str]] = {}
    for m in a.miscues:
        miscues.setdefault(m.word_index, []).append(
            {"omitted": "left out?", "repeated": "said twice", "inserted": f"+ {' '.join(m.phones)}"}[m.kind]
        )
    words = []
    for i, w in enumerate(d.words):
        phones = []
        for p in w.phones:
            colour, template = STATUS_STYLE[p.status]
            title = {
                "correct": f"{p.phone}: right",
                "substituted": f"said {p.said} instead of {p.phone}",
                "deleted": f"{p.phone} missing",
                "inserted": f"extra {p.said}",
            }[p.status]
            shown = template.format(
                phone=html.escape(_shown(p.phone, alphabet)), said=html.escape(_shown(p.said, alphabet))
            )
            phones.append(
                f'<span class="pp-phone pp-{p.status}" style="color:{colour}" title="{title}">{shown}</span>'
            )
        flag = ' <span title="not in the dictionary: pronunciation guessed">*</span>' if w.g2p else ""
        cls = "pp-word pp-flagged" if w.errors else "pp-word"
        # the score model's word accuracy (0-10, the experts' scale) when there is one, else the heuristic's
        score, shown_score = w.accuracy, f"{w.accuracy:.0f}"
        if d.expert_scores is not None:
            learned = d.expert_scores["words"][i]["accuracy"]
            score, shown_score = 10 * learned, f"{learned:.1f}/10"
        notes = ""
        if i in stress:
            s = stress[i]
            verdict = "stress ✓" if s.correct else f"stress on {s.detected + 1}, not {s.expected + 1}"
            notes += f'<div class="pp-stress pp-stress-{"ok" if s.correct else "wrong"}">{verdict}</div>'
        for note in miscues.get(i, []):
            notes += f'<div class="pp-miscue">{html.escape(note)}</div>'
        words.append(
            f'<div class="{cls}" style="background:{_colour(score)}" data-word="{html.escape(w.word)}">'
            f'<div class="pp-text">{html.escape(w.word)}{flag}</div><div class="pp-phones">{" ".join(phones)}</div>'
            f'<div class="pp-score">{shown_score}</div>{notes}</div>'
        )
    warnings = "".join(f'<p class="pp-warning">⚠ {html.escape(x)}</p>' for x in d.warnings)
    return f'<div class="pp-result">{"".join(words)}</div>{warnings}'


def summary_markdown(a: Assessment, alphabet: str = "ARPAbet") -> str:
    """The scores and each judgement in words, phones written in ``alphabet``."""
    d, f = a.diagnosis, a.fluency
    lines = []
    if d.prompt_source == "recognised":
        lines.append(f"*The words were recognised, not given:* “{d.normalized_text}”\n")
    lines.append(
        f"**Accuracy {d.accuracy:.0f}/100 · completeness {d.completeness:.0f}/100 · fluency {f.score:.0f}/100**"
        f" ({d.duration:.1f} s)"
    )
    if d.expert_scores is not None:
        e = d.expert_scores
        aspects = [
            f"{name} {e[key]:.1f}"
            for key, name in (("accuracy", "accuracy"), ("fluency", "fluency"), ("prosodic", "prosody"))
            if key in e
        ]
        total = f"total **{e['total']:.1f}/10**" if "total" in e else ""
        lines.append(f"\nOn the experts' 0-10 scale: {total} ({', '.join(aspects)})")
    pauses = f"{f.pause_count} pause(s) inside the sentence"
    if f.pause_count:
        pauses += f" ({f.pause_total:.1f} s, the longest {f.longest_pause:.1f} s)"
    lines.append(f"\n**Fluency**: {f.articulation_rate:.1f} syllables per second while speaking; {pauses}.")
    if a.prosody is not None:
        p = a.prosody
        score = "–" if p.intonation_score is None else f"{p.intonation_score:.0f}/100"
        breaks = [
            f"a pause after *{d.words[b.after_word].word}* that the reference does not make"
            for b in p.unexpected_breaks
        ]
        breaks += [
            f"no pause after *{d.words[b.after_word].word}*, where the reference pauses"
            for b in p.missing_breaks
        ]
        lines.append(
            f"\n**Intonation** against the reference reading: {score}"
            + ("; your voice stays rather flat (monotone)" if p.monotone else "")
            + (f"; {'; '.join(breaks)}" if breaks else "")
            + "."
        )
    wrong_stress = [s for s in a.stress if not s.correct]
    if wrong_stress:
        lines.append(
            "\n**Stress**: "
            + "; ".join(
                f"*{s.word}* stressed on syllable {s.detected + 1}, expected {s.expected + 1}"
                for s in wrong_stress
            )
        )
    if a.miscues:
        said = {"omitted": "seems left out", "repeated": "was said twice", "inserted": "extra sounds after"}
        lines.append(
            "\n**Words**: "
            + "; ".join(
                f"*{d.words[m.word_index].word if m.word_index >= 0 else 'the start'}* {said[m.kind]} ({m.start:.1f} s)"
                for m in a.miscues
            )
        )
    wrong = [w for w in d.words if w.errors]
    lines.append("")
    if not wrong:
        lines.append("Every sound as expected. Well done!")
    for w in wrong:
        notes = []
        for p in w.errors:
            notes.append(
                {
                    "substituted": f"said **{_shown(p.said, alphabet)}** instead of **{_shown(p.phone, alphabet)}**",
                    "deleted": f"**{_shown(p.phone, alphabet)}** missing",
                    "inserted": f"extra **{_shown(p.said, alphabet)}**",
                }[p.status]
            )
        lines.append(
            f"- *{w.word}* ({w.accuracy:.0f}/100, complete {w.completeness:.0f}/100): {'; '.join(notes)}"
        )
    if d.unknown_words:
        lines.append(f"\n\\* not in the dictionary, pronunciation guessed: {', '.join(d.unknown_words)}")
    scoring = f"/100 scores: {HEURISTIC_SCORING}"
    if d.expert_scores is not None:
        scoring = f"0-10 scores: {d.scoring}; {scoring}"
    lines.append(f"\n<small>Scoring: {html.escape(scoring)}.</small>")
    return "\n".join(lines)


def prosody_figure(a: Assessment):
    """The learner's pitch (semitones re their median) over time, and the reference reading's mapped onto the
    learner's time axis word by word (each reference word stretched onto the learner's span of it)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 2.6), dpi=100)
    p = a.prosody
    if p is None or a.reference is None:
        ax.text(0.5, 0.5, "no reference reading (prosody off)", ha="center", va="center")
        ax.set_axis_off()
        return fig
    d, ref = a.diagnosis, a.reference.diagnosis
    learner_t = [t for w in d.words for t in (w.start, w.end)]
    ref_t = [t for w in ref.words for t in (w.start, w.end)]
    for contour, times, colour, label in (
        (p.learner, None, "#0969da", "you"),
        (p.reference, (ref_t, learner_t), "#8c959f", "reference (espeak-ng), aligned word by word"),
    ):
        f0 = np.asarray(contour.f0, dtype=float)
        voiced = np.isfinite(f0)
        if not voiced.any():
            continue
        st = 12 * np.log2(f0 / np.median(f0[voiced]))
        t = np.asarray(contour.times, dtype=float)
        if times is not None:  # piecewise-linear map from the reference's word times to the learner's
            t = np.interp(t, *times)
        ax.plot(t, np.where(voiced, st, np.nan), color=colour, linewidth=1.6, label=label)
    for w in d.words:
        ax.axvline(w.start, color="#d0d7de", linewidth=0.6, zorder=0)
        ax.text((w.start + w.end) / 2, ax.get_ylim()[1], w.word, ha="center", va="top", fontsize=8)
    ax.set_xlim(0, d.duration)
    ax.set_ylabel("pitch (semitones)")
    ax.set_xlabel("seconds")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def waveform_figure(d: Diagnosis, samples: np.ndarray):
    """The recording's waveform with the recognised phone boundaries; wrong phones in red."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 2.6), dpi=100)
    step = max(1, len(samples) // 4000)
    t = np.arange(0, len(samples), step) / SAMPLE_RATE
    ax.plot(t, samples[::step], color="#8c959f", linewidth=0.6)
    top = float(np.abs(samples).max()) or 1.0
    for w in d.words:
        ax.axvspan(w.start, w.end, color=_colour(w.accuracy), alpha=0.6, zorder=0)
        ax.text((w.start + w.end) / 2, top * 1.05, w.word, ha="center", va="bottom", fontsize=9)
        for p in w.phones:
            colour = STATUS_STYLE[p.status][0]
            ax.axvline(p.start, color=colour, linewidth=0.5, alpha=0.7)
            ax.text(p.start, -top * 1.05, p.phone or f"+{p.said}", color=colour, fontsize=7, va="top")
    ax.set_ylim(-top * 1.35, top * 1.35)
    ax.set_xlim(0, len(samples) / SAMPLE_RATE)
    ax.set_yticks([])
    ax.set_xlabel("seconds")
    fig.tight_layout()
    return fig


class _Downloads:
    """The JSON files behind the download button: one temporary folder of the app's own, holding the latest
    :data:`DOWNLOADS_KEPT` files, removed with the folder when its owner is garbage-collected or the process
    exits."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="pronunciation-"))
        self._files: deque[Path] = deque()
        self._lock = threading.Lock()  # the queue runs two analyses at a time
        self._cleanup = weakref.finalize(self, shutil.rmtree, self.folder, ignore_errors=True)

    def write(self, d: Assessment) -> str:
        """``d`` as a new JSON file (a name of its own, so that concurrent requests never share one); the
        oldest files beyond :data:`DOWNLOADS_KEPT` are deleted."""
        with tempfile.NamedTemporaryFile(
            "w", suffix=".json", prefix="pronunciation-", dir=self.folder, delete=False
        ) as f:
            json.dump(d.to_dict(), f, ensure_ascii=False, indent=1)
        with self._lock:
            self._files.append(Path(f.name))
            while len(self._files) > DOWNLOADS_KEPT:
                self._files.popleft().unlink(missing_ok=True)
        return f.name


CSS = """
.pp-result {display: flex; flex-wrap: wrap; gap: 6px;}
.pp-word {border-radius: 6px; padding: 6px 8px; text-align: center; min-width: 3em;}
.pp-text {font-size: 1.3em; font-weight: 600;}
.pp-phones {font-family: monospace; font-size: 0.95em;}
.pp-score {font-size: 0.8em; color: #57606a;}
.pp-flagged {outline: 2px solid #cf222e;}
"""


def build_app(
    assessor: PronunciationAssessor, cfg: AppConfig | None = None, words: WordRecogniser | None = None
):
    """The Gradio Blocks app around ``assessor`` (and ``words``, a word model for unscripted speech)."""
    import gradio as gr

    analyser = Analyser(assessor, cfg, words)

    def run(audio_path, text, alphabet):
        try:
            a, samples = analyser.assess(audio_path, text)
        except UserError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        d = a.diagnosis
        choices = [(f"{i + 1}. {w.word}", i) for i, w in enumerate(d.words)]
        first_wrong = next((i for i, w in enumerate(d.words) if w.errors), 0)
        return (
            result_html(a, alphabet),
            summary_markdown(a, alphabet),
            prosody_figure(a),
            waveform_figure(d, samples),
            analyser.json_file(a),
            gr.update(choices=choices, value=first_wrong),
            (a, samples),
        )

    def redraw(state, alphabet):
        if not state:
            return "", ""
        return result_html(state[0], alphabet), summary_markdown(state[0], alphabet)

    def play(state, index):
        if not state or index is None:
            return None, None
        a, samples = state
        d = a.diagnosis
        w = d.words[int(index)]
        start, end = int(w.start * SAMPLE_RATE), int(w.end * SAMPLE_RATE)
        return (SAMPLE_RATE, samples[max(0, start - 800) : end + 800]), analyser.reference_audio(
            d, int(index)
        )

    def api(audio_path, text) -> dict:
        try:
            return {**analyser.assess(audio_path, text)[0].to_dict(), "model": analyser.assessor.about}
        except UserError as exc:
            raise gr.Error(str(exc), print_exception=False) from None

    keep = analyser.cfg.cache_seconds  # looked for every 10 minutes at most
    with gr.Blocks(title="Pronunciation practice", delete_cache=(min(600, keep), keep)) as demo:
        gr.Markdown(
            "# Pronunciation practice\nChoose or type a sentence, record it (or upload a recording), "
            "press **Analyse**: each word is coloured by its score, and under it every sound: "
            "right, said as another sound, missing, or extra."
        )
        gr.Markdown(f"<small>{html.escape(analyser.assessor.about)}</small>", elem_id="pp-model")
        with gr.Row():
            with gr.Column(scale=1):
                label = "Sentence to say"
                if analyser.unscripted:
                    label += " (leave it empty to speak freely: your words are then recognised)"
                text = gr.Textbox(label=label, lines=2, max_length=analyser.cfg.max_text_chars)
                alphabet = gr.Radio(list(ALPHABETS), value="ARPAbet", label="Show sounds in")
                audio = gr.Audio(sources=["microphone", "upload"], type="filepath", label="Your recording")
                analyse = gr.Button("Analyse", variant="primary")
                shipped = examples()
                if shipped:
                    gr.Examples([[a, t] for a, t in shipped], inputs=[audio, text], label="Examples")
            with gr.Column(scale=2):
                result = gr.HTML(label="Result", elem_id="pp-result")
                summary = gr.Markdown(elem_id="pp-summary")
        pitch = gr.Plot(label="Pitch: you and the reference reading", elem_id="pp-pitch")
        plot = gr.Plot(label="Waveform and phone boundaries")
        with gr.Row():
            word = gr.Dropdown(label="Hear a word", choices=[], interactive=True)
            mine = gr.Audio(label="You said", interactive=False)
            reference = gr.Audio(label="Reference (espeak-ng)", interactive=False)
        download = gr.File(label="Full result (JSON)")
        state = gr.State()
        analyse.click(
            run,
            [audio, text, alphabet],
            [result, summary, pitch, plot, download, word, state],
            api_visibility="private",
        )
        alphabet.change(redraw, [state, alphabet], [result, summary], api_visibility="private")
        word.change(play, [state, word], [mine, reference], api_visibility="private")
        # the API: an audio file and a text -> the JSON of `asr mdd diagnose --json`
        api_audio, api_text, api_out = (
            gr.File(visible=False),
            gr.Textbox(visible=False),
            gr.JSON(visible=False),
        )
        gr.Button(visible=False).click(api, [api_audio, api_text], api_out, api_name="diagnose")
    demo.queue(
        default_concurrency_limit=2
    )  # two analyses at a time on a 2-core CPU; the rest wait in the queue
    return demo


def launch(
    model: Path,
    host: str = "127.0.0.1",
    port: int = 7860,
    auth: tuple[str, str] | None = None,
    cfg: AppConfig | None = None,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
    score_model: str | Path | None = None,
    word_model: str | Path | None = None,
) -> None:
    """Load ``model`` (and its score model: ``score_model``, else the one beside it, if any; "none": no
    score model) and serve the app (blocking)."""
    cfg = cfg or AppConfig()
    assessor = PronunciationAssessor.from_path(model)
    attach_score_model(assessor, score_model)
    words = None if word_model is None else WordRecogniser.from_path(word_model)
    demo = build_app(assessor, cfg, words)
    demo.launch(
        server_name=host,
        server_port=port,
        auth=auth,
        css=CSS,
        max_file_size=cfg.limits.max_bytes,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        ssl_verify=ssl_certfile is None,
        allowed_paths=[str(EXAMPLES_DIR)],
    )

"""Unscripted speech: no prompt is given, so the words are recognised first and then judged.

A word recogniser (a character or BPE CTC model, such as the mini recipe's word model) transcribes the
recording greedily; the words it heard become the prompt, and the phone model judges their canonical
pronunciations as for a given prompt. The diagnosis records ``prompt_source = "recognised"`` so the app
and the JSON say the words were recognised, not given. A word the recogniser got wrong is judged as the
word it heard, so the verdicts can only be as good as the word model: a learner's error can turn into
another word that is then "said right".
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from asr.data.audio import Audio
from asr.decoding.hypothesis import greedy_hypothesis
from asr.export.onnx import load_ctc_model_and_tokenizer

from .diagnosis import Diagnosis, DiagnosisError, PronunciationAssessor


class WordRecogniser:
    """A CTC model over characters or BPE pieces with its tokenizer, transcribing one recording greedily."""

    def __init__(self, model, tokenizer, name: str = "a word model given in memory") -> None:
        if getattr(tokenizer, "kind", None) == "phone":
            raise DiagnosisError(
                f"{name} recognises phones; unscripted mode needs a word model (characters or BPE)"
            )
        self.model, self.tokenizer, self.name = model, tokenizer, name

    @classmethod
    def from_path(cls, path: str | Path) -> WordRecogniser:
        """From an experiment folder (its ``ctc_model.pt``), a ``ctc_model.pt`` or an ``.onnx`` export."""
        path = Path(path)
        if path.is_dir():
            path = path / "ctc_model.pt"
        model, tokenizer = load_ctc_model_and_tokenizer(path)
        return cls(model, tokenizer, str(path))

    @torch.inference_mode()
    def transcribe(self, samples: np.ndarray) -> str:
        """The words heard in 16 kHz mono ``samples`` (greedy CTC), normalised text; "" when none."""
        audio = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))[None]
        log_probs, frames = self.model.log_probs(audio, torch.tensor([audio.shape[1]]))
        hypothesis = greedy_hypothesis(log_probs[0, : int(frames[0])].float().cpu(), self.tokenizer.decode)
        return " ".join(hypothesis.text.split())


def diagnose_unscripted(
    assessor: PronunciationAssessor, recogniser: WordRecogniser, audio: Audio
) -> Diagnosis:
    """Recognise the words of ``audio``, then diagnose them as the prompt (``prompt_source="recognised"``);
    :class:`DiagnosisError` when no word is heard."""
    text = recogniser.transcribe(audio.samples)
    if not text:
        raise DiagnosisError(
            "no words were recognised in the recording: say a sentence (or type the prompt you read)"
        )
    diagnosis = assessor.diagnose(audio, text)
    diagnosis.prompt_source = "recognised"
    return diagnosis

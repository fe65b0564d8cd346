"""Make the app's example recordings: espeak-ng sentences, some with mispronunciations whose labels are exact.

Each example is spoken from ARPAbet (``asr synth say --phones`` does the same), so the errors in
``examples/examples.json`` are what was synthesised, not a guess. The files are committed; rerun after
changing the list::

    python apps/pronunciation/make_examples.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
OUT = Path(__file__).parent / "examples"

# (file stem, sentence, the phones spoken per word with stress, the errors as (word, canonical, said))
EXAMPLES = [
    (
        "think_weather",
        "I think the weather is nice.",
        "AY1 | S IH1 NG K | Z AH0 | W EH1 Z ER0 | IH1 Z | N AY1 S",
        [("think", "TH", "S"), ("the", "DH", "Z"), ("weather", "DH", "Z")],
    ),
    (
        "very_red",
        "The red car is very fast.",
        "DH AH0 | L EH1 D | K AA1 R | IH1 Z | B EH1 R IY0 | F AE1 S T",
        [("red", "R", "L"), ("very", "V", "B")],
    ),
    (
        "she_sells",
        "She sells shells by the shore.",
        "S IY1 | S EH1 L Z | S EH1 L Z | B AY1 | DH AH0 | S AO1 R",
        [("she", "SH", "S"), ("shells", "SH", "S"), ("shore", "SH", "S")],
    ),
    ("stella", "Please call Stella.", "P L IY1 Z | K AO1 L | S T EH1 L AH0", []),
]


def main() -> int:
    from asr.text.espeak import IsolatedSynthesizer, Voice
    from asr.text.phones import phones_to_espeak
    from data_prep.audio import write_audio

    OUT.mkdir(parents=True, exist_ok=True)
    listing = []
    with IsolatedSynthesizer() as tts:
        for i, (stem, text, phones, errors) in enumerate(EXAMPLES):
            voice = Voice("en-us", ("m3", "f2", "m1", "f4")[i % 4], rate=150)
            speech = tts.synthesize(phones_to_espeak([w.split() for w in phones.split("|")]), voice, 16000)
            write_audio(OUT / f"{stem}.wav", speech.samples, 16000)
            listing.append(
                {
                    "audio": f"{stem}.wav",
                    "text": text,
                    "spoken": phones,
                    "errors": [{"word": w, "canonical": c, "said": s} for w, c, s in errors],
                }
            )
    (OUT / "examples.json").write_text(json.dumps(listing, indent=1) + "\n")
    print(f"{len(listing)} examples -> {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

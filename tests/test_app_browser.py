"""The pronunciation app in a real browser: Debian's chromium driven by playwright against the app on a free port.

Type a sentence, upload a recording, press Analyse, see the coloured words; a bad input shows its message on
the page and the app keeps working. A full-page screenshot of the result is left in ``test-artifacts/``.

Uses the system's chromium (``/usr/bin/chromium``); never ``playwright install`` (no download here).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import free_port, speak_phones

pytestmark = pytest.mark.slow  # a trained phone model (the session's digits model, fine-tuned to phones)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
TIMEOUT_MS = 30_000  # one analysis takes well under a second; the rest is the page and the upload


@pytest.fixture(scope="module")
def app_url(digits_phone_model):
    from apps.pronunciation.app import CSS, AppConfig, build_app
    from asr.data.audio import AudioLimits
    from asr.mdd.diagnosis import PronunciationAssessor

    limits = AudioLimits(max_seconds=8.0, max_bytes=2 * 2**20)
    demo = build_app(
        PronunciationAssessor.from_path(digits_phone_model), AppConfig(limits=limits, max_words=20)
    )
    port = free_port()
    demo.launch(
        server_name="127.0.0.1",
        server_port=port,
        prevent_thread_lock=True,
        quiet=True,
        css=CSS,
        max_file_size=limits.max_bytes,
    )
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.is_file():
        pytest.skip(f"no chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, app_url):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(app_url)
    yield page
    context.close()


def _upload(page, wav: Path) -> None:
    """Into "Your recording": switch its source from the microphone (the first) to upload, then the file input."""
    page.get_by_role("button", name="Upload file").click()
    page.locator("input[type=file]").set_input_files(str(wav))
    # uploaded: its player replaces the upload area
    page.get_by_role("button", name="Play", exact=True).wait_for()


def test_analyse_in_the_browser(page, tmp_path):
    from playwright.sync_api import expect

    # "four zero nine" with the Z of zero said as S; the small digits model may hear another fricative there
    # (F in one build of this suite) or nothing it knows (Z missing, in another), so what is checked is that
    # the Z is flagged, as substituted or missing, and shown so
    wav = speak_phones(tmp_path / "sero.wav", "F AO1 R | S IH1 R OW0 | N AY1 N")
    _upload(page, wav)
    analyse = page.get_by_role("button", name="Analyse")

    # a bad input first: no sentence -> the learner's message on the page, no traceback
    analyse.click()
    toast = page.get_by_test_id("toast-text")
    expect(toast.first).to_contain_text("type the sentence")
    page.get_by_test_id("toast-close").first.click()
    expect(toast).to_have_count(0)
    assert "Traceback" not in page.locator("body").inner_text()
    assert page.locator("#pp-result .pp-word").count() == 0

    # the app still works: type the sentence, analyse again
    page.get_by_label("Sentence to say").fill("four zero nine")
    analyse.click()
    words = page.locator("#pp-result .pp-word")
    words.first.wait_for()
    expect(words).to_have_count(3)
    assert words.evaluate_all("els => els.map(e => e.dataset.word)") == ["four", "zero", "nine"]
    flagged = page.locator("#pp-result .pp-flagged")
    assert "zero" in flagged.evaluate_all("els => els.map(e => e.dataset.word)")
    z = page.locator('#pp-result .pp-flagged[data-word="zero"] .pp-phone').first
    expect(z).to_have_attribute("title", re.compile(r"^(said \S+ instead of Z|Z missing)$"))
    expect(z).to_contain_text("Z")  # canonical → said, or the canonical phone struck through
    summary = page.locator("#pp-summary")
    expect(summary).to_contain_text("zero")
    expect(summary).to_contain_text(re.compile(r"instead of Z|Z missing"))
    expect(toast).to_have_count(0)  # no error this time
    # the first flagged word is chosen under "Hear a word": the learner's clip and espeak-ng's, each with a player
    expect(page.get_by_role("button", name="Play", exact=True)).to_have_count(3)
    assert "Traceback" not in page.locator("body").inner_text()
    # beyond the phones: fluency and intonation in the summary, a stress verdict on the two-syllable word,
    # the pitch of the learner and of the reference reading in a plot
    expect(summary).to_contain_text(re.compile(r"fluency \d+/100"))
    expect(summary).to_contain_text("Intonation against the reference reading")
    expect(page.locator('#pp-result .pp-word[data-word="zero"] .pp-stress')).to_have_count(1)
    expect(page.locator("#pp-pitch")).to_contain_text("Pitch: you and the reference reading")
    page.locator("#pp-pitch img, #pp-pitch svg, #pp-pitch canvas").first.wait_for()
    # the sounds in IPA at the learner's choice: Z of zero becomes z, AY of nine aɪ
    page.get_by_label("IPA").check()
    expect(page.locator('#pp-result .pp-word[data-word="nine"] .pp-phones')).to_contain_text("aɪ")
    expect(summary).to_contain_text(re.compile(r"instead of z|z missing"))

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "pronunciation-app.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000

    # an inline pronunciation with symbols that are no phones: one line on the page, and the app goes on
    page.get_by_label("Sentence to say").fill("four zero[Q X] nine")
    analyse.click()
    expect(toast.first).to_contain_text("zero")
    assert "Traceback" not in page.locator("body").inner_text()


def test_app_command_serves_a_public_checkpoint_in_the_browser(browser, tmp_path):
    """`asr app --model DIR` on a Hugging Face Wav2Vec2ForCTC folder (tiny, random weights, the espeak IPA
    vocabulary of the public phoneme checkpoints), as a user starts it: the page says which model it serves,
    and an analysis shows every word of the sentence (a random model's verdicts are arbitrary)."""
    import os
    import subprocess
    import sys
    import time
    import urllib.request

    from conftest import ESPEAK_VOCAB, write_hf_checkpoint
    from playwright.sync_api import expect

    model = write_hf_checkpoint(
        tmp_path / "xlsr-espeak", ESPEAK_VOCAB, layer_norm=True, tokenizer_class="Wav2Vec2PhonemeCTCTokenizer"
    )
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "asr.cli", "app", "--model", str(model), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(url, timeout=1)
                break
            except OSError:
                assert server.poll() is None, server.communicate()[0]
                time.sleep(0.5)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(url)
        expect(page.locator("#pp-model")).to_contain_text("Hugging Face Wav2Vec2ForCTC")
        wav = speak_phones(tmp_path / "four.wav", "F AO1 R | Z IH1 R OW0 | N AY1 N")
        _upload(page, wav)
        page.get_by_label("Sentence to say").fill("four zero nine")
        page.get_by_role("button", name="Analyse").click()
        words = page.locator("#pp-result .pp-word")
        words.first.wait_for()
        assert words.evaluate_all("els => els.map(e => e.dataset.word)") == ["four", "zero", "nine"]
        assert "Traceback" not in page.locator("body").inner_text()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "pronunciation-app-hf-checkpoint.png"), full_page=True)
        context.close()
    finally:
        server.terminate()
        server.wait(timeout=30)

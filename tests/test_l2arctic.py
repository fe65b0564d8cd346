"""Synthetic L2-ARCTIC: real layout, exact mispronunciation labels, and a preparation that reads them."""

from __future__ import annotations

import gzip
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from lhotse import CutSet, load_manifest
from lhotse.recipes import prepare_l2_arctic as lhotse_prepare_l2_arctic

from asr.data.common import CorpusError
from asr.data.l2arctic import (
    PhoneLabel,
    _manifests_by_hand,
    parse_phone_label,
    prepare_l2arctic,
    read_annotation,
    scan_speaker,
)
from asr.text.espeak import EspeakEngine, Voice
from asr.text.phones import SIL
from data_prep.audio import to_pcm16
from data_prep.l2arctic import (
    SPEAKERS,
    TEST_SPEAKERS,
    finish_audio,
    resynthesize,
    synth_l2arctic,
)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return synth_l2arctic(tmp_path_factory.mktemp("l2") / "a", "tiny", seed=0)


def synth_log(root: Path) -> list[dict]:
    return [json.loads(line) for line in (root.parent / "L2-ARCTIC.synth.jsonl").read_text().splitlines()]


def without_stress(words: list[list[str]]) -> list[str]:
    """Logged phones by word -> one list without stress digits (the test's own regex, not asr.text.phones)."""
    return [re.sub(r"[012]$", "", p) for w in words for p in w]


def test_layout_is_l2arctics(corpus: Path):
    assert sorted(p.name for p in corpus.iterdir()) == sorted(s for s, _, _ in SPEAKERS)
    prompts = None
    for spk in corpus.iterdir():
        assert {p.name for p in spk.iterdir()} == {"wav", "transcript", "textgrid", "annotation"}
        stems = sorted(p.stem for p in (spk / "wav").glob("*.wav"))
        assert stems == sorted(p.stem for p in (spk / "transcript").glob("*.txt"))
        assert stems == sorted(p.stem for p in (spk / "textgrid").glob("*.TextGrid"))
        assert {p.stem for p in (spk / "annotation").glob("*.TextGrid")} < set(stems)
        texts = [(spk / "transcript" / f"{s}.txt").read_text() for s in stems]
        assert prompts is None or texts == prompts  # every speaker reads the same prompts
        prompts = texts
        info = sf.info(str(spk / "wav" / f"{stems[0]}.wav"))
        assert (info.samplerate, info.channels, info.subtype) == (44100, 1, "PCM_16")
    assert stems[0] == "arctic_a0001" and all("\n" not in t and t != t.upper() for t in prompts)
    assert not list(corpus.parent.glob("L2-ARCTIC/**/*.jsonl"))  # the log lies beside the corpus


def test_lhotse_recipe_parses_it(corpus: Path):
    read = lhotse_prepare_l2_arctic(corpus)["read"]
    recs, sups = read["recordings"], read["supervisions"]
    assert len(recs) == len(sups) == sum(1 for _ in corpus.rglob("*.wav"))
    for sup in sups:
        spk, stem = sup.id.split("-")
        assert sup.text == (corpus / spk.upper() / "transcript" / f"{stem}.txt").read_text().strip()
        rec = recs[sup.recording_id]
        assert abs(rec.duration - sf.info(rec.sources[0].source).duration) < 1e-6


def test_test_speakers_have_unseen_voices(corpus: Path):
    variants: dict[bool, set[str]] = {True: set(), False: set()}
    for e in synth_log(corpus):
        if e["voice"].get("family", "espeak") != "espeak":
            continue
        assert e["voice"]["name"] == "en-us"
        variants[e["speaker"] in TEST_SPEAKERS].add(e["voice"]["variant"])
    assert variants[True] and not variants[True] & variants[False]


# Three annotated utterances of the seed-0 tiny corpus, written out by hand: the canonical (CMUdict) and
# perceived phones without stress, the errors as (canonical index, canonical, perceived, type), and the
# espeak-ng phonemes of the perceived phones (ARPAbet -> espeak by hand: DH D, AH0 @, AH1 V, EY2 ,eI ...).
KNOWN = {
    ("ABA", "arctic_a0002"): (  # "Maybe there is a new turret, or some walls have moved."
        "M EY B IY DH EH R IH Z AH N UW T ER AH T AO R S AH M W AO L Z HH AE V M UW V D",
        "M EY B IY Z EH R IH Z AH N UW T ER AH T AO L S AH M W AO L S HH AE V M UH V D",
        [(4, "DH", "Z", "s"), (17, "R", "L", "s"), (24, "Z", "S", "s"), (29, "UW", "UH", "s")],
        "[[m|'eI|b|i: z|'E|r 'I|z @ n|'u: t|'3:|@|t 'O:|l s|'V|m w|'O:|l|s h|'a|v m|'U|v|d]]",
    ),
    ("SKA", "arctic_a0003"): (  # "Today is the first day of the rest of the mess."
        "T AH D EY IH Z DH AH F ER S T D EY AH V DH AH R EH S T AH V DH AH M EH S",
        "T AH D EY IY DH AH F ER S T D EY AH V DH AH R EH S T AH V DH AH M EH S",
        [(4, "IH", "IY", "s"), (5, "Z", "sil", "d")],
        "[[t|@|d|'eI 'i: D|@ f|'3:|s|t d|'eI 'V|v D|@ r|'E|s|t 'V|v D|@ m|'E|s]]",
    ),
    ("ZHAA", "arctic_a0004"): (  # "Saints should always be judged guilty until they are proved innocent."
        "S EY N T S SH UH D AO L W EY Z B IY JH AH JH D G IH L T IY AH N T IH L DH EY AA R P R UW V D "
        "IH N AH S AH N T",
        "S EY N T S SH UH D AO L W EY Z B IY JH AH JH D G IY L T IY AH N T IH L DH EY AA R P R UW V D "
        "IH N AH S AH N T AH",
        [(20, "IH", "IY", "s"), (45, "sil", "AH", "a")],
        "[[s|'eI|n|t|s S|'U|d 'O:|l|w|,eI|z b|'i: dZ|'V|dZ|d g|'i:|l|t|i: @|n|t|'I|l D|'eI 'A:|r p|r|'u:|v|d "
        "'I|n|@|s|@|n|t|@]]",
    ),
}


def test_known_annotations_read_as_written_by_hand(corpus: Path):
    log = {(e["speaker"], e["utterance"]): e for e in synth_log(corpus)}
    for (speaker, utterance), (canonical, perceived, errors, espeak) in KNOWN.items():
        e = log[speaker, utterance]
        assert e["annotated"] and e["voice"]["name"] == "en-us", (speaker, utterance)
        ann = read_annotation(corpus / speaker / "annotation" / f"{utterance}.TextGrid", e["text"])
        assert ann.canonical_phones() == canonical.split(), (speaker, utterance)
        assert ann.perceived_phones() == perceived.split(), (speaker, utterance)
        assert [(x["index"], x["canonical"], x["perceived"], x["type"]) for x in ann.errors()] == errors
        assert e["espeak"] == espeak, (speaker, utterance)  # what espeak-ng was asked to say


def test_annotation_labels_are_what_was_spoken(corpus: Path):
    """Every annotated utterance: the TextGrid holds the log's phones, and all three kinds of error occur."""
    kinds = set()
    for e in [e for e in synth_log(corpus) if e["annotated"]]:
        path = corpus / e["speaker"] / "annotation" / f"{e['utterance']}.TextGrid"
        ann = read_annotation(path, e["text"])
        assert ann.perceived_phones() == without_stress(e["perceived"])
        assert ann.canonical_phones() == without_stress(e["canonical"])
        if "espeak" not in e:  # piper speakers log the IPA they spoke instead
            assert e["voice"]["family"] == "piper" and e["ipa"]
        kinds |= {err["type"] for err in ann.errors()}
    assert kinds == {"s", "d", "a"}
    raw = "".join(p.read_text() for p in corpus.glob("*/annotation/*.TextGrid"))
    assert "*" in raw and ", " in raw  # the real corpus's quirks are there


def test_wav_is_the_logged_phones_spoken_by_the_logged_voice(corpus: Path):
    EspeakEngine().synthesize("[[h@l'oU]]")  # this process's espeak-ng state must not matter
    sample = [e for e in synth_log(corpus) if "espeak" in e][::7]
    for e, synthesis in zip(
        sample, resynthesize([(e["espeak"], Voice(**e["voice"])) for e in sample]), strict=True
    ):
        expected = to_pcm16(
            finish_audio(
                synthesis.samples, e["lead_samples"], e["trail_samples"], e["snr_db"], e["noise_seed"]
            )
        )
        actual, _ = sf.read(str(corpus / e["speaker"] / "wav" / f"{e['utterance']}.wav"), dtype="int16")
        assert np.array_equal(actual, expected), e["utterance"]


def test_error_labels_are_consistent(corpus: Path, tmp_path: Path):
    prepare_l2arctic(corpus, tmp_path)
    sups = [
        s
        for part in ("train", "test")
        for s in load_manifest(tmp_path / f"l2arctic_supervisions_{part}.jsonl.gz")
    ]
    assert sum(len(s.custom["errors"]) for s in sups) > 0
    for sup in sups:
        canonical, perceived = sup.custom["canonical_phones"], sup.custom["perceived_phones"]
        assert SIL not in canonical + perceived
        rebuilt = list(canonical)  # applying the errors to the canonical phones gives the perceived ones
        for err in reversed(sup.custom["errors"]):
            c, p, k = err["canonical"], err["perceived"], err["type"]
            assert (
                (k == "s" and c != p and SIL not in (c, p))
                or (k == "d" and p == SIL != c)
                or (k == "a" and c == SIL != p)
            )
            if k == "s":
                assert rebuilt[err["index"]] == c
                rebuilt[err["index"]] = p
            elif k == "d":
                assert rebuilt.pop(err["index"]) == c
            else:
                rebuilt.insert(err["index"], p)
        assert rebuilt == perceived
        assert [a.symbol for a in sup.alignment["phone"]] == perceived
        assert sup.alignment["phone"][-1].end <= sup.duration + 1e-6


def test_parse_phone_label_handles_real_quirks():
    assert parse_phone_label("AH0") == PhoneLabel("AH", "AH")
    assert parse_phone_label("AX ") == PhoneLabel("AH", "AH")
    assert parse_phone_label("DH, D*,s") == PhoneLabel("DH", "D", "s")
    assert parse_phone_label("T,sil,d") == PhoneLabel("T", SIL, "d")
    assert parse_phone_label("sil,AH,a") == PhoneLabel(SIL, "AH", "a")
    assert parse_phone_label("IH1,err,s") == PhoneLabel("IH", "err", "s")
    assert parse_phone_label("AH0,AH*,s") == PhoneLabel("AH", "AH")
    assert parse_phone_label("") == PhoneLabel(SIL, SIL)
    with pytest.raises(ValueError):
        parse_phone_label("QQ,D,s")


def test_prepare_splits_and_lhotse_agreement(corpus: Path, tmp_path: Path):
    summary = prepare_l2arctic(corpus, tmp_path)
    assert not summary.skipped
    annotated = {f"{e['speaker'].lower()}-{e['utterance']}": e["annotated"] for e in synth_log(corpus)}
    test_ids = {s.lower() for s in TEST_SPEAKERS}
    for part in ("train", "test", "unlabelled"):
        cuts = CutSet.from_file(tmp_path / f"l2arctic_cuts_{part}.jsonl.gz")
        assert len(cuts) == summary.prepared[part] > 0
        for cut in cuts:
            sup = cut.supervisions[0]
            assert sup.custom["annotated"] == annotated[sup.id] == (part != "unlabelled")
            assert (sup.speaker in test_ids) == (part == "test")
            assert sup.custom["accent"] and sup.custom["canonical_phones"]
    # the fallback path (used when files are skipped) builds what lhotse's recipe builds
    read = lhotse_prepare_l2_arctic(corpus)["read"]
    utts = [u for d in sorted(corpus.iterdir()) for u in scan_speaker(d)[0]]
    recs, sups = _manifests_by_hand(utts)
    for mine, theirs in ((recs, read["recordings"]), (sups, read["supervisions"])):
        assert sorted(json.dumps(x.to_dict(), sort_keys=True) for x in mine) == sorted(
            json.dumps(x.to_dict(), sort_keys=True) for x in theirs
        )


def test_same_seed_same_bytes_other_seed_other_corpus(corpus: Path, tmp_path: Path):
    again = synth_l2arctic(tmp_path / "again", "tiny", seed=0, num_jobs=4)  # parallel: same bytes
    files = sorted(p.relative_to(corpus) for p in corpus.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for rel in files:
        assert (corpus / rel).read_bytes() == (again / rel).read_bytes(), rel
    assert synth_log(corpus) == synth_log(again)
    prepare_l2arctic(corpus, tmp_path / "m1")
    prepare_l2arctic(again, tmp_path / "m2")
    for m1 in sorted((tmp_path / "m1").glob("*.jsonl.gz")):
        text1 = gzip.decompress(m1.read_bytes()).decode()
        text2 = gzip.decompress((tmp_path / "m2" / m1.name).read_bytes()).decode()
        assert text1.replace(str(corpus), "ROOT") == text2.replace(str(again), "ROOT"), m1.name
    other = synth_l2arctic(tmp_path / "other", "tiny", seed=1, num_jobs=4)
    assert synth_log(other) != synth_log(corpus)
    assert (other / "ABA/wav/arctic_a0001.wav").read_bytes() != (
        corpus / "ABA/wav/arctic_a0001.wav"
    ).read_bytes()


def test_missing_corpus_is_a_one_line_error(tmp_path: Path):
    with pytest.raises(CorpusError, match="nowhere"):
        prepare_l2arctic(tmp_path / "nowhere", tmp_path / "out")


def _break_annotation_end(path: Path) -> None:
    """Make the phones tier end 0.5 s after the words tier."""
    text = path.read_text()
    head, phones = text.split('name = "phones"')
    end = head.split("xmax = ", 2)[1].split()[0]
    later = repr(round(float(end) + 0.5, 4))
    path.write_text(head + 'name = "phones"' + phones.replace(f"xmax = {end} ", f"xmax = {later} "))


def test_bad_files_are_skipped_and_listed(corpus: Path, tmp_path: Path):
    root = tmp_path / "L2-ARCTIC"
    shutil.copytree(corpus, root)
    entries = synth_log(corpus)
    annotated = [e for e in entries if e["annotated"]]
    bad = {
        root / "ABA/wav/arctic_a0001.wav": lambda p: p.write_bytes(b"RIFF\x00\x00not a wav at all"),
        root / "SKA/wav/arctic_a0002.wav": lambda p: p.write_bytes(b""),
        root / "BWC/transcript/arctic_a0003.txt": lambda p: p.write_text("\n"),
        root
        / annotated[5]["speaker"]
        / "annotation"
        / f"{annotated[5]['utterance']}.TextGrid": _break_annotation_end,
        root / annotated[9]["speaker"] / "annotation" / f"{annotated[9]['utterance']}.TextGrid": lambda p: (
            p.write_text(
                p.read_text().replace(
                    'text = "' + annotated[9]["words"][0].lower() + '"', 'text = "zebra"', 1
                )
            )
        ),
    }
    for path, breaker in bad.items():
        breaker(path)
    summary = prepare_l2arctic(root, tmp_path / "out")
    assert sorted(p for p, _ in summary.skipped) == sorted(str(p) for p in bad)
    reasons = dict(summary.skipped)
    assert "end at different times" in reasons[str(list(bad)[3])]
    assert "does not match the transcript" in reasons[str(list(bad)[4])]
    bad_ids = {f"{p.parent.parent.name.lower()}-{p.stem}" for p in bad}
    expected = {
        f"{e['speaker'].lower()}-{e['utterance']}"
        for e in entries
        if (e["annotated"] or e["speaker"] not in TEST_SPEAKERS)
    } - bad_ids
    found = {
        s.id
        for part in ("train", "test", "unlabelled")
        for s in load_manifest(tmp_path / "out" / f"l2arctic_supervisions_{part}.jsonl.gz")
    }
    assert found == expected
    assert "skipped 5 item(s)" in summary.report()


def test_piper_speakers_speak_the_edited_phones_with_sensible_boundaries(corpus: Path):
    """piper voices a share of the speakers; their TextGrids hold the perceived phones, and the
    phone boundaries (the model's own frames per symbol) put fricatives where the audio is noisy."""
    shares = json.loads((corpus.parent / "L2-ARCTIC.voices.json").read_text())
    assert shares["shares"] == {"espeak": 0.75, "piper": 0.25}
    families = {k: v["family"] for k, v in shares["speakers"].items()}
    assert sorted(set(families.values())) == ["espeak", "piper"] and len(families) == len(SPEAKERS)
    entries = [e for e in synth_log(corpus) if families[e["speaker"]] == "piper"]
    assert entries and all(e["voice"]["family"] == "piper" and "ipa" in e for e in entries)
    zcr = {"fricative": [], "vowel": []}
    for e in entries:
        kind = "annotation" if e["annotated"] else "textgrid"
        ann = read_annotation(corpus / e["speaker"] / kind / f"{e['utterance']}.TextGrid", e["text"])
        if e["annotated"]:
            assert ann.perceived_phones() == without_stress(e["perceived"])
        audio, rate = sf.read(str(corpus / e["speaker"] / "wav" / f"{e['utterance']}.wav"), dtype="float32")
        assert rate == 44100 and abs(len(audio) / rate - e["duration"]) < 1e-3
        for start, end, ph in ann.phones:
            if ph.perceived == SIL or end - start < 0.03:
                continue
            seg = audio[int(start * rate) : int(end * rate)]
            rate_of_crossings = float(np.mean(np.abs(np.diff(np.sign(seg))) > 0))
            if ph.perceived in ("S", "SH", "Z", "F", "TH", "CH"):
                zcr["fricative"].append(rate_of_crossings)
            elif ph.perceived in ("AA", "AE", "AH", "AO", "EH", "IY", "IH", "UW", "OW", "EY", "AY"):
                zcr["vowel"].append(rate_of_crossings)
    assert zcr["fricative"] and zcr["vowel"]
    assert np.mean(zcr["fricative"]) > 2 * np.mean(zcr["vowel"])

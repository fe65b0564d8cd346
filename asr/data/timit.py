"""TIMIT as native speech for the phone recogniser: lhotse's reader, its phone labels mapped to ARPAbet.

TIMIT's 61 hand-labelled phones are turned into the 39 stress-less ARPAbet phones L2-ARCTIC is annotated
in (CMUdict's conventions), so the recogniser trains on what was said rather than on dictionary
pronunciations: a closure merges into its release (an unreleased closure becomes the stop itself),
silences, pauses, epenthetic silence and the glottal stop ``q`` are dropped, the flap ``dx`` becomes
T, reduced and fronted vowels map to their full forms, syllabic ``el``/``em``/``en`` become AH + L/M/N.
The phones go to supervision ``custom["phones"]``, which the phone tokenizer trains on instead of the words.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from asr.text.phones import is_phone

from .common import CorpusError, save_manifest

TIMIT_TO_ARPABET: dict[str, tuple[str, ...]] = {
    "ax": ("AH",),
    "ax-h": ("AH",),
    "axr": ("ER",),
    "ix": ("IH",),
    "ux": ("UW",),
    "hv": ("HH",),
    "nx": ("N",),
    "eng": ("NG",),
    "dx": ("T",),
    "el": ("AH", "L"),
    "em": ("AH", "M"),
    "en": ("AH", "N"),
}
DROPPED = frozenset({"h#", "pau", "epi", "q"})
_STOPS = frozenset("bdgkpt")


def timit_to_arpabet(labels: Sequence[str]) -> list[str]:
    """TIMIT phone labels (lower case, as in ``.PHN`` files) → ARPAbet; raises ValueError for an unknown one."""
    out: list[str] = []
    for k, label in enumerate(labels):
        if label.endswith("cl"):  # bcl dcl gcl kcl pcl tcl: the release follows, unless it was not released
            stop = label[:-2]
            following = labels[k + 1] if k + 1 < len(labels) else ""
            if stop in _STOPS and following != stop and following not in ("ch", "jh"):
                out.append(stop.upper())
            continue
        if label in DROPPED:
            continue
        phones = TIMIT_TO_ARPABET.get(label, (label.upper(),))
        if not all(is_phone(p) for p in phones):
            raise ValueError(f"unknown TIMIT phone {label!r}")
        out.extend(phones)
    return out


def prepare_timit(corpus_dir: Path, out_dir: Path, num_jobs: int = 1) -> Path:
    """``timit_cuts_train.jsonl.gz`` in ``out_dir``: TIMIT's training part (lhotse's reader; it wants
    ``corpus_dir/data/TRAIN/DR1/FCJF0/SA1.WAV``) with ARPAbet phones in ``custom["phones"]``."""
    from lhotse import CutSet
    from lhotse.recipes import prepare_timit as lhotse_prepare_timit

    corpus_dir, out_dir = Path(corpus_dir), Path(out_dir)
    if not any((corpus_dir / "data" / "TRAIN").glob("*/*/*.WAV")):
        raise CorpusError(
            f"TIMIT not found: {corpus_dir}/data/TRAIN/<region>/<speaker>/*.WAV (lhotse's layout)"
        )
    try:  # num_phones=60: the labels as written
        manifests = lhotse_prepare_timit(corpus_dir, None, num_phones=60, num_jobs=num_jobs)
    except AssertionError as exc:  # lhotse validates every part: TRAIN, and DEV and TEST from data/TEST
        raise CorpusError(
            f"{corpus_dir}: lhotse's TIMIT reader failed ({exc}); it needs data/TRAIN and "
            "data/TEST with the core test set's speakers"
        ) from None
    train = manifests["TRAIN"]
    cuts = CutSet.from_manifests(
        recordings=train["recordings"], supervisions=train["supervisions"]
    ).to_eager()
    for cut in cuts:
        for sup in cut.supervisions:
            labels = [item.symbol for item in sup.alignment["phone"]]
            try:
                sup.custom = {**(sup.custom or {}), "phones": timit_to_arpabet(labels)}
            except ValueError as exc:
                raise CorpusError(f"{corpus_dir}: utterance {sup.id}: {exc}") from None
    path = out_dir / "timit_cuts_train.jsonl.gz"
    out_dir.mkdir(parents=True, exist_ok=True)
    save_manifest(cuts, path)
    return path

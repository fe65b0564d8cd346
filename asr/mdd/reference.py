"""Canonical and perceived phone files of annotated cuts, in the Kaldi-style form ``asr score mdd`` reads."""

from __future__ import annotations

from pathlib import Path

from asr.files import write_atomic

from .metrics import MddInputError, normalize_sequence


def reference_sequences(cuts_path: str | Path) -> tuple[dict[str, list[str]], dict[str, list[str]], int]:
    """``(canonical, perceived, skipped)``: cut id → phones from the supervisions' ``canonical_phones`` and
    ``perceived_phones`` (as ``asr prepare l2arctic`` writes them); cuts without them are skipped."""
    from asr.data.dataset import load_cuts

    canonical: dict[str, list[str]] = {}
    perceived: dict[str, list[str]] = {}
    skipped = 0
    for cut in load_cuts(cuts_path):
        custom = [s.custom or {} for s in cut.supervisions]
        if not custom or any("canonical_phones" not in c or "perceived_phones" not in c for c in custom):
            skipped += 1
            continue
        where = f"{cuts_path} (cut {cut.id})"
        canonical[cut.id] = normalize_sequence([p for c in custom for p in c["canonical_phones"]], where)
        perceived[cut.id] = normalize_sequence([p for c in custom for p in c["perceived_phones"]], where)
    if not canonical:
        raise MddInputError(
            f"{cuts_path}: no cut carries canonical_phones and perceived_phones (annotated L2 cuts)"
        )
    return canonical, perceived, skipped


def write_phone_file(sequences: dict[str, list[str]], path: Path) -> None:
    """``utt-id ph ph …`` lines, lower-case ARPAbet (the published files' form), sorted by id."""
    lines = [" ".join([utt, *(p.lower() for p in phones)]) for utt, phones in sorted(sequences.items())]
    write_atomic(path, ("\n".join(lines) + "\n").encode())


def write_reference(cuts_path: str | Path, out_dir: str | Path) -> dict[str, int]:
    """``canonical.txt`` and ``perceived.txt`` of the annotated cuts in ``cuts_path``, into ``out_dir``."""
    canonical, perceived, skipped = reference_sequences(cuts_path)
    out_dir = Path(out_dir)
    write_phone_file(canonical, out_dir / "canonical.txt")
    write_phone_file(perceived, out_dir / "perceived.txt")
    return {"utterances": len(canonical), "skipped": skipped}

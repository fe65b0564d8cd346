"""Greedy (best-path) CTC decoding of a cut set, batched by duration, with a progress bar."""

from __future__ import annotations

from pathlib import Path

import torch
from lhotse import CutSet
from lhotse.dataset import DynamicCutSampler
from tqdm.auto import tqdm

from asr.data.common import write_atomic
from asr.data.dataset import AudioDataset
from asr.objectives.ctc import CTCModel, greedy_decode


@torch.inference_mode()
def transcribe(model: CTCModel, cuts: CutSet, decode_ids, max_duration: float = 120.0,
               progress: bool = True) -> dict[str, str]:  # fmt: skip
    """Cut id -> greedy transcript (``decode_ids``: token ids -> text, e.g. a tokenizer's ``decode``).

    Cuts the dataset cannot use (unreadable, silent, too short) get an empty transcript, so every cut is
    accounted for in the output and scoring counts them as deletions.
    """
    model.eval()
    device = next(model.parameters()).device
    dataset = AudioDataset(min_samples=model.encoder.min_samples)
    sampler = DynamicCutSampler(cuts, max_duration=max_duration, shuffle=False)
    hyps: dict[str, str] = {}
    bar = tqdm(desc="decode", unit="cut", disable=not progress)
    for batch_cuts in sampler:
        for cut in batch_cuts:
            hyps[cut.id] = ""
        batch = dataset[batch_cuts]
        if batch is not None:
            log_probs, frames = model.log_probs(batch.audio.to(device), batch.audio_lengths.to(device))
            for cut_id, ids in zip(batch.cut_ids, greedy_decode(log_probs, frames), strict=True):
                hyps[cut_id] = decode_ids(ids)
        bar.update(len(batch_cuts))
    bar.close()
    return hyps


def write_kaldi_text(texts: dict[str, str], path: Path) -> Path:
    """``utt-id words...`` lines, sorted by id, written atomically."""
    lines = "".join(f"{k} {v}".rstrip() + "\n" for k, v in sorted(texts.items()))
    write_atomic(Path(path), lines.encode("utf-8"))
    return Path(path)

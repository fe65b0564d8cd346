"""asr.files: atomic writes, and checkpoints read strictly with errors that name the file and the fault."""

from __future__ import annotations

import argparse

import pytest
import torch
from conftest import run_cli

from asr.files import (
    CheckpointError,
    CorruptCheckpointError,
    ForeignCheckpointError,
    atomic_writer,
    load_checkpoint,
    load_model_strict,
    save_atomic,
    write_atomic,
)


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "table.md"
    write_atomic(path, b"old")
    with pytest.raises(RuntimeError), atomic_writer(path) as f:
        f.write(b"half")
        raise RuntimeError("killed")
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.md"]


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "ctc_model.pt"
    save_atomic({"model": {"w": torch.arange(4000.0)}, "vocab_size": 5}, path)
    return path


def test_damaged_checkpoints_are_called_corrupt(saved, tmp_path):
    data = saved.read_bytes()
    damaged = {
        "truncated.pt": data[: len(data) // 2],
        "empty.pt": b"",
        "text.pt": b"hello world" * 10,
        "pickle-garbage.pt": b"\x80\x02garbage",
    }
    for name, content in damaged.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(CorruptCheckpointError, match=rf"{name}: the file is corrupt"):
            load_checkpoint(tmp_path / name)
    assert load_checkpoint(saved)["vocab_size"] == 5
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "absent.pt")


def test_a_foreign_pickle_is_not_called_corrupt(tmp_path):
    path = tmp_path / "fairseq.pt"
    torch.save({"args": argparse.Namespace(arch="wav2vec2"), "model": {}}, path)
    with pytest.raises(ForeignCheckpointError, match="fairseq.pt: not a checkpoint of this toolkit"):
        load_checkpoint(path)


def test_strict_loading_names_every_kind_of_mismatch(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Linear(2, 2))
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state["0.weight"] = torch.zeros(5, 3)
    state["extra.bias"] = torch.zeros(1)
    del state["1.bias"]
    with pytest.raises(CheckpointError) as caught:
        load_model_strict(model, state, tmp_path / "ckpt.pt")
    message = str(caught.value)
    assert (
        "ckpt.pt" in message
        and "missing keys: 1.bias" in message
        and "unexpected keys: extra.bias" in message
    )
    assert "0.weight (5, 3) vs (2, 3)" in message


def test_finetune_and_decode_say_a_corrupt_ctc_model_is_corrupt(saved, tmp_path):
    """Regression: a damaged ``--init ctc_model.pt`` used to surface as an encoder-loading error."""
    saved.write_bytes(saved.read_bytes()[:200])
    code, out = run_cli("tokenizer", "train", "--kind", "char", "--out", tmp_path / "chars")
    assert code == 0, out
    code, out = run_cli(
        "finetune",
        "--cuts",
        tmp_path / "cuts.jsonl.gz",
        "--tokenizer",
        tmp_path / "chars",
        "--exp-dir",
        tmp_path / "exp",
        "--init",
        saved,
        "--no-progress",
    )
    assert code != 0 and f"{saved}: the file is corrupt" in out, out
    assert "encoder" not in out.lower(), out
    code, out = run_cli(
        "decode", "--model", saved, "--cuts", tmp_path / "cuts.jsonl.gz", "--out", tmp_path / "hyp.txt"
    )
    assert code != 0 and f"{saved}: the file is corrupt" in out, out

"""The training loop shared by every objective: sampling, AMP, accumulation, checkpoints, resume, DDP."""

from asr.files import CheckpointError, load_checkpoint

from .checkpoint import average_checkpoints, list_checkpoints
from .config import TrainConfig, TrainResult
from .distributed import run_distributed
from .loop import train
from .schedule import lr_scale

__all__ = [
    "CheckpointError",
    "TrainConfig",
    "TrainResult",
    "average_checkpoints",
    "list_checkpoints",
    "load_checkpoint",
    "lr_scale",
    "run_distributed",
    "train",
]

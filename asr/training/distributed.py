"""Distributed data parallel set-up: torchrun's environment, process groups, and a local launcher.

Under ``torchrun`` each process sees ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; :func:`setup` turns
them into a process group (NCCL on CUDA, gloo on CPU). :func:`run_distributed` starts the same
function on N local CPU processes with that environment, which is how tests (and a CPU-only machine)
run DDP without torchrun.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


@dataclass
class DistInfo:
    """Where this process sits in the job."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    owns_group: bool = False  # True when setup() created the process group (and cleanup() must end it)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def pick_device(name: str, local_rank: int = 0) -> torch.device:
    """``"auto"`` → the local rank's GPU when CUDA is available, else the CPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("device 'cuda' requested but CUDA is not available")
        return torch.device("cuda", local_rank)
    return torch.device(name)


def setup(device: str = "auto") -> DistInfo:
    """Read torchrun's environment (or an existing process group) and join the job; a plain run is rank 0 of 1."""
    if dist.is_available() and dist.is_initialized():
        rank, world = dist.get_rank(), dist.get_world_size()
        local = int(os.environ.get("LOCAL_RANK", rank % max(1, torch.cuda.device_count() or 1)))
        dev = pick_device(device, local)
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        return DistInfo(rank, world, local, dev, owns_group=False)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    dev = pick_device(device, local)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if world == 1:
        return DistInfo(0, 1, 0, dev)
    dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo", init_method="env://")
    return DistInfo(rank, world, local, dev, owns_group=True)


def cleanup(info: DistInfo, barrier: bool = True) -> None:
    """End the process group if :func:`setup` started it (after a barrier, unless this rank failed)."""
    if info.owns_group and dist.is_initialized():
        if barrier:  # no rank may drop its connections while another still finishes the last collective
            dist.barrier()
        dist.destroy_process_group()


def all_gather_objects(obj: Any, info: DistInfo) -> list[Any]:
    """``obj`` from every rank, in rank order (just ``[obj]`` when not distributed)."""
    if not info.distributed:
        return [obj]
    out: list[Any] = [None] * info.world_size
    dist.all_gather_object(out, obj)
    return out


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, fn: Callable, world_size: int, port: int, threads: int, args: tuple, results) -> None:
    os.environ.update(
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(world_size),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    torch.set_num_threads(threads)
    results.put((rank, fn(*args)))


def run_distributed(fn: Callable, world_size: int = 1, *args: Any) -> list[Any]:
    """Run ``fn(*args)`` on ``world_size`` local CPU processes as torchrun would; return each rank's result.

    ``world_size=1`` calls ``fn`` in this process. Otherwise ``fn`` (a module-level function, results
    picklable) runs in spawned processes with ``RANK``/``WORLD_SIZE``/``MASTER_*`` set, so
    :func:`asr.training.train` inside it joins a gloo process group; the CPU cores are shared out.
    """
    if world_size == 1:
        return [fn(*args)]
    ctx = mp.get_context("spawn")
    results = ctx.SimpleQueue()
    threads = max(1, (os.cpu_count() or 1) // world_size)
    procs = mp.start_processes(
        _worker,
        args=(fn, world_size, _free_port(), threads, args, results),
        nprocs=world_size,
        join=False,
        start_method="spawn",
    )
    out: dict[int, Any] = {}
    finished = False
    while not finished:
        finished = procs.join(timeout=0.1)  # raises when a rank fails
        # Drain while waiting: a rank blocks on a result larger than the pipe's buffer until it is read.
        while not results.empty():
            rank, value = results.get()
            out[rank] = value
    return [out[r] for r in range(world_size)]

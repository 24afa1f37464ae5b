"""Data-parallel training on torch.distributed.

Under `torchrun` (which sets `RANK`, `WORLD_SIZE`, `MASTER_ADDR` and `MASTER_PORT`), `tat train`
and `tiny_agent_trainer.train` join torch.distributed's process group and train one model on
every process: each takes its share of every global batch (`training.batch_size` is the global
batch), the engine sums the gradients through a `TorchCollective`, every process takes the same
update, and rank 0 alone writes the run folder.

    torchrun --nproc-per-node 2 -m tiny_agent_trainer train config/wgsl_small.toml

The engine hands its tensors over as DLPack capsules: `torch.from_dlpack` makes torch tensors of
the same memory, so the collectives run in place on the engine's gradients and weights.
"""

from __future__ import annotations

import atexit
import os
from datetime import timedelta
from typing import Any, Callable

import torch
import torch.distributed as dist

TIMEOUT = timedelta(minutes=10)
"""How long a collective waits for the other processes before it fails (a process that died or
hangs): every process then stops with an error instead of waiting for ever."""


class TorchCollective:
    """The engine's view of a torch.distributed process group (the default one, or `group`):
    `rank`, `world_size`, and in-place `all_reduce` (a sum) and `broadcast` (from rank 0) of the
    tensors the engine hands over as DLPack capsules."""

    def __init__(self, group: Any = None) -> None:
        if not dist.is_initialized():
            raise RuntimeError(
                "TorchCollective needs a process group: call torch.distributed.init_process_group() first "
                "(or run under torchrun, where tat train joins one itself)"
            )
        self.group = group
        self.rank = dist.get_rank(group)
        self.world_size = dist.get_world_size(group)
        self.root = 0 if group is None else dist.get_global_rank(group, 0)
        # NCCL reduces CUDA tensors only: CPU tensors (the engine's small sums) go through the GPU.
        self.device = (
            torch.device("cuda", torch.cuda.current_device()) if dist.get_backend(group) == "nccl" else None
        )

    def _run(self, capsule: Any, collective: Callable[[torch.Tensor], object]) -> None:
        tensor = torch.from_dlpack(capsule)
        if self.device is not None and tensor.device != self.device:
            moved = tensor.to(self.device)
            collective(moved)
            tensor.copy_(moved)
        else:
            collective(tensor)

    def all_reduce(self, capsule: Any) -> None:
        self._run(capsule, lambda t: dist.all_reduce(t, op=dist.ReduceOp.SUM, group=self.group))

    def broadcast(self, capsule: Any) -> None:
        self._run(capsule, lambda t: dist.broadcast(t, src=self.root, group=self.group))


def world_size() -> int:
    """The number of processes torchrun started (1 outside torchrun)."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        raise RuntimeError(f"WORLD_SIZE={os.environ['WORLD_SIZE']!r} is not a whole number") from None


def from_environment(device: str | None = None) -> TorchCollective | None:
    """The process group of a torchrun launch, joined on first use (gloo; NCCL where `device`
    is `cuda`), or None for a single process. Only the processes of one launch may call it."""
    if world_size() <= 1:
        return None
    if not dist.is_initialized():
        cuda = (device or "").startswith("cuda") and torch.cuda.is_available()
        if cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend="nccl" if cuda else "gloo", timeout=TIMEOUT)
        # A gloo group still alive when the interpreter shuts down aborts the process
        # ("terminate called without an active exception"), and torchrun then stops the others.
        atexit.register(_leave)
    return TorchCollective()


def _leave() -> None:
    """Leave the process group this module joined (a no-op once it is gone)."""
    if dist.is_initialized():
        dist.destroy_process_group()


def is_writer(collective: TorchCollective | None) -> bool:
    """Whether this process reports and writes (rank 0, or the only process)."""
    return collective is None or collective.rank == 0

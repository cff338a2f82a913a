"""Several training processes through torch.distributed (torchrun sets the environment).

One process per device: ``torchrun --nproc_per_node N -m engine.cli lora ...`` (or any launcher
that sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``). The
backend is NCCL on CUDA and gloo on the CPU. Rank 0 alone writes files and reports progress.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None  # None: a single process, no process group
    owns_group: bool = False  # whether this job created the group (and so destroys it)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.backend is not None


def setup_distributed(use_cuda: bool) -> DistInfo:
    """Join the process group the environment describes (or the one already initialised)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        local = int(os.environ.get("LOCAL_RANK", dist.get_rank()))
        return DistInfo(dist.get_rank(), dist.get_world_size(), local, dist.get_backend())
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    backend = "nccl" if use_cuda else "gloo"
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if use_cuda:
        import torch

        torch.cuda.set_device(local)
    dist.init_process_group(backend=backend)
    return DistInfo(dist.get_rank(), dist.get_world_size(), local, backend, owns_group=True)


def mean_across(info: DistInfo, value: float, device: Any) -> float:
    """The mean of ``value`` over all processes."""
    if not info.distributed:
        return value
    import torch
    import torch.distributed as dist

    tensor = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return float(tensor.item()) / info.world_size


def gather_objects(info: DistInfo, obj: Any) -> list[Any]:
    """``obj`` from every process, by rank (every process gets the list)."""
    if not info.distributed:
        return [obj]
    import torch.distributed as dist

    out: list[Any] = [None] * info.world_size
    dist.all_gather_object(out, obj)
    return out


def barrier(info: DistInfo) -> None:
    if info.distributed:
        import torch.distributed as dist

        dist.barrier()


def teardown(info: DistInfo) -> None:
    """Leave the group this job created (a no-op the second time, or for a group not ours)."""
    if info.owns_group:
        import gc

        import torch.distributed as dist

        if dist.is_initialized():
            gc.collect()  # a DDP cycle still alive would keep the group's threads working
            dist.destroy_process_group()

"""Data-parallel training across the processes that `torchrun` starts, one model replica each.

    torchrun --standalone --nproc_per_node=2 -m digitlab train --epochs 20

torchrun tells every process who it is through environment variables (RANK, WORLD_SIZE,
LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT); without them a process is a world of
one and nothing here does anything. The rules `training.fit` follows:

- `--batch-size` is the global batch: each of N processes takes batch/N images per step, so one
  step sees the same images as a single process would and the learning rate stays as it is.
- Every process draws the same shuffled permutation of the training set from the same seeded
  generator and keeps every N-th index (`order[rank::N]`), so the shards never overlap.
- Augmentation and dropout draw from a seed of their own for each (rank, epoch): the processes see
  different distortions, and a resumed run re-derives them instead of saving each rank's state.
- Gradients are averaged by DistributedDataParallel; batch-norm running statistics are averaged
  once per epoch, so every process holds rank 0's model exactly when it is evaluated and saved.
- Rank 0 alone writes the run directory and prints.
"""

from __future__ import annotations

import gc
import hashlib
import inspect
import os
from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from digitlab.datasets import Split
from digitlab.errors import DigitlabError


@dataclass(frozen=True)
class World:
    """This process's place among the processes of one training run."""

    rank: int = 0        # 0 .. size-1 over all nodes
    size: int = 1        # processes in the run (torchrun's WORLD_SIZE)
    local_rank: int = 0  # 0 .. local_size-1 on this node: picks the GPU
    local_size: int = 1  # processes on this node

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> World:
        """The world torchrun describes in `env`, or a world of one."""
        try:
            size = int(env.get("WORLD_SIZE", "1"))
            if size == 1:
                return cls()
            return cls(rank=int(env["RANK"]), size=size, local_rank=int(env.get("LOCAL_RANK", "0")),
                       local_size=int(env.get("LOCAL_WORLD_SIZE", str(size))))
        except (KeyError, ValueError) as exc:
            raise DigitlabError(f"WORLD_SIZE is set but RANK/LOCAL_RANK are missing or not numbers ({exc}); "
                                "start distributed training with torchrun.") from None

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def is_main(env: Mapping[str, str] = os.environ) -> bool:
    """Whether this process is the one that writes and prints (rank 0, or the only process)."""
    return World.from_env(env).is_main


def local_batch_size(batch_size: int, world: World) -> int:
    """Each process's share of the global `batch_size`."""
    if batch_size % world.size:
        raise DigitlabError(f"--batch-size {batch_size} does not split evenly over {world.size} processes; "
                            f"use a multiple of {world.size}.")
    return batch_size // world.size


def default_threads(world: World, cores: int | None = None) -> int:
    """CPU threads per process when `--threads` is not given: the node's cores shared out among
    its processes (torchrun's own default of 1 leaves cores idle on larger machines); 0, PyTorch's
    choice, for a single process."""
    if world.size == 1:
        return 0
    cores = cores or len(os.sched_getaffinity(0))
    return max(1, cores // world.local_size)


def rank_device(device: torch.device, world: World) -> torch.device:
    """`cuda` means the GPU numbered by the process's local rank; a CPU stays a CPU."""
    if device.type == "cuda" and device.index is None and world.size > 1:
        return torch.device("cuda", world.local_rank)
    return device


def init(world: World, device: torch.device) -> str | None:
    """Join torchrun's process group: nccl between GPUs, gloo between CPUs. Returns the backend,
    None for a world of one."""
    if world.size == 1:
        return None
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend, rank=world.rank, world_size=world.size)
    return backend


def cleanup(world: World) -> None:
    """Leave the process group, all processes together. Release the DistributedDataParallel
    wrapper first: one still alive at exit (it sits in reference cycles, so only the garbage
    collector frees it) takes gloo down during interpreter shutdown, which aborts the process
    ("terminate called without an active exception") in about one run in ten."""
    if world.size > 1 and dist.is_initialized():
        gc.collect()
        dist.barrier()
        dist.destroy_process_group()


def wrap(model: nn.Module, world: World, device: torch.device) -> nn.Module:
    """The model in DistributedDataParallel, or `model` itself for a world of one. Buffers are not
    broadcast every step: `average_buffers` makes them agree once per epoch."""
    if world.size == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    # torch 2.13 renamed broadcast_buffers (still accepted, with a warning) to forward_sync_buffers.
    parameters = inspect.signature(DistributedDataParallel).parameters
    no_sync = {"forward_sync_buffers" if "forward_sync_buffers" in parameters else "broadcast_buffers": False}
    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None, **no_sync)


def shard(order: torch.Tensor, world: World) -> torch.Tensor:
    """This process's indices of `order`: every `world.size`-th one, starting at its rank. The last
    few are dropped so every process takes as many steps as every other (a process with one
    batch more would wait forever for the others' gradients); a reshuffle next epoch drops others."""
    usable = len(order) - len(order) % world.size
    return order[:usable][world.rank::world.size]


def shard_split(split: Split, world: World) -> Split:
    """This process's part of an evaluation split: every `world.size`-th image, none dropped (the
    parts may differ by one image; `average` weighs them by their sizes)."""
    if world.size == 1:
        return split
    return Split(split.images[world.rank::world.size], split.labels[world.rank::world.size])


def rank_seed(seed: int, rank: int, epoch: int) -> int:
    """A seed for one rank in one epoch, unrelated to those of other ranks and epochs."""
    digest = hashlib.blake2b(f"digitlab/{seed}/{rank}/{epoch}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def average(means: list[float], world: World, device: torch.device, count: int = 1) -> list[float]:
    """Means each process computed over its `count` items -> the means over all processes' items
    (`count` matters only where processes saw different numbers of items)."""
    if world.size == 1:
        return means
    totals = torch.tensor([*(m * count for m in means), count], dtype=torch.float64, device=device)
    dist.all_reduce(totals)
    return (totals[:-1] / totals[-1]).tolist()


@torch.no_grad()
def average_buffers(model: nn.Module, world: World) -> None:
    """Average floating-point buffers (batch-norm running statistics) over the processes, each
    having gathered its own over its shard."""
    if world.size == 1:
        return
    for buffer in model.buffers():
        if buffer.is_floating_point():
            dist.all_reduce(buffer)
            buffer /= world.size

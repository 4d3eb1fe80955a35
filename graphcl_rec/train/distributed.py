"""The process group of a multi-process run on :mod:`torch.distributed`.

A launcher (``torchrun --nproc-per-node N``, or ``graphcl-rec train --nproc N``,
which runs torchrun) starts ``N`` processes and describes the group in their
environment: ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and
``MASTER_PORT``. :func:`init_from_env` joins it with the backend that fits the
training device (``nccl`` on CUDA, ``gloo`` on CPU), and
:class:`~graphcl_rec.train.trainer.Trainer` trains data-parallel whenever a group
of more than one process is initialised (see :mod:`graphcl_rec.train.ddp`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import Tensor

from graphcl_rec.train.seed import resolve_device

ENV_VARS = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
"""What ``init_method="env://"`` reads (``LOCAL_RANK`` defaults to ``RANK``)."""


@dataclass(frozen=True)
class Group:
    """This process's place in the default process group.

    Attributes:
        rank: Global index of this process, ``0 <= rank < world_size``.
        world_size: Number of processes.
        local_rank: Index among the processes of this machine (its GPU).
        backend: ``"gloo"`` or ``"nccl"``.
    """

    rank: int
    world_size: int
    local_rank: int
    backend: str

    @property
    def is_main(self) -> bool:
        """Whether this is rank 0, the process that writes files."""
        return self.rank == 0

    @property
    def comm_device(self) -> torch.device:
        """Where tensors must be for this backend's collectives."""
        if self.backend == "nccl":
            return torch.device("cuda", torch.cuda.current_device())
        return torch.device("cpu")


def env_world_size() -> int:
    """``WORLD_SIZE`` from the environment (1 when unset)."""
    text = os.environ.get("WORLD_SIZE", "1")
    try:
        size = int(text)
    except ValueError:
        raise ValueError(f"WORLD_SIZE must be an int >= 1 (got {text!r})") from None
    if size < 1:
        raise ValueError(f"WORLD_SIZE must be an int >= 1 (got {size})")
    return size


def backend_for(device: torch.device) -> str:
    """``"nccl"`` for a CUDA device, ``"gloo"`` otherwise.

    Examples:
        >>> backend_for(torch.device("cpu"))
        'gloo'
    """
    return "nccl" if device.type == "cuda" else "gloo"


def current() -> Group | None:
    """The initialised default group, or ``None`` (none, or a single process)."""
    if not (dist.is_available() and dist.is_initialized()):
        return None
    world = dist.get_world_size()
    if world == 1:
        return None
    rank = dist.get_rank()
    local = int(os.environ.get("LOCAL_RANK", rank))
    return Group(rank, world, local, str(dist.get_backend()))


def is_main_process() -> bool:
    """``True`` in a single process and on rank 0 of a group."""
    group = current()
    return group is None or group.is_main


def init_from_env(device: str | torch.device = "auto",
                  timeout_s: float = 1800.0) -> Group | None:
    """Joins the process group the launcher described in the environment.

    Does nothing (returns ``None``) when ``WORLD_SIZE`` is unset or 1. On CUDA each
    process takes the GPU of its ``LOCAL_RANK`` (``torch.cuda.set_device``), so the
    trainer's ``"auto"``/``"cuda"`` device is that GPU.

    Args:
        device: The training device (``Trainer(device=...)``); picks the backend.
        timeout_s: Seconds a collective may wait for the other processes.

    Returns:
        The group, or ``None`` for a single process.

    Raises:
        ValueError: If a variable is missing, the device names one GPU for every
            process, or there are fewer GPUs than processes on this machine.
        RuntimeError: If the backend is not built into this torch.
    """
    world = env_world_size()
    if world == 1:
        return None
    if dist.is_initialized():
        return current()
    missing = [name for name in ENV_VARS if name not in os.environ]
    if missing:
        raise ValueError(f"WORLD_SIZE={world} but {missing} are not set; start the "
                         "processes with torchrun (or graphcl-rec train --nproc N)")
    dev = resolve_device(device)
    local = int(os.environ.get("LOCAL_RANK", os.environ["RANK"]))
    if dev.type == "cuda":
        if dev.index is not None:
            raise ValueError(f"device {str(device)!r} puts all {world} processes on "
                             "one GPU; use 'cuda' or 'auto' (each process takes the "
                             "GPU of its LOCAL_RANK)")
        if local >= torch.cuda.device_count():
            raise ValueError(f"LOCAL_RANK={local} but this machine has "
                             f"{torch.cuda.device_count()} GPU(s); start at most "
                             "that many processes per machine, or train on 'cpu'")
        torch.cuda.set_device(local)
    backend = backend_for(dev)
    if not dist.is_backend_available(backend):
        raise RuntimeError(f"torch.distributed backend {backend!r} is not available "
                           f"in this torch build ({torch.__version__})")
    dist.init_process_group(backend, init_method="env://",
                            timeout=timedelta(seconds=timeout_s))
    return current()


@contextmanager
def launched(device: str | torch.device = "auto") -> Iterator[Group | None]:
    """:func:`init_from_env` for the duration of a block; leaves the group after.

    A group that was already initialised is yielded and left alone.

    Examples:
        >>> with launched("cpu") as group:  # WORLD_SIZE unset: one process
        ...     print(group)
        None
    """
    owned = not (dist.is_available() and dist.is_initialized())
    group = init_from_env(device)
    try:
        yield group
    finally:
        if owned and group is not None and dist.is_initialized():
            dist.destroy_process_group()


def all_reduce_sum(tensor: Tensor, group: Group) -> None:
    """Sums ``tensor`` over the processes, in place (moved for the backend)."""
    if tensor.device == group.comm_device:
        dist.all_reduce(tensor)
        return
    moved = tensor.to(group.comm_device)
    dist.all_reduce(moved)
    tensor.copy_(moved)


def broadcast_flag(flag: bool, group: Group) -> bool:
    """Rank 0's ``flag``, in every process (so that all take the same branch)."""
    value = torch.tensor([int(flag)], device=group.comm_device)
    dist.broadcast(value, src=0)
    return bool(value.item())


def broadcast_generator(gen: torch.Generator, group: Group) -> None:
    """Sets ``gen`` to rank 0's state in every process."""
    state = gen.get_state().to(group.comm_device)
    dist.broadcast(state, src=0)
    gen.set_state(state.cpu())

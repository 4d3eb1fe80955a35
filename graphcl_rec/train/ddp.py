r"""What one ``Trainer.fit`` does differently with several processes.

:class:`~graphcl_rec.train.trainer.Trainer` builds a :class:`DataParallelFit` when
a process group of ``N > 1`` processes is initialised
(:mod:`graphcl_rec.train.distributed`); with one process none exists and the
loop is unchanged. The semantics:

- **Batches.** Every process draws the whole epoch (views and triples) from the
  same generator, so all see the single-process order, cut into batches of
  ``batch_size`` triples; process ``r`` takes batches ``r, r + N, r + 2N, ...``.
  One optimiser step covers ``N`` consecutive batches: the *global* batch of
  ``N * batch_size`` triples, the same triples one process takes with
  ``batch_size=N * batch_size``, and an epoch has ``N`` times fewer steps (which
  is where the speed comes from: each step propagates over the whole graph in
  every process). Checkpoints record the global batch, so a checkpoint resumes
  with any number of processes that keeps it (``N * batch_size``).
- **Gradients.** The objective is wrapped in
  :class:`~torch.nn.parallel.DistributedDataParallel` through a module whose
  ``forward`` is ``Recommender.loss``. Process ``r``'s batch holds :math:`n_r` of
  the step's :math:`n` triples and its loss is scaled by :math:`w_r = N n_r / n`
  before the backward pass; DDP averages, so the gradient is
  :math:`\sum_r (n_r / n) \nabla L_r`, the single-process gradient of the global
  batch for any loss that is a mean over triples (BPR, L2). Terms over a batch's
  *unique* nodes (InfoNCE) are averaged per process instead: close to, not equal
  to, one process. A process left without a batch at the end of an epoch runs one
  triple at weight 0.
- **Randomness.** Views and triples come from the shared generator. Draws inside
  ``loss`` (noise, synthetic negatives) come from rank 0's shared generator on
  rank 0 and from a generator seeded by ``(seed, epoch, rank)`` elsewhere; rank
  0's state is broadcast at the end of every epoch.
- **Buffers** that ``loss`` updates (MoCo's queues, in-batch item counts) are
  broadcast from rank 0 at every step (DDP's ``broadcast_buffers``), so they hold
  rank 0's part of each batch only.
- **Evaluation** is split by blocks of users and combined exactly
  (:func:`~graphcl_rec.eval.sharded.evaluate_sharded`); every process gets the
  same metrics, hence the same early-stopping decisions.
- **All-node InfoNCE** is not split by candidates: each process scores its own
  batch's anchors against every candidate, so each (anchor, candidate) pair of the
  global batch is computed once, by one process, and the work is already divided.
  Splitting the candidates too would add an all-reduce of partial log-sum-exps per
  step and remove nothing. What every process repeats is the propagation of the
  whole graph (and of the views), which only graph partitioning would divide.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from graphcl_rec.data.interactions import Interactions
from graphcl_rec.data.sampling import Batch
from graphcl_rec.eval.blocks import Exclude
from graphcl_rec.eval.sharded import evaluate_sharded
from graphcl_rec.models.base import Recommender
from graphcl_rec.train.distributed import (
    Group,
    all_reduce_sum,
    broadcast_flag,
    broadcast_generator,
)


class _Objective(nn.Module):
    """``Recommender.loss`` as ``forward``, which is what DDP wraps."""

    def __init__(self, model: Recommender) -> None:
        super().__init__()
        self.model = model

    def forward(self, batch: Batch, adjs: list[Tensor],
                views: list[list[Tensor]] | None,
                generator: torch.Generator | None) -> dict[str, Tensor]:
        return self.model.loss(batch, adjs, views, generator)


def take(step: Sequence[Batch], rank: int, world_size: int) -> tuple[Batch, float]:
    """Process ``rank``'s batch of one step's batches, and its loss weight.

    The weight is :math:`N n_r / n` (see the module docstring); a process without a
    batch gets the step's first triple at weight 0.

    Examples:
        >>> t = torch.arange
        >>> step = [Batch(t(4), t(4), t(4)), Batch(t(2), t(2), t(2))]
        >>> [(b.user.tolist(), w) for b, w in (take(step, r, 3) for r in range(3))]
        [([0, 1, 2, 3], 2.0), ([0, 1], 1.0), ([0], 0.0)]
    """
    total = sum(b.user.shape[0] for b in step)
    if rank < len(step):
        return step[rank], world_size * step[rank].user.shape[0] / total
    return Batch(*(x[:1] for x in step[0])), 0.0


def rank_seed(seed: int, epoch: int, rank: int) -> int:
    """A 63-bit seed for rank ``rank``'s own draws in ``epoch``.

    Examples:
        >>> rank_seed(0, 1, 1) == rank_seed(0, 1, 1) != rank_seed(0, 1, 2)
        True
    """
    digest = hashlib.blake2b(f"{seed}:{epoch}:{rank}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "little") >> 1


class DataParallelFit:
    """The per-fit state of data-parallel training (see the module docstring).

    Args:
        model: The recommender, already on its device (its parameters and buffers
            are broadcast from rank 0).
        group: This process's :class:`~graphcl_rec.train.distributed.Group`.
        seed: The run's seed (for the ranks' own generators).
    """

    def __init__(self, model: Recommender, group: Group, seed: int) -> None:
        device = next(model.parameters()).device
        ids = [device.index] if device.type == "cuda" else None
        self.group, self.seed = group, seed
        self.module = DistributedDataParallel(_Objective(model), device_ids=ids)
        self.weight = 1.0

    def batches(self, batches: Iterator[Batch]) -> Iterator[Batch]:
        """This process's batch of every step (sets :attr:`weight`)."""
        rank, world = self.group.rank, self.group.world_size
        step: list[Batch] = []
        for batch in batches:
            step.append(batch)
            if len(step) == world:
                mine, self.weight = take(step, rank, world)
                yield mine
                step = []
        if step:
            mine, self.weight = take(step, rank, world)
            yield mine

    def loss(self, batch: Batch, adjs: list[Tensor],
             views: list[list[Tensor]] | None,
             generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """``model.loss`` through DDP, every term times this part's weight."""
        out = self.module(batch, adjs, views, generator)
        return {key: value * self.weight for key, value in out.items()}

    def generator(self, gen: torch.Generator, epoch: int) -> torch.Generator:
        """The generator ``loss`` draws from in ``epoch`` on this process."""
        if self.group.is_main:
            return gen
        own = torch.Generator(device=gen.device)
        own.manual_seed(rank_seed(self.seed, epoch, self.group.rank))
        return own

    def end_epoch(self, gen: torch.Generator, sums: dict[str, Tensor]
                  ) -> dict[str, Tensor]:
        """Syncs ``gen`` to rank 0's and averages the weighted loss sums."""
        broadcast_generator(gen, self.group)
        if not sums:
            return sums
        keys = list(sums)  # the loss's order, the same in every process
        stacked = torch.stack([sums[k].to(torch.float64) for k in keys])
        all_reduce_sum(stacked, self.group)
        stacked /= self.group.world_size
        return dict(zip(keys, stacked))

    def agree(self, flag: bool) -> bool:
        """Rank 0's ``flag`` in every process (wall-clock budgets differ)."""
        return broadcast_flag(flag, self.group)

    def evaluate(self, embeddings: tuple[Tensor, Tensor], *, graph: Interactions,
                 target: Interactions, exclude: Exclude, k: Sequence[int],
                 batch_size: int | None = None, **_: Any) -> dict[str, float]:
        """Full ranking split by user blocks; equals one process's exactly."""
        del graph  # the embeddings are given
        return evaluate_sharded(
            *embeddings, target, exclude=exclude, k=k, batch_size=batch_size,
            rank=self.group.rank, world_size=self.group.world_size,
            all_reduce=lambda t: all_reduce_sum(t, self.group))

r"""Full-ranking evaluation split by blocks of users across processes.

Each process ranks every ``world_size``-th block of the users that
:func:`~graphcl_rec.eval.ranking.evaluate_embeddings` would rank, with the same
block boundaries, and writes each block's metric sums into its row of a
``[num_blocks, M]`` table that is zero elsewhere. Summing the tables over the
processes (an all-reduce) adds only zeros to each row, so it is exact, and the rows
are then added in block order: the same float64 additions, in the same order, as
one process makes. The result equals the single-process evaluation bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from graphcl_rec.data.interactions import Interactions
from graphcl_rec.eval.blocks import Exclude, Ranker, topk_blocks
from graphcl_rec.eval.groups import covered_items
from graphcl_rec.eval.hits import hits_matrix
from graphcl_rec.eval.inputs import ranking_setup
from graphcl_rec.eval.metrics import check_ks, metrics_from_hits

AllReduce = Callable[[Tensor], None]
"""Sums a tensor over the processes, in place (the identity for one process)."""


def evaluate_sharded(
    user_emb: Tensor,
    item_emb: Tensor,
    target: Interactions,
    exclude: Exclude = None,
    k: int | Sequence[int] = (20,),
    batch_size: int | None = None,
    memory_budget_mb: float = 256,
    ranker: Ranker = "auto",
    *,
    rank: int = 0,
    world_size: int = 1,
    all_reduce: AllReduce | None = None,
) -> dict[str, float]:
    """This process's share of a full-ranking evaluation, combined over processes.

    Takes the arguments of
    :func:`~graphcl_rec.eval.ranking.evaluate_embeddings` (without ``per_user``
    and the beyond-accuracy metrics) and returns the same dict, equal to it exactly
    when every process passes the same embeddings and ``all_reduce`` sums over the
    processes. Process ``rank`` ranks blocks ``rank, rank + world_size, ...`` of
    ``B`` users each (``B`` from ``batch_size`` or the memory budget, as there),
    so processes only share work when there are at least ``world_size`` blocks.

    Shapes:
        - user_emb: ``[U, d]``, item_emb: ``[I, d]``.

    Args:
        user_emb: User embeddings (the same in every process).
        item_emb: Item embeddings (the same in every process).
        target: Ground-truth pairs.
        exclude: Pairs never to rank.
        k: Cut-offs.
        batch_size: Users per block (``None``: from ``memory_budget_mb``).
        memory_budget_mb: Score-buffer budget when ``batch_size`` is ``None``.
        ranker: See :func:`~graphcl_rec.eval.blocks.topk_blocks`.
        rank: This process's index in ``[0, world_size)``.
        world_size: Number of processes.
        all_reduce: In-place sum over the processes; ``None`` only for
            ``world_size == 1``.

    Returns:
        ``{f"{name}@{K}": float}`` plus ``coverage@K``.

    Raises:
        ValueError: On a bad ``rank``/``world_size``, a missing ``all_reduce``,
            or any input :func:`evaluate_embeddings` refuses.

    Examples:
        >>> target = Interactions(torch.tensor([0, 1]), torch.tensor([2, 1]), 2, 3)
        >>> emb = torch.eye(2), torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
        >>> evaluate_sharded(*emb, target, k=[2])["recall@2"]
        1.0
    """
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"'rank' must be in [0, world_size) and 'world_size' >= 1 "
                         f"(got rank={rank}, world_size={world_size})")
    if all_reduce is None and world_size > 1:
        raise ValueError(f"'all_reduce' is required with world_size={world_size}")
    ks = check_ks(k)
    num_users, num_items = target.shape
    block, target, truth, ex_keys, num_truth, users = ranking_setup(
        user_emb, item_emb, target, exclude, batch_size, memory_budget_mb)
    device = user_emb.device
    n = users.numel()
    mine = list(range(rank, -(-n // block), world_size))
    names = _metric_names(ks)
    sums = torch.zeros(-(-n // block), len(names), dtype=torch.float64, device=device)
    covered = torch.zeros(len(ks), num_items, dtype=torch.int32, device=device)
    if mine:
        rows = torch.cat([users[b * block : (b + 1) * block] for b in mine])
        kcut = min(ks[-1], num_items)
        blocks = topk_blocks(user_emb, item_emb, rows, ex_keys, kcut, block, ranker)
        for b, (s, vals, idx) in zip(mine, blocks):
            ub = rows[s : s + idx.size(0)]
            valid = vals > float("-inf")
            hits = hits_matrix(idx, truth, ub, num_items, valid)
            per_list = metrics_from_hits(hits, num_truth[ub], ks)
            sums[b] = torch.stack([value.sum() for value in per_list.values()])
            for j, kk in enumerate(ks):
                covered[j] |= covered_items(idx[:, :kk], num_items, valid[:, :kk])
    if all_reduce is not None and world_size > 1:
        all_reduce(sums)
        all_reduce(covered)
    total = torch.zeros(len(names), dtype=torch.float64, device=device)
    for row in sums:  # block order, as one process adds them
        total = total + row
    result = {name: float(value) / n for name, value in zip(names, total)}
    for j, kk in enumerate(ks):
        result[f"coverage@{kk}"] = float((covered[j] > 0).sum()) / num_items
    return result


def _metric_names(ks: tuple[int, ...]) -> list[str]:
    """The keys of :func:`metrics_from_hits`, in its order."""
    one = torch.zeros(1, ks[-1], dtype=torch.bool)
    return list(metrics_from_hits(one, torch.ones(1, dtype=torch.long), ks))

"""Evaluation split by user blocks: the combined result equals one process's."""

import pytest
import torch

from graphcl_rec.data import random_split
from graphcl_rec.eval import evaluate_embeddings
from graphcl_rec.eval.sharded import evaluate_sharded
from tests.conftest import random_interactions


def _inputs():
    inter = random_interactions(97, 300, 3000, seed=0)
    train, val = random_split(inter, ratios=(0.8, 0.2), seed=0)
    g = torch.Generator().manual_seed(0)
    return torch.randn(97, 16, generator=g), torch.randn(300, 16, generator=g), \
        train, val


def simulated(world_size, **kwargs):
    """Every rank's result when the ranks' tables are summed, as an all-reduce does."""
    user_emb, item_emb, train, val = _inputs()
    if world_size == 1:
        return [evaluate_sharded(user_emb, item_emb, val, exclude=train, **kwargs)]
    tables: list[list[torch.Tensor]] = [[] for _ in range(world_size)]
    for rank in range(world_size):
        evaluate_sharded(user_emb, item_emb, val, exclude=train, rank=rank,
                         world_size=world_size, all_reduce=tables[rank].append,
                         **kwargs)
    totals = [sum(t[i] for t in tables) for i in range(2)]
    results = []
    for rank in range(world_size):
        given = iter(totals)
        results.append(evaluate_sharded(
            user_emb, item_emb, val, exclude=train, rank=rank, world_size=world_size,
            all_reduce=lambda t, given=given: t.copy_(next(given)), **kwargs))
    return results


@pytest.mark.parametrize("ranker", ["native", "group-major", "row-major"])
@pytest.mark.parametrize("batch_size", [1, 7, 16, None])
@pytest.mark.parametrize("world_size", [1, 2, 3])
def test_equals_one_process_bit_for_bit(ranker, batch_size, world_size):
    user_emb, item_emb, train, val = _inputs()
    expected = evaluate_embeddings(user_emb, item_emb, val, exclude=train,
                                   k=[5, 20], batch_size=batch_size, ranker=ranker)
    for got in simulated(world_size, k=[5, 20], batch_size=batch_size,
                         ranker=ranker):
        assert list(got) == list(expected)
        assert got == expected


def test_more_processes_than_blocks_leave_some_idle():
    # 1000 users per block: one block, so rank 1 ranks nothing and adds zeros.
    user_emb, item_emb, train, val = _inputs()
    expected = evaluate_embeddings(user_emb, item_emb, val, exclude=train,
                                   batch_size=1000)
    assert simulated(2, batch_size=1000) == [expected, expected]


def test_one_process_needs_no_all_reduce():
    user_emb, item_emb, train, val = _inputs()
    assert evaluate_sharded(user_emb, item_emb, val, exclude=train) == \
        evaluate_embeddings(user_emb, item_emb, val, exclude=train)


@pytest.mark.parametrize("rank,world_size,needle", [
    (2, 2, "'rank' must be in"), (-1, 2, "'rank' must be in"),
    (0, 0, "'rank' must be in"), (1, 2, "'all_reduce' is required"),
])
def test_refuses_bad_ranks(rank, world_size, needle):
    user_emb, item_emb, train, val = _inputs()
    with pytest.raises(ValueError, match=needle):
        evaluate_sharded(user_emb, item_emb, val, rank=rank, world_size=world_size)

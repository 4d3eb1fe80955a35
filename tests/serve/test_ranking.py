"""The exact top-K paths of recommend(): one user, many users, cached layouts."""

import pytest
import torch

from graphcl_rec.serve.ranking import (
    Derived,
    slabs,
    top_many,
    top_one,
    transposed,
)
from graphcl_rec.serve.seen import SeenItems
from tests.serve.conftest import trained


def brute(user_emb, item_emb, users, seen_lists, k):
    """Top-k by a dense product with seen items at -inf (ties: any order)."""
    scores = user_emb[users].double() @ item_emb.double().T
    for r, items in enumerate(seen_lists):
        scores[r, items] = float("-inf")
    values, indices = torch.topk(scores, k, dim=1)
    return indices.masked_fill(values == float("-inf"), -1), values


def test_top_one_matches_a_dense_ranking_and_pads():
    g = torch.Generator().manual_seed(0)
    user_emb = torch.randn(5, 8, generator=g)
    item_emb = torch.randn(300, 8, generator=g)
    seen = torch.tensor([3, 7, 7, 299])
    idx, val = top_one(user_emb[2], transposed(item_emb), seen, 20)
    want, want_val = brute(user_emb, item_emb, [2], [seen.tolist()], 20)
    assert idx.tolist() == want[0].tolist()
    assert torch.allclose(val.double(), want_val[0], atol=1e-5)
    idx, val = top_one(torch.ones(1), torch.tensor([[1.0, 2.0, 3.0]]),
                       torch.tensor([2, 0]), 3)
    assert idx.tolist() == [1, -1, -1] and val[1] == float("-inf")
    assert top_one(torch.ones(1), torch.tensor([[1.0, 2.0]]), None, 2)[0].tolist() \
        == [1, 0]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_top_many_matches_a_dense_ranking(dtype):
    # float32 takes the native kernel where it builds, float64 the torch rankers.
    g = torch.Generator().manual_seed(1)
    user_emb = torch.randn(30, 16, generator=g, dtype=dtype)
    item_emb = torch.randn(700, 16, generator=g, dtype=dtype)
    users = torch.tensor([5, 2, 5, 29, 0])  # unsorted, with a repeat
    seen_lists = [[1, 2, 3], [], [1, 2, 3], list(range(0, 700, 2)), [699]]
    row = torch.tensor([r for r, items in enumerate(seen_lists) for _ in items])
    item = torch.tensor([i for items in seen_lists for i in items])
    cache = Derived(slabs)
    for block in (2, 64):
        idx, val = top_many(user_emb, item_emb, users, (row, item), 20, block, cache)
        want, want_val = brute(user_emb, item_emb, users, seen_lists, 20)
        assert idx.tolist() == want.tolist()
        assert torch.allclose(val.double(), want_val, atol=1e-4)
    assert idx[0].tolist() == idx[2].tolist()
    none, _ = top_many(user_emb, item_emb, users, None, 5, 8)
    assert none.tolist() == brute(user_emb, item_emb, users, [[]] * 5, 5)[0].tolist()


def test_top_many_pads_when_everything_is_seen():
    item_emb = torch.randn(70, 4)
    idx, val = top_many(torch.ones(1, 4), item_emb, torch.tensor([0]),
                        (torch.zeros(69, dtype=torch.long), torch.arange(69)), 3, 8)
    assert idx.tolist() == [[69, -1, -1]]
    assert val[0, 1] == float("-inf")


def test_derived_copies_follow_the_table():
    calls = []

    def build(table):
        calls.append(1)
        return transposed(table)

    cache = Derived(build)
    table = torch.arange(6.0).view(3, 2)
    assert cache.get(table).tolist() == [[0.0, 2.0, 4.0], [1.0, 3.0, 5.0]]
    cache.get(table)
    assert len(calls) == 1  # kept
    table[2, 1] = 9.0  # in place
    assert cache.get(table)[1, 2] == 9.0 and len(calls) == 2
    other = table.clone()  # same values, another tensor
    cache.get(other)
    assert len(calls) == 3
    assert slabs(torch.randn(70, 4)).shape == (2, 4, 64)


def test_items_of_matches_gather_with_added_pairs(small):
    seen = SeenItems(small)
    for user in (0, 7, 19, 25):
        assert sorted(seen.items_of(user).tolist()) == sorted(
            seen.gather(torch.tensor([user]))[1].tolist())
    seen.add(torch.tensor([7, 21, 21]), torch.tensor([0, 3, 4]))
    for user in (7, 21, 22):
        assert sorted(seen.items_of(user).tolist()) == sorted(
            seen.gather(torch.tensor([user]))[1].tolist())
    assert seen.items_of(21).tolist() == [3, 4]
    assert seen.items_of(-1).numel() == 0


@pytest.mark.parametrize("encoder", ["lightgcn", "mf"])
def test_single_and_batched_recommend_agree(small, encoder):
    rec = trained(encoder, small)
    rec.fold_in_user("new", ["i1", "i2", "i3"])
    users = ["u3", "new", "u0", "u3"]
    rows, scores = rec.recommend(users, k=6, return_indices=True)
    for n, user in enumerate(users):
        one, one_scores = rec.recommend(user, k=6, return_indices=True)
        assert one.tolist() == rows[n].tolist()
        assert torch.allclose(torch.from_numpy(one_scores),
                              torch.from_numpy(scores[n]), atol=1e-5)
    new = rec.users.index["new"]
    assert not {1, 2, 3} & set(rec.recommend("new", k=12, return_indices=True)[0]
                                .tolist())
    seen = [rec.seen.items_of(new).tolist()]
    want, _ = brute(rec.user_emb, rec.item_emb, [new], seen, 6)
    assert rows[1].tolist() == want[0].tolist()


def test_single_user_sees_embedding_changes(small):
    rec = trained("mf", small)
    before = rec.recommend("u0", k=3, return_indices=True)[0]
    u0 = rec.users.index["u0"]
    with torch.no_grad():  # in place: the cached transposed copy is now stale
        rec.item_emb[before[-1]] = 100.0 * rec.user_emb[u0]
    assert rec.recommend("u0", k=1, return_indices=True)[0].tolist() == [before[-1]]
    assert rec.recommend(["u0"], k=1, return_indices=True)[0].tolist() == [
        [before[-1]]]


def test_derived_takes_inference_tensors():
    with torch.inference_mode():
        table = torch.arange(6.0).view(3, 2)
    cache = Derived(transposed)
    assert cache.get(table).shape == (2, 3)
    assert cache.get(table) is cache.get(table)

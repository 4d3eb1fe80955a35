import logging

import pytest
import torch

from graphcl_rec.data import Interactions, k_core


def random_inter(
    seed: int = 0, num_users: int = 120, num_items: int = 80, num_pairs: int = 900
) -> Interactions:
    g = torch.Generator().manual_seed(seed)
    # Skewed degrees so that filtering cascades over several iterations.
    user = (torch.rand(num_pairs, generator=g) ** 2 * num_users).long()
    item = (torch.rand(num_pairs, generator=g) ** 3 * num_items).long()
    ts = torch.arange(num_pairs)
    inter = Interactions(
        user,
        item,
        num_users,
        num_items,
        tuple(f"u{i}" for i in range(num_users)),
        tuple(f"i{i}" for i in range(num_items)),
        ts,
    )
    return inter.deduplicate()[0]


def reference_core(pairs: set, user_k: int, item_k: int) -> set:
    pairs = set(pairs)
    while True:
        users, items = {}, {}
        for u, i in pairs:
            users[u] = users.get(u, 0) + 1
            items[i] = items.get(i, 0) + 1
        kept = {(u, i) for u, i in pairs if users[u] >= user_k and items[i] >= item_k}
        if kept == pairs:
            return kept
        pairs = kept


def raw_pairs(inter: Interactions) -> set:
    return {
        (inter.user_ids[u], inter.item_ids[i])
        for u, i in zip(inter.user.tolist(), inter.item.tolist())
    }


@pytest.mark.parametrize("user_k,item_k", [(5, 5), (3, 10), (10, 2)])
def test_k_core_degree_bounds_and_stability(user_k, item_k):
    inter = random_inter()
    core = k_core(inter, user_k=user_k, item_k=item_k)
    assert len(core) > 0
    assert (core.user_degree() >= user_k).all()
    assert (core.item_degree() >= item_k).all()
    again = k_core(core, user_k=user_k, item_k=item_k)
    assert torch.equal(again.user, core.user) and torch.equal(again.item, core.item)
    assert raw_pairs(core) == reference_core(raw_pairs(inter), user_k, item_k)


def test_k_core_keeps_raw_ids_timestamps_and_order():
    inter = random_inter(seed=1)
    core = k_core(inter, 4, 4)
    assert len(core.user_ids) == core.num_users and len(core.item_ids) == core.num_items
    index = [int(u[1:]) for u in core.user_ids]
    assert index == sorted(index)  # relative order kept
    old_user = torch.tensor([inter.user_index[u] for u in core.user_ids])[core.user]
    old_item = torch.tensor([inter.item_index[i] for i in core.item_ids])[core.item]
    lookup = dict(
        zip(zip(inter.user.tolist(), inter.item.tolist()), inter.timestamp.tolist())
    )
    assert core.timestamp.tolist() == [
        lookup[p] for p in zip(old_user.tolist(), old_item.tolist())
    ]


def test_k_core_without_raw_ids_uses_old_indices():
    inter = Interactions(torch.tensor([0, 0, 2, 2]), torch.tensor([1, 3, 1, 3]), 3, 4)
    core = k_core(inter, 2, 2)
    assert core.user_ids == ("0", "2") and core.item_ids == ("1", "3")
    assert core.shape == (2, 2)


def test_k_core_logs_iterations(caplog):
    with caplog.at_level(logging.INFO, logger="graphcl_rec"):
        k_core(random_inter(), 5, 5)
    assert "iterations" in caplog.text and "removed" in caplog.text


def test_k_core_zero_keeps_all_pairs_and_can_empty_everything():
    inter = random_inter()
    assert len(k_core(inter, 0, 0)) == len(inter)
    empty = k_core(inter, 10**6, 1)
    assert len(empty) == 0 and empty.shape == (0, 0)


@pytest.mark.parametrize("bad", [-1, 2.5, True])
def test_k_core_rejects_bad_thresholds(bad):
    with pytest.raises(ValueError, match="user_k"):
        k_core(random_inter(), user_k=bad)

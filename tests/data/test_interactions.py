import logging

import pytest
import torch

from graphcl_rec.data import Interactions, concat, k_core
from graphcl_rec.graph import adjacency


def weighted() -> Interactions:
    return Interactions(
        torch.tensor([0, 0, 1, 2, 2]),
        torch.tensor([1, 2, 0, 1, 2]),
        3,
        3,
        timestamp=torch.tensor([5, 4, 3, 2, 1]),
        weight=torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0]),
    )


def triples(inter: Interactions) -> list[tuple[int, int, float]]:
    return list(zip(inter.user.tolist(), inter.item.tolist(), inter.weight.tolist()))


def test_weight_is_optional_and_follows_the_pairs():
    inter = weighted()
    assert Interactions(inter.user, inter.item, 3, 3).weight is None
    sub = inter.subset(torch.tensor([4, 0]))
    assert triples(sub) == [(2, 2, 5.0), (0, 1, 1.0)]
    assert inter.to("cpu").weight is inter.weight
    assert triples(inter.sorted()) == triples(inter)
    swapped = inter.with_pairs(inter.item, inter.user, weight=inter.weight * 2)
    assert swapped.weight.tolist() == [2.0, 4.0, 6.0, 8.0, 10.0]
    assert inter.with_pairs(inter.user, inter.item).weight is None


def test_to_moves_the_weight(device):
    moved = weighted().to(device)
    assert moved.weight.device == torch.device(device)
    assert moved.weight.tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]


def test_weight_shape_is_checked():
    inter = weighted()
    with pytest.raises(ValueError, match="'weight' must be 1-D with one entry per"):
        Interactions(inter.user, inter.item, 3, 3, weight=torch.ones(4))


def test_deduplicate_and_k_core_keep_the_weight():
    inter = weighted()
    doubled = inter.with_pairs(
        torch.cat([inter.user, inter.user]),
        torch.cat([inter.item, inter.item]),
        weight=torch.cat([inter.weight, inter.weight + 10]),
    )
    once, removed = doubled.deduplicate()
    assert removed == 5 and sorted(triples(once)) == sorted(triples(inter))
    core = k_core(inter, user_k=2, item_k=2)
    assert sorted(core.weight.tolist()) == [1.0, 2.0, 4.0, 5.0]


def test_concat_keeps_weights_and_order():
    inter = weighted()
    a, b = inter.subset(torch.tensor([0, 1])), inter.subset(torch.tensor([2, 3, 4]))
    both = concat([a, b])
    assert triples(both) == triples(inter)
    assert both.timestamp.tolist() == inter.timestamp.tolist()


def test_concat_collapses_repeated_pairs_and_logs_the_count(caplog):
    inter = weighted()
    again = inter.subset(torch.tensor([3, 0]))
    with caplog.at_level(logging.WARNING, logger="graphcl_rec"):
        both = concat([inter, again, again])
    assert triples(both) == triples(inter)  # the first occurrence wins, in order
    assert "collapsed 4 (user, item) pairs present more than once" in caplog.text


def test_concat_no_longer_doubles_an_edge_in_the_adjacency():
    inter = weighted()
    single = adjacency(inter).to_dense()
    both = adjacency(concat([inter, inter.subset(torch.tensor([0]))])).to_dense()
    assert torch.equal(single, both)


def test_concat_drops_a_field_only_some_parts_have_and_says_so(caplog):
    inter = weighted()
    plain = Interactions(torch.tensor([1]), torch.tensor([1]), 3, 3)
    with caplog.at_level(logging.WARNING, logger="graphcl_rec"):
        both = concat([inter, plain])
    assert both.weight is None and both.timestamp is None and len(both) == 6
    assert "1 of 2 parts have no weight" in caplog.text
    assert "1 of 2 parts have no timestamp" in caplog.text


def test_concat_refuses_different_id_maps():
    a = Interactions(torch.tensor([0]), torch.tensor([0]), 1, 1, ("u",), ("x",))
    b = Interactions(torch.tensor([0]), torch.tensor([0]), 1, 1, ("v",), ("x",))
    with pytest.raises(ValueError, match="different user_ids maps"):
        concat([a, b])
    assert len(concat([a, a.with_pairs(a.user, a.item)])) == 1

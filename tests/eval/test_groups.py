import pytest
import torch

from graphcl_rec.data.interactions import Interactions
from graphcl_rec.eval import (
    coverage,
    evaluate_embeddings,
    group_report,
    sparsity_groups,
)
from graphcl_rec.eval.groups import covered_items


def train_with_degrees(degrees, num_items=20):
    user = torch.arange(len(degrees)).repeat_interleave(torch.tensor(degrees))
    item = torch.cat([torch.arange(d) for d in degrees])
    return Interactions(user, item, len(degrees), num_items)


def test_sparsity_groups_are_quantiles():
    train = train_with_degrees([1, 2, 3, 4, 5, 6, 7, 8])
    users = torch.arange(8)
    assert sparsity_groups(train, users, 4).tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert sparsity_groups(train, users, 4, ties="split").tolist() == [
        0, 0, 1, 1, 2, 2, 3, 3]
    assert sparsity_groups(train, users.flip(0), 2).tolist() == [1] * 4 + [0] * 4
    assert sparsity_groups(train, users, 1).tolist() == [0] * 8


def test_sparsity_groups_keep_ties_together(caplog):
    train = train_with_degrees([1, 1, 1, 1, 1, 9, 9, 2])
    groups = sparsity_groups(train, torch.arange(8), 4)
    assert "only 3 of 4 groups are non-empty" in caplog.text
    assert "degree 1 holds 5 of 8 users" in caplog.text
    assert groups.tolist() == [1, 1, 1, 1, 1, 3, 3, 2]  # each block at its middle


def test_a_large_tied_block_does_not_swallow_the_others(caplog):
    # Most users at the top degree: ranked by their first position they all went
    # to group 0 together with the sparse users; by their middle they do not.
    train = train_with_degrees([1] + [5] * 9)
    groups = sparsity_groups(train, torch.arange(10), 4)
    assert "only 2 of 4 groups" in caplog.text
    assert groups.tolist() == [0] + [2] * 9


def test_one_degree_for_everyone_is_said(caplog):
    train = train_with_degrees([3] * 12)
    groups = sparsity_groups(train, torch.arange(12), 4)
    assert "only 1 of 4 groups" in caplog.text and "degree 3 holds 12" in caplog.text
    assert groups.unique().tolist() == [2]  # the quantile of their middle


def test_split_ties_gives_equal_groups_deterministically(caplog):
    train = train_with_degrees([3] * 9 + [1, 7, 3])
    users = torch.tensor([11, 0, 5, 9, 10, 1, 2, 3, 4, 6, 7, 8])
    groups = sparsity_groups(train, users, 4, ties="split")
    assert "non-empty" not in caplog.text
    assert torch.bincount(groups).tolist() == [3, 3, 3, 3]
    by_user = dict(zip(users.tolist(), groups.tolist()))
    assert by_user[9] == 0 and by_user[10] == 3  # sparsest first, densest last
    # among the tied degree-3 users the lower index comes first
    tied = sorted(u for u in by_user if u not in (9, 10))
    assert [by_user[u] for u in tied] == sorted(by_user[u] for u in tied)
    assert torch.equal(sparsity_groups(train, users, 4, ties="split"), groups)
    with pytest.raises(ValueError, match="ties 'apart'.*'together', 'split'"):
        sparsity_groups(train, users, 4, ties="apart")


def test_sparsity_groups_subset_and_errors():
    train = train_with_degrees([3, 1, 2])
    assert sparsity_groups(train, torch.tensor([2, 0]), 2).tolist() == [0, 1]
    assert sparsity_groups(train, torch.tensor([], dtype=torch.long)).numel() == 0
    with pytest.raises(ValueError, match="'num_groups'"):
        sparsity_groups(train, torch.arange(3), 0)


def test_group_report_means_and_ranges():
    per_user = {
        "recall@20": torch.tensor([0.0, 1.0, 0.5, 0.25], dtype=torch.float64),
        "users": torch.tensor([3, 5, 7, 9]),
    }
    groups = torch.tensor([0, 2, 2, 0])
    degree = torch.tensor([1, 8, 6, 2])
    rows = group_report(per_user, groups, degree)
    assert rows == [
        {
            "group": 0,
            "min_degree": 1,
            "max_degree": 2,
            "num_users": 2,
            "recall@20": 0.125,
        },
        {
            "group": 2,
            "min_degree": 6,
            "max_degree": 8,
            "num_users": 2,
            "recall@20": 0.75,
        },
    ]


def test_group_report_end_to_end():
    gen = torch.Generator().manual_seed(0)
    train = train_with_degrees(
        [int(d) for d in torch.randint(1, 15, (40,), generator=gen)]
    )
    test = Interactions(torch.arange(40), torch.full((40,), 19), 40, 20)
    user_emb = torch.randn(40, 4, generator=gen)
    item_emb = torch.randn(20, 4, generator=gen)
    out = evaluate_embeddings(user_emb, item_emb, test, train, k=[5], per_user=True)
    groups = sparsity_groups(train, out["users"], 4)
    rows = group_report(out, groups, train.user_degree()[out["users"]])
    assert sum(r["num_users"] for r in rows) == 40
    weighted = sum(r["recall@5"] * r["num_users"] for r in rows) / 40
    assert weighted == pytest.approx(float(out["recall@5"].mean()))
    lows = [r["min_degree"] for r in rows]
    assert lows == sorted(lows)


def test_coverage():
    idx = torch.tensor([[0, 1], [1, 2]])
    assert coverage(idx, 5) == pytest.approx(0.6)
    valid = torch.tensor([[True, True], [True, False]])
    assert coverage(idx, 5, valid) == pytest.approx(0.4)
    assert covered_items(idx, 4, valid).tolist() == [True, True, False, False]
    assert coverage(idx[:0], 0) == 0.0

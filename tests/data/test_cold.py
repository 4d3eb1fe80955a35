import json

import pytest
import torch

from graphcl_rec.data import Interactions, drop_cold, random_split, split_summary
from tests.conftest import random_interactions


def naive_summary(train, parts, names):
    def counts(p):
        return {
            "pairs": len(p),
            "users": len(set(p.user.tolist())),
            "items": len(set(p.item.tolist())),
        }

    users, items = set(train.user.tolist()), set(train.item.tolist())
    out = {"train": counts(train)}
    for name, p in zip(names, parts):
        pairs = list(zip(p.user.tolist(), p.item.tolist()))
        out[name] = {
            **counts(p),
            "cold_user_pairs": sum(u not in users for u, _ in pairs),
            "cold_item_pairs": sum(i not in items for _, i in pairs),
            "cold_pairs": sum(u not in users or i not in items for u, i in pairs),
        }
    return out


@pytest.mark.parametrize("per_user", [True, False])
def test_split_summary_matches_a_naive_count(per_user):
    inter = random_interactions(50, 300, 600, seed=2)
    train, val, test = random_split(inter, seed=0, per_user=per_user)
    summary = split_summary(train, val, test)
    assert summary == naive_summary(train, (val, test), ("val", "test"))
    assert summary["test"]["cold_pairs"] > 0  # sparse items: some are unseen
    json.dumps(summary)  # plain ints, ready for a results file


def test_split_summary_names():
    inter = random_interactions(20, 30, 100, seed=0)
    parts = random_split(inter, (0.6, 0.2, 0.1, 0.1), seed=0)
    assert list(split_summary(*parts)) == ["train", "part 0", "part 1", "part 2"]
    assert list(split_summary(*parts[:2], names=["dev"])) == ["train", "dev"]
    with pytest.raises(ValueError, match="names"):
        split_summary(*parts[:2], names=["a", "b"])


def test_drop_cold_matches_a_naive_filter():
    inter = random_interactions(50, 300, 600, seed=2)
    train, _, test = random_split(inter, seed=0, per_user=False)
    kept, removed = drop_cold(train, test)
    users, items = set(train.user.tolist()), set(train.item.tolist())
    warm = [
        (u, i)
        for u, i in zip(test.user.tolist(), test.item.tolist())
        if u in users and i in items
    ]
    assert list(zip(kept.user.tolist(), kept.item.tolist())) == warm
    assert removed == len(test) - len(warm) > 0
    assert split_summary(train, kept, names=["test"])["test"]["cold_pairs"] == 0


def test_parts_must_share_the_index_space():
    a = Interactions(torch.tensor([0]), torch.tensor([0]), 1, 1)
    b = Interactions(torch.tensor([0]), torch.tensor([0]), 2, 1)
    with pytest.raises(ValueError, match="shape"):
        drop_cold(a, b)

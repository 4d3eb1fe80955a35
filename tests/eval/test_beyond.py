import math
from itertools import combinations

import pytest
import torch

from graphcl_rec.data import Interactions
from graphcl_rec.eval import evaluate, evaluate_embeddings
from graphcl_rec.eval.beyond import (
    beyond_accuracy,
    beyond_from_topk,
    catalogue_coverage,
    intra_list_diversity,
    novelty,
    self_information,
    unit_rows,
)
from graphcl_rec.models import BPRRecommender, LightGCN
from tests.conftest import random_interactions


@pytest.fixture
def small_model():
    torch.manual_seed(0)
    train = random_interactions(15, 12, 60, seed=3)
    test = random_interactions(15, 12, 30, seed=4)
    seen = set(zip(train.user.tolist(), train.item.tolist()))
    keep = torch.tensor([(u, i) not in seen for u, i in
                         zip(test.user.tolist(), test.item.tolist())])
    test = Interactions(test.user[keep], test.item[keep], 15, 12)
    return BPRRecommender(LightGCN(15, 12, dim=6, num_layers=2)), train, test


def ref_ild(lists, emb):
    emb = emb.double()
    out = []
    for items in lists:
        items = [i for i in items if i >= 0]
        pairs = list(combinations(items, 2))
        if not pairs:
            out.append(0.0)
            continue
        dist = [1 - float(torch.nn.functional.cosine_similarity(emb[a], emb[b], 0))
                for a, b in pairs]
        out.append(sum(dist) / len(dist))
    return out


def ref_novelty(lists, degree, num_users):
    out = []
    for items in lists:
        items = [i for i in items if i >= 0]
        info = [-math.log2(max(int(degree[i]), 1) / num_users) for i in items]
        out.append(sum(info) / len(info) if info else 0.0)
    return out


@pytest.mark.parametrize("seed", range(3))
def test_against_reference_implementations(seed):
    g = torch.Generator().manual_seed(seed)
    emb = torch.randn(30, 5, generator=g)
    degree = torch.randint(0, 20, (30,), generator=g)
    lists = torch.stack([torch.randperm(30, generator=g)[:6] for _ in range(8)])
    lists[0, 4:] = -1  # padding
    lists[1, 1:] = -1  # a single item
    ild = intra_list_diversity(lists, emb)
    nov = novelty(lists, degree, 25)
    assert ild.dtype == nov.dtype == torch.float64 and ild.shape == (8,)
    torch.testing.assert_close(ild, torch.tensor(ref_ild(lists.tolist(), emb),
                                                 dtype=torch.float64))
    torch.testing.assert_close(nov, torch.tensor(
        ref_novelty(lists.tolist(), degree, 25), dtype=torch.float64))
    covered = {i for row in lists.tolist() for i in row if i >= 0}
    assert catalogue_coverage(lists, 30) == len(covered) / 30


def test_valid_mask_and_summary():
    emb = torch.eye(3)
    lists = torch.tensor([[0, 1, 2]])
    valid = torch.tensor([[True, True, False]])
    assert intra_list_diversity(lists, emb, valid).tolist() == [1.0]
    assert novelty(lists, torch.tensor([4, 1, 1]), 4, valid).tolist() == [1.0]
    assert catalogue_coverage(lists, 3, valid) == 2 / 3
    out = beyond_accuracy(lists, emb, torch.tensor([4, 1, 1]), 4, valid)
    assert out == {"diversity": 1.0, "novelty": 1.0, "coverage": 2 / 3}


def test_identical_items_have_no_diversity_and_bad_num_users():
    emb = torch.ones(4, 2)
    ild = intra_list_diversity(torch.tensor([[0, 1, 2]]), emb)
    assert ild.item() == pytest.approx(0)
    with pytest.raises(ValueError, match="'num_users' must be positive"):
        novelty(torch.tensor([[0]]), torch.tensor([1]), 0)


def naive_topk(user_emb, item_emb, users, excluded, k):
    """Each user's top-``k`` unexcluded items by a Python sort (ties: lower index)."""
    lists = []
    for u in users:
        scores = [(float(user_emb[u] @ item_emb[i]), -i) for i in range(len(item_emb))
                  if (u, i) not in excluded]
        lists.append([-neg for _, neg in sorted(scores, reverse=True)[:k]])
    return lists


def tiny_case():
    """6 users x 7 items, random embeddings (no ties in the scores)."""
    g = torch.Generator().manual_seed(5)
    user_emb = torch.randn(6, 3, generator=g)
    item_emb = torch.randn(7, 3, generator=g)
    train = Interactions(torch.tensor([0, 0, 1, 2, 3, 3, 4, 5, 5]),
                         torch.tensor([0, 1, 2, 3, 0, 4, 5, 6, 1]), 6, 7)
    # Users 1 and 5 have no test pairs: they are not evaluated.
    test = Interactions(torch.tensor([0, 2, 2, 3, 4]),
                        torch.tensor([2, 4, 0, 1, 6]), 6, 7)
    return user_emb, item_emb, train, test


@pytest.mark.parametrize("ranker", ["auto", "row-major", "group-major"])
def test_evaluate_beyond_against_loops(ranker):
    user_emb, item_emb, train, test = tiny_case()
    out = evaluate((user_emb, item_emb), graph=train, target=test, k=[2, 5, 9],
                   beyond=True, ranker=ranker)
    users = [0, 2, 3, 4]
    excluded = set(zip(train.user.tolist(), train.item.tolist()))
    degree = [0] * 7
    for i in train.item.tolist():
        degree[i] += 1
    for k in (2, 5, 9):  # 9 > the 5 or 6 rankable items of each user
        lists = naive_topk(user_emb, item_emb, users, excluded, k)
        assert out[f"diversity@{k}"] == pytest.approx(
            sum(ref_ild(lists, item_emb)) / len(users), abs=1e-12)
        assert out[f"novelty@{k}"] == pytest.approx(
            sum(ref_novelty(lists, degree, 6)) / len(users), abs=1e-12)
        assert out[f"coverage@{k}"] == len({i for row in lists for i in row}) / 7
    plain = evaluate((user_emb, item_emb), graph=train, target=test, k=[2, 5, 9],
                     ranker=ranker)
    assert not any(key.startswith(("diversity", "novelty")) for key in plain)
    assert plain == {key: v for key, v in out.items()
                     if not key.startswith(("diversity", "novelty"))}


def test_coverage_and_beyond_count_only_the_evaluated_users():
    _, _, train, test = tiny_case()
    item_emb = torch.eye(7)  # score of (u, i) = user_emb[u, i]
    user_emb = torch.tensor([[0, 0, 9, 8, 1, 1, 0],  # top-2: 2, 3 (0, 1 seen)
                             [0, 0, 0, 0, 0, 0, 9],  # not evaluated: 6 first
                             [0, 0, 0, 0, 9, 8, 0],  # 4, 5
                             [0, 9, 8, 0, 0, 0, 0],  # 1, 2
                             [9, 0, 0, 8, 0, 0, 0],  # 0, 3
                             [0, 0, 0, 0, 0, 0, 0]], dtype=torch.float)
    excluded = set(zip(train.user.tolist(), train.item.tolist()))
    out = evaluate((user_emb, item_emb), graph=train, target=test, k=[1, 2],
                   beyond=True)
    for k in (1, 2):
        evaluated = naive_topk(user_emb, item_emb, [0, 2, 3, 4], excluded, k)
        everyone = naive_topk(user_emb, item_emb, range(6), excluded, k)
        covered = {i for row in evaluated for i in row}
        assert {i for row in everyone for i in row} - covered  # the case tests it
        assert out[f"coverage@{k}"] == len(covered) / 7
        assert out[f"novelty@{k}"] == pytest.approx(
            sum(ref_novelty(evaluated, train.item_degree(), 6)) / 4, abs=1e-12)


def test_per_user_beyond_and_a_model(small_model):
    model, train, test = small_model
    per_user = evaluate(model, graph=train, target=test, k=[3], beyond=True,
                        per_user=True)
    means = evaluate(model, graph=train, target=test, k=[3], beyond=True)
    assert per_user["diversity@3"].shape == per_user["users"].shape
    assert "coverage@3" not in per_user
    for name in ("diversity@3", "novelty@3"):
        assert float(per_user[name].mean()) == pytest.approx(means[name], abs=1e-12)
    assert 0 <= means["diversity@3"] <= 2 and means["novelty@3"] >= 0


def test_item_degree_of_the_wrong_shape_is_refused():
    user_emb, item_emb, train, test = tiny_case()
    with pytest.raises(ValueError, match=r"'item_degree' must have shape \(7,\)"):
        evaluate_embeddings(user_emb, item_emb, test, item_degree=torch.ones(6))


def test_beyond_from_topk_matches_the_single_list_functions():
    g = torch.Generator().manual_seed(2)
    emb = torch.randn(12, 4, generator=g)
    emb[3] = 0  # a zero embedding: cosine 0 with everything
    degree = torch.randint(0, 9, (12,), generator=g)
    lists = torch.stack([torch.randperm(12, generator=g)[:6] for _ in range(5)])
    lists[0, 3] = 3
    valid = torch.ones_like(lists, dtype=torch.bool)
    valid[1, 4:] = False
    out = beyond_from_topk(lists, valid, unit_rows(emb), self_information(degree, 9),
                           [1, 4, 6])
    for k in (1, 4, 6):
        torch.testing.assert_close(out[f"diversity@{k}"], intra_list_diversity(
            lists[:, :k], emb, valid[:, :k]))
        torch.testing.assert_close(out[f"novelty@{k}"], novelty(
            lists[:, :k], degree, 9, valid[:, :k]))
    ref = torch.tensor(ref_ild([r[:4] for r in lists.tolist()], emb),
                       dtype=torch.float64)
    ref[1] = ref_ild([lists[1, :4].tolist()], emb)[0]
    torch.testing.assert_close(out["diversity@4"], ref)


def test_beyond_on_the_device_matches_the_cpu(device):
    user_emb, item_emb, train, test = tiny_case()
    cpu = evaluate((user_emb, item_emb), graph=train, target=test, k=[2, 5],
                   beyond=True)
    there = evaluate((user_emb.to(device), item_emb.to(device)), graph=train,
                     target=test, k=[2, 5], beyond=True)
    assert there == pytest.approx(cpu, abs=1e-9)

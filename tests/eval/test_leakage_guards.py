import pytest
import torch

import graphcl_rec.eval.ranking as ranking
from graphcl_rec.data import concat, random_split
from graphcl_rec.errors import LeakageError
from graphcl_rec.eval import evaluate, evaluate_embeddings
from graphcl_rec.models import BPRRecommender, LightGCN
from tests.conftest import random_interactions

NUM_USERS, NUM_ITEMS, DIM = 60, 500, 8


@pytest.fixture(scope="module")
def problem():
    inter = random_interactions(NUM_USERS, NUM_ITEMS, 3000, seed=1)
    train, val, test = random_split(inter, ratios=(0.8, 0.1, 0.1), seed=0)
    gen = torch.Generator().manual_seed(0)
    user_emb = torch.randn(NUM_USERS, DIM, generator=gen)
    item_emb = torch.randn(NUM_ITEMS, DIM, generator=gen)
    return train, val, test, user_emb, item_emb


@pytest.mark.parametrize("planted", [1, 5])
def test_evaluator_refuses_exclude_holding_truth(problem, planted):
    train, val, test, user_emb, item_emb = problem
    leaky_val = concat([val, test.subset(torch.arange(planted))])
    with pytest.raises(LeakageError, match=f"^{planted} \\(user, item\\) pairs"):
        evaluate_embeddings(user_emb, item_emb, test, exclude=[train, leaky_val])


def test_evaluate_refuses_the_target_as_graph_exclusion(problem):
    train, _, test, _, _ = problem
    model = BPRRecommender(LightGCN(NUM_USERS, NUM_ITEMS, dim=DIM, num_layers=1))
    both = concat([train, test])
    with pytest.raises(LeakageError, match=f"^{len(test)} \\(user, item\\) pairs"):
        evaluate(model, graph=both, target=test)  # exclude="graph" holds test


def test_disjoint_exclusion_is_accepted(problem):
    train, val, test, user_emb, item_emb = problem
    out = evaluate_embeddings(user_emb, item_emb, test, exclude=[train, val], k=[5])
    assert 0 <= out["recall@5"] <= 1


def test_tiny_memory_budget_uses_many_blocks_with_the_same_metrics(
        problem, monkeypatch):
    train, val, test, user_emb, item_emb = problem
    blocks = []
    real = ranking.topk_blocks

    def counting(*args):
        for out in real(*args):
            blocks.append(out[2].shape[0])
            yield out

    monkeypatch.setattr(ranking, "topk_blocks", counting)
    kwargs = {"exclude": [train, val], "k": [5, 20]}
    one = evaluate_embeddings(user_emb, item_emb, test, batch_size=NUM_USERS,
                              **kwargs)
    assert len(blocks) == 1
    blocks.clear()
    budget = 5 * NUM_ITEMS * 4 / 2**20  # five float32 score rows
    tiny = evaluate_embeddings(user_emb, item_emb, test, memory_budget_mb=budget,
                               **kwargs)
    users = int(test.user.unique().numel())
    assert max(blocks) == 5 and len(blocks) == -(-users // 5) and sum(blocks) == users
    assert tiny.keys() == one.keys()
    for key in one:
        assert tiny[key] == pytest.approx(one[key], rel=1e-12, abs=0), key
    per_one = evaluate_embeddings(user_emb, item_emb, test, batch_size=NUM_USERS,
                                  per_user=True, **kwargs)
    per_tiny = evaluate_embeddings(user_emb, item_emb, test, per_user=True,
                                   memory_budget_mb=budget, **kwargs)
    for key in per_one:
        assert torch.equal(per_one[key], per_tiny[key]), key

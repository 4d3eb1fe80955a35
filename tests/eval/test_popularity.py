import pytest
import torch

from graphcl_rec.data import Interactions
from graphcl_rec.eval import evaluate, popularity_embeddings, popularity_metrics
from tests.conftest import random_interactions


def split(seed=0):
    inter = random_interactions(30, 25, 300, seed)
    perm = torch.randperm(len(inter), generator=torch.Generator().manual_seed(seed))
    return inter.subset(perm[:240]), inter.subset(perm[240:])


def naive_popularity_recall(train, target, k):
    degree = [0] * train.num_items
    for i in train.item.tolist():
        degree[i] += 1
    seen, truth = {}, {}
    for u, i in zip(train.user.tolist(), train.item.tolist()):
        seen.setdefault(u, set()).add(i)
    for u, i in zip(target.user.tolist(), target.item.tolist()):
        truth.setdefault(u, set()).add(i)
    ranked = sorted(range(train.num_items), key=lambda i: (-degree[i], i))
    recalls = []
    for u, items in truth.items():
        top = [i for i in ranked if i not in seen.get(u, set())][:k]
        recalls.append(len(items & set(top)) / len(items))
    return sum(recalls) / len(recalls)


@pytest.mark.parametrize("k", [1, 5, 20])
def test_matches_a_naive_popularity_ranking(k):
    train, val = split()
    got = popularity_metrics(train, val, k=[k])
    assert got[f"recall@{k}"] == pytest.approx(naive_popularity_recall(train, val, k))


@pytest.mark.parametrize("ranker", ["native", "group-major", "row-major"])
def test_every_ranker_gives_the_same_lists(ranker, native_kernel):
    train, val = split(1)
    user_emb, item_emb = popularity_embeddings(train)
    if ranker == "native":  # the kernel takes float32; the tie-break survives it here
        user_emb, item_emb = user_emb.float(), item_emb.float()
    got = evaluate((user_emb, item_emb), train, val, k=[3, 10], ranker=ranker)
    assert got == pytest.approx(popularity_metrics(train, val, k=[3, 10]))


def test_seen_items_are_excluded_and_ties_go_by_index():
    # items 0 and 1 tie as most popular; user 0 has seen item 0
    train = Interactions(torch.tensor([0, 1, 2, 2]), torch.tensor([0, 1, 0, 1]), 3, 4)
    val = Interactions(torch.tensor([0, 1]), torch.tensor([1, 0]), 3, 4)
    out = popularity_metrics(train, val, k=[1])
    assert out["recall@1"] == 1.0  # user 0 gets item 1, user 1 gets item 0
    _, item_emb = popularity_embeddings(train)
    assert item_emb.dtype == torch.float64 and item_emb.shape == (4, 1)
    assert item_emb[0, 0] > item_emb[1, 0] > item_emb[2, 0] > item_emb[3, 0]
    assert popularity_metrics(train, val, exclude=None, k=[1])["recall@1"] == 0.5

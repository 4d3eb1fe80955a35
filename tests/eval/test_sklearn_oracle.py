"""scikit-learn's ranking metrics as an independent oracle for single users.

``sklearn.metrics.ndcg_score`` ranks one user's items by score, with linear gains
(binary relevance here), a ``log2(rank + 1)`` discount and the ideal DCG of the
sorted truth cut at K, the definition of ours; excluded items are left out of the
user's row. ``top_k_accuracy_score`` is Hit@K for users with exactly one truth item.
Scores are continuous random draws, so no ties (sklearn averages over ties).
"""

import numpy as np
import pytest
import torch
from sklearn.metrics import ndcg_score, top_k_accuracy_score

from graphcl_rec.eval import topk_metrics


def _case(seed, num_users=40, num_items=25):
    rng = np.random.default_rng(seed)
    scores = rng.standard_normal((num_users, num_items))
    truth, exclude = [], []
    for _ in range(num_users):
        items = rng.permutation(num_items).tolist()
        n_truth = int(rng.integers(1, 12))
        n_ex = int(rng.integers(0, num_items - n_truth - 1))
        truth.append(items[:n_truth])
        exclude.append(items[n_truth:n_truth + n_ex])
    return scores, truth, exclude


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("k", [1, 5, 20])
def test_ndcg_matches_sklearn_per_user(seed, k):
    scores, truth, exclude = _case(seed)
    oracle = []
    for u in range(scores.shape[0]):
        keep = np.setdiff1d(np.arange(scores.shape[1]), exclude[u])
        relevance = np.isin(keep, truth[u]).astype(float)
        oracle.append(ndcg_score(relevance[None], scores[u, keep][None], k=k))
        one = topk_metrics(torch.from_numpy(scores[u:u + 1]), [truth[u]],
                           [exclude[u]], [k])
        assert one[f"ndcg@{k}"] == pytest.approx(oracle[-1], rel=1e-6, abs=1e-9)
    ours = topk_metrics(torch.from_numpy(scores), truth, exclude, [k])
    assert ours[f"ndcg@{k}"] == pytest.approx(float(np.mean(oracle)), rel=1e-6)


@pytest.mark.parametrize("k", [1, 3, 10])
def test_hit_matches_sklearn_top_k_accuracy(k):
    rng = np.random.default_rng(3)
    scores = rng.standard_normal((60, 15))
    target = rng.integers(0, 15, 60)
    ours = topk_metrics(torch.from_numpy(scores), [[int(t)] for t in target], None, [k])
    oracle = top_k_accuracy_score(target, scores, k=k, labels=np.arange(15))
    assert ours[f"hit@{k}"] == pytest.approx(oracle, rel=1e-12)

"""PyG's link-prediction metrics as an independent oracle.

All seven of our metrics share PyG 2.8's definitions, so each is compared directly:

- ``LinkPredRecall`` (hits / |truth|), ``LinkPredPrecision`` (hits / K, also when
  fewer than K items are ranked), ``LinkPredHitRatio``, ``LinkPredMRR``.
- ``LinkPredNDCG``: binary gains, ``log2(rank + 1)`` discount, ideal DCG over
  ``min(K, |truth|)`` hits.
- ``LinkPredMAP``: normalised by ``min(K, |truth|)`` (not by |truth|).
- ``LinkPredF1``: the per-user harmonic mean of P@K and R@K, then averaged (not the
  harmonic mean of the averaged P and R).
- ``LinkPredCoverage``: counts every column of ``pred_index_mat``.

Differences, none of which the random data below exercises:

- PyG sees only indices, not scores: a position filled by an item scored ``-inf``
  (a user with fewer than K rankable items) is a hit in PyG if that item is in the
  truth; ours never counts it, and our coverage (with ``valid``) skips it. With an
  exclude set disjoint from the truth (which we enforce) the metrics agree.
- PyG counts duplicate truth pairs in ``|truth|``; we treat the truth as a set.
- PyG accumulates in the default dtype (float32); the test switches to float64.
"""

import pytest
import torch
from torch_geometric.metrics import (
    LinkPredCoverage,
    LinkPredF1,
    LinkPredHitRatio,
    LinkPredMAP,
    LinkPredMRR,
    LinkPredNDCG,
    LinkPredPrecision,
    LinkPredRecall,
)

from graphcl_rec.eval import coverage, topk_metrics

from .test_metrics import random_case

ORACLES = {
    "recall": LinkPredRecall,
    "precision": LinkPredPrecision,
    "ndcg": LinkPredNDCG,
    "mrr": LinkPredMRR,
    "map": LinkPredMAP,
    "hit": LinkPredHitRatio,
    "f1": LinkPredF1,
}


@pytest.fixture
def float64_default():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def _ranked(scores, exclude, k):
    masked = scores.clone()
    for u, items in enumerate(exclude):
        masked[u, items] = float("-inf")
    return torch.topk(masked, min(k, scores.size(1)), dim=1).indices


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("k", [1, 5, 10, 40])
def test_matches_pyg_link_pred_metrics(seed, k, float64_default):
    scores, truth, exclude = random_case(seed)
    ours = topk_metrics(scores, truth, exclude, [k])
    pred = _ranked(scores, exclude, k)
    rows = torch.tensor([u for u, t in enumerate(truth) for _ in t])
    cols = torch.tensor([i for t in truth for i in t])
    edge_label_index = torch.stack([rows, cols])
    for name, cls in ORACLES.items():
        metric = cls(k)
        metric.update(pred, edge_label_index)
        oracle = float(metric.compute())
        assert ours[f"{name}@{k}"] == pytest.approx(oracle, rel=1e-9, abs=1e-12), name


@pytest.mark.parametrize("k", [1, 5, 40])
def test_coverage_matches_pyg(k, float64_default):
    scores, truth, exclude = random_case(0)
    pred = _ranked(scores, exclude, k)
    metric = LinkPredCoverage(k, num_dst_nodes=scores.size(1))
    metric.update(pred, torch.zeros(2, 0, dtype=torch.long))
    assert coverage(pred, scores.size(1)) == pytest.approx(float(metric.compute()))

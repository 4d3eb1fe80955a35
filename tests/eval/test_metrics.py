import math
import random

import pytest
import torch

from graphcl_rec.errors import LeakageError
from graphcl_rec.eval import METRICS, metrics_from_hits, topk_metrics
from graphcl_rec.eval.hits import check_ks, hits_matrix, sorted_keys

KS = [1, 5, 10, 40]


def naive_metrics(scores, truth, exclude, ks):
    """Reference: per-user loops over Python lists and sets."""
    totals = {f"{m}@{k}": 0.0 for k in ks for m in METRICS}
    counted = 0
    for u, row in enumerate(scores):
        relevant = set(truth[u])
        if not relevant:
            continue
        counted += 1
        banned = set(exclude[u]) if exclude is not None else set()
        candidates = [i for i in range(len(row)) if i not in banned]
        candidates = [i for i in candidates if row[i] != float("-inf")]
        ranking = sorted(candidates, key=lambda i: -row[i])
        for k in ks:
            top = ranking[:k]
            rel = [1 if i in relevant else 0 for i in top]
            n_hits = sum(rel)
            recall = n_hits / len(relevant)
            precision = n_hits / k
            dcg = sum(r / math.log2(pos + 2) for pos, r in enumerate(rel))
            idcg = sum(1 / math.log2(pos + 2) for pos in range(min(k, len(relevant))))
            rr = 0.0
            for pos, r in enumerate(rel):
                if r:
                    rr = 1 / (pos + 1)
                    break
            ap, seen = 0.0, 0
            for pos, r in enumerate(rel):
                if r:
                    seen += 1
                    ap += seen / (pos + 1)
            ap /= min(k, len(relevant))
            f1 = 2 * precision * recall / (precision + recall) if n_hits else 0.0
            totals[f"recall@{k}"] += recall
            totals[f"ndcg@{k}"] += dcg / idcg
            totals[f"precision@{k}"] += precision
            totals[f"hit@{k}"] += 1.0 if n_hits else 0.0
            totals[f"mrr@{k}"] += rr
            totals[f"map@{k}"] += ap
            totals[f"f1@{k}"] += f1
    return {name: v / counted for name, v in totals.items()}


def random_case(seed, num_users=50, num_items=30):
    """Distinct scores; truth sizes 0..15 (some > K, some < K); disjoint exclude."""
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    scores = torch.stack(
        [torch.randperm(num_items, generator=gen).float() for _ in range(num_users)]
    )
    truth, exclude = [], []
    for u in range(num_users):
        items = list(range(num_items))
        rng.shuffle(items)
        n_truth = 0 if u % 7 == 0 else rng.randint(1, 15)
        n_ex = rng.randint(0, num_items - n_truth)
        if u % 11 == 1:  # fewer than K rankable items left
            n_ex = num_items - n_truth - 2
        truth.append(items[:n_truth])
        exclude.append(items[n_truth : n_truth + n_ex])
    return scores, truth, exclude


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_naive_reference(seed):
    scores, truth, exclude = random_case(seed)
    got = topk_metrics(scores, truth, exclude, KS)
    want = naive_metrics(scores.tolist(), truth, exclude, KS)
    assert set(got) == set(want)
    for name in want:
        assert got[name] == pytest.approx(want[name], rel=1e-6, abs=1e-12), name


def test_matches_naive_reference_without_exclude():
    scores, truth, _ = random_case(3)
    got = topk_metrics(scores, truth, None, KS)
    want = naive_metrics(scores.tolist(), truth, None, KS)
    for name in want:
        assert got[name] == pytest.approx(want[name], rel=1e-6, abs=1e-12), name


def test_minus_inf_positions_never_hit():
    # Item 2 is a truth item but scored -inf: with K = 4 > 2 rankable items it
    # would fill the list; it must not count.
    scores = torch.tensor([[1.0, 0.5, float("-inf"), 0.0]])
    out = topk_metrics(scores, [[2]], [[3]], k=[4])
    assert out["recall@4"] == 0.0
    assert out["hit@4"] == 0.0
    want = naive_metrics(scores.tolist(), [[2]], [[3]], [4])
    assert out == pytest.approx(want)


def test_hand_computed_values():
    scores = torch.tensor([[5.0, 4.0, 3.0, 2.0, 1.0]])
    out = topk_metrics(scores, [[1, 3]], None, k=[2, 4])
    assert out["recall@2"] == 0.5
    assert out["precision@4"] == 0.5
    assert out["mrr@4"] == 0.5
    assert out["map@4"] == pytest.approx((1 / 2 + 2 / 4) / 2)
    idcg = 1 + 1 / math.log2(3)
    assert out["ndcg@4"] == pytest.approx((1 / math.log2(3) + 1 / math.log2(5)) / idcg)
    assert out["f1@2"] == pytest.approx(0.5)


def test_duplicates_in_truth_are_ignored():
    scores = torch.tensor([[3.0, 2.0, 1.0]])
    assert topk_metrics(scores, [[1, 1]], None, [1, 2]) == topk_metrics(
        scores, [[1]], None, [1, 2]
    )


def test_users_without_truth_are_not_averaged():
    scores = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    assert topk_metrics(scores, [[0], []], None, [1])["recall@1"] == 1.0


def test_tensor_sequences_are_accepted():
    scores, truth, exclude = random_case(4, num_users=10)
    as_tensors = [torch.tensor(t, dtype=torch.long) for t in truth]
    assert topk_metrics(scores, as_tensors, exclude, [5]) == topk_metrics(
        scores, truth, exclude, [5]
    )


def test_overlap_raises_leakage_error():
    scores, truth, exclude = random_case(5)
    planted = [u for u in range(len(truth)) if truth[u]][:3]
    for u in planted:
        exclude[u] = [*exclude[u], truth[u][0]]
    with pytest.raises(LeakageError, match="^3 \\(user, item\\) pairs"):
        topk_metrics(scores, truth, exclude, [5])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"k": [0]}, "'k'"),
        ({"k": []}, "'k'"),
        ({"k": [True]}, "'k'"),
        ({"truth": [[0]]}, "one entry per user"),
        ({"truth": [[7], [0]]}, "outside"),
        ({"scores": torch.tensor([[float("nan"), 0.0], [0.0, 1.0]])}, "NaN"),
        ({"truth": [[], []]}, "no user"),
    ],
)
def test_bad_arguments(kwargs, match):
    args = {"scores": torch.eye(2), "truth": [[0], [1]], "exclude": None, "k": [1]}
    with pytest.raises(ValueError, match=match):
        topk_metrics(**(args | kwargs))


def test_check_ks_sorts_and_accepts_int():
    assert check_ks(20) == (20,)
    assert check_ks((10, 1, 10)) == (1, 10)


def test_hits_matrix_masks_invalid_and_handles_empty_truth():
    keys = sorted_keys(torch.tensor([0, 0]), torch.tensor([1, 2]), 3)
    idx = torch.tensor([[2, 1, 0]])
    valid = torch.tensor([[True, False, True]])
    users = torch.tensor([0])
    assert hits_matrix(idx, keys, users, 3, valid).tolist() == [[True, False, False]]
    empty = keys[:0]
    assert not hits_matrix(idx, empty, users, 3).any()


def test_metrics_from_hits_pads_short_lists():
    hits = torch.tensor([[True, False]])
    out = metrics_from_hits(hits, torch.tensor([3]), [5])
    assert out["precision@5"].item() == pytest.approx(1 / 5)
    assert out["recall@5"].item() == pytest.approx(1 / 3)
    assert out["map@5"].item() == pytest.approx(1 / 3)
    assert out["recall@5"].dtype == torch.float64

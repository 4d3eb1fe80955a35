import math
from itertools import combinations

import pytest
import torch

from graphcl_rec.eval.beyond import (
    beyond_accuracy,
    catalogue_coverage,
    intra_list_diversity,
    novelty,
)


def ref_ild(lists, emb):
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

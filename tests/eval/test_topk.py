import pytest
import torch

from graphcl_rec.data.interactions import Interactions
from graphcl_rec.eval import evaluate_embeddings
from graphcl_rec.eval.topk import grouped_topk, padded_width


def padded(scores, k, group):
    """``scores`` widened with -inf columns to ``padded_width``."""
    width = padded_width(scores.size(1), k, group)
    pad = torch.full((scores.size(0), width - scores.size(1)), float("-inf"))
    return torch.cat([scores, pad], 1)


@pytest.mark.parametrize("num_items", [1000, 1024, 1031, 5000])
@pytest.mark.parametrize("k", [1, 3, 5])
def test_equals_torch_topk_on_distinct_scores(num_items, k):
    gen = torch.Generator().manual_seed(num_items + k)
    x = torch.randn(7, num_items, generator=gen)
    x[0, : num_items // 2] += 10  # the best items cluster in few groups
    x[1, ::17] += 10  # ... or spread over many
    ref = torch.topk(x, k, dim=1)
    values, indices = grouped_topk(padded(x, k, 16), k, num_items, group=16)
    assert torch.equal(values, ref.values)
    assert torch.equal(indices, ref.indices)


def test_ties_give_the_same_values_and_tied_indices():
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, 4, (5, 2000), generator=gen).float()
    values, indices = grouped_topk(padded(x, 6, 16), 6, 2000, group=16)
    assert torch.equal(values, torch.topk(x, 6, dim=1).values)
    assert torch.equal(torch.gather(x, 1, indices), values)
    assert all(len(set(row.tolist())) == 6 for row in indices)


def test_rows_with_fewer_than_k_finite_scores():
    x = torch.full((2, 1100), float("-inf"))
    x[0, [5, 700]] = torch.tensor([1.0, 2.0])
    values, indices = grouped_topk(padded(x, 4, 16), 4, 1100, group=16)
    assert values[0, :2].tolist() == [2.0, 1.0]
    assert indices[0, :2].tolist() == [700, 5]
    assert torch.isinf(values[0, 2:]).all() and torch.isinf(values[1]).all()


def test_narrow_rows_use_plain_topk_and_bad_widths_are_refused():
    x = torch.randn(3, 50)
    assert padded_width(50, 5) == 50
    assert torch.equal(grouped_topk(x, 5)[0], torch.topk(x, 5).values)
    with pytest.raises(ValueError, match="columns"):
        grouped_topk(torch.randn(2, 6001), 5, 6001, group=16)


def test_evaluator_on_a_wide_catalogue_matches_plain_topk(monkeypatch):
    """The evaluator pads wide catalogues; metrics must equal a plain torch.topk."""
    num_users, num_items, k = 40, 6000, 20  # 6000 >= 4 * 64 * 20: grouped path
    gen = torch.Generator().manual_seed(3)
    user = torch.randn(num_users, 16, generator=gen)
    item = torch.randn(num_items, 16, generator=gen)
    mask = torch.rand(num_users, num_items, generator=gen) < 0.01
    u, i = mask.nonzero(as_tuple=True)
    pairs = Interactions(u, i, num_users, num_items)
    half = torch.arange(len(pairs)) % 2 == 0
    train, test = pairs.subset(half), pairs.subset(~half)
    ours = evaluate_embeddings(user, item, test, exclude=train, k=[5, k])
    import graphcl_rec.eval.blocks as blocks

    monkeypatch.setattr(blocks, "padded_width", lambda n, kk: n)
    monkeypatch.setattr(blocks, "grouped_topk",
                        lambda s, kk, n: torch.topk(s, kk, dim=1))
    plain = evaluate_embeddings(user, item, test, exclude=train, k=[5, k])
    assert ours == pytest.approx(plain, abs=1e-12)
    assert ours["recall@20"] > 0


import pytest
import torch

from graphcl_rec.data.interactions import Interactions
from graphcl_rec.eval import evaluate_embeddings
from graphcl_rec.eval.blocks import exclude_keys, topk_blocks
from graphcl_rec.eval.topk import (
    group_major_topk,
    grouped_topk,
    padded_width,
    select_topk,
)


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


@pytest.mark.parametrize("ranker", ["native", "group-major", "row-major"])
def test_evaluator_on_a_wide_catalogue_matches_plain_topk(monkeypatch, ranker,
                                                          native_kernel):
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
    import graphcl_rec.eval.blocks as blocks

    ours = evaluate_embeddings(user, item, test, exclude=train, k=[5, k],
                               ranker=ranker)
    monkeypatch.setattr(blocks, "padded_width", lambda n, kk: n)
    monkeypatch.setattr(blocks, "grouped_topk",
                        lambda s, kk, n: torch.topk(s, kk, dim=1))
    plain = evaluate_embeddings(user, item, test, exclude=train, k=[5, k],
                                ranker="row-major")
    assert ours == pytest.approx(plain, abs=1e-12)
    assert ours["recall@20"] > 0


@pytest.mark.parametrize("n", [100, 319, 320, 600, 2561, 5000])
@pytest.mark.parametrize("k", [1, 5, 20])
def test_select_topk_equals_torch_topk(n, k):
    if k > n:
        return
    gen = torch.Generator().manual_seed(n * 31 + k)
    x = torch.randn(9, n, generator=gen)
    x[0, : n // 3] += 10  # the best values cluster in few groups of 8
    x[1, ::13] += 10  # ... or spread over many
    values, indices = select_topk(x, k)
    ref = torch.topk(x, k, dim=1)
    assert torch.equal(values, ref.values)
    assert torch.equal(torch.gather(x, 1, indices), values)
    loose = select_topk(x, k, sorted=False)
    assert torch.equal(loose[0].sort(dim=1, descending=True).values, ref.values)
    assert torch.equal(torch.gather(x, 1, loose[1]), loose[0])


def test_select_topk_ties_and_rows_short_of_finite_values():
    gen = torch.Generator().manual_seed(1)
    x = torch.randint(0, 3, (6, 1001), generator=gen).float()
    values, indices = select_topk(x, 20)
    assert torch.equal(values, torch.topk(x, 20, dim=1).values)
    assert torch.equal(torch.gather(x, 1, indices), values)
    assert all(len(set(row.tolist())) == 20 for row in indices)
    y = torch.full((2, 1001), float("-inf"))
    y[0, [3, 999, 1000]] = torch.tensor([1.0, 3.0, 2.0])
    values, indices = select_topk(y, 20)
    assert values[0, :3].tolist() == [3.0, 2.0, 1.0]
    assert indices[0, :3].tolist() == [999, 1000, 3]
    assert torch.isinf(values[0, 3:]).all() and torch.isinf(values[1]).all()


@pytest.mark.parametrize("groups", [20, 93, 320, 641])
def test_group_major_topk_equals_torch_topk_on_the_row_major_block(groups):
    gen = torch.Generator().manual_seed(groups)
    rows, k = 7, 20
    x = torch.randn(rows, groups * 64, generator=gen)
    x[0, :640] += 10  # the best values in the first groups
    x[1, ::97] += 10
    x[2] = float("-inf")
    x[2, [5, groups * 64 - 1]] = torch.tensor([1.0, 2.0])  # two finite values only
    x[3] = torch.randint(0, 2, (groups * 64,), generator=gen).float()  # ties
    major = x.view(rows, groups, 64).transpose(0, 1).contiguous()
    values, indices = group_major_topk(major, k)
    ref = torch.topk(x, k, dim=1)
    assert torch.equal(values, ref.values)
    finite = values > float("-inf")
    assert torch.equal(torch.gather(x, 1, indices)[finite], values[finite])
    assert indices[2, :2].tolist() == [groups * 64 - 1, 5]
    assert len(set(indices[3].tolist())) == k


@pytest.mark.parametrize("ranker", ["native", "group-major", "row-major"])
@pytest.mark.parametrize("block", [3, 16, 100])
def test_topk_blocks_on_a_wide_catalogue_match_dense_masked_topk(ranker, block,
                                                                 native_kernel):
    gen = torch.Generator().manual_seed(block)
    num_users, num_items, k = 30, 5200, 20  # padded to 5248 columns
    user_emb = torch.randn(num_users, 8, generator=gen)
    item_emb = torch.randn(num_items, 8, generator=gen)
    users = torch.arange(1, num_users, 2)
    mask = torch.rand(num_users, num_items, generator=gen) < 0.3
    mask[users[0]] = True
    mask[users[0], [7, num_items - 1]] = False  # two rankable items only
    mask[users[1]] = True  # nothing rankable
    u, i = mask.nonzero(as_tuple=True)
    keys = exclude_keys(Interactions(u, i, num_users, num_items),
                        Interactions(u[:0], i[:0], num_users, num_items))
    dense = (user_emb @ item_emb.T).masked_fill(mask, float("-inf"))[users]
    out = list(topk_blocks(user_emb, item_emb, users, keys, k, block, ranker))
    assert [s for s, _, _ in out] == list(range(0, users.numel(), block))
    values = torch.cat([v for _, v, _ in out])
    indices = torch.cat([i for _, _, i in out])
    ref = torch.topk(dense, k, dim=1).values
    torch.testing.assert_close(values, ref, rtol=1e-5, atol=1e-5)
    finite = values > float("-inf")
    assert torch.equal(finite, ref > float("-inf"))
    torch.testing.assert_close(torch.gather(dense, 1, indices)[finite], values[finite],
                               rtol=1e-5, atol=1e-5)
    assert indices.max() < num_items and finite[0].sum() == 2 and not finite[1].any()


@pytest.mark.parametrize("n", [20000, 20001])
def test_select_topk_pads_at_every_level_without_losing_values(n):
    """Rows of few finite values; 2,500 or 2,501 groups pad the inner level too."""
    gen = torch.Generator().manual_seed(n)
    y = torch.full((4, n), float("-inf"))
    cols = torch.randperm(n, generator=gen)[:3]
    y[0, cols] = torch.tensor([1.0, 2.0, 3.0])
    y[2, n - 1] = 5.0
    y[3] = torch.randn(n, generator=gen)
    values, indices = select_topk(y, 5)
    assert torch.equal(values, torch.topk(y, 5, dim=1).values)
    finite = values > float("-inf")
    assert finite.sum(1).tolist() == [3, 0, 1, 5]
    assert torch.equal(torch.gather(y, 1, indices.clamp(max=n - 1))[finite],
                       values[finite])
    rows, k = 3, 5
    scores = y[:rows, : n // 64 * 64].contiguous()
    major = scores.view(rows, -1, 64).transpose(0, 1).contiguous()
    assert torch.equal(group_major_topk(major, k)[0], torch.topk(scores, k).values)
    assert torch.equal(grouped_topk(scores, k, group=64)[0],
                       torch.topk(scores, k).values)

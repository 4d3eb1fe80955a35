import pytest
import torch

from graphcl_rec.data.interactions import Interactions
from graphcl_rec.eval.blocks import block_size, exclude_keys, topk_blocks


@pytest.mark.parametrize("ranker", ["native", "group-major", "row-major"])
@pytest.mark.parametrize("block", [1, 4, 11, 100])
def test_topk_blocks_match_dense_masked_topk(block, ranker, native_kernel):
    gen = torch.Generator().manual_seed(0)
    num_users, num_items = 11, 9
    user_emb = torch.randn(num_users, 3, generator=gen)
    item_emb = torch.randn(num_items, 3, generator=gen)
    users = torch.tensor([0, 2, 3, 7, 8, 10])
    mask = torch.rand(num_users, num_items, generator=gen) < 0.4
    mask[3] = True  # nothing rankable for user 3
    u, i = mask.nonzero(as_tuple=True)
    keys = exclude_keys(
        Interactions(u, i, num_users, num_items),
        Interactions(u[:0], i[:0], num_users, num_items),
    )
    dense = (user_emb @ item_emb.T).masked_fill(mask, float("-inf"))[users]
    out = list(topk_blocks(user_emb, item_emb, users, keys, 4, block, ranker))
    values = torch.cat([v for _, v, _ in out])
    indices = torch.cat([i for _, _, i in out])
    assert [s for s, _, _ in out] == list(range(0, users.numel(), block))
    ref = torch.topk(dense, 4, dim=1).values
    # Equal up to rounding: the native kernel sums in its own order, and BLAS picks
    # its kernel by shape and CPU (an AVX-512 machine gives a block of rows other
    # last bits than the whole matrix), so no ranker is bitwise equal everywhere.
    torch.testing.assert_close(values, ref, rtol=1e-6, atol=1e-6)
    finite = values > float("-inf")
    torch.testing.assert_close(dense.gather(1, indices)[finite], values[finite],
                               rtol=1e-6, atol=1e-6)
    assert torch.isinf(values[2]).all()


def test_unknown_ranker_and_native_outside_float32_cpu_are_refused():
    emb = torch.randn(3, 2)
    none = torch.zeros(0, dtype=torch.long)
    with pytest.raises(ValueError, match="'ranker' must be one of"):
        list(topk_blocks(emb, emb, torch.arange(3), none, 1, 2, "fast"))
    with pytest.raises(ValueError, match="float32 CPU"):
        list(topk_blocks(emb.double(), emb.double(), torch.arange(3), none, 1, 2,
                         "native"))


def test_block_size():
    assert block_size(1000, torch.float32, 7, 1.0) == 7
    assert block_size(2**18, torch.float32, None, 1.0) == 1
    assert block_size(2**10, torch.float64, None, 1.0) == 128
    with pytest.raises(ValueError, match="'batch_size'"):
        block_size(10, torch.float32, 0, 1.0)
    with pytest.raises(ValueError, match="'memory_budget_mb'"):
        block_size(10, torch.float32, None, -1.0)


def test_exclude_keys_merges_and_checks_shape():
    a = Interactions(torch.tensor([0, 1]), torch.tensor([2, 0]), 2, 3)
    b = Interactions(torch.tensor([1, 0]), torch.tensor([0, 1]), 2, 3)
    assert exclude_keys([a, b], a).tolist() == [1, 2, 3]
    assert exclude_keys(None, a).numel() == 0
    with pytest.raises(ValueError, match="shape"):
        exclude_keys(Interactions(a.user, a.item, 2, 4), a)

"""The C-kernel boundary trusts neither torch's default dtype nor the caller.

Every case compares with a torch (float64) reference: the default dtype switched
to float64, views with other strides, tensors on another device, more item slabs
than items, and logits beyond the unshifted kernel's bound.
"""

import pytest
import torch
import torch.nn.functional as F

from graphcl_rec.eval import evaluate_embeddings
from graphcl_rec.eval.blocks import item_slabs
from graphcl_rec.losses import info_nce
from graphcl_rec.losses.contrastive import FUSED_MIN_CANDIDATES
from graphcl_rec.native.nce import MAX_LOGIT, softmax_terms, torch_terms
from graphcl_rec.native.topk import topk_dot
from tests.native.conftest import BUILDS
from tests.native.test_nce import reference
from tests.native.test_topk import dense_reference, run

F32 = torch.float32


@pytest.fixture
def float64_default():
    """Switches torch's default dtype to float64 for one test, then restores it."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(old)


def operands(rows, num, dim, tau=0.2, seed=0):
    gen = torch.Generator().manual_seed(seed)
    a = F.normalize(torch.randn(rows, dim, generator=gen, dtype=F32), dim=1) / tau
    c = F.normalize(torch.randn(num, dim, generator=gen, dtype=F32), dim=1)
    return a, c


def assert_terms(terms, a, c, weight, atol=1e-6):
    lse, g_a, g_c = terms
    ref_lse, ref_a, ref_c = reference(a, c, weight)
    torch.testing.assert_close(lse.double(), ref_lse, rtol=1e-5, atol=atol)
    torch.testing.assert_close(g_a.double(), ref_a, rtol=1e-5, atol=atol)
    torch.testing.assert_close(g_c.double(), ref_c, rtol=1e-5, atol=atol)


@pytest.mark.parametrize("flags", BUILDS)
@pytest.mark.parametrize("weighted", [False, True])
def test_softmax_terms_under_a_float64_default(kernel, float64_default, flags,
                                               weighted):
    a, c = operands(7, 130, 64)
    weight = torch.rand(7) if weighted else None  # float64: the default dtype
    lse, g_a, g_c = softmax_terms(a, c, weight, True, threads=2, flags=flags)
    assert lse.dtype == g_a.dtype == g_c.dtype == F32
    assert_terms((lse, g_a, g_c), a, c, weight)


@pytest.mark.parametrize("kernel_name", ["native", "auto"])
def test_info_nce_under_a_float64_default(kernel, float64_default, kernel_name):
    gen = torch.Generator().manual_seed(3)
    num = FUSED_MIN_CANDIDATES if kernel_name == "auto" else 333
    anchor = torch.randn(6, 64, generator=gen, dtype=F32, requires_grad=True)
    cands = torch.randn(num, 64, generator=gen, dtype=F32, requires_grad=True)
    target = torch.randint(0, num, (6,), generator=gen)
    out = {}
    for name in (kernel_name, "torch"):
        loss = info_nce(anchor, cands, target, 0.2, kernel=name)
        out[name] = (loss, *torch.autograd.grad(loss, [anchor, cands]))
    assert torch.isfinite(out[kernel_name][0])
    for x, y in zip(out[kernel_name], out["torch"]):
        torch.testing.assert_close(x, y, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("flags", BUILDS)
def test_topk_dot_under_a_float64_default(kernel, float64_default, flags):
    gen = torch.Generator().manual_seed(1)
    rows = torch.randn(9, 16, generator=gen, dtype=F32)
    items = torch.randn(150, 16, generator=gen, dtype=F32)
    mask = torch.rand(9, 150, generator=gen) < 0.2
    values, indices = run(rows, items, mask, 10, flags=flags)
    _, ref = dense_reference(rows, items, mask, 10)
    assert values.dtype == F32
    torch.testing.assert_close(values.double(), ref, rtol=1e-5, atol=1e-5)


def test_native_evaluation_under_a_float64_default(kernel, float64_default):
    from graphcl_rec.data.interactions import Interactions

    gen = torch.Generator().manual_seed(2)
    user_emb = torch.randn(30, 8, generator=gen, dtype=F32)
    item_emb = torch.randn(200, 8, generator=gen, dtype=F32)
    pairs = torch.unique(torch.randint(0, 30 * 200, (300,), generator=gen))
    target = Interactions(pairs // 200, pairs % 200, 30, 200)
    native = evaluate_embeddings(user_emb, item_emb, target, k=[5, 20],
                                 ranker="native")
    torch_ = evaluate_embeddings(user_emb, item_emb, target, k=[5, 20],
                                 ranker="row-major")
    assert native == pytest.approx(torch_)


def test_softmax_terms_take_views_with_other_strides(kernel):
    a, c = operands(11, 200, 64, seed=4)
    a_t = a.T.contiguous().T  # a transposed view: column-major
    c_s = torch.cat([c, c], dim=1)[:, ::2]  # every other column
    c_s.copy_(c)
    weight = torch.rand(22)[::2]
    assert not (a_t.is_contiguous() or c_s.is_contiguous() or weight.is_contiguous())
    assert_terms(softmax_terms(a_t, c_s, weight, True, threads=2), a, c, weight)


def test_topk_dot_takes_views_with_other_strides(kernel):
    gen = torch.Generator().manual_seed(6)
    rows = torch.randn(5, 12, generator=gen).T  # [12, 5], column-major
    items = torch.randn(128, 5, generator=gen)
    slabs = item_slabs(items).transpose(1, 2).contiguous().transpose(1, 2)
    mask = torch.rand(12, 128, generator=gen) < 0.3
    r, i = mask.nonzero(as_tuple=True)
    ptr = torch.searchsorted(r, torch.arange(13))
    ptr_view = torch.stack([ptr, ptr], dim=1)[:, 0]
    assert not (rows.is_contiguous() or slabs.is_contiguous()
                or ptr_view.is_contiguous())
    values, indices = topk_dot(rows, slabs, 128, 7, ptr_view, i.to(torch.int32))
    _, ref = dense_reference(rows, items, mask, 7)
    torch.testing.assert_close(values.double(), ref, rtol=1e-5, atol=1e-5)
    assert not mask.gather(1, indices).any()


def test_tensors_on_another_device_are_refused_by_name(kernel):
    a, c = operands(4, 70, 64)
    meta_a, meta_c = a.to("meta"), c.to("meta")
    with pytest.raises(ValueError, match="CPU tensors.*'a' on meta"):
        softmax_terms(meta_a, meta_c, None, True)
    with pytest.raises(ValueError, match="one device.*cpu and meta"):
        softmax_terms(a, meta_c, None, True)
    with pytest.raises(ValueError, match="'weight' must be real and on cpu"):
        softmax_terms(a, c, torch.ones(4, device="meta"), True)
    lse, g_a, g_c = softmax_terms(meta_a, meta_c, None, True, fallback=True)
    assert lse.device.type == "meta" and g_a.shape == a.shape
    assert g_c.shape == c.shape

    rows, slabs = torch.randn(2, 4), item_slabs(torch.randn(64, 4))
    ptr, none = torch.zeros(3, dtype=torch.long), torch.zeros(0, dtype=torch.long)
    with pytest.raises(ValueError, match="CPU tensors.*'rows' on meta"):
        topk_dot(rows.to("meta"), slabs, 64, 1, ptr, none)
    with pytest.raises(ValueError, match="CPU tensors.*'slabs' on meta"):
        topk_dot(rows, slabs.to("meta"), 64, 1, ptr, none)
    with pytest.raises(ValueError, match="'ex_ptr' must be on the CPU"):
        topk_dot(rows, slabs, 64, 1, ptr.to("meta"), none)


@pytest.mark.parametrize("flags", BUILDS)
@pytest.mark.parametrize(("num_items", "extra"), [(65, 3), (128, 1), (64, 40)])
def test_more_slabs_than_items_give_the_exact_result(kernel, flags, num_items,
                                                     extra):
    gen = torch.Generator().manual_seed(num_items)
    rows = torch.randn(8, 6, generator=gen)
    items = torch.randn(num_items, 6, generator=gen)
    width = (-(-num_items // 64) + extra) * 64
    slabs = item_slabs(torch.cat([items, items.new_zeros(width - num_items, 6)]))
    mask = torch.rand(8, num_items, generator=gen) < 0.25
    r, i = mask.nonzero(as_tuple=True)
    ptr = torch.searchsorted(r, torch.arange(9))
    values, indices = topk_dot(rows, slabs, num_items, 5, ptr, i, flags=flags)
    _, ref = dense_reference(rows, items, mask, 5)
    torch.testing.assert_close(values.double(), ref, rtol=1e-5, atol=1e-5)
    assert int(indices.max()) < num_items and not mask.gather(1, indices).any()


@pytest.mark.parametrize("tau", [0.02, 0.005])
def test_logits_beyond_the_bound_are_refused_or_computed_by_torch(kernel, tau):
    a, c = operands(5, 90, 64, tau=tau, seed=7)
    with pytest.raises(ValueError, match=r"\|logits\| <= 40.*'a' and 'c'"):
        softmax_terms(a, c, None, True)
    terms = softmax_terms(a, c, None, True, fallback=True)
    assert_terms(terms, a, c, None, atol=1e-4)
    assert_terms(torch_terms(a, c, None, True), a, c, None, atol=1e-4)


def test_the_bound_itself_takes_the_kernel(kernel):
    a, c = operands(5, 90, 64, tau=1 / MAX_LOGIT, seed=8)
    assert_terms(softmax_terms(a, c, None, True), a, c, None, atol=1e-4)


def test_other_dtypes_are_refused_by_name_or_computed_by_torch(kernel):
    a, c = operands(3, 70, 64)
    with pytest.raises(ValueError, match="float32 operands.*'c' of torch.float64"):
        softmax_terms(a, c.double(), None, True)
    lse, g_a, g_c = softmax_terms(a.double(), c.double(), None, True,
                                  fallback=True)
    assert lse.dtype == torch.float64
    assert_terms((lse, g_a, g_c), a, c, None)


def test_non_finite_operands_give_torchs_non_finite_result(kernel):
    a, c = operands(4, 70, 64)
    a[2, 5] = float("nan")
    lse, _, _ = softmax_terms(a, c, None, True)
    ref = torch_terms(a, c, None, True)[0]
    assert torch.isnan(lse[2]) and torch.isnan(ref[2])
    torch.testing.assert_close(lse[[0, 1, 3]], ref[[0, 1, 3]])


def test_exclusions_the_kernel_would_misread_are_refused(kernel):
    rows, slabs = torch.randn(2, 4), item_slabs(torch.randn(128, 4))
    ptr = torch.tensor([0, 2, 4])
    with pytest.raises(ValueError, match=r"ascend within each row \(row 1"):
        topk_dot(rows, slabs, 128, 3, ptr, torch.tensor([5, 9, 100, 3]))
    values, _ = topk_dot(rows, slabs, 128, 3, ptr, torch.tensor([5, 9, 3, 100]))
    assert values.shape == (2, 3)  # a fall between rows is fine
    with pytest.raises(ValueError, match="'ex_items' must hold integers"):
        topk_dot(rows, slabs, 128, 3, ptr, torch.tensor([5.0, 9.0, 3.0, 100.0]))
    with pytest.raises(ValueError, match="'ex_ptr' must hold integers"):
        topk_dot(rows, slabs, 128, 3, ptr.bool(), torch.tensor([5, 9, 3, 100]))
    with pytest.raises(ValueError, match="'k' must be an int"):
        topk_dot(rows, slabs, 128, True, ptr, torch.tensor([5, 9, 3, 100]))
    with pytest.raises(ValueError, match=r"'rows' must be \[n, d\]"):
        topk_dot(rows[None], slabs, 128, 3, ptr, torch.tensor([5, 9, 3, 100]))

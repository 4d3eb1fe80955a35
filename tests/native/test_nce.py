import pytest
import torch
import torch.nn.functional as F

from graphcl_rec import native
from graphcl_rec.losses import info_nce
from graphcl_rec.losses.contrastive import _use_fused
from graphcl_rec.native.nce import softmax_terms
from tests.native.conftest import BUILDS


def reference(a, c, weight):
    """lse, w * softmax @ c and (w * softmax)^T @ a, in float64."""
    logits = a.double() @ c.double().T
    lse = torch.logsumexp(logits, dim=1)
    soft = torch.softmax(logits, dim=1)
    if weight is not None:
        soft = soft * weight.double()[:, None]
    return lse, soft @ c.double(), soft.T @ a.double()


@pytest.mark.parametrize("flags", BUILDS)
@pytest.mark.parametrize(
    ("rows", "num", "dim"),
    [(1, 1, 64), (3, 63, 64), (4, 64, 64), (5, 65, 128), (37, 300, 64), (6, 70, 8)],
)
@pytest.mark.parametrize("weighted", [False, True])
def test_softmax_terms_match_a_float64_reference(kernel, flags, rows, num, dim,
                                                 weighted):
    gen = torch.Generator().manual_seed(rows * 100 + num + dim)
    a = F.normalize(torch.randn(rows, dim, generator=gen), dim=1) / 0.2
    c = F.normalize(torch.randn(num, dim, generator=gen), dim=1)
    weight = None
    if weighted:
        weight = torch.rand(rows, generator=gen)
        weight[0] = 0.0  # a repeated anchor's weight
    lse, g_a, g_c = softmax_terms(a, c, weight, True, threads=2, flags=flags)
    ref_lse, ref_a, ref_c = reference(a, c, weight)
    # float32 rounding only: a 2e-3 error in one coefficient of exp's polynomial
    # moves lse by ~4e-5 and fails here
    torch.testing.assert_close(lse.double(), ref_lse, rtol=0, atol=3e-6)
    torch.testing.assert_close(g_a.double(), ref_a, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(g_c.double(), ref_c, rtol=1e-5, atol=1e-6)
    assert g_a.shape == a.shape and g_c.shape == c.shape
    only, none_a, none_c = softmax_terms(a, c, weight, False, flags=flags)
    assert none_a is None and none_c is None
    torch.testing.assert_close(only, lse)


@pytest.mark.parametrize("threads", [1, 2, 3, 7])
def test_softmax_terms_agree_for_any_thread_count(kernel, threads):
    gen = torch.Generator().manual_seed(4)
    a = F.normalize(torch.randn(9, 64, generator=gen), dim=1) / 0.1
    c = F.normalize(torch.randn(400, 64, generator=gen), dim=1)
    one = softmax_terms(a, c, None, True, threads=1)
    many = softmax_terms(a, c, None, True, threads=threads)
    for x, y in zip(one, many):
        torch.testing.assert_close(x, y, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("weighted", [False, True])
def test_info_nce_native_equals_torch_in_value_and_gradients(kernel, reduction,
                                                             weighted):
    gen = torch.Generator().manual_seed(11)
    anchor = torch.randn(50, 64, generator=gen, requires_grad=True)
    cands = torch.randn(333, 64, generator=gen, requires_grad=True)
    target = torch.randint(0, 333, (50,), generator=gen)
    weight = (torch.rand(50, generator=gen) > 0.3).float() if weighted else None
    out = {}
    for kernel_name in ("native", "torch"):
        loss = info_nce(anchor, cands, target, 0.2, reduction, weight,
                        kernel=kernel_name)
        out[kernel_name] = (loss, *torch.autograd.grad(loss, [anchor, cands]))
    for x, y in zip(out["native"], out["torch"]):
        torch.testing.assert_close(x, y, rtol=1e-4, atol=1e-6)


def test_info_nce_without_gradients_takes_one_pass(kernel):
    gen = torch.Generator().manual_seed(2)
    a, c = torch.randn(8, 64, generator=gen), torch.randn(70, 64, generator=gen)
    t = torch.arange(8)
    with torch.no_grad():
        fused = info_nce(a, c, t, 0.5, kernel="native")
    torch.testing.assert_close(fused, info_nce(a, c, t, 0.5, kernel="torch"))


def test_kernel_choice(kernel, monkeypatch):
    from graphcl_rec.losses.contrastive import FUSED_MIN_CANDIDATES

    a64, c64 = torch.randn(4, 64), torch.randn(9, 64)
    wide = torch.randn(FUSED_MIN_CANDIDATES, 64)
    assert _use_fused("auto", a64, wide, None, 5.0) == (native.status()
                                                        == (True, "avx512"))
    assert not _use_fused("auto", a64, c64, None, 5.0)  # few candidates: torch
    assert _use_fused("native", a64, c64, None, 5.0)
    assert not _use_fused("auto", a64[:, :32], c64[:, :32], None, 5.0)  # d % 64
    assert not _use_fused("auto", a64, c64, torch.bfloat16, 5.0)
    assert not _use_fused("auto", a64, c64, None, None)  # tau too small to skip shifts
    assert not _use_fused("torch", a64, c64, None, 5.0)
    with pytest.raises(ValueError, match="'kernel' must be"):
        info_nce(a64, c64, torch.arange(4), 0.2, kernel="fast")
    with pytest.raises(ValueError, match="kernel 'native' takes"):
        info_nce(a64.double(), c64.double(), torch.arange(4), 0.2, kernel="native")
    with pytest.raises(ValueError, match="kernel 'native' takes"):
        info_nce(a64, c64, torch.arange(4), 0.01, kernel="native")
    monkeypatch.setenv("GRAPHCL_REC_NATIVE", "0")
    assert not _use_fused("auto", a64, wide, None, 5.0)
    with pytest.raises(native.NativeUnavailable, match="GRAPHCL_REC_NATIVE=0"):
        info_nce(a64, c64, torch.arange(4), 0.2, kernel="native")


def test_softmax_terms_refuse_bad_operands(kernel):
    with pytest.raises(ValueError, match="float32 operands.*'a' of torch.float64"):
        softmax_terms(torch.randn(2, 64).double(), torch.randn(3, 64).double(), None,
                      True)
    with pytest.raises(ValueError, match=r"\[B, d\] and \[M, d\]"):
        softmax_terms(torch.randn(2, 64), torch.randn(3, 32), None, True)
    with pytest.raises(ValueError, match=r"\[B, d\] and \[M, d\]"):
        softmax_terms(torch.randn(2, 64), torch.randn(0, 64), None, True)
    with pytest.raises(ValueError, match=r"'weight' must have shape \[2\]"):
        softmax_terms(torch.randn(2, 64), torch.randn(3, 64), torch.ones(3), True)


@pytest.mark.parametrize("flags", BUILDS)
def test_softmax_terms_are_the_same_in_tiles_of_four_anchors(kernel, monkeypatch,
                                                             flags):
    import graphcl_rec.native.nce as nce

    gen = torch.Generator().manual_seed(8)
    a = F.normalize(torch.randn(23, 64, generator=gen), dim=1) / 0.2
    c = F.normalize(torch.randn(300, 64, generator=gen), dim=1)
    weight = torch.rand(23, generator=gen)
    whole = softmax_terms(a, c, weight, True, threads=2, flags=flags)
    monkeypatch.setattr(nce, "TILE_FLOATS", 64)  # 4 anchors per tile: 3 tiles each
    tiled = softmax_terms(a, c, weight, True, threads=2, flags=flags)
    for x, y in zip(whole, tiled):
        torch.testing.assert_close(x, y, rtol=1e-5, atol=1e-6)
    ref = reference(a, c, weight)
    torch.testing.assert_close(tiled[2].double(), ref[2], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("scale", [0.05, 30.0])  # logits within / beyond MAX_LOGIT
def test_info_nce_on_dot_products_takes_the_kernel_while_bounded(kernel, monkeypatch,
                                                                 scale):
    import graphcl_rec.losses.contrastive as contrastive
    from graphcl_rec.native.nce import MAX_LOGIT

    monkeypatch.setattr(contrastive, "FUSED_MIN_CANDIDATES", 1)
    monkeypatch.setattr(contrastive, "native_status", lambda: (True, "avx512"))
    took = []
    real = contrastive.softmax_terms
    monkeypatch.setattr(contrastive, "softmax_terms",
                        lambda *a, **k: took.append(k) or real(*a, **k))
    gen = torch.Generator().manual_seed(5)
    anchor = (scale * torch.randn(30, 64, generator=gen)).requires_grad_()
    cands = torch.randn(200, 64, generator=gen).requires_grad_()
    target = torch.randint(0, 200, (30,), generator=gen)
    bounded = (anchor.norm(dim=1).max() / 0.2 * cands.norm(dim=1).max()) <= MAX_LOGIT
    assert bool(bounded) == (scale < 1)
    out = {}
    for name in ("auto", "torch"):
        loss = info_nce(anchor, cands, target, 0.2, kernel=name, normalize=False)
        out[name] = (loss, *torch.autograd.grad(loss, [anchor, cands]))
    assert took == [{"fallback": True}]  # "auto" asked the kernel, "torch" did not
    for x, y in zip(out["auto"], out["torch"]):
        torch.testing.assert_close(x, y, rtol=1e-4, atol=1e-5 * scale)
    if not bounded:  # forcing the kernel beyond its bound is refused
        with pytest.raises(ValueError, match=r"needs \|logits\| <= 40"):
            info_nce(anchor, cands, target, 0.2, kernel="native", normalize=False)

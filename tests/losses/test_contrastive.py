import pytest
import torch

from graphcl_rec.losses import cosine_alignment, info_nce, l2_reg


def reference_info_nce(a, c, target, tau):
    a = a / a.norm(dim=1, keepdim=True)
    c = c / c.norm(dim=1, keepdim=True)
    total = 0.0
    for b in range(a.shape[0]):
        sims = [float(a[b] @ c[j]) / tau for j in range(c.shape[0])]
        denom = sum(torch.exp(torch.tensor(s)).item() for s in sims)
        total += -(sims[int(target[b])] - torch.log(torch.tensor(denom)).item())
    return total


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_info_nce_matches_reference(reduction):
    g = torch.Generator().manual_seed(0)
    a, c = torch.randn(6, 5, generator=g), torch.randn(9, 5, generator=g)
    target = torch.tensor([0, 3, 8, 2, 2, 5])
    ref = reference_info_nce(a, c, target, 0.2)
    if reduction == "mean":
        ref /= 6
    got = info_nce(a, c, target, tau=0.2, reduction=reduction)
    assert got.item() == pytest.approx(ref, rel=1e-5)


def test_info_nce_validation():
    x = torch.randn(2, 3)
    with pytest.raises(ValueError, match="tau"):
        info_nce(x, x, torch.arange(2), tau=0)
    with pytest.raises(ValueError, match="reduction"):
        info_nce(x, x, torch.arange(2), tau=1, reduction="none")
    with pytest.raises(ValueError, match=r"'weight' must have shape \[2\]"):
        info_nce(x, x, torch.arange(2), tau=1, weight=torch.ones(3))


def test_info_nce_stable_at_small_tau():
    x = torch.randn(4, 3)
    assert torch.isfinite(info_nce(x, -x, torch.arange(4), tau=1e-4))


def test_cosine_alignment_reference_and_stop_gradient():
    p = torch.randn(5, 4, requires_grad=True)
    z = torch.randn(5, 4, requires_grad=True)
    loss = cosine_alignment(p, z)
    cos = torch.nn.functional.cosine_similarity(p, z, dim=1)
    assert loss.item() == pytest.approx((2 - 2 * cos).mean().item(), rel=1e-5)
    loss.backward()
    assert p.grad is not None and z.grad is None


def test_l2_reg():
    assert l2_reg(torch.ones(4, 2), torch.ones(4, 2)).item() == pytest.approx(2.0)
    assert l2_reg(torch.ones(4, 2), batch_size=2).item() == pytest.approx(2.0)
    with pytest.raises(ValueError):
        l2_reg()


@pytest.mark.parametrize("tau", [0.3, 0.02])  # constant shift / row-max shift
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_info_nce_gradients_match_cross_entropy_and_gradcheck(reduction, tau):
    g = torch.Generator().manual_seed(1)
    a = torch.randn(7, 5, dtype=torch.double, generator=g, requires_grad=True)
    c = torch.randn(11, 5, dtype=torch.double, generator=g, requires_grad=True)
    t = torch.tensor([0, 3, 3, 10, 2, 5, 1])
    info_nce(a, c, t, tau, reduction).backward()
    ga, gc = a.grad.clone(), c.grad.clone()
    a.grad = c.grad = None
    logits = (torch.nn.functional.normalize(a, dim=1)
              @ torch.nn.functional.normalize(c, dim=1).T) / tau
    torch.nn.functional.cross_entropy(logits, t, reduction=reduction).backward()
    torch.testing.assert_close(ga, a.grad)
    torch.testing.assert_close(gc, c.grad)
    assert torch.autograd.gradcheck(lambda x, y: info_nce(x, y, t, tau, reduction),
                                    (a.detach().requires_grad_(),
                                     c.detach().requires_grad_()))


def test_info_nce_repeated_backward():
    a = torch.randn(4, 3, requires_grad=True)
    c = torch.randn(6, 3, requires_grad=True)
    loss = info_nce(a, c, torch.tensor([0, 1, 2, 5]), 0.5)
    loss.backward(retain_graph=True)
    first = a.grad.clone()
    loss.backward()
    torch.testing.assert_close(a.grad, 2 * first)


def test_info_nce_blocks_do_not_change_loss_or_gradients(monkeypatch, device):
    from graphcl_rec.losses.contrastive import _InfoNCE
    g = torch.Generator().manual_seed(2)
    a0 = torch.randn(50, 8, dtype=torch.double, generator=g).to(device)
    c0 = torch.randn(11, 8, dtype=torch.double, generator=g).to(device)
    t = torch.randint(11, (50,), generator=g).to(device)
    results = []
    for block in (32, 2**27):  # 16-anchor blocks (4 of them), then one block
        monkeypatch.setattr(_InfoNCE, "BLOCK", block)
        monkeypatch.setattr(_InfoNCE, "BLOCK_CUDA", block)
        a, c = a0.clone().requires_grad_(), c0.clone().requires_grad_()
        loss = info_nce(a, c, t, 0.2)
        loss.backward()
        results.append((loss.detach(), a.grad, c.grad))
    for x, y in zip(*results):
        torch.testing.assert_close(x, y)


@pytest.mark.parametrize("tau", [0.3, 0.02])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_info_nce_weights_equal_weighted_cross_entropy(reduction, tau, device):
    g = torch.Generator().manual_seed(3)
    a0 = torch.randn(40, 6, dtype=torch.double, generator=g).to(device)
    c0 = torch.randn(13, 6, dtype=torch.double, generator=g).to(device)
    t = torch.randint(13, (40,), generator=g).to(device)
    w = torch.rand(40, dtype=torch.double, generator=g).to(device)
    a, c = a0.clone().requires_grad_(), c0.clone().requires_grad_()
    info_nce(a, c, t, tau, reduction, weight=w).backward()
    a2, c2 = a0.clone().requires_grad_(), c0.clone().requires_grad_()
    logits = (torch.nn.functional.normalize(a2, dim=1)
              @ torch.nn.functional.normalize(c2, dim=1).T) / tau
    per = torch.nn.functional.cross_entropy(logits, t, reduction="none") * w
    (per.sum() / w.sum() if reduction == "mean" else per.sum()).backward()
    torch.testing.assert_close(a.grad, a2.grad)
    torch.testing.assert_close(c.grad, c2.grad)


def test_unique_anchors_weights_match_unique(device):
    from graphcl_rec.losses.contrastive import unique_anchors
    g = torch.Generator().manual_seed(4)
    ids = torch.randint(20, (64,), generator=g).to(device)  # many repeats
    view1 = torch.randn(20, 8, dtype=torch.double, generator=g).to(device)
    view2 = torch.randn(20, 8, dtype=torch.double, generator=g).to(device)
    uniq, none = unique_anchors(ids, sync_free=False)
    assert none is None and uniq.tolist() == sorted(set(ids.tolist()))
    rep, w = unique_anchors(ids, sync_free=True)
    assert rep.numel() == 64 and int(w.sum()) == uniq.numel()
    assert rep[w.bool()].tolist() == uniq.tolist()
    grads = []
    for idx, weight in ((uniq, None), (rep, w)):
        x, y = view1.clone().requires_grad_(), view2.clone().requires_grad_()
        for reduction in ("mean", "sum"):
            loss = info_nce(x[idx], y, idx, 0.2, reduction, weight=weight)
            loss.backward()
            grads.append(loss.detach())
        grads += [x.grad, y.grad]
    half = len(grads) // 2
    for u, r in zip(grads[:half], grads[half:]):
        torch.testing.assert_close(u, r)


@pytest.mark.parametrize("tau", [0.3, 0.02])  # unshifted / row-max shifted exp
@pytest.mark.parametrize("weighted", [False, True])
def test_info_nce_bf16_products_stay_close_and_are_really_bf16(tau, weighted,
                                                               monkeypatch, device):
    from graphcl_rec.losses import contrastive
    g = torch.Generator().manual_seed(5)
    a0 = torch.randn(300, 16, generator=g).to(device)
    c0 = torch.randn(500, 16, generator=g).to(device)
    t = torch.randint(500, (300,), generator=g).to(device)
    w = torch.rand(300, generator=g).to(device) if weighted else None
    for name in ("BLOCK", "BLOCK_LOW", "BLOCK_CUDA"):  # several blocks
        monkeypatch.setattr(contrastive._InfoNCE, name, 2**14)
    out = []
    for dtype in (None, torch.bfloat16):
        a, c = a0.clone().requires_grad_(), c0.clone().requires_grad_()
        loss = info_nce(a, c, t, tau, weight=w, matmul_dtype=dtype)
        loss.backward()
        assert loss.dtype == a.grad.dtype == c.grad.dtype == torch.float32
        out.append((loss.detach(), a.grad, c.grad))
    (l32, ga32, gc32), (l16, ga16, gc16) = out
    assert not torch.equal(ga32, ga16)  # the products did change precision
    torch.testing.assert_close(l16, l32, rtol=2e-3, atol=0)
    assert (ga16 - ga32).norm() / ga32.norm() < 2e-2
    assert (gc16 - gc32).norm() / gc32.norm() < 2e-2


def test_info_nce_cpu_block_size_follows_product_precision(monkeypatch):
    from graphcl_rec.losses import contrastive
    calls = []
    real = contrastive._product
    monkeypatch.setattr(contrastive, "_product",
                        lambda *args: calls.append(1) or real(*args))
    monkeypatch.setattr(contrastive._InfoNCE, "BLOCK", 2**30)
    monkeypatch.setattr(contrastive._InfoNCE, "BLOCK_LOW", 2**14)  # 32-row blocks
    g = torch.Generator().manual_seed(8)
    a = torch.randn(300, 16, generator=g, requires_grad=True)
    c = torch.randn(500, 16, generator=g, requires_grad=True)
    t = torch.randint(500, (300,), generator=g)
    counts = []
    for dtype in (None, torch.bfloat16):
        calls.clear()
        info_nce(a, c, t, 0.2, matmul_dtype=dtype).backward()
        counts.append(len(calls))
    assert counts == [2, 3 * 10]  # fp32: one block (logits, anchors' gradient)


def test_info_nce_matmul_dtype_validation_and_no_op():
    g = torch.Generator().manual_seed(6)
    a, c = torch.randn(5, 4, generator=g), torch.randn(7, 4, generator=g)
    t = torch.tensor([0, 1, 2, 3, 6])
    with pytest.raises(ValueError, match="floating dtype"):
        info_nce(a, c, t, 0.2, matmul_dtype=torch.int32)
    assert torch.equal(info_nce(a, c, t, 0.2, matmul_dtype=torch.float32),
                       info_nce(a, c, t, 0.2))


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_info_nce_on_dot_products_equals_cross_entropy_of_raw_logits(reduction,
                                                                    weighted):
    g = torch.Generator().manual_seed(4)
    # large rows: logits far beyond the cosine bound, so the row-max shift matters
    a0 = 30 * torch.randn(9, 6, dtype=torch.double, generator=g)
    c0 = torch.randn(13, 6, dtype=torch.double, generator=g)
    t = torch.randint(13, (9,), generator=g)
    w = torch.rand(9, dtype=torch.double, generator=g) if weighted else None
    a, c = a0.clone().requires_grad_(), c0.clone().requires_grad_()
    got = info_nce(a, c, t, 0.2, reduction, weight=w, normalize=False)
    got.backward()
    a2, c2 = a0.clone().requires_grad_(), c0.clone().requires_grad_()
    per = torch.nn.functional.cross_entropy(a2 @ c2.T / 0.2, t, reduction="none")
    if w is not None:
        per = per * w
    ref = per.sum() / (w.sum() if w is not None else 9) if reduction == "mean" \
        else per.sum()
    ref.backward()
    assert torch.isfinite(got)
    torch.testing.assert_close(got, ref)
    torch.testing.assert_close(a.grad, a2.grad)
    torch.testing.assert_close(c.grad, c2.grad)
    # cosines differ from these logits: the option is not a no-op
    assert not torch.allclose(info_nce(a0, c0, t, 0.2, reduction, weight=w), ref)

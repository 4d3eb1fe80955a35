import pytest
import torch
import torch.nn.functional as F

from graphcl_rec.data.sampling import Batch
from graphcl_rec.graph import adjacency
from graphcl_rec.models import MF, BPRRecommender, LightGCN, hardest_negatives
from tests.conftest import random_interactions


def test_bpr_loss_matches_reference_formula():
    enc = MF(5, 6, dim=4)
    model = BPRRecommender(enc, reg_weight=0.5)
    batch = Batch(
        torch.tensor([0, 1, 4]), torch.tensor([0, 2, 5]), torch.tensor([1, 3, 4])
    )
    out = model.loss(batch, [], None)
    e = enc.embedding.weight.detach()
    u, p, n = e[batch.user], e[5 + batch.pos], e[5 + batch.neg]
    ref_bpr = -torch.log(torch.sigmoid((u * p).sum(1) - (u * n).sum(1))).mean()
    ref_reg = 0.5 * (u.pow(2).sum() + p.pow(2).sum() + n.pow(2).sum()) / 3
    torch.testing.assert_close(out["bpr"], ref_bpr)
    torch.testing.assert_close(out["reg"], ref_reg)
    torch.testing.assert_close(out["loss"], ref_bpr + 0.5 * ref_reg)


def test_multiple_and_hard_negatives():
    enc = MF(4, 8, dim=4)
    batch = Batch(
        torch.tensor([0, 1]), torch.tensor([0, 1]), torch.tensor([[2, 3, 4], [5, 6, 7]])
    )
    all_neg = BPRRecommender(enc).loss(batch, [], None)
    assert torch.isfinite(all_neg["loss"])
    hard = BPRRecommender(enc, hard_negatives=True).loss(batch, [], None)
    out = enc([])
    u = out.user[batch.user]
    chosen, _ = hardest_negatives(u, batch.neg, out.item[batch.neg])
    scores = (u.unsqueeze(1) * out.item[batch.neg]).sum(-1)
    assert torch.equal(
        chosen, batch.neg.gather(1, scores.argmax(1, keepdim=True))[:, 0]
    )
    one = Batch(batch.user, batch.pos, chosen)
    torch.testing.assert_close(hard["loss"], BPRRecommender(enc).loss(one, [], None)[
        "loss"])


def test_gradients_reach_ego_through_lightgcn():
    inter = random_interactions(10, 10, 30)
    enc = LightGCN(10, 10, dim=4, num_layers=2)
    model = BPRRecommender(enc)
    batch = Batch(inter.user[:5], inter.item[:5], torch.arange(5))
    model.loss(batch, [adjacency(inter)] * 2, None)["loss"].backward()
    assert enc.embedding.weight.grad.abs().sum() > 0


def test_bpr_is_stable_for_large_margins():
    from graphcl_rec.losses import bpr_loss

    assert torch.isfinite(bpr_loss(torch.tensor([-1e4]), torch.tensor([1e4])))
    assert bpr_loss(torch.tensor([1e4]), torch.tensor([-1e4])).item() == 0.0
    assert bpr_loss(torch.tensor([0.3]), torch.tensor([0.1])).item() == pytest.approx(
        -F.logsigmoid(torch.tensor(0.2)).item()
    )


def test_negative_reg_weight_rejected():
    with pytest.raises(ValueError, match="reg_weight"):
        BPRRecommender(MF(2, 2, dim=2), reg_weight=-1)


@pytest.mark.parametrize("include_ego", [True, False])
@pytest.mark.parametrize("hard", [False, True])
def test_row_restricted_loss_equals_full_forward_terms(include_ego, hard):
    """The row-restricted last layer gives the full forward's loss and gradients."""
    inter = random_interactions(60, 90, 600)
    adjs = [adjacency(inter)] * 3
    enc = LightGCN(60, 90, dim=8, num_layers=3, include_ego=include_ego)
    model = BPRRecommender(enc, reg_weight=0.1, hard_negatives=hard)
    gen = torch.Generator().manual_seed(0)
    neg = torch.randint(0, 90, (6, 3) if hard else (6,), generator=gen)
    batch = Batch(torch.randint(0, 60, (6,), generator=gen),
                  torch.randint(0, 90, (6,), generator=gen), neg)
    # the sliced product is what is tested
    assert enc(adjs, rows=model.batch_rows(batch)).rows is not None
    got = model.loss(batch, adjs, None)
    got["loss"].backward()
    grad = enc.embedding.weight.grad.clone()
    enc.embedding.weight.grad = None
    ref = model.bpr_terms(batch, enc(adjs))
    ref["loss"].backward()
    for key in ("loss", "bpr", "reg"):
        torch.testing.assert_close(got[key], ref[key])
    torch.testing.assert_close(grad, enc.embedding.weight.grad)


def test_small_graphs_keep_the_full_forward():
    inter = random_interactions(10, 10, 30)
    enc = LightGCN(10, 10, dim=4, num_layers=2)
    assert enc([adjacency(inter)] * 2, rows=torch.arange(6)).rows is None
    assert LightGCN(10, 10, dim=4, num_layers=0)([], rows=torch.arange(2)).rows is None


def test_mf_reads_rows_from_the_full_table():
    enc = MF(3, 4, dim=2)
    rows = torch.tensor([6, 0, 3])
    out, part = enc([]), enc([], rows=rows)
    assert part.rows is None
    torch.testing.assert_close(part.items(torch.tensor([3, 0])),
                               out.item[torch.tensor([3, 0])])
    torch.testing.assert_close(part.layer(0).users(), out.layers[0][:3])

"""InBatchNCE: the corrected in-batch softmax against a naive reference."""

from __future__ import annotations

import math

import torch

from graphcl_rec.contrast.inbatch import InBatchNCE
from graphcl_rec.models import MF
from graphcl_rec.models.base import Batch


def _batch(users: list[int], items: list[int]) -> Batch:
    u, i = torch.tensor(users), torch.tensor(items)
    return Batch(u, i, i.clone())


def _reference(model: InBatchNCE, batch: Batch, counts: list[float]) -> float:
    """Loop over the batch: -log softmax of the own positive, logQ-corrected."""
    eu, ei = (t.detach() for t in model.encoder.ego())
    total = sum(counts)
    loss = 0.0
    n = batch.user.numel()
    for b in range(n):
        u = eu[batch.user[b]]
        logits = []
        for c in range(n):
            i = ei[batch.pos[c]]
            s = float(torch.dot(u, i) / (u.norm() * i.norm())) / model.tau
            if model.logq:
                s -= math.log(counts[int(batch.pos[c])] / total)
            logits.append(s)
        m = max(logits)
        lse = m + math.log(sum(math.exp(x - m) for x in logits))
        loss += lse - logits[b]
    return loss / n


def test_loss_matches_reference_and_counts_accumulate() -> None:
    torch.manual_seed(0)
    model = InBatchNCE(MF(4, 5, dim=8), tau=0.3, reg_weight=0.0)
    first = _batch([0, 1, 2, 3], [0, 0, 1, 4])
    out = model.loss(first, [], None)
    assert math.isclose(float(out["nce"]), _reference(model, first, [2, 1, 0, 0, 1]),
                        rel_tol=1e-5)
    second = _batch([1, 2, 3], [0, 3, 3])
    out = model.loss(second, [], None)
    assert model.item_counts.tolist() == [3, 1, 0, 2, 1]
    assert math.isclose(float(out["nce"]), _reference(model, second, [3, 1, 0, 2, 1]),
                        rel_tol=1e-5)


def test_logq_off_is_the_plain_in_batch_softmax() -> None:
    torch.manual_seed(1)
    model = InBatchNCE(MF(4, 5, dim=8), logq=False, reg_weight=0.0)
    batch = _batch([0, 1, 2, 3], [0, 0, 1, 4])
    out = model.loss(batch, [], None)
    assert math.isclose(float(out["nce"]), _reference(model, batch, []), rel_tol=1e-5)
    assert model.item_counts.numel() == 0


def test_eval_mode_does_not_count() -> None:
    model = InBatchNCE(MF(3, 4, dim=8))
    model.loss(_batch([0, 1], [1, 2]), [], None)
    model.eval()
    out = model.loss(_batch([0, 1], [3, 3]), [], None)
    assert torch.isfinite(out["loss"])
    assert model.item_counts.tolist() == [0, 1, 1, 0]


def test_counts_survive_a_state_dict_round_trip_and_grow_with_the_table() -> None:
    model = InBatchNCE(MF(3, 4, dim=8))
    model.loss(_batch([0, 1, 2], [1, 2, 2]), [], None)
    fresh = InBatchNCE(MF(3, 4, dim=8))
    fresh.load_state_dict(model.state_dict())
    assert fresh.item_counts.tolist() == [0, 1, 2, 0]
    bigger = InBatchNCE(MF(3, 6, dim=8))
    bigger.item_counts = fresh.item_counts.clone()
    bigger.loss(_batch([0], [5]), [], None)
    assert bigger.item_counts.tolist() == [0, 1, 2, 0, 0, 1]


def test_repr_names_logq() -> None:
    assert "logq=True" in repr(InBatchNCE(MF(2, 2, dim=4)))

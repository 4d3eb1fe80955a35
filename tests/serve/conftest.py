import pytest
import torch

from graphcl_rec.data import Interactions
from graphcl_rec.models import MF, SGC, BPRRecommender, LightGCN
from graphcl_rec.serve import EmbeddingRecommender, TrainedRecommender
from tests.conftest import random_interactions


def with_ids(inter: Interactions, prefix: str = "") -> Interactions:
    """The same pairs with raw ids ``u0, u1, ...`` and ``i0, i1, ...``."""
    return Interactions(inter.user, inter.item, inter.num_users, inter.num_items,
                        user_ids=tuple(f"{prefix}u{u}" for u in range(inter.num_users)),
                        item_ids=tuple(f"{prefix}i{i}" for i in range(inter.num_items)))


@pytest.fixture
def small() -> Interactions:
    """20 users x 15 items, 90 random pairs, raw ids u*/i*."""
    return with_ids(random_interactions(20, 15, 90, seed=1))


@pytest.fixture
def hand() -> EmbeddingRecommender:
    """3 users x 5 items with known scores.

    User u0 scores items i0..i4 as 5, 4, 3, 2, 1 and has seen i0 and i3; u1 scores
    them 1..5 and has seen i4; u2 has seen nothing and scores all items 0.
    Popularity (users per item): i0: 1, i3: 1, i4: 1, others 0.
    """
    seen = Interactions(torch.tensor([0, 0, 1]), torch.tensor([0, 3, 4]), 3, 5,
                        user_ids=("u0", "u1", "u2"),
                        item_ids=("i0", "i1", "i2", "i3", "i4"))
    user_emb = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    item_emb = torch.tensor([[5.0, 1.0], [4.0, 2.0], [3.0, 3.0], [2.0, 4.0],
                             [1.0, 5.0]])
    return EmbeddingRecommender(user_emb, item_emb, seen)


def make_encoder(name: str, num_users: int, num_items: int, dim: int = 8):
    if name == "lightgcn":
        return LightGCN(num_users, num_items, dim=dim, num_layers=2)
    if name == "lightgcn3":
        return LightGCN(num_users, num_items, dim=dim, num_layers=3)
    if name == "sgc":
        return SGC(num_users, num_items, dim=dim, num_layers=2)
    if name == "sgc-linear":
        return SGC(num_users, num_items, dim=dim, num_layers=2, linear=True)
    return MF(num_users, num_items, dim=dim)


def trained(name: str, inter: Interactions, seed: int = 0) -> TrainedRecommender:
    """An untrained (seeded) model wrapped for serving."""
    torch.manual_seed(seed)
    model = BPRRecommender(make_encoder(name, inter.num_users, inter.num_items))
    return TrainedRecommender(model, inter)

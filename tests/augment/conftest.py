from collections.abc import Callable

import pytest
import torch

from graphcl_rec.data.interactions import Interactions


def random_interactions(
    num_users: int, num_items: int, num_pairs: int, seed: int = 0, device: str = "cpu"
) -> Interactions:
    """``num_pairs`` distinct pairs drawn uniformly from the user x item grid."""
    g = torch.Generator().manual_seed(seed)
    keys = torch.randperm(num_users * num_items, generator=g)[:num_pairs].to(device)
    return Interactions(keys // num_items, keys % num_items, num_users, num_items)


@pytest.fixture
def make_inter() -> Callable[..., Interactions]:
    return random_interactions


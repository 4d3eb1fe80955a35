"""The popularity baseline: every user gets the most-interacted unseen items."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor

from graphcl_rec.data.interactions import Interactions
from graphcl_rec.eval.blocks import Exclude
from graphcl_rec.eval.ranking import evaluate


def popularity_embeddings(train: Interactions) -> tuple[Tensor, Tensor]:
    r"""Embeddings whose dot products rank items by training degree.

    .. math::
        s_{ui} = d_i - \frac{i}{I + 1}

    ``user_emb`` is all ones and ``item_emb`` the item degree :math:`d_i`, less a
    tie-break below one that ranks equally popular items by index (lower first),
    so every ranker returns the same lists. Both are float64 (exact for any degree
    below :math:`2^{52} / I`), which :func:`~graphcl_rec.eval.evaluate` ranks with
    torch's products.

    Shapes:
        - user_emb: ``[U, 1]`` float64, item_emb: ``[I, 1]`` float64, on
          ``train.device``.

    Args:
        train: The interactions that define popularity.

    Returns:
        ``(user_emb, item_emb)``.

    Examples:
        >>> train = Interactions(torch.tensor([0, 1, 1]), torch.tensor([1, 1, 0]), 2, 3)
        >>> popularity_embeddings(train)[1].flatten().tolist()
        [1.0, 1.75, -0.5]
    """
    num_users, num_items = train.shape
    degree = train.item_degree().to(torch.float64)
    tie = torch.arange(num_items, dtype=torch.float64, device=degree.device)
    item_emb = (degree - tie / (num_items + 1)).unsqueeze(1)
    user_emb = torch.ones(num_users, 1, dtype=torch.float64, device=degree.device)
    return user_emb, item_emb


def popularity_metrics(
    train: Interactions,
    target: Interactions,
    exclude: Exclude | Literal["graph"] = "graph",
    k: int | Sequence[int] = (20,),
    batch_size: int | None = None,
) -> dict[str, float]:
    """Full-ranking metrics of the popularity baseline.

    Ranks items by their degree in ``train`` (:func:`popularity_embeddings`)
    with the same evaluator, metrics and cut-offs as any model, so a model's
    validation figures can be read against it. It costs one evaluation of
    one-dimensional embeddings.

    Args:
        train: The interactions that define popularity.
        target: Ground-truth pairs (validation or test).
        exclude: Pairs never to rank; ``"graph"`` (default) excludes ``train``.
        k: Cut-offs.
        batch_size: Users per block (``None``: from the memory budget).

    Returns:
        ``{f"{name}@{K}": float}`` as :func:`~graphcl_rec.eval.evaluate`.

    Examples:
        >>> train = Interactions(torch.tensor([0, 1, 2, 2]),
        ...                      torch.tensor([0, 0, 0, 1]), 3, 3)
        >>> val = Interactions(torch.tensor([0, 1]), torch.tensor([1, 2]), 3, 3)
        >>> popularity_metrics(train, val, k=[1])["recall@1"]
        0.5
    """
    return evaluate(popularity_embeddings(train), graph=train, target=target,
                    exclude=exclude, k=k, batch_size=batch_size)

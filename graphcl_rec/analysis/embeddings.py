r"""Alignment and uniformity of embeddings (Wang & Isola, ICML 2020).

Both are computed on L2-normalised embeddings. Alignment is small when positive
pairs sit close together; uniformity is small (very negative) when the embeddings
spread over the sphere, and rises to its maximum 0 when they all coincide: a
collapsed model, whose rankings no longer depend on the user.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from graphcl_rec.data.interactions import Interactions


def alignment(x: Tensor, y: Tensor, alpha: float = 2.0) -> Tensor:
    r"""Mean distance between positive pairs of normalised embeddings.

    .. math::
        \ell_{align} = \mathbb{E}_{(x, y)} \lVert \hat{x} - \hat{y} \rVert_2^\alpha,
        \qquad \hat{x} = x / \lVert x \rVert_2

    Shapes:
        - x, y: ``[N, d]`` (row ``j`` of ``x`` and of ``y`` form pair ``j``).

    Args:
        x: Anchors.
        y: Their positives.
        alpha: Exponent :math:`\alpha`.

    Returns:
        A scalar in :math:`[0, 2^\alpha]`.

    Examples:
        >>> x, y = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 3.0]])
        >>> round(float(alignment(x, y)), 4)
        2.0
    """
    if x.shape != y.shape or x.dim() != 2:
        raise ValueError(f"'x' and 'y' must both be [N, d] (got {tuple(x.shape)} "
                         f"and {tuple(y.shape)})")
    diff = F.normalize(x, dim=-1) - F.normalize(y, dim=-1)
    return diff.norm(dim=-1).pow(alpha).mean()


def uniformity(x: Tensor, t: float = 2.0) -> Tensor:
    r"""Log of the mean Gaussian potential over all pairs of normalised embeddings.

    .. math::
        \ell_{uniform} = \log \mathbb{E}_{j < l}\,
            e^{-t \lVert \hat{x}_j - \hat{x}_l \rVert_2^2}

    computed with ``logsumexp``. It is 0 when all rows point the same way and
    about :math:`-2t` for rows spread uniformly over a high-dimensional sphere
    (where squared distances concentrate at 2).

    Shapes:
        - x: ``[N, d]`` with ``N >= 2`` (costs ``N (N - 1) / 2`` distances).

    Args:
        x: Embeddings.
        t: Temperature :math:`t`.

    Returns:
        A scalar in :math:`[-4t, 0]`.

    Examples:
        >>> float(uniformity(torch.ones(5, 3)))
        0.0
        >>> float(uniformity(torch.tensor([[1.0, 0.0], [-1.0, 0.0]])))
        -8.0
    """
    if x.dim() != 2 or x.size(0) < 2:
        raise ValueError(f"'x' must be [N, d] with N >= 2 (got {tuple(x.shape)})")
    sq = torch.pdist(F.normalize(x, dim=-1), p=2).pow(2)
    return (torch.logsumexp(-t * sq, dim=0) - math.log(sq.numel())).clamp(max=0.0)


@dataclass(frozen=True)
class EmbeddingProbe:
    """A fixed sample of users, items and positive pairs to measure embeddings on.

    Drawn once (:meth:`sample`) so that every epoch is measured on the same nodes;
    calling the probe on a model's ``(user_emb, item_emb)`` gives alignment over
    the sampled training pairs and uniformity over the sampled users and items.

    Attributes:
        users: ``[Nu]`` sampled users (with at least one training pair).
        items: ``[Ni]`` sampled items (with at least one training pair).
        pair_users: ``[Np]`` users of the sampled training pairs.
        pair_items: ``[Np]`` items of the sampled training pairs.

    Examples:
        >>> both, first = torch.tensor([0, 1]), torch.tensor([0])
        >>> probe = EmbeddingProbe(users=both, items=both, pair_users=first,
        ...                        pair_items=first)
        >>> out = probe(torch.eye(2), torch.eye(2))  # user 0 and item 0 coincide
        >>> out["alignment"], round(out["uniformity"], 4)
        (0.0, -4.0)
    """

    users: Tensor
    items: Tensor
    pair_users: Tensor
    pair_items: Tensor

    @classmethod
    def sample(cls, train: Interactions, size: int = 1024,
               seed: int = 0) -> EmbeddingProbe:
        """Draws up to ``size`` users, items and pairs from ``train``.

        The draw uses its own CPU generator seeded with ``seed``, never the
        global one or a run's, so measuring does not change what a run draws.

        Args:
            train: Training interactions (nodes without a pair are never drawn).
            size: Sample size of each of the three sets.
            seed: Seed of the draw.

        Returns:
            The probe, on ``train.device``.

        Examples:
            >>> train = Interactions(torch.tensor([0, 1]), torch.tensor([0, 0]), 3, 2)
            >>> probe = EmbeddingProbe.sample(train, size=8)
            >>> sorted(probe.users.tolist()), probe.items.tolist()
            ([0, 1], [0])
        """
        if size < 2:
            raise ValueError(f"'size' must be >= 2 (got {size})")
        gen = torch.Generator().manual_seed(seed)
        cpu = train.to("cpu")

        def draw(pool: Tensor) -> Tensor:
            pick = torch.randperm(pool.numel(), generator=gen)[:size]
            return pool[pick].to(train.device)

        pairs = draw(torch.arange(len(cpu)))
        return cls(users=draw(torch.nonzero(cpu.user_degree()).flatten()),
                   items=draw(torch.nonzero(cpu.item_degree()).flatten()),
                   pair_users=train.user[pairs], pair_items=train.item[pairs])

    @torch.no_grad()
    def __call__(self, user_emb: Tensor, item_emb: Tensor) -> dict[str, float]:
        """Alignment and uniformity of the embeddings on the probe's sample.

        Args:
            user_emb: ``[U, d]`` user embeddings.
            item_emb: ``[I, d]`` item embeddings.

        Returns:
            ``{"alignment", "uniformity_user", "uniformity_item", "uniformity"}``
            (the last: the mean of the two sides, as DirectAU weighs them); a
            side with fewer than two sampled nodes reports ``nan`` and is left
            out of the mean.
        """
        out = {"alignment": math.nan}
        if self.pair_users.numel():
            out["alignment"] = float(alignment(user_emb[self.pair_users].float(),
                                               item_emb[self.pair_items].float()))
        for name, emb, idx in (("user", user_emb, self.users),
                               ("item", item_emb, self.items)):
            out[f"uniformity_{name}"] = (float(uniformity(emb[idx].float()))
                                         if idx.numel() >= 2 else math.nan)
        sides = [v for k, v in out.items() if k.startswith("uniformity_")
                 and not math.isnan(v)]
        out["uniformity"] = sum(sides) / len(sides) if sides else math.nan
        return out

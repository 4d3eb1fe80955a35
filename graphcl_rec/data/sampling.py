"""Training triples ``(user, positive, negative)`` with vectorised rejection."""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import torch
from torch import Tensor

from graphcl_rec.data.interactions import Interactions

MODES = ("user", "interaction")
NEGATIVES = ("uniform", "popularity")


class Batch(NamedTuple):
    """One training batch of ``B`` triples (all ``[B]`` int64 tensors).

    ``neg`` is ``[B, n]`` when several negatives are drawn per triple.

    Attributes:
        user: ``[B]`` user ids.
        pos: ``[B]`` ids of items each user interacted with.
        neg: ``[B]`` (or ``[B, n]``) ids of sampled negative items.

    Examples:
        >>> import torch
        >>> batch = Batch(*torch.tensor([[0, 1], [2, 0], [1, 1]]))  # user, pos, neg
        >>> batch.user.shape, batch.neg.tolist()
        (torch.Size([2]), [1, 1])
    """

    user: Tensor
    pos: Tensor
    neg: Tensor


class PairSampler:
    """Draws BPR triples for one epoch at a time.

    Two epoch semantics are offered:

    - ``mode="user"`` (LightGCN/SGL reference code): ``len(train)`` users are drawn
      uniformly among users with at least one pair, each with one random positive.
    - ``mode="interaction"``: every training pair appears exactly once per epoch, in
      a random order.

    Negatives are drawn in bulk (uniformly, or proportional to item popularity
    ``deg^alpha``) and positives are rejected by a sorted-key lookup
    (``searchsorted`` on ``user * num_items + item``); only the rejects are redrawn.

    Args:
        train: Training interactions (unique pairs).
        batch_size: Triples per batch.
        mode: ``"user"`` or ``"interaction"``.
        num_negatives: Negatives per triple; ``> 1`` gives ``neg`` of shape ``[B, n]``.
        negatives: ``"uniform"`` or ``"popularity"``.
        alpha: Exponent of the popularity distribution.
        max_rounds: Redraw rounds before giving up on a user's negatives.

    Examples:
        >>> inter = Interactions(torch.tensor([0, 0, 1]), torch.tensor([0, 1, 2]), 2, 4)
        >>> sampler = PairSampler(inter, batch_size=2, mode="interaction")
        >>> batches = list(sampler.epoch(torch.Generator().manual_seed(0)))
        >>> [b.user.numel() for b in batches]
        [2, 1]
    """

    def __init__(
        self,
        train: Interactions,
        batch_size: int = 2048,
        mode: str = "user",
        num_negatives: int = 1,
        negatives: str = "uniform",
        alpha: float = 1.0,
        max_rounds: int = 100,
    ) -> None:
        if mode not in MODES:
            raise ValueError(
                f"Could not resolve mode '{mode}' among choices {list(MODES)}"
            )
        if negatives not in NEGATIVES:
            raise ValueError(
                f"Could not resolve negatives '{negatives}' among choices "
                f"{list(NEGATIVES)}"
            )
        if batch_size <= 0 or num_negatives <= 0:
            raise ValueError(
                f"'batch_size' and 'num_negatives' must be positive "
                f"(got {batch_size}, {num_negatives})"
            )
        if len(train) == 0:
            raise ValueError("cannot sample from empty training interactions")
        self.train, self.batch_size, self.mode = train, batch_size, mode
        self.num_negatives, self.negatives, self.alpha = num_negatives, negatives, alpha
        self.max_rounds = max_rounds
        self.keys = torch.sort(train.keys()).values
        self.indptr, self.indices = train.csr()
        deg = self.indptr.diff()
        full = torch.nonzero(deg >= train.num_items).flatten()
        if full.numel() > 0:
            raise ValueError(
                f"user {int(full[0])} interacted with every item: no "
                f"negative exists ({full.numel()} such users)"
            )
        self.active_users = torch.nonzero(deg > 0).flatten()
        self.probs: Tensor | None = None
        if negatives == "popularity":
            self.probs = train.item_degree().to(torch.float64).pow(alpha)

    def __len__(self) -> int:
        """Number of batches per epoch."""
        return -(-len(self.train) // self.batch_size)

    def _draw(self, n: int, generator: torch.Generator) -> Tensor:
        device = self.train.device
        if self.probs is None:
            return torch.randint(
                self.train.num_items, (n,), generator=generator, device=device
            )
        return torch.multinomial(self.probs, n, replacement=True, generator=generator)

    def is_positive(self, user: Tensor, item: Tensor) -> Tensor:
        """Boolean mask of the ``(user, item)`` pairs present in ``train``."""
        key = user * self.train.num_items + item
        idx = torch.searchsorted(self.keys, key).clamp_(max=self.keys.numel() - 1)
        return self.keys[idx] == key

    def sample_negatives(self, user: Tensor, generator: torch.Generator) -> Tensor:
        """``[n]`` items each user of ``user`` has not interacted with."""
        neg = self._draw(user.numel(), generator)
        bad = torch.nonzero(self.is_positive(user, neg)).flatten()
        for _ in range(self.max_rounds):
            if bad.numel() == 0:
                return neg
            redraw = self._draw(bad.numel(), generator)
            neg[bad] = redraw
            bad = bad[self.is_positive(user[bad], redraw)]
        if bad.numel() == 0:
            return neg
        raise RuntimeError(
            f"no negative found for user {int(user[bad[0]])} after "
            f"{self.max_rounds} rounds (negatives='{self.negatives}')"
        )

    def triples(self, generator: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
        """All ``(user, pos, neg)`` of one epoch, before batching."""
        device = self.train.device
        n = len(self.train)
        if self.mode == "interaction":
            perm = torch.randperm(n, generator=generator, device=device)
            user, pos = self.train.user[perm], self.train.item[perm]
        else:
            pick = torch.randint(
                self.active_users.numel(), (n,), generator=generator, device=device
            )
            user = self.active_users[pick]
            start, deg = self.indptr[user], self.indptr[user + 1] - self.indptr[user]
            offset = (torch.rand(n, generator=generator, device=device) * deg).long()
            pos = self.indices[start + torch.minimum(offset, deg - 1)]
        if self.num_negatives == 1:
            neg = self.sample_negatives(user, generator)
        else:
            rep = user.repeat_interleave(self.num_negatives)
            neg = self.sample_negatives(rep, generator).view(n, self.num_negatives)
        return user, pos, neg

    def epoch(self, generator: torch.Generator) -> Iterator[Batch]:
        """Yields the batches of one epoch."""
        user, pos, neg = self.triples(generator)
        for start in range(0, user.numel(), self.batch_size):
            end = start + self.batch_size
            yield Batch(user[start:end], pos[start:end], neg[start:end])

    def __repr__(self) -> str:
        return (
            f"PairSampler(batch_size={self.batch_size}, mode='{self.mode}', "
            f"num_negatives={self.num_negatives}, negatives='{self.negatives}')"
        )

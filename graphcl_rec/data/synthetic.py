r"""Synthetic implicit-feedback graphs whose degrees follow a fitted power law.

A :class:`DegreeModel` is fitted to one side's degrees of a real graph
(:func:`fit_degrees`): below :math:`d_{min}` the observed degrees are resampled as
they are (the body), above it a discrete power law
:math:`P(d) \propto d^{-\alpha}` (the tail), with :math:`\alpha` the maximum
likelihood estimate and :math:`d_{min}` the one that minimises the
Kolmogorov–Smirnov distance of the tail (Clauset, Shalizi and Newman, 2009).
:func:`power_law_graph` then draws a graph of any number of pairs with the same
mean degrees, in :math:`O(P \log I)` time and memory linear in :math:`P`: user
degrees from the user model, item weights from the item model, and each of a
user's pairs an item drawn with probability proportional to its weight (a
bipartite Chung–Lu graph; repeated pairs are dropped).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from graphcl_rec.data.interactions import Interactions


@dataclass(frozen=True)
class DegreeModel:
    r"""An empirical body below ``d_min`` and a power-law tail from ``d_min`` on.

    Attributes:
        alpha: Tail exponent :math:`\alpha` (> 1).
        d_min: Smallest degree of the tail.
        d_max: Largest degree drawn (the tail is truncated there).
        tail: Fraction of nodes in the tail.
        ks: Kolmogorov–Smirnov distance between the tail and the fitted law.
        body: ``[n]`` observed degrees below ``d_min`` (resampled as they are).
    """

    alpha: float
    d_min: int
    d_max: int
    tail: float
    ks: float
    body: Tensor

    def _tail_cdf(self) -> tuple[Tensor, Tensor]:
        support = torch.arange(self.d_min, self.d_max + 1, dtype=torch.float64)
        pmf = support.pow(-self.alpha)
        return support, pmf.cumsum(0) / pmf.sum()

    def mean(self) -> float:
        """Expected degree of a drawn node."""
        support, cdf = self._tail_cdf()
        pmf = torch.diff(cdf, prepend=cdf.new_zeros(1))
        tail_mean = float((support * pmf).sum())
        body_mean = float(self.body.double().mean()) if self.body.numel() else 0.0
        return self.tail * tail_mean + (1 - self.tail) * body_mean

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        """``[n]`` int64 degrees drawn from the model."""
        support, cdf = self._tail_cdf()
        u = torch.rand(n, generator=generator, dtype=torch.float64)
        idx = torch.searchsorted(cdf, u).clamp_(max=support.numel() - 1)
        out = support[idx].long()
        if self.body.numel() and self.tail < 1:
            in_body = torch.rand(n, generator=generator) >= self.tail
            pick = torch.randint(self.body.numel(), (int(in_body.sum()),),
                                 generator=generator)
            out[in_body] = self.body[pick].long()
        return out

    def __repr__(self) -> str:
        return (f"DegreeModel(alpha={self.alpha:.3f}, d_min={self.d_min}, "
                f"d_max={self.d_max}, tail={self.tail:.3f}, ks={self.ks:.4f})")


def fit_power_law(degrees: Tensor, d_min: int | None = None,
                  candidates: int = 60, min_tail: int = 50) -> DegreeModel:
    r"""Fits a discrete power-law tail to positive degrees.

    For a given :math:`d_{min}`, :math:`\hat\alpha` maximises the likelihood of the
    :math:`n` tail degrees under the discrete law truncated at the largest degree
    :math:`D`,
    :math:`\ell(\alpha) = -\alpha \sum_i \ln d_i
    - n \ln \sum_{d = d_{min}}^{D} d^{-\alpha}` (a grid search refined twice,
    to about :math:`10^{-4}`). Without ``d_min``, the candidate (among
    ``candidates`` quantiles of the distinct degrees, each leaving at least
    ``min_tail`` nodes) with the smallest Kolmogorov–Smirnov distance between the
    tail's empirical CDF and the fitted law is kept.

    Args:
        degrees: ``[N]`` degrees (zeros are ignored).
        d_min: A fixed tail start, or ``None`` to choose it.
        candidates: How many tail starts to try.
        min_tail: Fewest nodes a candidate tail may hold.

    Returns:
        The fitted :class:`DegreeModel` (``d_max``: the largest degree seen).

    Raises:
        ValueError: If fewer than ``min_tail`` positive degrees are given, or
            ``d_min`` is below 1 or above the largest degree.

    Examples:
        >>> g = torch.Generator().manual_seed(0)
        >>> law = DegreeModel(2.5, 5, 5000, 1.0, 0.0, torch.zeros(0))
        >>> round(fit_power_law(law.sample(20000, g), d_min=5).alpha, 1)
        2.5
    """
    deg = degrees[degrees > 0].long()
    if deg.numel() < min_tail:
        raise ValueError(f"'degrees' must hold at least {min_tail} positive values "
                         f"(got {deg.numel()})")
    top = int(deg.max())
    if d_min is not None and not 1 <= d_min <= top:
        raise ValueError(f"'d_min' must be in [1, {top}] (got {d_min})")
    counts = torch.bincount(deg, minlength=top + 1).double()
    if d_min is not None:
        starts = [d_min]
    else:
        distinct = torch.unique(deg)
        tail_sizes = counts.flip(0).cumsum(0).flip(0)
        distinct = distinct[tail_sizes[distinct] >= min_tail]
        picks = torch.linspace(0, distinct.numel() - 1, candidates).round().long()
        starts = [int(v) for v in torch.unique(distinct[picks])]
    best: tuple[float, float, int] | None = None
    for start in starts:
        alpha, ks = _fit_tail(counts, start)
        if best is None or ks < best[0]:
            best = (ks, alpha, start)
    assert best is not None
    ks, alpha, start = best
    body = deg[deg < start]
    return DegreeModel(alpha, start, top, 1 - body.numel() / deg.numel(), ks, body)


def _fit_tail(counts: Tensor, d_min: int) -> tuple[float, float]:
    """``(alpha, ks)`` of the tail ``d >= d_min`` of a degree histogram."""
    support = torch.arange(d_min, counts.numel(), dtype=torch.float64)
    c = counts[d_min:]
    n = float(c.sum())
    log_d = torch.log(support)
    sum_log = float((c * log_d).sum())
    lo, hi = 1.01, 8.0
    for _ in range(3):  # grid, then two refinements around the best point
        grid = torch.linspace(lo, hi, 101, dtype=torch.float64)
        ll = -grid * sum_log - n * torch.logsumexp(-grid[:, None] * log_d, dim=1)
        best = int(ll.argmax())
        step = (hi - lo) / 100
        lo, hi = max(1.01, float(grid[best]) - step), float(grid[best]) + step
    alpha = float(grid[best])
    pmf = support.pow(-alpha)
    model = pmf.cumsum(0) / pmf.sum()
    empirical = c.cumsum(0) / n
    return alpha, float((model - empirical).abs().max())


def fit_degrees(inter: Interactions) -> tuple[DegreeModel, DegreeModel]:
    """``(users, items)``: :func:`fit_power_law` of each side's degrees."""
    return fit_power_law(inter.user_degree()), fit_power_law(inter.item_degree())


def power_law_graph(num_pairs: int, *, users: DegreeModel, items: DegreeModel,
                    seed: int = 0) -> Interactions:
    r"""A bipartite graph of about ``num_pairs`` pairs with the models' degrees.

    :math:`U = P / \bar d_u` users draw degrees :math:`d_u` from ``users`` (at most
    :math:`I`); :math:`I = P / \bar d_i` items draw weights :math:`w_i` from
    ``items``; each of user :math:`u`'s :math:`d_u` pairs takes item :math:`i`
    with probability :math:`w_i / \sum_j w_j`, so an item's expected degree is
    proportional to its weight. Repeated pairs are dropped, so the graph holds a
    little fewer than ``num_pairs`` pairs (more so for heavy tails).

    Args:
        num_pairs: Target number of pairs :math:`P` (>= 1).
        users: Degree model of the users.
        items: Degree model of the items.
        seed: Seed of the generator.

    Returns:
        The interactions (users with no pair left keep their index).

    Examples:
        >>> law = DegreeModel(2.2, 3, 200, 1.0, 0.0, torch.zeros(0))
        >>> inter = power_law_graph(5000, users=law, items=law, seed=0)
        >>> 4000 < len(inter) <= 5000
        True
    """
    if isinstance(num_pairs, bool) or not isinstance(num_pairs, int) or num_pairs < 1:
        raise ValueError(f"'num_pairs' must be an int >= 1 (got {num_pairs!r})")
    g = torch.Generator().manual_seed(seed)
    num_users = max(1, math.ceil(num_pairs / users.mean()))
    num_items = max(1, math.ceil(num_pairs / items.mean()))
    degree = users.sample(num_users, g).clamp_(max=num_items)
    weight = items.sample(num_items, g).double()
    cdf = weight.cumsum(0)
    cdf /= cdf[-1].clone()
    user = torch.repeat_interleave(torch.arange(num_users), degree)
    item = torch.searchsorted(cdf, torch.rand(user.numel(), generator=g,
                                              dtype=torch.float64))
    keys = torch.unique(user * num_items + item.clamp_(max=num_items - 1))
    return Interactions(keys // num_items, keys % num_items, num_users, num_items)

"""Edge and node dropout: the SGL augmentations "ED", "RW" and "ND"."""

from __future__ import annotations

import torch
from torch import Tensor

from graphcl_rec.augment.base import AUGMENTATIONS, Augmentation, check_probability
from graphcl_rec.data.interactions import Interactions


def check_drop_probability(owner: str, p: float) -> float:
    """A dropout probability in ``[0, 1)``: ``p = 1`` would leave views with no edges.

    Args:
        owner: The augmentation, named in the error.
        p: The probability received.

    Returns:
        ``p`` as a ``float``.

    Raises:
        ValueError: Naming ``owner``, ``p`` and why, if ``p`` is outside ``[0, 1)``.

    Examples:
        >>> check_drop_probability("EdgeDropout", 0.5)
        0.5
    """
    p = check_probability("p", p)
    if p == 1.0:
        raise ValueError(f"{owner}: 'p' must be < 1 (got {p}): p = 1 drops every "
                         "pair, so each view has no edges and every propagated "
                         "embedding of it is zero")
    return p


def sample_mask(
    n: int,
    prob: float,
    exact: bool,
    generator: torch.Generator,
    device: torch.device,
) -> Tensor:
    """A random boolean mask with ``prob`` of its entries set.

    Args:
        n: Length of the mask.
        prob: Probability of ``True``.
        exact: ``False`` sets each entry independently with probability ``prob``
            (one ``torch.rand`` draw of length ``n``); ``True`` sets exactly
            ``round(prob * n)`` entries chosen without replacement (one
            ``torch.randperm``).
        generator: Source of randomness, on ``device``.
        device: Device of the mask.

    Returns:
        ``[n]`` bool tensor.

    Examples:
        >>> g = torch.Generator().manual_seed(0)
        >>> int(sample_mask(10, 0.3, True, g, torch.device("cpu")).sum())
        3
    """
    if exact:
        mask = torch.zeros(n, dtype=torch.bool, device=device)
        chosen = torch.randperm(n, generator=generator, device=device)
        mask[chosen[: round(prob * n)]] = True
        return mask
    return torch.rand(n, generator=generator, device=device) < prob


@AUGMENTATIONS.register("edge_dropout")
class EdgeDropout(Augmentation):
    r"""Drops each user–item pair independently with probability ``p``.

    A pair is one undirected edge of the bipartite graph, so both directions go
    together. With ``per_layer=False`` this is SGL's edge dropout ("ED"); with
    ``per_layer=True`` every layer gets its own draw, which is what SGL calls a
    "random walk" ("RW") although no walk takes place (see :class:`RandomWalk` for
    an actual walk).

    The default draw is Bernoulli, as in PyG's ``dropout_edge``: the number of kept
    pairs is :math:`\mathrm{Binomial}(E, 1-p)`. SGL's reference code instead keeps an
    exact count, sampled without replacement; ``exact=True`` does the same, keeping
    ``round((1 - p) * E)`` pairs (SGL truncates instead of rounding, a difference of
    at most one pair).

    ``p == 0`` returns the input object itself and consumes no generator state.
    ``p == 1`` is refused: it would give an empty graph, whose adjacency has no
    non-zeros, so every propagated embedding of that view would be zero.
    For ``p > 0`` each call consumes the same generator state whatever ``p`` is.

    Args:
        p: Probability of dropping a pair, in ``[0, 1)``.
        per_layer: Draw a fresh sub-graph for every propagation layer.
        exact: Keep exactly ``round((1 - p) * E)`` pairs instead of a Bernoulli draw.

    Raises:
        ValueError: If ``p`` is outside ``[0, 1)``.

    Examples:
        >>> pairs = torch.arange(100)
        >>> inter = Interactions(pairs % 10, pairs // 10, 10, 10)
        >>> aug = EdgeDropout(p=0.2, exact=True)
        >>> len(aug(inter, torch.Generator().manual_seed(0)))
        80
        >>> EdgeDropout(p=0.1), EdgeDropout(p=0.1, per_layer=True)
        (EdgeDropout(p=0.1), EdgeDropout(p=0.1, per_layer=True))
    """

    def __init__(
        self, p: float = 0.1, *, per_layer: bool = False, exact: bool = False
    ) -> None:
        self.p = check_drop_probability(type(self).__name__, p)
        self.per_layer = bool(per_layer)
        self.exact = bool(exact)

    def __call__(self, inter: Interactions, generator: torch.Generator) -> Interactions:
        """Keeps a random subset of the pairs (see :class:`Augmentation`)."""
        if self.p == 0.0:
            return inter
        keep = sample_mask(
            len(inter), 1.0 - self.p, self.exact, generator, inter.device
        )
        return inter.subset(keep)


@AUGMENTATIONS.register("edge_dropout_per_layer")
def edge_dropout_per_layer(p: float = 0.1, exact: bool = False) -> EdgeDropout:
    """SGL's "RW" augmentation: ``EdgeDropout(p, per_layer=True, exact=exact)``.

    A registry key for configs; in Python, construct :class:`EdgeDropout` directly.

    Args:
        p: Probability of dropping a pair, in ``[0, 1)``.
        exact: Keep an exact count of pairs (see :class:`EdgeDropout`).

    Returns:
        A per-layer :class:`EdgeDropout`.

    Examples:
        >>> edge_dropout_per_layer(p=0.2)
        EdgeDropout(p=0.2, per_layer=True)
    """
    return EdgeDropout(p=p, per_layer=True, exact=exact)


@AUGMENTATIONS.register("node_dropout")
class NodeDropout(Augmentation):
    r"""Drops a fraction ``p`` of the users and of the items, with all their pairs.

    This is SGL's node dropout ("ND"): users and items are dropped at the same rate,
    independently of each other, and a pair survives only if neither its user nor
    its item is dropped, so about :math:`(1-p)^2` of the pairs are kept. Dropped
    nodes stay in the index spaces as isolated nodes. The view is shared across
    layers, as in SGL.

    The default draw is Bernoulli per node; ``exact=True`` drops exactly
    ``round(p * U)`` users and ``round(p * I)`` items, sampled without replacement
    as SGL's reference code does (it truncates instead of rounding). Users are drawn
    before items.

    ``p == 0`` returns the input object itself and consumes no generator state;
    ``p == 1`` is refused (it would give an empty graph).

    Args:
        p: Probability of dropping a node, in ``[0, 1)``.
        exact: Drop an exact count of users and of items instead of a Bernoulli draw.

    Raises:
        ValueError: If ``p`` is outside ``[0, 1)``.

    Examples:
        >>> pairs = torch.arange(100)
        >>> inter = Interactions(pairs % 10, pairs // 10, 10, 10)
        >>> g = torch.Generator().manual_seed(0)
        >>> view = NodeDropout(p=0.2, exact=True)(inter, g)
        >>> len(view), int((view.user_degree() > 0).sum()), view.num_users
        (64, 8, 10)
        >>> NodeDropout(p=0.2)
        NodeDropout(p=0.2)
    """

    def __init__(self, p: float = 0.1, *, exact: bool = False) -> None:
        self.p = check_drop_probability(type(self).__name__, p)
        self.exact = bool(exact)

    def __call__(self, inter: Interactions, generator: torch.Generator) -> Interactions:
        """Keeps pairs whose user and item both survive (see :class:`Augmentation`)."""
        if self.p == 0.0:
            return inter
        device = inter.device
        drop_user = sample_mask(inter.num_users, self.p, self.exact, generator, device)
        drop_item = sample_mask(inter.num_items, self.p, self.exact, generator, device)
        dropped = drop_user.index_select(0, inter.user)
        dropped |= drop_item.index_select(0, inter.item)
        return inter.subset(~dropped)

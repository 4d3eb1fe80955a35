"""Random-walk sub-graphs: the pairs traversed by walks from every node."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from graphcl_rec.augment.base import AUGMENTATIONS, Augmentation, check_probability
from graphcl_rec.data.interactions import Interactions


def _bipartite_csr(inter: Interactions) -> tuple[Tensor, Tensor, Tensor]:
    """CSR of the symmetric ``[U+I, U+I]`` graph with the pair index of each entry.

    Returns:
        ``indptr [U+I+1]``, ``neighbour [2E]`` (node ids, items offset by ``U``) and
        ``pair [2E]`` (index into ``inter``'s pairs) of every adjacency entry.
    """
    num_pairs, device = len(inter), inter.device
    by_user = torch.argsort(inter.user, stable=True)
    by_item = torch.argsort(inter.item, stable=True)
    degree = torch.cat([inter.user_degree(), inter.item_degree()])
    indptr = torch.zeros(degree.numel() + 1, dtype=torch.long, device=device)
    torch.cumsum(degree, 0, out=indptr[1:])
    neighbour = torch.empty(2 * num_pairs, dtype=torch.long, device=device)
    torch.index_select(inter.item, 0, by_user, out=neighbour[:num_pairs])
    neighbour[:num_pairs] += inter.num_users
    torch.index_select(inter.user, 0, by_item, out=neighbour[num_pairs:])
    return indptr, neighbour, torch.cat([by_user, by_item])


def _check_positive(name: str, value: int) -> int:
    """Validates a positive integer argument and returns it."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"'{name}' must be a positive integer (got {value!r})")
    return value


def random_walk_pairs(
    inter: Interactions,
    start: Tensor,
    walk_length: int,
    restart_p: float,
    generator: torch.Generator,
) -> Tensor:
    """Walks on the bipartite graph and reports the pair crossed at each step.

    Nodes are numbered as in :func:`~graphcl_rec.graph.to_edge_index`: users
    ``0..U-1``, items ``U..U+I-1``. At every step after the first, a walker first
    jumps back to its start node with probability ``restart_p``; it then moves along
    one of its current node's pairs, chosen uniformly. A walker on a node without
    pairs stays put. All walkers advance together; the only Python loop is over the
    steps.

    Args:
        inter: Interactions with ``E`` pairs.
        start: ``[W]`` int64 start nodes, on ``inter.device``.
        walk_length: Number of steps ``L``.
        restart_p: Probability of returning to the start node before a step.
        generator: Source of randomness, on ``inter.device``.

    Returns:
        ``[W, L]`` int64 indices into ``inter``'s pairs of the pair crossed by each
        walker at each step, ``-1`` where the walker stood on an isolated node.

    Raises:
        ValueError: If ``walk_length`` is negative or ``restart_p`` is outside
            ``[0, 1]``.

    Examples:
        >>> inter = Interactions(torch.tensor([0]), torch.tensor([0]), 2, 1)
        >>> g = torch.Generator().manual_seed(0)
        >>> random_walk_pairs(inter, torch.tensor([0, 1, 2]), 3, 0.0, g).tolist()
        [[0, 0, 0], [-1, -1, -1], [0, 0, 0]]
    """
    if walk_length < 0:
        raise ValueError(f"'walk_length' must be non-negative (got {walk_length!r})")
    check_probability("restart_p", restart_p)
    num_walkers = start.numel()
    out = torch.full(
        (walk_length, num_walkers), -1, dtype=torch.long, device=inter.device
    )
    if len(inter) == 0 or num_walkers == 0:
        return out.t().contiguous()
    indptr, neighbour, pair = _bipartite_csr(inter)
    degree = indptr[1:] - indptr[:-1]
    node = start
    # index_select: the gathers dominate, and it beats advanced indexing on CPU.
    for step in range(walk_length):
        if step > 0 and restart_p > 0.0:
            back = (
                torch.rand(num_walkers, generator=generator, device=inter.device)
                < restart_p
            )
            node = torch.where(back, start, node)
        deg = degree.index_select(0, node)
        draw = torch.rand(num_walkers, generator=generator, device=inter.device)
        offset = torch.minimum((draw * deg).long(), deg - 1)
        moves = deg > 0
        pos = torch.where(moves, indptr.index_select(0, node) + offset, 0)
        out[step] = torch.where(moves, pair.index_select(0, pos), -1)
        node = torch.where(moves, neighbour.index_select(0, pos), node)
    return out.t().contiguous()


@AUGMENTATIONS.register("random_walk")
class RandomWalk(Augmentation):
    r"""Keeps the user–item pairs traversed by random walks from every node.

    ``walks_per_node`` walks of ``walk_length`` steps start from every user and
    every item (see :func:`random_walk_pairs`); the view is the set of pairs any of
    them crossed, each kept once. The kept pairs form connected neighbourhoods
    around the walks rather than an independent sample, and every node with at
    least one pair keeps at least one of them (its own walk's first step), so,
    unlike edge and node dropout, the view isolates no node.

    **Not SGL's "RW".** SGL's "random walk" augmentation performs no walk: it is
    edge dropout with an independent draw per layer, i.e.
    ``EdgeDropout(p, per_layer=True)``. This class walks the graph.

    **How much it keeps.** The kept fraction is set by the number of steps per
    pair, :math:`s = \text{walks\_per\_node}\cdot\text{walk\_length}\cdot N / E`,
    where :math:`N` counts the users and items that have pairs. Without restarts a
    walk soon crosses every pair about equally often, so about :math:`1 - e^{-s}` of
    the pairs are kept (:meth:`walk_length_for` inverts this). Restarts keep walks
    near their start and lower the fraction on clustered data. Kept fractions
    measured on a random graph and on MovieLens-100k are in
    ``benchmarks/PERF.md``.

    Args:
        walk_length: Steps per walk, at least 1.
        restart_p: Probability of jumping back to the start node before each step
            after the first, in ``[0, 1]``. ``1`` samples ``walk_length`` pairs
            around each node with replacement.
        walks_per_node: Walks started from every node, at least 1.
        per_layer: Draw a fresh sub-graph for every propagation layer.

    Raises:
        ValueError: If an argument is out of range.

    Examples:
        >>> inter = Interactions(torch.tensor([0, 0, 1, 2]),
        ...                      torch.tensor([0, 1, 1, 2]), 3, 3)
        >>> view = RandomWalk(walk_length=4)(inter, torch.Generator().manual_seed(0))
        >>> bool((view.user_degree() > 0).all()), view.num_items
        (True, 3)
        >>> RandomWalk(walk_length=4)
        RandomWalk(walk_length=4, restart_p=0.0, walks_per_node=1)
    """

    def __init__(
        self,
        *,
        walk_length: int = 16,
        restart_p: float = 0.0,
        walks_per_node: int = 1,
        per_layer: bool = False,
    ) -> None:
        self.walk_length = _check_positive("walk_length", walk_length)
        self.restart_p = check_probability("restart_p", restart_p)
        self.walks_per_node = _check_positive("walks_per_node", walks_per_node)
        self.per_layer = bool(per_layer)

    @staticmethod
    def walk_length_for(
        inter: Interactions, keep: float, walks_per_node: int = 1
    ) -> int:
        r"""Walk length that keeps about ``keep`` of the pairs without restarts.

        Solves :math:`1 - e^{-s} = \text{keep}` for the walk length (see above).

        Args:
            inter: The interactions the walks will run on.
            keep: Target kept fraction, in ``[0, 1)``.
            walks_per_node: Walks started from every node.

        Returns:
            The smallest walk length (at least 1) whose predicted fraction reaches
            ``keep``.

        Raises:
            ValueError: If ``keep`` is outside ``[0, 1)`` or ``walks_per_node`` is
                not a positive integer.

        Examples:
            >>> inter = Interactions(torch.arange(100) % 10, torch.arange(100) // 10,
            ...                      10, 10)
            >>> RandomWalk.walk_length_for(inter, keep=0.9)
            12
        """
        keep = check_probability("keep", keep)
        if keep == 1.0:
            raise ValueError("'keep' must be below 1 (got 1.0)")
        walks = _check_positive("walks_per_node", walks_per_node) * int(
            (inter.user_degree() > 0).sum() + (inter.item_degree() > 0).sum()
        )
        return max(1, math.ceil(-math.log1p(-keep) * len(inter) / max(walks, 1)))

    def __call__(self, inter: Interactions, generator: torch.Generator) -> Interactions:
        """Keeps the pairs crossed by the walks (see :class:`Augmentation`)."""
        num_nodes = inter.num_users + inter.num_items
        start = torch.arange(num_nodes, device=inter.device).repeat(self.walks_per_node)
        crossed = random_walk_pairs(
            inter, start, self.walk_length, self.restart_p, generator
        )
        keep = torch.zeros(len(inter) + 1, dtype=torch.bool, device=inter.device)
        keep[crossed.flatten() + 1] = True
        return inter.subset(keep[1:])

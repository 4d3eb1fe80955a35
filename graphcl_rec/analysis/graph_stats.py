r"""Structure of a user–item graph: degrees, density, components, clustering.

Computed with :mod:`networkx` on the bipartite graph of the pairs (users
``0..U-1``, items ``U..U+I-1``, as :func:`~graphcl_rec.graph.to_edge_index` numbers
them), the graph the encoders propagate over. :mod:`networkx` comes with the
``analysis`` extra.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from graphcl_rec.data.interactions import Interactions

try:
    import networkx as nx
except ImportError as exc:  # the analysis extra
    raise ImportError("graph statistics need networkx: "
                      "pip install 'graphcl-rec[analysis]'") from exc

DENSE_MAX = 4_000_000
"""Largest ``rows × cols`` pair matrix :func:`latapy_clustering` makes dense once."""


def to_networkx(inter: Interactions) -> nx.Graph:
    """The undirected bipartite graph: node attribute ``bipartite`` 0 (users) or 1.

    Every user and item is a node, with or without pairs; repeated pairs give
    one edge.
    """
    graph = nx.Graph()
    users, nodes = inter.num_users, inter.num_users + inter.num_items
    graph.add_nodes_from(range(users), bipartite=0)
    graph.add_nodes_from(range(users, nodes), bipartite=1)
    graph.add_edges_from(zip(inter.user.tolist(), (inter.item + users).tolist()))
    return graph


def degree_summary(degree: Tensor) -> dict[str, float]:
    r"""Summary of a degree distribution ``[n]``.

    Returns ``min``, ``median``, ``mean``, ``p90``, ``p99``, ``max``, the number of
    nodes of degree 0 (``zero``) and the Gini coefficient
    :math:`G = \frac{\sum_i (2i - n - 1) d_{(i)}}{n \sum_i d_i}` over the sorted
    degrees :math:`d_{(1)} \le \dots \le d_{(n)}` (0: every node equally
    connected; near 1: a few nodes hold the pairs).
    """
    d = degree.double()
    if d.numel() == 0:
        return {key: 0.0 for key in ("min", "median", "mean", "p90", "p99", "max",
                                     "zero", "gini")}
    q = torch.quantile(d, torch.tensor([0.5, 0.9, 0.99], dtype=torch.float64))
    ordered = torch.sort(d).values
    n = d.numel()
    rank = torch.arange(1, n + 1, dtype=torch.float64)
    total = float(d.sum())
    gini = float(((2 * rank - n - 1) * ordered).sum()) / (n * total) if total else 0.0
    return {"min": float(d.min()), "median": float(q[0]), "mean": float(d.mean()),
            "p90": float(q[1]), "p99": float(q[2]), "max": float(d.max()),
            "zero": float((d == 0).sum()), "gini": gini}


def latapy_clustering(inter: Interactions, nodes: Tensor, side: str,
                      block: int = 256) -> Tensor:
    r"""Bipartite clustering :math:`c(v)` of Latapy et al. (``mode="dot"``).

    .. math::
        c(v) = \frac{1}{|N^2(v)|} \sum_{w \in N^2(v)}
        \frac{|N(v) \cap N(w)|}{|N(v) \cup N(w)|}

    with :math:`N^2(v)` the nodes two hops from :math:`v` (0 when there are none);
    what ``networkx.bipartite.latapy_clustering`` computes, as sparse × dense
    products: the overlaps of ``block`` nodes with every node of their side are
    :math:`B\,B[S]^\top` for the ``[U, I]`` 0/1 matrix :math:`B` of unique pairs.

    Args:
        inter: Unique pairs.
        nodes: ``[S]`` int64 user (``side="users"``) or item (``"items"``) indices.
        side: ``"users"`` or ``"items"``.
        block: Nodes per product (memory ``block × (U + I)`` floats).

    Returns:
        ``[S]`` float64 coefficients.
    """
    if side not in ("users", "items"):
        raise ValueError(f"'side' must be 'users' or 'items' (got {side!r})")
    rows, cols = (inter.user, inter.item) if side == "users" else (inter.item,
                                                                     inter.user)
    shape = inter.shape if side == "users" else (inter.num_items, inter.num_users)
    ones = torch.ones(rows.numel(), dtype=torch.float64)
    with torch.sparse.check_sparse_tensor_invariants(enable=True):
        b = torch.sparse_coo_tensor(torch.stack([rows, cols]), ones, shape)
    b = b.coalesce()
    dense_rows = b.to_dense() if shape[0] * shape[1] <= DENSE_MAX else None
    degree = torch.bincount(rows, minlength=shape[0]).double()
    out = torch.zeros(nodes.numel(), dtype=torch.float64)
    for start in range(0, nodes.numel(), block):
        chunk = nodes[start:start + block]
        if dense_rows is not None:
            x = dense_rows[chunk]
        else:
            x = torch.index_select(b, 0, chunk).to_dense()
        overlap = torch.sparse.mm(b, x.T).T  # [S, n]: |N(v) ∩ N(w)|
        overlap[torch.arange(chunk.numel()), chunk] = 0.0
        union = degree[chunk, None] + degree[None, :] - overlap
        share = torch.where(overlap > 0, overlap / union.clamp_min(1.0), 0.0)
        count = (overlap > 0).sum(1)
        out[start:start + block] = share.sum(1) / count.clamp_min(1)
    return out


def graph_stats(inter: Interactions, *, clustering_sample: int | None = 2000,
                seed: int = 0) -> dict[str, Any]:
    r"""Structural statistics of the user–item graph of ``inter``.

    * ``density``: :math:`|E| / (U \cdot I)` over the unique pairs.
    * ``user_degree``, ``item_degree``: :func:`degree_summary` of each side.
    * ``components``: the number of connected components among the nodes with at
      least one pair, and the users, items and pairs of the largest
      (``networkx.connected_components``).
    * ``clustering``: the bipartite clustering coefficient
      (:func:`latapy_clustering`) averaged over the users and over the items
      with pairs, as ``networkx.bipartite.average_clustering`` averages it; on a
      uniform sample of ``clustering_sample`` nodes per side when there are more
      (``None``: every node).

    Args:
        inter: The pairs (repeats count once).
        clustering_sample: Nodes per side the clustering is averaged over, or
            ``None`` for all.
        seed: Seed of that sample.

    Returns:
        A JSON-serialisable dict of the statistics above plus the counts.
    """
    if clustering_sample is not None and (isinstance(clustering_sample, bool)
                                          or clustering_sample < 1):
        raise ValueError(f"'clustering_sample' must be positive or None "
                         f"(got {clustering_sample!r})")
    unique, _ = inter.deduplicate()
    graph = to_networkx(unique)
    users, items = inter.num_users, inter.num_items
    connected = [c for c in nx.connected_components(graph) if len(c) > 1]
    largest: set[int] = max(connected, key=len, default=set())
    big_users = sum(1 for v in largest if v < users)
    generator = torch.Generator().manual_seed(seed)
    clustering = {}
    for side, degree in (("users", unique.user_degree()),
                         ("items", unique.item_degree())):
        chosen = (degree > 0).nonzero().flatten()
        if clustering_sample is not None and chosen.numel() > clustering_sample:
            pick = torch.randperm(chosen.numel(), generator=generator)
            chosen = chosen[pick[:clustering_sample]].sort().values
        clustering[side] = (float(latapy_clustering(unique, chosen, side).mean())
                            if chosen.numel() else 0.0)
    return {
        "num_users": users, "num_items": items, "num_pairs": len(unique),
        "density": len(unique) / (users * items) if users and items else 0.0,
        "user_degree": degree_summary(unique.user_degree()),
        "item_degree": degree_summary(unique.item_degree()),
        "components": {
            "count": len(connected),
            "largest_users": big_users,
            "largest_items": len(largest) - big_users,
            "largest_pairs": graph.subgraph(largest).number_of_edges(),
        },
        "clustering": clustering,
        "clustering_sample": clustering_sample,
    }


def format_stats(stats: dict[str, Any]) -> list[str]:
    """Human-readable lines of :func:`graph_stats`'s result."""
    def deg(name: str) -> str:
        d = stats[name]
        return (f"min {d['min']:g}, median {d['median']:g}, mean {d['mean']:.2f}, "
                f"p90 {d['p90']:g}, p99 {d['p99']:g}, max {d['max']:g}, "
                f"{d['zero']:g} with none, Gini {d['gini']:.3f}")

    comp, clus = stats["components"], stats["clustering"]
    sample = stats["clustering_sample"]
    how = "all nodes" if sample is None else f"at most {sample} nodes per side"
    return [
        f"density {stats['density']:.6f} ({stats['num_pairs']} pairs over "
        f"{stats['num_users']} x {stats['num_items']})",
        f"user degree: {deg('user_degree')}",
        f"item degree: {deg('item_degree')}",
        f"connected components: {comp['count']}; largest has {comp['largest_users']} "
        f"users, {comp['largest_items']} items, {comp['largest_pairs']} pairs",
        f"bipartite clustering (Latapy, dot; {how}): users {clus['users']:.4f}, "
        f"items {clus['items']:.4f}",
    ]

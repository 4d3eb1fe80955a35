"""networkx's k-core as the oracle of ``k_core`` with equal user and item thresholds.

On the bipartite graph a node's degree is its number of (unique) pairs, so the
``(k, k)`` core of the pairs is ``networkx.k_core(graph, k)``.
"""

import networkx as nx
import pytest
import torch

from graphcl_rec.analysis.graph_stats import to_networkx
from graphcl_rec.data import Interactions, k_core


def _random(seed, users=40, items=30, pairs=260):
    g = torch.Generator().manual_seed(seed)
    # skewed: low ids are chosen more often, so some nodes fall below k
    user = (torch.rand(pairs, generator=g) ** 2 * users).long()
    item = (torch.rand(pairs, generator=g) ** 2 * items).long()
    inter, _ = Interactions(user, item, users, items).deduplicate()
    return inter


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("k", [1, 2, 3, 5, 8])
def test_k_core_matches_networkx(seed, k):
    inter = _random(seed)
    core = k_core(inter, user_k=k, item_k=k)
    graph = to_networkx(inter)
    graph.remove_nodes_from([v for v in list(graph) if graph.degree(v) == 0])
    oracle = nx.k_core(graph, k)
    want = sorted((u, v - inter.num_users) for u, v in
                  ((min(a, b), max(a, b)) for a, b in oracle.edges()))
    # back to the original indices through the raw ids k_core keeps
    got = sorted((int(core.user_ids[u]), int(core.item_ids[i]))
                 for u, i in zip(core.user.tolist(), core.item.tolist()))
    assert got == want
    assert core.num_users == sum(1 for v in oracle if v < inter.num_users)
    assert core.num_items == sum(1 for v in oracle if v >= inter.num_users)

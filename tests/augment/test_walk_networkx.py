"""networkx as the oracle of the random walks' reachability.

A walker that starts at ``s`` and has taken ``t + 1`` steps (restarts included)
stands at most ``t + 1`` hops from ``s``, so the pair it crosses at step ``t`` has
both ends within ``t + 1`` hops of ``s`` (shortest paths on the bipartite graph), and
never leaves ``s``'s connected component.
"""

import networkx as nx
import pytest
import torch

from graphcl_rec.analysis.graph_stats import to_networkx
from graphcl_rec.augment import RandomWalk
from graphcl_rec.augment.walk import random_walk_pairs
from graphcl_rec.data import Interactions


def _graph(seed=0, users=30, items=25, pairs=70):
    g = torch.Generator().manual_seed(seed)
    keys = torch.randperm(users * items, generator=g)[:pairs]
    return Interactions(keys // items, keys % items, users, items)


@pytest.mark.parametrize("restart_p", [0.0, 0.3])
@pytest.mark.parametrize("seed", [0, 1])
def test_walk_steps_stay_within_their_hop_distance(restart_p, seed):
    inter = _graph(seed)
    graph = to_networkx(inter)
    num_users = inter.num_users
    start = torch.arange(num_users + inter.num_items).repeat(2)
    crossed = random_walk_pairs(inter, start, 6, restart_p,
                                torch.Generator().manual_seed(seed))
    ends = torch.stack([inter.user, inter.item + num_users], 1).tolist()
    for w, s in enumerate(start.tolist()):
        hops = nx.single_source_shortest_path_length(graph, s, cutoff=6)
        for t, pair in enumerate(crossed[w].tolist()):
            if pair < 0:
                assert graph.degree(s) == 0  # only isolated starts stand still
                continue
            a, b = ends[pair]
            assert a in hops and b in hops
            assert max(hops[a], hops[b]) <= t + 1


def test_view_keeps_a_pair_of_every_node():
    inter = _graph(2)
    graph = to_networkx(inter)
    view = RandomWalk(walk_length=3)(inter, torch.Generator().manual_seed(0))
    kept = to_networkx(view)
    for v in graph:
        assert (kept.degree(v) > 0) == (graph.degree(v) > 0)
    assert all(graph.has_edge(a, b) for a, b in kept.edges())

import networkx as nx
import pytest
import torch

from graphcl_rec.analysis import graph_stats as gs
from graphcl_rec.analysis.graph_stats import (
    degree_summary,
    format_stats,
    graph_stats,
    latapy_clustering,
    to_networkx,
)
from graphcl_rec.cli.main import main
from graphcl_rec.data import Interactions


def _random(seed, users=25, items=20, pairs=80):
    g = torch.Generator().manual_seed(seed)
    user = (torch.rand(pairs, generator=g) ** 2 * users).long()
    item = (torch.rand(pairs, generator=g) ** 2 * items).long()
    return Interactions(user, item, users, items)  # repeats on purpose


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("dense", [True, False])
def test_clustering_matches_networkx(seed, dense, monkeypatch):
    if not dense:
        monkeypatch.setattr(gs, "DENSE_MAX", 0)  # the sparse row-gather path
    inter, _ = _random(seed).deduplicate()
    graph = to_networkx(inter)
    oracle = nx.bipartite.latapy_clustering(graph, mode="dot")
    users = torch.arange(inter.num_users)
    items = torch.arange(inter.num_items)
    got_u = latapy_clustering(inter, users, "users", block=7)
    got_i = latapy_clustering(inter, items, "items", block=7)
    want_u = torch.tensor([oracle[v] for v in range(inter.num_users)],
                          dtype=torch.float64)
    want_i = torch.tensor([oracle[inter.num_users + v] for v in range(inter.num_items)],
                          dtype=torch.float64)
    torch.testing.assert_close(got_u, want_u)
    torch.testing.assert_close(got_i, want_i)


def test_stats_match_networkx():
    inter = _random(2)
    unique, _ = inter.deduplicate()
    graph = to_networkx(unique)
    stats = graph_stats(inter, clustering_sample=None)
    assert stats["num_pairs"] == graph.number_of_edges()
    assert stats["density"] == pytest.approx(
        nx.bipartite.density(graph, set(range(inter.num_users))))
    parts = [c for c in nx.connected_components(graph) if len(c) > 1]
    assert stats["components"]["count"] == len(parts)
    largest = max(parts, key=len)
    assert (stats["components"]["largest_users"]
            + stats["components"]["largest_items"]) == len(largest)
    with_pairs = [v for v in range(inter.num_users) if graph.degree(v)]
    assert stats["clustering"]["users"] == pytest.approx(
        nx.bipartite.average_clustering(graph, with_pairs))
    assert stats["user_degree"]["max"] == max(d for _, d in graph.degree(
        range(inter.num_users)))


def test_hand_example_and_sampling():
    # u0-i0, u0-i1, u1-i0 and a separate u2-i2: users' clustering 0.5, 0.5, 0
    inter = Interactions(torch.tensor([0, 0, 1, 2]), torch.tensor([0, 1, 0, 2]), 3, 3)
    stats = graph_stats(inter)
    assert stats["clustering"] == {"users": pytest.approx(1 / 3),
                                   "items": pytest.approx(1 / 3)}
    assert stats["components"] == {"count": 2, "largest_users": 2, "largest_items": 2,
                                   "largest_pairs": 3}
    assert stats["density"] == pytest.approx(4 / 9)
    one = graph_stats(inter, clustering_sample=1, seed=0)["clustering"]["users"]
    assert one in (pytest.approx(0.5), pytest.approx(0.0))
    assert len(format_stats(stats)) == 5
    with pytest.raises(ValueError, match="clustering_sample"):
        graph_stats(inter, clustering_sample=0)
    with pytest.raises(ValueError, match="'side'"):
        latapy_clustering(inter, torch.tensor([0]), "nodes")


def test_degree_summary():
    out = degree_summary(torch.tensor([0, 0, 0, 4]))
    assert out["gini"] == pytest.approx(0.75) and out["zero"] == 3
    assert degree_summary(torch.tensor([3, 3, 3]))["gini"] == 0.0
    assert degree_summary(torch.tensor([], dtype=torch.long))["max"] == 0.0


def test_cli_datasets_stats(capsys):
    assert main(["datasets", "--stats", "--name", "ml-100k",
                 "--clustering-sample", "50"]) == 0
    out = capsys.readouterr().out
    assert "connected components: 1" in out and "bipartite clustering" in out
    assert main(["datasets", "--name", "nope"]) == 2
    assert "--name" in capsys.readouterr().err

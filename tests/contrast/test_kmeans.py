import importlib.util

import pytest
import torch

from graphcl_rec.contrast.kmeans import check_backend, kmeans, nearest

BACKENDS = ["torch", "sklearn"] + (
    ["faiss"] if importlib.util.find_spec("faiss") is not None else [])


def blobs(seed=0):
    """Three well separated groups of 40 points in 5-d."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.tensor([[0.0] * 5, [6.0] * 5, [-6.0, 6.0, -6.0, 6.0, 0.0]])
    label = torch.arange(3).repeat_interleave(40)
    return centres[label] + 0.3 * torch.randn(120, 5, generator=g), label


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_backend_returns_a_lloyd_fixed_point(backend):
    """Each point is assigned to its nearest centroid and each centroid is the mean
    of its points (random starts may still end in a local minimum)."""
    x, _ = blobs()
    centroids, assign = kmeans(x, 3, backend=backend,
                               generator=torch.Generator().manual_seed(1))
    assert centroids.shape == (3, 5) and assign.dtype == torch.int64
    torch.testing.assert_close(assign, torch.cdist(x, centroids).argmin(1))
    for k in assign.unique():
        torch.testing.assert_close(centroids[k], x[assign == k].mean(0), atol=1e-5,
                                   rtol=1e-5)


def test_separated_groups_are_found_from_a_start_in_each():
    x, label = blobs()
    # seed 1 starts from one point of each group (checked: the partition is exact)
    _, assign = kmeans(x, 3, generator=torch.Generator().manual_seed(1))
    pairs = {(int(a), int(b)) for a, b in zip(label, assign)}
    assert len(pairs) == 3 and len({b for _, b in pairs}) == 3


def test_torch_backend_ends_at_a_lloyd_fixed_point_and_is_seeded():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(300, 4, generator=g)
    c1, a1 = kmeans(x, 7, iters=100, generator=torch.Generator().manual_seed(3))
    c2, a2 = kmeans(x, 7, iters=100, generator=torch.Generator().manual_seed(3))
    assert torch.equal(c1, c2) and torch.equal(a1, a2)
    torch.testing.assert_close(a1, torch.cdist(x, c1).argmin(1))
    for k in range(7):
        torch.testing.assert_close(c1[k], x[a1 == k].mean(0))


def test_nearest_matches_cdist_across_blocks(monkeypatch):
    import graphcl_rec.contrast.kmeans as km

    monkeypatch.setattr(km, "_BLOCK", 64)  # many blocks of rows
    g = torch.Generator().manual_seed(0)
    x, c = torch.randn(500, 6, generator=g), torch.randn(9, 6, generator=g)
    torch.testing.assert_close(nearest(x, c), torch.cdist(x, c).argmin(1))


@pytest.mark.parametrize("k", [0, 121, 2.0, True])
def test_bad_cluster_counts_are_named(k):
    with pytest.raises(ValueError, match=r"'k' must be an int in \[1, 120\]"):
        kmeans(blobs()[0], k)


def test_backend_names_are_checked():
    with pytest.raises(ValueError, match="among choices"):
        check_backend("cuml")
    with pytest.raises(ValueError, match="iters"):
        kmeans(blobs()[0], 2, iters=0)
    if "faiss" not in BACKENDS:
        with pytest.raises(ImportError, match="faiss"):
            check_backend("faiss")

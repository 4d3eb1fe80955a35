r"""k-means for prototype contrast (NCL): one function, three backends.

Every backend runs Lloyd's iterations from ``k`` distinct data points drawn at
random and returns the centroids and each point's nearest centroid:

.. math::
    a_n = \arg\min_c \lVert x_n - \mu_c \rVert^2, \qquad
    \mu_c = \frac{1}{|\{n : a_n = c\}|} \sum_{n : a_n = c} x_n

- ``"torch"``: on the points' own device, blocked products, no dependency.
- ``"sklearn"``: :class:`sklearn.cluster.KMeans` (``init="random"``, one run).
- ``"faiss"``: ``faiss.Kmeans`` (the authors' choice), where ``faiss`` is installed.

Which is fastest at NCL's sizes is measured by ``benchmarks/kmeans_timing.py``.
"""

from __future__ import annotations

import importlib.util

import torch
from torch import Tensor

KMEANS_BACKENDS = ("torch", "sklearn", "faiss")

_BLOCK = 2**20
"""Point-centroid scores formed at a time by the torch backend (4 MB in fp32)."""


def check_backend(backend: str) -> str:
    """Validates a backend name; ``"sklearn"`` and ``"faiss"`` also need the package.

    Raises:
        ValueError: For an unknown name.
        ImportError: For ``"sklearn"`` or ``"faiss"`` without the package installed.
    """
    if backend not in KMEANS_BACKENDS:
        raise ValueError(f"Could not resolve kmeans '{backend}' among choices "
                         f"{list(KMEANS_BACKENDS)}")
    if backend == "sklearn" and importlib.util.find_spec("sklearn") is None:
        raise ImportError("kmeans='sklearn' needs scikit-learn "
                          "(pip install 'graphcl-rec[analysis]'); "
                          "kmeans='torch' needs nothing")
    if backend == "faiss" and importlib.util.find_spec("faiss") is None:
        raise ImportError("kmeans='faiss' needs the faiss package "
                          "(pip install faiss-cpu, or graphcl-rec[ann]); "
                          "kmeans='torch' needs nothing")
    return backend


def nearest(x: Tensor, centroids: Tensor) -> Tensor:
    r"""``[n]`` index of each row's nearest centroid (squared Euclidean distance).

    Computed as :math:`\arg\max_c\, x^\top \mu_c - \tfrac12 \lVert\mu_c\rVert^2`,
    a block of rows at a time.

    Examples:
        >>> nearest(torch.tensor([[0.0], [1.2], [2.0]]), torch.tensor([[0.0], [2.0]]))
        tensor([0, 1, 1])
    """
    bias = centroids.pow(2).sum(1).mul(-0.5)
    ct = centroids.T.contiguous()
    rows = max(1, _BLOCK // max(centroids.shape[0], 1))
    return torch.cat([torch.addmm(bias, x[i:i + rows], ct).argmax(1)
                      for i in range(0, x.shape[0], rows)])


@torch.no_grad()
def kmeans(x: Tensor, k: int, *, iters: int = 25, backend: str = "torch",
           generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """Clusters the rows of ``x`` into ``k`` groups.

    Args:
        x: ``[n, d]`` points (any float dtype; clustered in fp32).
        k: Number of clusters, ``1 <= k <= n``.
        iters: Lloyd iterations (25, faiss's default).
        backend: ``"torch"``, ``"sklearn"`` or ``"faiss"``.
        generator: Draws the initial centroids (the torch backend) or the seed
            handed to sklearn / faiss.

    Returns:
        ``([k, d] centroids, [n] int64 assignments)`` on ``x``'s device. The torch
        backend stops early once no assignment changes (as scikit-learn does); a
        cluster that loses all its points keeps its previous centroid.

    Examples:
        >>> x = torch.tensor([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0]])
        >>> _, a = kmeans(x, 2, generator=torch.Generator().manual_seed(0))
        >>> bool(a[0] == a[1]) and bool(a[2] == a[3]) and bool(a[0] != a[2])
        True
    """
    n = x.shape[0]
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= n:
        raise ValueError(f"'k' must be an int in [1, {n}] (got {k!r})")
    if iters < 1:
        raise ValueError(f"'iters' must be >= 1 (got {iters})")
    check_backend(backend)
    device = x.device
    x = x.detach().float()
    if backend == "torch":
        where = device if generator is None else generator.device
        start = torch.randperm(n, generator=generator, device=where)[:k].to(device)
        centroids = x[start].clone()
        assign = nearest(x, centroids)
        for _ in range(iters):
            counts = torch.bincount(assign, minlength=k).unsqueeze(1)
            sums = torch.zeros_like(centroids).index_add_(0, assign, x)
            centroids = torch.where(counts > 0, sums / counts.clamp(min=1), centroids)
            moved, assign = assign, nearest(x, centroids)
            if torch.equal(moved, assign):  # a fixed point: more iterations are void
                break
        return centroids, assign
    seed = 0 if generator is None else int(torch.randint(
        2**31 - 1, (1,), generator=generator, device=generator.device))
    points = x.cpu().numpy()
    if backend == "sklearn":
        from sklearn.cluster import KMeans

        fit = KMeans(k, init="random", n_init=1, max_iter=iters, tol=0.0,
                     random_state=seed).fit(points)
        centroids = torch.from_numpy(fit.cluster_centers_).float()
        return centroids.to(device), torch.from_numpy(fit.labels_).long().to(device)
    import faiss

    fit = faiss.Kmeans(points.shape[1], k, niter=iters, seed=seed, verbose=False,
                       min_points_per_centroid=1)  # no "too few points" warning
    fit.train(points)
    centroids = torch.from_numpy(fit.centroids).to(device)
    return centroids, nearest(x, centroids)

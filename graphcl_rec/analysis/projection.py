r"""Two-dimensional pictures of embeddings: t-SNE, the unit circle, Gaussian KDE.

The uniformity picture of SimGCL (Yu et al., SIGIR 2022, Fig. 3) is made from these
pieces: L2-normalise a model's embeddings, project them to the plane with t-SNE
(:func:`tsne_2d`), put every point on the unit circle (:func:`to_circle`), and
estimate the density of the points in the plane and of their angles
(:func:`angles`) with a Gaussian kernel density estimate (:func:`gaussian_kde`).
A collapsed model piles its points into a few arcs; a uniform one spreads them
round the circle.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

KDE_BACKENDS = ("auto", "scipy", "numpy")


def tsne_2d(x: Tensor, *, perplexity: float = 30.0, seed: int = 0,
            normalize: bool = True, max_iter: int = 1000) -> Tensor:
    r"""Projects rows to the plane with scikit-learn's t-SNE.

    Rows are L2-normalised first when ``normalize`` (the picture is about
    directions: :math:`\hat{x} = x / \lVert x \rVert_2`), then embedded with
    ``sklearn.manifold.TSNE(init="pca", learning_rate="auto")``. The result
    depends on ``seed`` only, not on torch's or numpy's global generators.

    Shapes:
        - x: ``[N, d]`` with ``N > perplexity``.
        - output: ``[N, 2]`` float32, on the CPU.

    Args:
        x: Embeddings (any float dtype and device).
        perplexity: t-SNE's perplexity, the effective number of neighbours;
            must be positive and below ``N``.
        seed: ``random_state`` of the projection.
        normalize: Normalise each row to unit length before projecting.
        max_iter: Optimisation steps (scikit-learn requires at least 250).

    Returns:
        The projected points.

    Raises:
        ValueError: If ``x`` is not ``[N, d]``, is not finite, or ``perplexity``
            or ``max_iter`` is out of range.

    Examples:
        >>> x = torch.randn(40, 8, generator=torch.Generator().manual_seed(0))
        >>> tsne_2d(x, perplexity=5.0, max_iter=250).shape
        torch.Size([40, 2])
    """
    if x.dim() != 2 or x.size(0) < 2:
        raise ValueError(f"'x' must be [N, d] with N >= 2 (got {tuple(x.shape)})")
    if not (0 < perplexity < x.size(0)):
        raise ValueError(f"'perplexity' must be in (0, N) = (0, {x.size(0)}) "
                         f"(got {perplexity})")
    if max_iter < 250:
        raise ValueError(f"'max_iter' must be >= 250 (got {max_iter})")
    data = x.detach().to("cpu", torch.float32)
    if not torch.isfinite(data).all():
        raise ValueError("'x' holds non-finite values")
    if normalize:
        data = F.normalize(data, dim=-1)
    try:
        from sklearn.manifold import TSNE
    except ImportError as exc:  # the analysis extra
        raise ImportError("tsne_2d needs scikit-learn: "
                          "pip install 'graphcl-rec[analysis]'") from exc

    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca",
                learning_rate="auto", max_iter=max_iter, random_state=seed)
    return torch.from_numpy(np.asarray(tsne.fit_transform(data.numpy()),
                                       dtype=np.float32))


def to_circle(points: Tensor) -> Tensor:
    r"""Each 2-D point divided by its length: :math:`p / \lVert p \rVert_2`.

    Args:
        points: ``[N, 2]`` points (none at the origin).

    Returns:
        ``[N, 2]`` unit-length points.

    Shapes:
        - points: ``[N, 2]``; output the same.

    Examples:
        >>> to_circle(torch.tensor([[3.0, 4.0]]))
        tensor([[0.6000, 0.8000]])
    """
    _check_points(points)
    return F.normalize(points, dim=-1)


def angles(points: Tensor) -> Tensor:
    r"""The angle :math:`\operatorname{atan2}(y, x) \in (-\pi, \pi]` of each point.

    Args:
        points: ``[N, 2]`` points.

    Returns:
        ``[N]`` angles in radians.

    Shapes:
        - points: ``[N, 2]``; output ``[N]``.

    Examples:
        >>> angles(torch.tensor([[0.0, 2.0], [-1.0, 0.0]])) / math.pi
        tensor([0.5000, 1.0000])
    """
    _check_points(points)
    return torch.atan2(points[:, 1], points[:, 0])


def gaussian_kde(points: Tensor, at: Tensor, *, backend: str = "auto") -> Tensor:
    r"""Gaussian kernel density estimate of ``points``, evaluated at ``at``.

    With Scott's rule, as ``scipy.stats.gaussian_kde``: the kernel covariance is
    the points' sample covariance :math:`\Sigma` times :math:`h^2`,
    :math:`h = n^{-1/(d + 4)}`, and

    .. math::
        \hat{f}(y) = \frac{1}{n} \sum_{i=1}^{n}
            \frac{\exp\!\big(-\tfrac12 (y - x_i)^\top (h^2 \Sigma)^{-1} (y - x_i)\big)}
                 {\sqrt{(2\pi)^d \det(h^2 \Sigma)}}.

    Shapes:
        - points: ``[n]`` or ``[n, d]`` (``n > d``, not all on one hyperplane).
        - at: ``[m]`` or ``[m, d]`` (the same ``d``).
        - output: ``[m]`` float64.

    Args:
        points: The sample.
        at: Where to evaluate the density.
        backend: ``"scipy"`` (``scipy.stats.gaussian_kde``), ``"numpy"`` (the
            formula above, in float64), or ``"auto"``: scipy when it is
            installed, else numpy. The two agree to rounding.

    Returns:
        The estimated density at each evaluation point.

    Raises:
        ValueError: On mismatched shapes, a degenerate sample or an unknown
            ``backend``.

    Examples:
        >>> pts = torch.tensor([-1.0, 0.0, 1.0])
        >>> dens = gaussian_kde(pts, torch.tensor([0.0, 5.0]), backend="numpy")
        >>> bool(dens[0] > dens[1] > 0)
        True
    """
    if backend not in KDE_BACKENDS:
        raise ValueError(f"'backend' must be one of {KDE_BACKENDS} (got {backend!r})")
    x = np.asarray(points.detach().cpu().double().numpy())
    y = np.asarray(at.detach().cpu().double().numpy())
    x = x[:, None] if x.ndim == 1 else x
    y = y[:, None] if y.ndim == 1 else y
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"'points' and 'at' must be [n(, d)] and [m(, d)] with the "
                         f"same d (got {tuple(points.shape)} and {tuple(at.shape)})")
    if x.shape[0] <= x.shape[1] or not np.isfinite(x).all():
        raise ValueError(f"'points' needs more than d = {x.shape[1]} finite rows "
                         f"(got {x.shape[0]})")
    if backend == "auto":
        try:
            import scipy.stats  # noqa: F401
            backend = "scipy"
        except ImportError:
            backend = "numpy"
    if backend == "scipy":
        import scipy.stats

        try:
            dens = scipy.stats.gaussian_kde(x.T)(y.T)
        except np.linalg.LinAlgError as exc:
            raise ValueError(f"'points' is degenerate (singular covariance): "
                             f"{exc}") from None
        return torch.from_numpy(np.asarray(dens, dtype=np.float64))
    return torch.from_numpy(_numpy_kde(x, y))


def _numpy_kde(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    n, d = x.shape
    h = n ** (-1.0 / (d + 4))
    cov = np.atleast_2d(np.cov(x, rowvar=False)) * h * h
    sign, logdet = np.linalg.slogdet(cov)
    if sign <= 0:
        raise ValueError("'points' is degenerate (singular covariance)")
    prec = np.linalg.inv(cov)
    out = np.empty(len(y))
    for start in range(0, len(y), 1024):  # [block, n, d] stays small
        diff = y[start:start + 1024, None, :] - x[None, :, :]
        q = np.einsum("bnd,de,bne->bn", diff, prec, diff)
        out[start:start + 1024] = np.exp(-0.5 * q).mean(axis=1)
    return out * math.exp(-0.5 * (d * math.log(2 * math.pi) + logdet))


def _check_points(points: Tensor) -> None:
    if points.dim() != 2 or points.size(1) != 2:
        raise ValueError(f"'points' must be [N, 2] (got {tuple(points.shape)})")

import math

import numpy as np
import pytest
import torch

from graphcl_rec.analysis import angles, gaussian_kde, projection, to_circle, tsne_2d


def clusters(generator, n=30, d=8):
    """Two well-separated groups of directions."""
    a = torch.randn(n, d, generator=generator) * 0.05 + torch.eye(d)[0]
    b = torch.randn(n, d, generator=generator) * 0.05 + torch.eye(d)[1]
    return torch.cat([a, b])


def test_tsne_keeps_separated_groups_apart_and_is_seeded(generator):
    x = clusters(generator)
    p = tsne_2d(x, perplexity=10.0, seed=3, max_iter=500)
    assert p.shape == (60, 2) and p.dtype == torch.float32
    centres = torch.stack([p[:30].mean(0), p[30:].mean(0)])
    nearest = torch.cdist(p, centres).argmin(dim=1)  # the groups do not mix
    assert nearest.tolist() == [0] * 30 + [1] * 30
    assert torch.equal(p, tsne_2d(x, perplexity=10.0, seed=3, max_iter=500))


def test_tsne_normalises_rows_unless_told_not_to(generator):
    x = clusters(generator)
    scaled = x * torch.linspace(0.1, 10, 60)[:, None]  # same directions
    same = tsne_2d(scaled, perplexity=10.0, max_iter=250)
    unit = torch.nn.functional.normalize(scaled, dim=-1)
    assert torch.equal(same, tsne_2d(unit, perplexity=10.0, max_iter=250,
                                     normalize=False))
    raw = tsne_2d(scaled, perplexity=10.0, max_iter=250, normalize=False)
    assert not torch.allclose(raw, same, atol=1e-2)


@pytest.mark.parametrize("kwargs, match", [
    ({"x": torch.zeros(5)}, "'x' must be"),
    ({"x": torch.zeros(10, 3), "perplexity": 10.0}, "'perplexity'"),
    ({"x": torch.zeros(10, 3), "perplexity": 0.0}, "'perplexity'"),
    ({"x": torch.zeros(10, 3), "perplexity": 2.0, "max_iter": 100}, "'max_iter'"),
    ({"x": torch.full((10, 3), math.nan), "perplexity": 2.0}, "non-finite"),
])
def test_tsne_refuses_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tsne_2d(**kwargs)


def test_circle_and_angles():
    p = torch.tensor([[2.0, 0.0], [0.0, -3.0], [-1.0, 1.0]])
    c = to_circle(p)
    assert torch.allclose(c.norm(dim=1), torch.ones(3))
    assert torch.allclose(angles(p), torch.tensor([0.0, -math.pi / 2, 3 * math.pi / 4]))
    assert torch.allclose(angles(c), angles(p))
    for fn in (to_circle, angles):
        with pytest.raises(ValueError, match=r"\[N, 2\]"):
            fn(torch.zeros(4, 3))


def normal_pdf(y, mean, var):
    return np.exp(-0.5 * (y - mean) ** 2 / var) / np.sqrt(2 * np.pi * var)


def test_kde_matches_its_formula_in_one_dimension():
    x = torch.tensor([0.0, 1.0, 3.0], dtype=torch.float64)
    y = torch.tensor([-1.0, 0.5, 2.0, 10.0], dtype=torch.float64)
    h2 = 3 ** (-2 / 5) * float(x.var())  # Scott's factor squared times the variance
    want = np.mean([normal_pdf(y.numpy(), xi, h2) for xi in x.numpy()], axis=0)
    for backend in ("numpy", "scipy", "auto"):
        got = gaussian_kde(x, y, backend=backend)
        assert got.dtype == torch.float64 and got.shape == (4,)
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-10)


def test_kde_backends_agree_in_two_dimensions_and_integrate_to_one(generator):
    x = torch.randn(200, 2, generator=generator) * torch.tensor([1.0, 0.3])
    g = torch.linspace(-6, 6, 241)
    grid = torch.cartesian_prod(g, g)
    dens_np = gaussian_kde(x, grid, backend="numpy")
    dens_sp = gaussian_kde(x, grid, backend="scipy")
    np.testing.assert_allclose(dens_np.numpy(), dens_sp.numpy(), rtol=1e-8, atol=1e-14)
    cell = float(g[1] - g[0]) ** 2
    assert float(dens_np.sum()) * cell == pytest.approx(1.0, abs=1e-3)


def test_kde_auto_falls_back_to_numpy_without_scipy(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_scipy(name, *args, **kwargs):
        if name.startswith("scipy"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    called = []
    monkeypatch.setattr(builtins, "__import__", no_scipy)
    monkeypatch.setattr(projection, "_numpy_kde",
                        lambda x, y: called.append(1) or np.zeros(len(y)))
    out = gaussian_kde(torch.tensor([0.0, 1.0, 2.0]), torch.tensor([0.5]))
    assert called == [1] and out.tolist() == [0.0]


@pytest.mark.parametrize("points, at, match", [
    (torch.zeros(3, 2), torch.zeros(4, 3), "same d"),
    (torch.zeros(2, 2), torch.zeros(4, 2), "more than d"),
    (torch.tensor([0.0, math.inf, 1.0]), torch.zeros(2), "finite"),
    (torch.zeros(5, 2), torch.zeros(1, 2), "degenerate"),
])
@pytest.mark.parametrize("backend", ["numpy", "scipy"])
def test_kde_refuses_bad_input(points, at, match, backend):
    with pytest.raises(ValueError, match=match):
        gaussian_kde(points, at, backend=backend)


def test_kde_names_an_unknown_backend():
    with pytest.raises(ValueError, match="'backend' must be one of"):
        gaussian_kde(torch.zeros(3), torch.zeros(1), backend="sklearn")

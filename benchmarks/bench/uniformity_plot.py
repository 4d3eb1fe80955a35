"""The uniformity figure, drawn from a ``uniformity`` results JSON alone.

One PNG per side (users, items): a column per model; on top the Gaussian KDE of the
t-SNE points moved to the unit circle (darker: more points), below the KDE of their
angles ``atan2(y, x)`` on ``[-pi, pi]`` (wrapped, so the two ends meet). The layout
follows SimGCL (Yu et al., SIGIR 2022, Fig. 3). Both the ``uniformity`` subcommand
and the docs page generator call :func:`draw`, so the figure always matches the
coordinates in the JSON file.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

SIDES = (("user", "users"), ("item", "items"))
GRID = 161


def caption(record: dict[str, Any]) -> str:
    """One line: dataset, date, commit, machine and threads of the run."""
    meta = record["meta"]
    return (f"{meta.get('dataset', {}).get('name', '?')}; run "
            f"{str(meta.get('date', '?'))[:10]}, graphcl_rec "
            f"{meta.get('revision') or '?'}, {meta.get('cpu', '?')}, "
            f"{meta.get('threads', '?')} thread(s)")


def densities(xy: list[list[float]]) -> tuple[Any, Any, Any]:
    """``(circle KDE on a GRID x GRID square, angle grid, wrapped angle KDE)``."""
    from graphcl_rec.analysis import angles, gaussian_kde, to_circle

    circle = to_circle(torch.tensor(xy, dtype=torch.float64))
    axis = torch.linspace(-1.3, 1.3, GRID, dtype=torch.float64)
    grid = torch.cartesian_prod(axis, axis)  # (x, y) with x varying slowest
    plane = gaussian_kde(circle, grid).reshape(GRID, GRID).T  # rows: y
    theta = angles(circle)
    at = torch.linspace(-math.pi, math.pi, 361, dtype=torch.float64)
    wrapped = sum(gaussian_kde(theta, at + shift)
                  for shift in (-2 * math.pi, 0.0, 2 * math.pi))
    return plane.numpy(), at.numpy(), wrapped.numpy()


def draw(record: dict[str, Any], out: Path) -> list[Path]:
    """Writes ``uniformity_<dataset>_{users,items}.png`` into ``out``.

    Args:
        record: The JSON written by ``python -m benchmarks.run uniformity``.
        out: Folder of the images (created).

    Returns:
        The two image paths.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = record["rows"]
    name = record["meta"].get("dataset", {}).get("name", "data")
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for side, plural in SIDES:
        fig, axes = plt.subplots(2, len(rows), figsize=(3.1 * len(rows), 5.6),
                                 gridspec_kw={"height_ratios": [3, 1.4]},
                                 squeeze=False)
        drawn = [densities(row[f"tsne_{side}"]) for row in rows]
        top_density = max(float(dens.max()) for _, _, dens in drawn)
        for col, (row, (plane, at, dens)) in enumerate(zip(rows, drawn)):
            top, bottom = axes[0][col], axes[1][col]
            top.imshow(plane, origin="lower", extent=(-1.3, 1.3, -1.3, 1.3),
                       cmap="GnBu", interpolation="bilinear")
            top.set_title(f"{row['model']}\nuniformity {row[f'uniformity_{side}']:.3f}",
                          fontsize=10)
            top.set_xticks([])
            top.set_yticks([])
            bottom.fill_between(at, dens, color="tab:blue", alpha=0.35)
            bottom.plot(at, dens, color="tab:blue", lw=1)
            bottom.set_xlim(-math.pi, math.pi)
            bottom.set_ylim(0, 1.05 * top_density)  # one scale for every model
            bottom.set_xticks([-math.pi, 0, math.pi], ["-π", "0", "π"])
            bottom.set_xlabel("angle")
            if col == 0:
                bottom.set_ylabel("density")
        fig.suptitle(f"{plural}: t-SNE of L2-normalised embeddings, on the unit circle",
                     fontsize=11)
        fig.text(0.5, 0.005, caption(record), ha="center", fontsize=7, color="0.4")
        fig.tight_layout(rect=(0, 0.02, 1, 1))
        path = out / f"uniformity_{name}_{plural}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)
    return paths

"""Published figures, and which of them a run is compared with.

A run is compared with the figure published for its config's *model key* (its
name without the ``_<dataset>`` suffix, e.g. ``xsimgcl_yelp2018`` ->
``xsimgcl``). A *variant* (e.g. ``xsimgcl_d128_yelp2018``) has no figure of its
own; it is compared with the figure of its objective
(``config["model"]["objective"]``) on the same dataset. One rule, used by the
results, challenger and time-to-quality tables alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

# Published Recall@20 / NDCG@20 on the LightGCN splits (legacy protocol: the papers
# select the epoch on test). LightGCN: He et al. SIGIR 2020, Table 3; SGL-ED: Wu et
# al. SIGIR 2021, Table 3; SimGCL: Yu et al. SIGIR 2022, Table 2; XSimGCL: Yu et al.
# TKDE 2023, Table 3; DirectAU: the SELFRec leaderboard (Coder-Yu/SELFRec README,
# gamma 2, LightGCN 3 layers); NCL and MixGCF: the same leaderboard (LightGCN
# 3 layers; NCL ssl_reg 1e-6, proto_reg 1e-7, tau 0.05, alpha 1.5, 2000 clusters;
# MixGCF 64 candidates).
PUBLISHED: dict[tuple[str, str], tuple[float, float]] = {
    ("lightgcn", "amazon-book"): (0.0411, 0.0315),
    ("lightgcn", "gowalla"): (0.1830, 0.1554),
    ("lightgcn", "yelp2018"): (0.0649, 0.0530),
    ("sgl_ed", "amazon-book"): (0.0478, 0.0379),
    ("sgl_ed", "yelp2018"): (0.0675, 0.0555),
    ("simgcl", "yelp2018"): (0.0721, 0.0601),
    ("xsimgcl", "yelp2018"): (0.0723, 0.0604),
    ("directau", "yelp2018"): (0.0695, 0.0583),
    ("ncl", "yelp2018"): (0.0670, 0.0562),
    ("mixgcf", "yelp2018"): (0.0691, 0.0577),
}


class PublishedKey(NamedTuple):
    """The published figure a run is compared with.

    Attributes:
        model: Key of the figure (``"xsimgcl"``).
        dataset: The run's dataset (``"yelp2018"``; ``"custom"`` for a path).
        own: ``True`` when the figure is the config's own, ``False`` when the run
            is a variant compared with its objective's figure.
    """

    model: str
    dataset: str
    own: bool


def dataset_of(result: Mapping[str, Any]) -> str:
    """A results file's dataset name (``"custom"`` when its data was a path)."""
    return result["config"]["data"].get("dataset") or "custom"


def model_key(name: str, dataset: str) -> str:
    """A config's name without its ``_<dataset>`` suffix."""
    return name.removesuffix(f"_{dataset}")


def published_key(result: Mapping[str, Any],
                  published: Mapping[tuple[str, str], tuple[float, float]] = PUBLISHED,
                  ) -> PublishedKey | None:
    """Which published figure ``result`` is compared with, if any.

    Args:
        result: A results file's contents (``name``, ``config``).
        published: ``(model key, dataset) -> (Recall@20, NDCG@20)``.

    Returns:
        The config's own figure when there is one, else its objective's on the
        same dataset (``own=False``), else ``None``.
    """
    ds = dataset_of(result)
    key = model_key(result["name"], ds)
    if (key, ds) in published:
        return PublishedKey(key, ds, True)
    objective = result["config"].get("model", {}).get("objective")
    if objective is not None and (objective, ds) in published:
        return PublishedKey(objective, ds, False)
    return None

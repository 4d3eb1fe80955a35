"""The datasets of ``robust``: built from what the repository holds, split seeded.

Every dataset is one :class:`graphcl_rec.data.Interactions` of all its pairs, split
per user at random 80/10/10 by :func:`graphcl_rec.data.random_split` with the data
seed. Nothing is downloaded:

* ``ml-100k``: the repository's MovieLens-100K ratings file, every rating a positive
  (943 users, 1,682 items, 100,000 pairs).
* ``ml-100k-pos``: the same file read with ``min_rating=4`` (the packaged loader
  drops the ratings, so the file is read with
  :func:`graphcl_rec.data.load_interactions`): 942 users, 1,447 items, 55,375 pairs.
* ``gowalla-2k``: 2,000 users drawn at random (data seed) from the training pairs of
  the LightGCN Gowalla split, then the (5 per user, 3 per item)-core (a 5/5-core of
  so few Gowalla users keeps fewer than 1,000): about 1,500 users, 4,700 items and
  25,000 pairs at data seed 0.
* ``yelp-5k``: 5,000 users of the LightGCN Yelp2018 training pairs, then the 5-core:
  about 5,000 users, 12,300 items and 146,000 pairs at data seed 0.
* ``synthetic``: :func:`power_law_graph` with 3,000 users, 5,000 items and about
  60,000 pairs; ``synthetic-tiny`` (150 x 200, about 2,000 pairs) for smoke tests.

The exact shapes are printed by every run and stored in each result file, with a
fingerprint of the three parts (so two result folders can be checked to hold the
same data).
"""

from __future__ import annotations

import hashlib
import logging
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

SPLIT = (0.8, 0.1, 0.1)


@dataclass
class Dataset:
    """A built dataset: its three parts and what describes them."""

    name: str
    train: Any
    val: Any
    test: Any
    info: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        i = self.info
        return (f"{self.name}: {i['users']:,} users x {i['items']:,} items, "
                f"{i['pairs']:,} pairs (density {i['density']:.4%}); user degree "
                f"mean {i['user_degree_mean']:.1f}, median {i['user_degree_median']:g}"
                f"; item degree mean {i['item_degree_mean']:.1f}, median "
                f"{i['item_degree_median']:g}; split {i['train']:,} / {i['val']:,} / "
                f"{i['test']:,} (data seed {i['data_seed']}, fingerprint "
                f"{i['fingerprint']})")


# --- sources ------------------------------------------------------------------------

class _quiet:
    """Raises the library's logger to ERROR inside the block (the full-split loads
    warn that their empty validation part is empty, which is what is asked for)."""

    def __enter__(self) -> None:
        self.logger = logging.getLogger("graphcl_rec")
        self.level = self.logger.level
        self.logger.setLevel(logging.ERROR)

    def __exit__(self, *exc: object) -> None:
        self.logger.setLevel(self.level)


def _ml100k_path() -> str:
    import graphcl_rec as gr

    with _quiet():
        return gr.data.info("ml-100k")["files"][0]["path"]


def ml100k(seed: int, min_rating: float | None = None):
    """Every ML-100K rating (``>= min_rating`` if given) as a positive pair."""
    import graphcl_rec as gr

    columns = {role: role for role in ("user", "item", "rating", "timestamp")}
    return gr.data.load_interactions(_ml100k_path(), sep="\t", columns=columns,
                                     header=True, min_rating=min_rating)


def lightgcn_slice(name: str, users: int, user_k: int, item_k: int, seed: int):
    """``users`` users drawn at random from a LightGCN split's training pairs, then
    the ``(user_k, item_k)``-core (re-indexed compactly)."""
    import graphcl_rec as gr

    with _quiet():
        train, _, _ = gr.data.load(name, val_ratio=0.0)
    g = torch.Generator().manual_seed(seed)
    chosen = torch.randperm(train.num_users, generator=g)[:users]
    keep = torch.zeros(train.num_users, dtype=torch.bool)
    keep[chosen] = True
    sliced = train.subset(keep[train.user].nonzero().flatten())
    return gr.data.k_core(sliced, user_k=user_k, item_k=item_k)


def power_law_graph(users: int, items: int, pairs: int, seed: int,
                    communities: int = 20, signal: float = 0.8,
                    min_degree: int = 5, chunk: int = 256):
    """A seeded bipartite graph with heavy-tailed degrees and community structure.

    * Item popularity ``w_i`` is lognormal (sigma 1.2); item ``i`` belongs to one of
      ``communities`` communities ``c_i``; user ``u`` has community weights
      ``theta_u`` ~ Dirichlet(0.1), so most users favour two or three communities.
    * User degrees are lognormal (sigma 1.0, so median / mean is about 0.6 as in
      Gowalla's training split), scaled to ``pairs`` in total and clipped to
      ``[min_degree, items / 4]``.
    * User ``u`` draws ``d_u`` distinct items with probability proportional to
      ``w_i * (signal * C * theta_u[c_i] + 1 - signal)`` (Gumbel top-k: sampling
      without replacement), so popularity alone ranks reasonably and the
      communities leave a collaborative signal for the models to find.

    Items nobody drew are dropped (the graph is re-indexed compactly).
    """
    import numpy as np

    import graphcl_rec as gr

    rng = np.random.default_rng(seed)
    log_pop = rng.normal(0.0, 1.2, items)  # log of a lognormal popularity
    community = rng.integers(0, communities, items)
    theta = rng.dirichlet(np.full(communities, 0.1), users)
    raw = rng.lognormal(0.0, 1.0, users)
    degree = np.clip(np.round(raw * pairs / raw.sum()), min_degree, max(items // 4, 1))
    degree = degree.astype(np.int64)
    top = int(degree.max())
    out_user, out_item = [], []
    for start in range(0, users, chunk):
        th = theta[start:start + chunk]
        affinity = signal * communities * th[:, community] + (1.0 - signal)
        logits = log_pop + np.log(affinity) + rng.gumbel(size=affinity.shape)
        best = np.argpartition(-logits, top - 1, axis=1)[:, :top]
        order = np.argsort(-np.take_along_axis(logits, best, 1), axis=1, kind="stable")
        best = np.take_along_axis(best, order, 1)
        for row, d in enumerate(degree[start:start + chunk]):
            out_user.append(np.full(d, start + row, dtype=np.int64))
            out_item.append(best[row, :d])
    user = torch.from_numpy(np.concatenate(out_user))
    item = torch.from_numpy(np.concatenate(out_item).astype(np.int64))
    inter = gr.data.Interactions(user, item, users, items)
    return gr.data.k_core(inter, user_k=1, item_k=1)


# --- the named datasets -------------------------------------------------------------

SOURCES: dict[str, tuple[str, Callable[[int], Any]]] = {
    "ml-100k": ("MovieLens-100K, every rating a positive", lambda s: ml100k(s)),
    "ml-100k-pos": ("MovieLens-100K, ratings >= 4 only",
                    lambda s: ml100k(s, min_rating=4)),
    "gowalla-2k": ("2,000 random users of the LightGCN Gowalla training pairs, "
                   "(5, 3)-core", lambda s: lightgcn_slice("gowalla", 2000, 5, 3, s)),
    "yelp-5k": ("5,000 random users of the LightGCN Yelp2018 training pairs, "
                "5-core", lambda s: lightgcn_slice("yelp2018", 5000, 5, 5, s)),
    "synthetic": ("power-law bipartite graph, 3,000 x 5,000, ~60,000 pairs "
                  "(20 communities)", lambda s: power_law_graph(3000, 5000, 60_000, s)),
    "synthetic-tiny": ("power-law bipartite graph, 150 x 200, ~2,000 pairs "
                       "(smoke tests)",
                       lambda s: power_law_graph(150, 200, 2000, s, communities=5)),
}
"""``name -> (description, build(data_seed) -> all pairs)``."""

DEFAULT_DATASETS = ("ml-100k", "ml-100k-pos", "gowalla-2k", "yelp-5k", "synthetic")


def _fingerprint(parts) -> str:
    h = hashlib.sha1()
    for part in parts:
        keys = torch.sort(part.user * part.num_items + part.item).values
        h.update(keys.numpy().tobytes())
        h.update(b"|")
    return h.hexdigest()[:12]


def _median(values: torch.Tensor) -> float:
    return float(statistics.median(values.tolist())) if values.numel() else 0.0


def shape(inter) -> dict[str, Any]:
    """Users, items, pairs, density and degree statistics of all pairs."""
    users, items, pairs = inter.num_users, inter.num_items, len(inter)
    ud = inter.user_degree().double()
    idg = inter.item_degree().double()
    return {"users": users, "items": items, "pairs": pairs,
            "density": pairs / max(users * items, 1),
            "user_degree_mean": float(ud.mean()), "user_degree_median": _median(ud),
            "user_degree_min": int(ud.min()), "user_degree_max": int(ud.max()),
            "item_degree_mean": float(idg.mean()), "item_degree_median": _median(idg),
            "item_degree_min": int(idg.min()), "item_degree_max": int(idg.max())}


def build(name: str, data_seed: int) -> Dataset:
    """The dataset ``name``: all pairs built with ``data_seed``, then split."""
    import graphcl_rec as gr

    if name not in SOURCES:
        raise SystemExit(f"unknown dataset {name!r}; choose from {sorted(SOURCES)}")
    description, make = SOURCES[name]
    inter = make(data_seed)
    train, val, test = gr.data.random_split(inter, SPLIT, seed=data_seed)
    info = {"name": name, "description": description, "data_seed": data_seed,
            **shape(inter), "train": len(train), "val": len(val), "test": len(test),
            "fingerprint": _fingerprint((train, val, test))}
    return Dataset(name, train, val, test, info)

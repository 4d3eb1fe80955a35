r"""Fold-in: embeddings for new users or items from a trained model, no retraining.

A new node :math:`n` (a user with items, or an item with users) joins the trained
graph with its ``d_n`` trained neighbours :math:`N(n)`. Every trained embedding stays
as it is; only the new node's rows are computed:

- **LightGCN / SGC** (:func:`propagate_new_nodes`): the new node's layers under the
  normalisation of the graph with :math:`n` added, where each neighbour's degree
  becomes :math:`d_i + 1`. With :math:`w_i = 1/\sqrt{d_n (d_i + 1)}` and
  :math:`s_i = \sqrt{d_i / (d_i + 1)}`,

  .. math::
      h^{(0)} = e^{(0)}_n, \quad
      h^{(1)} = \sum_{i \in N(n)} w_i E^{(0)}_i, \quad
      h^{(l)} = \sum_{i \in N(n)} w_i \left(s_i E^{(l-1)}_i
                + w_i h^{(l-2)}\right) \ (l \ge 2),

  where :math:`s_i E^{(l-1)}_i + w_i h^{(l-2)}` is neighbour :math:`i`'s layer
  :math:`l-1` in the enlarged graph: its old neighbours re-weighted for its new
  degree, plus the path back through :math:`n`. For ``L <= 2`` this equals what the
  encoder computes on the enlarged graph exactly; from ``L = 3`` on it leaves out
  the degree change seen by the neighbours' other neighbours (a second-order
  term). The layers are then combined by the encoder's own rule (LightGCN: their
  mean, from layer 0 or 1; SGC: the last one, then its linear map).
- **MF** (:func:`fit_new_rows`): a few Adam steps of BPR on the new rows alone,
  negatives drawn uniformly from a seeded generator, the trained rows frozen. The
  defaults (10 steps at ``lr=0.01``, from the ``"mean"`` start) are few on
  purpose: one row fitted to its own few positives overfits, and on ML-100K
  longer runs ranked worse than the start.

The ego row :math:`e^{(0)}_n` (``ego="mean"``, the default) is the mean of the
neighbours' ego rows: BPR pulls a trained user's ego towards its items' egos, so
this mean points roughly where a trained ego would, whereas ``"zero"`` drops the
layer-0 term and its returns through the neighbours. The new node's true ego is
unknowable without training, which is why a fold-in copy of a trained user ranks
close to, but not exactly like, that user. For MF the same row is where the
gradient steps start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor

from graphcl_rec.models.base import Encoder
from graphcl_rec.models.lightgcn import LightGCN
from graphcl_rec.models.mf import MF
from graphcl_rec.models.sgc import SGC

if TYPE_CHECKING:
    from graphcl_rec.serve.recommender import TrainedRecommender

EGOS = ("mean", "zero")


def neighbour_mean(node: Tensor, nbr: Tensor, num_new: int, table: Tensor) -> Tensor:
    """``[n, d]`` mean of ``table[nbr]`` over each new node's edges.

    Args:
        node: ``[M]`` new-node index (``0..n-1``) of each edge.
        nbr: ``[M]`` trained-neighbour index of each edge.
        num_new: ``n``.
        table: ``[N, d]`` rows of the neighbours' side.

    Examples:
        >>> neighbour_mean(torch.tensor([0, 0]), torch.tensor([0, 1]), 1,
        ...                torch.tensor([[1.0], [3.0]])).tolist()
        [[2.0]]
    """
    out = table.new_zeros(num_new, table.size(1)).index_add_(0, node, table[nbr])
    count = torch.bincount(node, minlength=num_new).clamp(min=1)
    return out / count.unsqueeze(1).to(table.dtype)


def initial_rows(ego: str, node: Tensor, nbr: Tensor, num_new: int,
                 table: Tensor) -> Tensor:
    """The new nodes' ego rows ``[n, d]``: ``"mean"`` of neighbours or ``"zero"``."""
    if ego not in EGOS:
        raise ValueError(f"'ego' must be one of {list(EGOS)} (got {ego!r})")
    if ego == "zero":
        return table.new_zeros(num_new, table.size(1))
    return neighbour_mean(node, nbr, num_new, table)


def propagate_new_nodes(node: Tensor, nbr: Tensor, num_new: int, layers: list[Tensor],
                        degree: Tensor, ego: Tensor) -> list[Tensor]:
    r"""Layers ``[h0, ..., hL]`` of new nodes joined to a trained graph.

    See the module docstring for the rule.

    Args:
        node: ``[M]`` int64 new-node end of each edge, in ``0..num_new-1``.
        nbr: ``[M]`` int64 trained-neighbour end of each edge, in ``0..N-1``.
        num_new: Number ``n`` of new nodes.
        layers: ``L`` tensors ``[N, d]``: the neighbours' side at layers
            ``0..L-1`` of the trained graph.
        degree: ``[N]`` the neighbours' degrees in the trained graph.
        ego: ``[n, d]`` layer-0 embeddings of the new nodes.

    Returns:
        ``L + 1`` tensors ``[n, d]``: ``ego`` then each propagated layer.

    Shapes:
        - node, nbr: ``[M]`` edges (new node ``0..n-1``, trained neighbour).
        - layers: ``L`` tensors ``[N, d]``: the neighbours' side at layers
          ``0..L-1`` of the trained graph.
        - degree: ``[N]`` the neighbours' degrees in the trained graph.
        - ego: ``[n, d]``; returns ``L + 1`` tensors ``[n, d]``.

    Examples:
        >>> layers = [torch.tensor([[1.0], [3.0]])]
        >>> h = propagate_new_nodes(torch.tensor([0, 0]), torch.tensor([0, 1]), 1,
        ...                         layers, torch.tensor([1, 1]), torch.zeros(1, 1))
        >>> round(h[1].item(), 4)  # (1 + 3) / sqrt(2 * 2)
        2.0
    """
    deg_n = torch.bincount(node, minlength=num_new).to(ego.dtype)
    deg_i = degree.to(ego.dtype)[nbr]
    w = (deg_n[node] * (deg_i + 1)).rsqrt().unsqueeze(1)
    s = (deg_i / (deg_i + 1)).sqrt().unsqueeze(1)
    h = [ego]
    for layer in range(1, len(layers) + 1):
        x = layers[layer - 1][nbr]
        if layer >= 2:
            x = s * x + w * h[layer - 2][node]
        h.append(ego.new_zeros(num_new, ego.size(1)).index_add_(0, node, w * x))
    return h


def combine_layers(encoder: Encoder, h: list[Tensor]) -> Tensor:
    """Final ``[n, d]`` embeddings from layers ``h`` by the encoder's own rule.

    Raises:
        TypeError: For an encoder other than LightGCN or SGC.
    """
    if isinstance(encoder, SGC):
        out = h[-1]
        return out if encoder.linear is None else encoder.linear(out)
    if not isinstance(encoder, LightGCN):
        raise TypeError(f"propagation fold-in supports LightGCN and SGC "
                        f"(got {type(encoder).__name__})")
    stack = h if encoder.include_ego else h[1:]
    return torch.stack(stack).mean(0)


def fit_new_rows(node: Tensor, nbr: Tensor, num_new: int, other: Tensor, init: Tensor,
                 *, steps: int = 10, lr: float = 0.01, reg_weight: float = 0.0,
                 generator: torch.Generator | None = None) -> Tensor:
    r"""New rows fitted by BPR against frozen rows of the other side (MF fold-in).

    .. math::
        \min_{x_n} -\frac{1}{M} \sum_{(n, i)} \log\sigma\left(x_n^\top
        (e_i - e_j)\right) + \frac{\lambda}{2M} \sum_{(n, i)} \lVert x_n \rVert^2

    with one uniform negative :math:`j` per edge and step; a draw that hits one of
    the node's positives is left out of that step.

    Shapes:
        - node, nbr: ``[M]`` edges; other: ``[N, d]``; init: ``[n, d]``.
        - returns: ``[n, d]``.

    Args:
        node: New-node index of each edge.
        nbr: Positive (trained) neighbour of each edge.
        num_new: ``n``.
        other: The frozen embeddings of the other side.
        init: Starting rows.
        steps: Adam steps.
        lr: Adam learning rate.
        reg_weight: :math:`\lambda`, the model's L2 weight.
        generator: Negatives' generator (on ``other``'s device).

    Examples:
        >>> other = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        >>> x = fit_new_rows(torch.tensor([0]), torch.tensor([0]), 1, other,
        ...                  torch.zeros(1, 2), steps=20, lr=0.05)
        >>> bool(x[0, 0] > x[0, 1])
        True
    """
    if steps < 0 or lr <= 0:
        raise ValueError(f"need steps >= 0 and lr > 0 (got {steps}, {lr})")
    num_other = other.size(0)
    keys = torch.sort(node * num_other + nbr).values
    x = init.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([x], lr=lr)
    frozen = other.detach()
    for _ in range(steps):
        neg = torch.randint(num_other, nbr.shape, generator=generator,
                            device=nbr.device)
        key = node * num_other + neg
        pos = torch.searchsorted(keys, key).clamp_(max=keys.numel() - 1)
        valid = (keys[pos] != key).to(x.dtype)
        rows = x[node]
        diff = (rows * (frozen[nbr] - frozen[neg])).sum(-1)
        bpr = -(F.logsigmoid(diff) * valid).sum() / valid.sum().clamp(min=1)
        loss = bpr + 0.5 * reg_weight * rows.pow(2).sum(-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return x.detach()


def supports(encoder: object) -> str:
    """``"propagate"`` (LightGCN, SGC) or ``"gradient"`` (MF) for ``encoder``.

    Raises:
        TypeError: For another encoder type.
    """
    if isinstance(encoder, (LightGCN, SGC)):
        return "propagate"
    if isinstance(encoder, MF):
        return "gradient"
    raise TypeError(f"fold-in supports LightGCN, SGC and MF encoders "
                    f"(got {type(encoder).__name__})")


def fold_in_rows(rec: TrainedRecommender, is_user: bool, node: Tensor, nbr: Tensor,
                 num_new: int, *, ego: str = "mean", steps: int = 10,
                 lr: float = 0.01, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Final and ego rows ``[n, d]`` of new nodes from their trained neighbours.

    Args:
        rec: The trained recommender (its model, graph, layers and embeddings).
        is_user: New users (neighbours are items) or new items.
        node: ``[M]`` new-node index of each edge.
        nbr: ``[M]`` trained-neighbour index of each edge.
        num_new: ``n``.
        ego: ``"mean"`` or ``"zero"``.
        steps: MF: Adam steps.
        lr: MF: Adam learning rate.
        seed: MF: seed of the negatives.

    Returns:
        ``(final [n, d], ego [n, d])``.
    """
    enc = rec.model.encoder
    split = rec.num_trained_users
    if supports(enc) == "gradient":
        other = (rec.item_emb[: rec.num_trained_items] if is_user
                 else rec.user_emb[:split])
        init = initial_rows(ego, node, nbr, num_new, other)
        gen = torch.Generator(device=rec.device).manual_seed(seed)
        reg = float(getattr(rec.model, "reg_weight", 0.0))
        final = fit_new_rows(node, nbr, num_new, other, init, steps=steps, lr=lr,
                             reg_weight=reg, generator=gen)
        return final, final
    side = [t[split:] if is_user else t[:split] for t in rec.layers()]
    degree = rec.train.item_degree() if is_user else rec.train.user_degree()
    with torch.no_grad():
        ego_table = enc.ego()[1 if is_user else 0].detach()
        ego_rows = initial_rows(ego, node, nbr, num_new, ego_table)
        h = propagate_new_nodes(node, nbr, num_new, side, degree, ego_rows)
        return combine_layers(enc, h), ego_rows

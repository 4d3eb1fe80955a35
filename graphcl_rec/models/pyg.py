r"""LightGCN on PyG: ``LGConv`` propagation, PyG graph inputs, weight exchange.

The native CSR propagation of :class:`~graphcl_rec.models.LightGCN` stays the
default; this module serves ``propagation="pyg"``, a PyG graph passed where a list
of adjacencies is expected, and the conversion to and from
``torch_geometric.nn.models.LightGCN``. PyG is imported when these run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from graphcl_rec.graph.pyg import (
    adjacency_edges,
    adjacency_from_pyg,
    graph_edges,
    is_adjacency_list,
)
from graphcl_rec.models.base import Perturb
from graphcl_rec.models.output import EncoderOutput

if TYPE_CHECKING:
    from graphcl_rec.models.lightgcn import LightGCN

PROPAGATIONS = ("native", "pyg")


def forward_pyg(encoder: LightGCN, graph: Any, rows: Tensor | None,
                perturb: Perturb | None) -> EncoderOutput:
    r"""The encoder's output for a PyG graph input or with ``propagation="pyg"``.

    * ``propagation="native"`` and a PyG graph: the graph's normalised CSR
      adjacency (:func:`~graphcl_rec.graph.pyg.adjacency_from_pyg`) is used for
      every layer, through the native path.
    * ``propagation="pyg"``: every layer is ``LGConv(normalize=False)`` on the
      non-zeros of that layer's normalised adjacency (a list) or of the graph's
      (a PyG graph, the same for every layer), :math:`E^{(l+1)} = \hat{A}_l E^{(l)}`;
      all rows are computed.
    """
    num_users, num_items = encoder.num_users, encoder.num_items
    if encoder.propagation == "native":
        if is_adjacency_list(graph):  # a tuple of adjacencies
            return encoder(list(graph), rows, perturb)
        adj = adjacency_from_pyg(graph, num_users, num_items,
                                 encoder.embedding.weight.dtype)
        return encoder([adj] * encoder.num_layers, rows, perturb)
    from torch_geometric.nn import LGConv

    if is_adjacency_list(graph):
        encoder.check_adjs(list(graph))
        edges = [adjacency_edges(adj) for adj in graph]
    else:
        edges = [graph_edges(graph, num_users, num_items,
                             encoder.embedding.weight.dtype)] * encoder.num_layers
    conv = LGConv(normalize=False)
    x = encoder.embedding.weight
    layers = [x]
    for edge_index, weight in edges:
        x = conv(x, edge_index, weight)
        if perturb is not None:
            x = perturb(x)
        layers.append(x)
    if perturb is not None and not edges:
        layers.append(perturb(x))
    if not edges:
        return encoder.output(layers[-1], layers)
    return encoder.output(encoder._mean(layers), layers)


def to_pyg_model(encoder: LightGCN) -> Any:
    r"""A ``torch_geometric.nn.models.LightGCN`` with this encoder's weights.

    Its ``num_nodes`` is ``U + I`` (users first, then items, as
    :func:`~graphcl_rec.graph.to_edge_index` numbers them) and its layer weights
    :math:`\alpha` are :math:`1/(L+1)` for every layer, or :math:`0` for layer 0
    and :math:`1/L` for the others when ``include_ego=False`` (1 instead of
    either fraction with ``pooling="sum"``); its
    ``get_embedding(edge_index)`` on :func:`~graphcl_rec.graph.to_edge_index` of
    the training pairs equals this encoder's output.
    """
    from torch_geometric.nn.models import LightGCN as PygLightGCN

    layers = encoder.num_layers
    summed = encoder.pooling == "sum"
    alpha = torch.full((layers + 1,), 1.0 if summed else 1.0 / (layers + 1))
    if not encoder.include_ego:
        alpha = torch.cat([torch.zeros(1),
                           torch.full((layers,), 1.0 if summed else 1.0 / layers)])
    weight = encoder.embedding.weight
    model = PygLightGCN(encoder.num_users + encoder.num_items, encoder.dim, layers,
                        alpha=alpha)
    model = model.to(weight.device, weight.dtype)
    with torch.no_grad():
        model.embedding.weight.copy_(weight)
    return model


def from_pyg_model(model: Any, num_users: int, **kwargs: Any) -> LightGCN:
    """This library's LightGCN with the weights of a PyG ``LightGCN``.

    Args:
        model: A ``torch_geometric.nn.models.LightGCN`` over ``U + I`` nodes,
            users first; its ``alpha`` must be uniform over layers ``0..L`` or
            zero for layer 0 and uniform over ``1..L``, with weights ``1 / (L+1)``
            (``1 / L``), a mean, or 1, a sum (``pooling="sum"``).
        num_users: ``U``; the other nodes are items.
        **kwargs: Other keyword arguments of the encoder (``init``, ``propagation``).

    Raises:
        ValueError: For another ``alpha`` or a ``num_users`` out of range.
    """
    from graphcl_rec.models.lightgcn import LightGCN

    num_nodes, dim = model.embedding.weight.shape
    if not 0 < num_users < num_nodes:
        raise ValueError(f"'num_users' must be in [1, {num_nodes}) (got {num_users})")
    layers = len(model.convs)
    alpha = model.alpha.detach().double().cpu()

    def uniform(count: int, value: float) -> bool:
        return torch.allclose(alpha[len(alpha) - count:],
                              torch.full((count,), value, dtype=torch.float64))

    for include_ego, pooling, count in ((True, "mean", layers + 1),
                                        (True, "sum", layers + 1),
                                        (False, "mean", layers),
                                        (False, "sum", layers)):
        if count and (include_ego or alpha[0] == 0) and uniform(
                count, 1.0 if pooling == "sum" else 1.0 / count):
            break
    else:
        raise ValueError(f"alpha {alpha.tolist()} is not a layer mean or sum over "
                         f"0..L or 1..L, which this LightGCN computes")
    kwargs.setdefault("pooling", pooling)
    encoder = LightGCN(num_users, num_nodes - num_users, dim=dim, num_layers=layers,
                       include_ego=include_ego, **kwargs)
    encoder = encoder.to(model.embedding.weight.device,
                         model.embedding.weight.dtype)
    with torch.no_grad():
        encoder.embedding.weight.copy_(model.embedding.weight)
    return encoder

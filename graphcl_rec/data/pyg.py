"""Interactions to and from PyTorch Geometric graphs (``HeteroData``, ``Data``)."""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor
from torch_geometric.data import Data, HeteroData

from graphcl_rec.data.interactions import Interactions

EdgeType = tuple[str, str, str]
RAW_ID = "raw_id"
"""Node attribute with the raw id (``str``) of every node (see :func:`to_pyg`)."""


def user_item_edge_type(data: HeteroData) -> EdgeType:
    """The user→item edge type of ``data`` when there is exactly one candidate.

    Candidates are the edge types between two different node types whose source
    type is named like ``user``; if no node type is, every such edge type whose
    relation does not start with ``rev_`` (the reverse types of
    :class:`torch_geometric.transforms.ToUndirected`).

    Raises:
        ValueError: If there is not exactly one candidate (names them all).
    """
    bipartite = [et for et in data.edge_types if et[0] != et[2]]
    found = [et for et in bipartite if et[0].lower() in ("user", "users")]
    if not found:
        found = [et for et in bipartite if not et[1].startswith("rev_")]
    if len(found) != 1:
        raise ValueError(
            f"cannot tell the user->item edge type among {data.edge_types} "
            f"(candidates: {found}); pass edge_type=(src, relation, dst)"
        )
    return found[0]


def _edge_attr(store: Any, name: str | None, default: str, num_edges: int,
               mask: Tensor | None) -> Tensor | None:
    """Edge attribute ``name`` of ``store`` (``None`` for an absent default)."""
    if name is None:
        return None
    if name not in store:
        if name == default:
            return None
        raise ValueError(f"no edge attribute {name!r} (has {sorted(store.keys())})")
    value = store[name]
    if not isinstance(value, Tensor) or value.dim() != 1 or value.numel() != num_edges:
        raise ValueError(
            f"edge attribute {name!r} must be a 1-D tensor with one entry per edge "
            f"({num_edges}), got {getattr(value, 'shape', type(value).__name__)}"
        )
    return value if mask is None else value[mask]


def _raw_ids(store: Any, count: int) -> tuple[str, ...] | None:
    ids = store[RAW_ID] if RAW_ID in store else None
    if ids is None:
        return None
    out = tuple(str(v) for v in (ids.tolist() if isinstance(ids, Tensor) else ids))
    if len(out) != count:
        raise ValueError(f"node attribute {RAW_ID!r} has {len(out)} entries for "
                         f"{count} nodes")
    return out


def _plain(index: Any) -> Tensor:
    """A plain int64 ``Tensor`` of an edge index (``EdgeIndex`` unwrapped)."""
    as_tensor = getattr(index, "as_tensor", None)
    return (as_tensor() if callable(as_tensor) else torch.as_tensor(index)).long()


def _homogeneous_pairs(edge_index: Tensor, num_users: int,
                       num_nodes: int) -> tuple[Tensor, Tensor, Tensor]:
    """``(user, item, mask)`` of a ``[2, M]`` graph, items offset by ``num_users``.

    The user→item edges are kept; item→user edges must mirror them (an undirected
    graph; compared as sets) or be the only direction given (then they are
    flipped).
    """
    src, dst = edge_index[0], edge_index[1]
    if src.numel() and (int(edge_index.min()) < 0
                        or int(edge_index.max()) >= num_nodes):
        raise ValueError(f"edge_index has node ids outside [0, {num_nodes})")
    forward = (src < num_users) & (dst >= num_users)
    backward = (src >= num_users) & (dst < num_users)
    if not bool((forward | backward).all()):
        k = int((~(forward | backward)).nonzero()[0, 0])
        raise ValueError(
            f"edge {k} ({int(src[k])} -> {int(dst[k])}) joins two users or two items "
            f"with num_users={num_users}: not a bipartite user-item graph"
        )
    if bool(forward.any()):
        user, item = src[forward], dst[forward] - num_users
        if bool(backward.any()):
            mirror = torch.unique(dst[backward] * num_nodes + src[backward])
            keys = torch.unique(user * num_nodes + item + num_users)
            if mirror.shape != keys.shape or not bool((mirror == keys).all()):
                raise ValueError("edge_index has edges in both directions that do not "
                                 "mirror each other (not an undirected graph)")
        return user, item, forward
    return dst[backward], src[backward] - num_users, backward


def from_pyg(
    data: HeteroData | Data | Tensor,
    *,
    edge_type: EdgeType | None = None,
    num_users: int | None = None,
    num_items: int | None = None,
    index: str = "edge_index",
    time: str | None = "time",
    weight: str | None = "edge_weight",
) -> Interactions:
    """Reads user–item pairs from a PyG graph.

    * ``HeteroData``: the pairs of one user→item edge type (``edge_type``, chosen
      automatically when unambiguous, see :func:`user_item_edge_type`);
      ``num_users``/``num_items`` are the node counts of its two node types.
    * ``Data`` or a ``[2, M]`` ``edge_index`` (a ``torch_geometric.EdgeIndex`` too):
      a homogeneous bipartite graph with users ``0..U-1`` and items
      ``U..U+I-1`` (:func:`~graphcl_rec.graph.to_edge_index`'s layout), directed
      or undirected. ``num_users`` is required unless ``data.num_users`` is set;
      ``num_items`` defaults to ``data.num_items``, else ``num_nodes - U``.

    Raw ids come from the node attribute ``raw_id`` when present. Edge attributes
    ``time`` and ``weight`` (names; ``None`` skips) become ``timestamp`` and
    ``weight``; the defaults are read only when present, another name must exist.

    Args:
        data: The graph.
        edge_type: ``(src, relation, dst)`` of the user→item edges (``HeteroData``).
        num_users: Number of users ``U`` (homogeneous graphs).
        num_items: Number of items ``I`` (homogeneous graphs).
        index: The edge attribute holding the pairs (``"edge_label_index"`` reads
            the supervision edges of PyG's recommendation datasets).
        time: Edge attribute read as timestamps.
        weight: Edge attribute read as weights (``"rating"`` for PyG's MovieLens).

    Returns:
        Interactions, one pair per user→item edge, in edge order.

    Raises:
        ValueError: If the graph is not a user–item graph or an argument is off.

    Examples:
        >>> data = HeteroData()
        >>> data["user"].num_nodes, data["movie"].num_nodes = 2, 3
        >>> data["user", "rates", "movie"].edge_index = torch.tensor([[0, 1], [2, 0]])
        >>> from_pyg(data)
        Interactions(num_users=2, num_items=3, num_pairs=2)
    """
    if isinstance(data, HeteroData):
        et = user_item_edge_type(data) if edge_type is None else tuple(edge_type)
        if et not in data.edge_types:
            raise ValueError(f"edge_type {et} not in the graph ({data.edge_types})")
        store = data[et]
        if index not in store:
            raise ValueError(f"edge type {et} has no {index!r}")
        ei = _plain(store[index])
        users, items = data[et[0]].num_nodes, data[et[2]].num_nodes
        if users is None or items is None:
            raise ValueError(f"node types {et[0]!r} and {et[2]!r} need num_nodes")
        num_edges = ei.shape[1]
        attr = None if index != "edge_index" else store
        inter = Interactions(
            ei[0].contiguous(), ei[1].contiguous(), int(users), int(items),
            _raw_ids(data[et[0]], users), _raw_ids(data[et[2]], items),
            None if attr is None else _edge_attr(attr, time, "time", num_edges, None),
            None if attr is None else _edge_attr(attr, weight, "edge_weight",
                                                 num_edges, None),
        )
        return inter
    store = Data(edge_index=data) if isinstance(data, Tensor) else data
    if index not in store:
        raise ValueError(f"the graph has no {index!r}")
    ei = _plain(store[index])
    if ei.dim() != 2 or ei.shape[0] != 2:
        raise ValueError(f"'{index}' must be [2, M] (got {tuple(ei.shape)})")
    if num_users is None:
        num_users = getattr(store, "num_users", None)
    if num_users is None:
        raise ValueError("a homogeneous graph needs num_users= (users are nodes "
                         "0..num_users-1, items follow)")
    if num_items is None:
        num_items = getattr(store, "num_items", None)
    if num_items is None:
        nodes = store.num_nodes if isinstance(data, Data) else None
        nodes = int(ei.max()) + 1 if nodes is None and ei.numel() else (nodes or 0)
        num_items = nodes - num_users
    user, item, mask = _homogeneous_pairs(ei, int(num_users),
                                          int(num_users) + int(num_items))
    num_edges = ei.shape[1]
    ids = _raw_ids(store, int(num_users) + int(num_items))
    attr = store if index == "edge_index" else None
    return Interactions(
        user.contiguous(), item.contiguous(), int(num_users), int(num_items),
        None if ids is None else ids[:num_users],
        None if ids is None else ids[num_users:],
        None if attr is None else _edge_attr(attr, time, "time", num_edges, mask),
        None if attr is None else _edge_attr(attr, weight, "edge_weight",
                                             num_edges, mask),
    )


def to_pyg(
    inter: Interactions,
    kind: Literal["hetero", "data"] = "hetero",
    *,
    edge_type: EdgeType = ("user", "rates", "item"),
    reverse: bool = True,
) -> HeteroData | Data:
    """Writes interactions as a PyG graph; :func:`from_pyg` reads it back unchanged.

    * ``"hetero"``: a ``HeteroData`` with node types ``edge_type[0]`` (``U``
      nodes) and ``edge_type[2]`` (``I`` nodes), the pairs as ``edge_index``
      ``[2, E]`` of ``edge_type`` and, with ``reverse``, their mirror as
      ``(dst, "rev_" + relation, src)``.
    * ``"data"``: a homogeneous ``Data`` with ``U + I`` nodes and the symmetric
      ``[2, 2E]`` ``edge_index`` of :func:`~graphcl_rec.graph.to_edge_index`
      (``reverse=False``: the ``E`` user→item edges only); ``num_users`` and
      ``num_items`` are stored on it.

    Timestamps become the edge attribute ``time`` and weights ``edge_weight``
    (repeated on mirrored edges); raw ids become the node attribute ``raw_id``.

    Examples:
        >>> inter = Interactions(torch.tensor([0, 1]), torch.tensor([2, 0]), 2, 3)
        >>> to_pyg(inter)["user", "rates", "item"].edge_index.tolist()
        [[0, 1], [2, 0]]
        >>> to_pyg(inter, "data").edge_index.tolist()
        [[0, 1, 4, 2], [4, 2, 0, 1]]
    """
    if kind == "hetero":
        src, rel, dst = edge_type
        if src == dst:
            raise ValueError(f"edge_type {edge_type} must join two node types")
        het = HeteroData()
        het[src].num_nodes, het[dst].num_nodes = inter.num_users, inter.num_items
        if inter.user_ids is not None:
            het[src][RAW_ID] = list(inter.user_ids)
        if inter.item_ids is not None:
            het[dst][RAW_ID] = list(inter.item_ids)
        ei = torch.stack([inter.user, inter.item])
        stores = [(edge_type, ei)]
        if reverse:
            stores.append(((dst, f"rev_{rel}", src), ei.flip(0)))
        for et, index in stores:
            het[et].edge_index = index
            if inter.timestamp is not None:
                het[et].time = inter.timestamp
            if inter.weight is not None:
                het[et].edge_weight = inter.weight
        return het
    if kind != "data":
        raise ValueError(f"'kind' must be 'hetero' or 'data' (got {kind!r})")
    item = inter.item + inter.num_users
    halves = [(inter.user, item)] + ([(item, inter.user)] if reverse else [])
    out = Data(edge_index=torch.stack([torch.cat([h[0] for h in halves]),
                                       torch.cat([h[1] for h in halves])]),
               num_nodes=inter.num_users + inter.num_items)
    out.num_users, out.num_items = inter.num_users, inter.num_items
    repeat = len(halves)
    if inter.timestamp is not None:
        out.time = inter.timestamp.repeat(repeat)
    if inter.weight is not None:
        out.edge_weight = inter.weight.repeat(repeat)
    if inter.user_ids is not None and inter.item_ids is not None:
        out[RAW_ID] = list(inter.user_ids) + list(inter.item_ids)
    return out


def pyg_split(data: HeteroData, *, edge_type: EdgeType | None = None,
              time: str | None = "time", weight: str | None = "edge_weight",
              ) -> tuple[Interactions, Interactions]:
    """``(train, test)`` of a PyG recommendation dataset's ``HeteroData``.

    PyG's ``MovieLens100K`` and ``AmazonBook`` hold their training pairs in
    ``edge_index`` and their test pairs in ``edge_label_index`` of the user→item
    edge type; both parts share the node counts (and raw ids).
    """
    train = from_pyg(data, edge_type=edge_type, time=time, weight=weight)
    test = from_pyg(data, edge_type=edge_type, index="edge_label_index")
    return train, test

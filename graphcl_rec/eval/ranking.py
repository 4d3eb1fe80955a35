r"""Full-ranking evaluation: every user with ground truth against every item."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol, overload

import torch
from torch import Tensor, nn

from graphcl_rec.data.interactions import Interactions
from graphcl_rec.eval.beyond import beyond_from_topk, self_information, unit_rows
from graphcl_rec.eval.blocks import Exclude, Ranker, topk_blocks
from graphcl_rec.eval.groups import covered_items
from graphcl_rec.eval.hits import check_ks, hits_matrix
from graphcl_rec.eval.inputs import ranking_setup
from graphcl_rec.eval.metrics import metrics_from_hits
from graphcl_rec.graph.normalize import adjacency


@overload
def evaluate_embeddings(
    user_emb: Tensor,
    item_emb: Tensor,
    target: Interactions,
    exclude: Exclude = ...,
    k: int | Sequence[int] = ...,
    batch_size: int | None = ...,
    per_user: Literal[False] = ...,
    memory_budget_mb: float = ...,
    ranker: Ranker = ...,
    item_degree: Tensor | None = ...,
) -> dict[str, float]: ...


@overload
def evaluate_embeddings(
    user_emb: Tensor,
    item_emb: Tensor,
    target: Interactions,
    exclude: Exclude = ...,
    k: int | Sequence[int] = ...,
    batch_size: int | None = ...,
    *,
    per_user: Literal[True],
    memory_budget_mb: float = ...,
    ranker: Ranker = ...,
    item_degree: Tensor | None = ...,
) -> dict[str, Tensor]: ...


@overload
def evaluate_embeddings(
    user_emb: Tensor,
    item_emb: Tensor,
    target: Interactions,
    exclude: Exclude = ...,
    k: int | Sequence[int] = ...,
    batch_size: int | None = ...,
    per_user: bool = ...,
    memory_budget_mb: float = ...,
    ranker: Ranker = ...,
    item_degree: Tensor | None = ...,
) -> dict[str, float] | dict[str, Tensor]: ...


def evaluate_embeddings(
    user_emb: Tensor,
    item_emb: Tensor,
    target: Interactions,
    exclude: Exclude = None,
    k: int | Sequence[int] = (20,),
    batch_size: int | None = None,
    per_user: bool = False,
    memory_budget_mb: float = 256,
    ranker: Ranker = "auto",
    item_degree: Tensor | None = None,
) -> dict[str, float] | dict[str, Tensor]:
    r"""Full-ranking top-K metrics of dot-product scores :math:`s_{ui} = e_u^\top e_i`.

    Only users with at least one ``target`` pair are scored. Users are processed in
    blocks of ``B``: each block's exact top-K at ``max(k)``, excluded items never
    ranked, comes either from the fused native kernel (no score matrix written) or
    from one matrix product into a preallocated score buffer of ``B x I`` values
    and a grouped selection (:func:`~graphcl_rec.eval.blocks.topk_blocks`); hits
    are looked up in the sorted target keys.
    Metric definitions are in :func:`~graphcl_rec.eval.metrics.metrics_from_hits`;
    ``coverage@K`` is the fraction of items in any scored user's top-K. Given
    ``item_degree``, each user's top-K list also gets ``diversity@K`` (intra-list
    cosine distance of its item embeddings) and ``novelty@K`` (mean self-information
    :math:`-\log_2(\max(d_i, 1) / U)` of its items), averaged like the accuracy
    metrics (:mod:`graphcl_rec.eval.beyond`); they are read from the same top-K
    lists, so only the scored users count, as for coverage.

    Shapes:
        - user_emb: ``[U, d]``, item_emb: ``[I, d]`` (any float dtype, one device).

    Args:
        user_emb: User embeddings.
        item_emb: Item embeddings.
        target: Ground-truth pairs (validation or test).
        exclude: Pairs never to rank (e.g. train, or ``[train, val]``), or ``None``.
        k: Cut-offs.
        batch_size: Users per block; ``None`` sizes blocks so that the score
            buffer (``B * I`` elements) fits in ``memory_budget_mb``.
        per_user: Return per-user tensors instead of means.
        memory_budget_mb: Score-buffer budget used when ``batch_size`` is ``None``.
        ranker: How blocks are ranked (:func:`~graphcl_rec.eval.blocks.topk_blocks`):
            ``"auto"`` takes the fused native kernel for float32 CPU embeddings
            and ``max(k) <= 128`` where it builds, else torch's products;
            ``"native"``, ``"group-major"`` or ``"row-major"`` force one. All
            return the top-K values up to the rounding of the products'
            summation order.
        item_degree: ``[I]`` training users per item (e.g.
            ``train.item_degree()``); given, adds ``diversity@K`` and
            ``novelty@K`` (with :math:`U` = ``target.num_users``). ``None`` (the
            default) computes neither.

    Returns:
        ``{f"{name}@{K}": float}`` for every metric plus ``coverage@K``; with
        ``per_user=True``, ``{f"{name}@{K}": [N] float64}`` for the ``N`` scored
        users (coverage is not per user) plus ``"users"``: their ``[N]`` indices
        (ascending).

    Raises:
        LeakageError: If ``exclude`` contains target pairs (gives the count).
        ValueError: On mismatched shapes, non-finite embeddings, bad arguments, or
            an empty ``target``.

    Examples:
        >>> target = Interactions(torch.tensor([0, 1]), torch.tensor([2, 1]), 2, 3)
        >>> user_emb = torch.eye(2)
        >>> item_emb = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
        >>> evaluate_embeddings(user_emb, item_emb, target, k=[1])["recall@1"]
        0.5
        >>> evaluate_embeddings(user_emb, item_emb, target, k=[2])["recall@2"]
        1.0
    """
    ks = check_ks(k)
    num_users, num_items = target.shape
    block, target, truth, ex_keys, num_truth, users = ranking_setup(
        user_emb, item_emb, target, exclude, batch_size, memory_budget_mb)
    device = user_emb.device
    n = users.numel()
    beyond = None
    if item_degree is not None:
        if item_degree.shape != (num_items,):
            raise ValueError(f"'item_degree' must have shape ({num_items},) "
                             f"(got {tuple(item_degree.shape)})")
        beyond = (unit_rows(item_emb),
                  self_information(item_degree.to(device), num_users))

    zero = torch.zeros((), dtype=torch.float64, device=device)
    sums: dict[str, Tensor] = {}
    parts: dict[str, list[Tensor]] = {}
    covered = {kk: torch.zeros(num_items, dtype=torch.bool, device=device) for kk in ks}
    kcut = min(ks[-1], num_items)
    for s, vals, idx in topk_blocks(user_emb, item_emb, users, ex_keys, kcut, block,
                                      ranker):
        ub = users[s : s + idx.size(0)]
        valid = vals > float("-inf")
        hits = hits_matrix(idx, truth, ub, num_items, valid)
        per_list = metrics_from_hits(hits, num_truth[ub], ks)
        if beyond is not None:
            per_list.update(beyond_from_topk(idx, valid, *beyond, ks))
        for name, value in per_list.items():
            if per_user:
                parts.setdefault(name, []).append(value)
            else:
                sums[name] = sums.get(name, zero) + value.sum()
        for kk in ks:
            covered[kk] |= covered_items(idx[:, :kk], num_items, valid[:, :kk])

    if per_user:
        out: dict[str, Tensor] = {name: torch.cat(v) for name, v in parts.items()}
        out["users"] = users
        return out
    result = {name: float(total) / n for name, total in sums.items()}
    for kk in ks:
        result[f"coverage@{kk}"] = float(covered[kk].sum()) / num_items
    return result


class HasNumLayers(Protocol):
    """An encoder, as far as evaluation needs one: its number of layers."""

    @property
    def num_layers(self) -> int:
        """How many adjacencies ``embed`` takes."""
        ...


class Embedder(Protocol):
    """What :func:`evaluate` ranks: a :class:`~graphcl_rec.models.base.Recommender`.

    Anything with ``encoder.num_layers`` and ``embed(adjs)`` returning
    ``(user_emb [U, d], item_emb [I, d])`` qualifies; an ``nn.Module`` also has its
    train/eval mode handled and its device used.
    """

    @property
    def encoder(self) -> HasNumLayers:
        """The encoder (only ``num_layers`` is read)."""
        ...

    def embed(self, adjs: list[Tensor]) -> tuple[Tensor, Tensor]:
        """User and item embeddings from one adjacency per layer."""
        ...


Ranked = Embedder | tuple[Tensor, Tensor]
"""A recommender, or its ``(user_emb, item_emb)`` embeddings."""


@overload
def evaluate(
    model: Ranked,
    graph: Interactions,
    target: Interactions,
    exclude: Exclude | Literal["graph"] = ...,
    k: int | Sequence[int] = ...,
    batch_size: int | None = ...,
    per_user: Literal[False] = ...,
    memory_budget_mb: float = ...,
    ranker: Ranker = ...,
    beyond: bool = ...,
) -> dict[str, float]: ...


@overload
def evaluate(
    model: Ranked,
    graph: Interactions,
    target: Interactions,
    exclude: Exclude | Literal["graph"] = ...,
    k: int | Sequence[int] = ...,
    batch_size: int | None = ...,
    *,
    per_user: Literal[True],
    memory_budget_mb: float = ...,
    ranker: Ranker = ...,
    beyond: bool = ...,
) -> dict[str, Tensor]: ...


@overload
def evaluate(
    model: Ranked,
    graph: Interactions,
    target: Interactions,
    exclude: Exclude | Literal["graph"] = ...,
    k: int | Sequence[int] = ...,
    batch_size: int | None = ...,
    per_user: bool = ...,
    memory_budget_mb: float = ...,
    ranker: Ranker = ...,
    beyond: bool = ...,
) -> dict[str, float] | dict[str, Tensor]: ...


def evaluate(
    model: Ranked,
    graph: Interactions,
    target: Interactions,
    exclude: Exclude | Literal["graph"] = "graph",
    k: int | Sequence[int] = (20,),
    batch_size: int | None = None,
    per_user: bool = False,
    memory_budget_mb: float = 256,
    ranker: Ranker = "auto",
    beyond: bool = False,
) -> dict[str, float] | dict[str, Tensor]:
    """Evaluates a recommender by full ranking of its embeddings.

    Builds ``[adjacency(graph)] * model.encoder.num_layers`` on the model's device,
    takes ``model.embed(adjs)`` in eval mode without gradients (the previous
    train/eval mode is restored), and calls :func:`evaluate_embeddings`. Given a
    ``(user_emb, item_emb)`` tuple instead, ranks those embeddings directly.

    Args:
        model: A recommender (an :class:`Embedder`: ``encoder.num_layers`` and
            ``embed(adjs)`` returning ``(user_emb [U, d], item_emb [I, d])``), or
            a ``(user_emb, item_emb)`` tuple of tensors.
        graph: The interactions the encoder propagates over (the training set);
            with embeddings, only ``exclude="graph"`` reads it.
        target: Ground-truth pairs (validation or test).
        exclude: Pairs never to rank; ``"graph"`` (default) excludes ``graph``,
            ``None`` excludes nothing, or pass e.g. ``[train, val]``.
        k: Cut-offs.
        batch_size: Users per block (see :func:`evaluate_embeddings`).
        per_user: Return per-user tensors instead of means.
        memory_budget_mb: Score-buffer budget when ``batch_size`` is ``None``.
        ranker: How blocks are ranked (see :func:`evaluate_embeddings`).
        beyond: Also report ``diversity@K`` and ``novelty@K`` (beyond-accuracy
            metrics of the same top-K lists, with the items' degrees in ``graph``;
            see :func:`evaluate_embeddings`). Off by default: the validation
            runs of training do not pay for them.

    Returns:
        As :func:`evaluate_embeddings`.

    Raises:
        TypeError: If ``model`` is neither a recommender nor a tuple of two tensors.

    Examples:
        >>> import torch
        >>> from graphcl_rec.data import Interactions
        >>> train = Interactions(torch.tensor([0, 1]), torch.tensor([0, 1]), 2, 3)
        >>> test = Interactions(torch.tensor([0, 1]), torch.tensor([1, 2]), 2, 3)
        >>> user_emb = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        >>> item_emb = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
        >>> metrics = evaluate((user_emb, item_emb), train, test, k=1)
        >>> metrics["recall@1"], metrics["ndcg@1"]
        (1.0, 1.0)
    """
    if isinstance(exclude, str):
        if exclude != "graph":
            raise ValueError(
                f"'exclude' must be 'graph', None, Interactions or a "
                f"sequence of Interactions (got {exclude!r})"
            )
        exclude = graph
    if isinstance(model, tuple):
        if len(model) != 2 or not all(isinstance(t, Tensor) for t in model):
            raise TypeError(
                "evaluate() takes a (user_emb, item_emb) tuple of two tensors "
                f"(got a tuple of {[type(t).__name__ for t in model]})"
            )
        user_emb, item_emb = model
    else:
        user_emb, item_emb = _embed(model, graph)
    return evaluate_embeddings(
        user_emb,
        item_emb,
        target,
        exclude=exclude,
        k=k,
        batch_size=batch_size,
        per_user=per_user,
        memory_budget_mb=memory_budget_mb,
        ranker=ranker,
        item_degree=graph.item_degree() if beyond else None,
    )


def _embed(model: Embedder, graph: Interactions) -> tuple[Tensor, Tensor]:
    """``model.embed`` over ``graph`` in eval mode, without gradients."""
    encoder = getattr(model, "encoder", None)
    if not callable(getattr(model, "embed", None)) or not hasattr(
        encoder, "num_layers"
    ):
        raise TypeError(
            "evaluate() takes a recommender (with embed(adjs) and "
            "encoder.num_layers) or a (user_emb, item_emb) tuple of tensors "
            f"(got {type(model).__name__})"
        )
    module = model if isinstance(model, nn.Module) else None
    param = None if module is None else next(module.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    num_layers = int(model.encoder.num_layers)
    adjs = [adjacency(graph.to(device))] * num_layers if num_layers else []
    return embed_for_ranking(model, adjs)


def embed_for_ranking(model: Embedder, adjs: list[Tensor]) -> tuple[Tensor, Tensor]:
    """``model.embed(adjs)`` in eval mode without gradients (the mode is restored).

    The embeddings :func:`evaluate` ranks with; a caller that already holds the
    normalised graph (the trainer) computes them once and passes the tuple to
    :func:`evaluate` and to whatever else reads them.
    """
    module = model if isinstance(model, nn.Module) else None
    was_training = module is not None and module.training
    if module is not None:
        module.eval()
    try:
        with torch.no_grad():
            return model.embed(adjs)
    finally:
        if module is not None:
            module.train(was_training)

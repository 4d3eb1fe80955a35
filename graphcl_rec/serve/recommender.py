"""A trained recommender with its training graph: recommend, fold in, update."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, TypeVar

import torch
from torch import Tensor

from graphcl_rec.data.interactions import Interactions
from graphcl_rec.graph.normalize import adjacency
from graphcl_rec.models.base import Recommender
from graphcl_rec.serve import foldin
from graphcl_rec.serve.embeddings import EmbeddingRecommender
from graphcl_rec.serve.ids import RawId, as_list

if TYPE_CHECKING:
    from graphcl_rec.serve.update import NewPairs
    from graphcl_rec.train.history import History
    from graphcl_rec.train.trainer import Trainer

log = logging.getLogger("graphcl_rec")
T = TypeVar("T")
Histories = (Mapping[str, Iterable[RawId]] | Mapping[int, Iterable[RawId]]
             | Mapping[RawId, Iterable[RawId]])
"""``{raw id: raw ids of its neighbours}`` of the nodes to fold in."""


class TrainedRecommender(EmbeddingRecommender):
    """A trained :class:`~graphcl_rec.models.base.Recommender` ready to serve.

    The user ``[U, d]`` and item ``[I, d]`` embeddings are computed once with
    ``model.embed([adjacency(train)] * L)`` in eval mode; ``train`` gives the seen
    items and the raw-id maps. New users and items can be folded in
    (:meth:`fold_in_users`, :meth:`fold_in_items`, see
    :mod:`graphcl_rec.serve.foldin`): they get the next indices, are recommended
    and recommended to like trained ones, and their interactions count as seen.
    :meth:`update` grows the model for them (and for new feedback) and fine-tunes.

    Args:
        model: A trained recommender whose encoder has ``train.num_users`` users
            and ``train.num_items`` items.
        train: The interactions it was trained on (its propagation graph).

    Examples:
        >>> from graphcl_rec.models import BPRRecommender, LightGCN
        >>> train = Interactions(torch.tensor([0, 1]), torch.tensor([0, 1]), 2, 3,
        ...                      user_ids=("ann", "bob"), item_ids=("x", "y", "z"))
        >>> rec = TrainedRecommender(BPRRecommender(LightGCN(2, 3, dim=4)), train)
        >>> rec.recommend("ann", k=2)[0].shape
        (2,)
        >>> rec.fold_in_user("cat", ["x", "y"])
        2
        >>> rec.recommend("cat", k=5)[0].tolist()
        ['z', None, None]
    """

    def __init__(self, model: Recommender, train: Interactions) -> None:
        enc = model.encoder
        if (enc.num_users, enc.num_items) != train.shape:
            raise ValueError(f"the model's encoder has {enc.num_users} users and "
                             f"{enc.num_items} items but 'train' is {train!r}")
        self.model = model
        param = next(model.parameters(), None)
        self.device = param.device if param is not None else torch.device("cpu")
        self.train = train.to(self.device)
        self.folded: dict[str, dict[int, tuple[Tensor, Tensor]]] = {
            "user": {}, "item": {}}
        """Folded-in nodes: ``{kind: {index: (neighbour indices, ego row)}}``."""
        self.optimizer: torch.optim.Optimizer | None = None
        """The Adam :meth:`update` fine-tunes with: ``None`` until the first update,
        then kept (moments and step count) from one update to the next."""
        super().__init__(*self._embed(), self.train)

    @property
    def description(self) -> str:
        """The model's ``repr``."""
        return repr(self.model)

    @property
    def num_trained_users(self) -> int:
        """Users the model has rows for (indices ``0..num_trained_users-1``)."""
        return self.train.num_users

    @property
    def num_trained_items(self) -> int:
        """Items the model has rows for (indices ``0..num_trained_items-1``)."""
        return self.train.num_items

    def _in_eval(self, fn: Callable[[list[Tensor]], T]) -> T:
        """``fn(adjs)`` over ``train`` in eval mode without gradients."""
        adjs = [adjacency(self.train)] * self.model.encoder.num_layers
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                return fn(adjs)
        finally:
            self.model.train(was_training)

    def _embed(self) -> tuple[Tensor, Tensor]:
        user_emb, item_emb = self._in_eval(self.model.embed)
        return user_emb.detach(), item_emb.detach()

    def _clear_caches(self) -> None:
        super()._clear_caches()
        self._layers: list[Tensor] | None = None

    def layers(self) -> list[Tensor]:
        """The encoder's ``[U+I, d]`` node embeddings at layers ``0..L-1`` (cached)."""
        if self._layers is None:
            num_layers = self.model.encoder.num_layers
            self._layers = self._in_eval(
                lambda adjs: self.model.encoder(adjs).layers[:num_layers])
        return self._layers

    def fold_in_user(self, user: RawId, items: Iterable[RawId], *, ego: str = "mean",
                     steps: int = 10, lr: float = 0.01, seed: int = 0) -> int:
        """Folds in one user; see :meth:`fold_in_users`. Returns its index."""
        return self._fold_in("user", {user: items}, ego, steps, lr, seed)[0]

    def fold_in_item(self, item: RawId, users: Iterable[RawId], *, ego: str = "mean",
                     steps: int = 10, lr: float = 0.01, seed: int = 0) -> int:
        """Folds in one item; see :meth:`fold_in_items`. Returns its index."""
        return self._fold_in("item", {item: users}, ego, steps, lr, seed)[0]

    def fold_in_users(self, histories: Histories, *,
                      ego: str = "mean", steps: int = 10, lr: float = 0.01,
                      seed: int = 0) -> list[int]:
        """Embeds new users from their items, without retraining.

        Each user's rows come from its items that the model was trained on
        (:mod:`graphcl_rec.serve.foldin`); all its items count as seen. A user
        folded in before is folded in again from the union of its old and new
        items. Users fold in independently of one another.

        Args:
            histories: ``{raw user id: raw item ids}``.
            ego: The new rows' ego: ``"mean"`` of the items' ego rows, or
                ``"zero"`` (for MF: where the gradient steps start).
            steps: MF only: Adam steps.
            lr: MF only: Adam learning rate.
            seed: MF only: seed of the negatives' generator.

        Returns:
            The users' indices, in the order given.

        Raises:
            UnknownIdError: For an unknown raw item id.
            ValueError: For a trained user (use :meth:`update`), or a user
                without any item the model was trained on.
        """
        return self._fold_in("user", histories, ego, steps, lr, seed)

    def fold_in_items(self, histories: Histories, *,
                      ego: str = "mean", steps: int = 10, lr: float = 0.01,
                      seed: int = 0) -> list[int]:
        """Embeds new items from their users; see :meth:`fold_in_users`.

        Args:
            histories: ``{raw item id: raw user ids}``.
            ego: ``"mean"`` or ``"zero"``.
            steps: MF only: Adam steps.
            lr: MF only: Adam learning rate.
            seed: MF only: seed of the negatives' generator.

        Returns:
            The items' indices, in the order given.
        """
        return self._fold_in("item", histories, ego, steps, lr, seed)

    def _fold_in(self, kind: str, histories: Histories,
                 ego: str, steps: int, lr: float, seed: int) -> list[int]:
        is_user = kind == "user"
        own, other = (self.users, self.items) if is_user else (self.items, self.users)
        trained_own = self.num_trained_users if is_user else self.num_trained_items
        trained_other = self.num_trained_items if is_user else self.num_trained_users
        given: list[tuple[RawId, Iterable[RawId]]] = list(histories.items())
        raws = [raw for raw, _ in given]
        if not raws:
            return []
        nodes, nbrs = [], []
        for n, (raw, neighbours) in enumerate(given):
            idx = own.index.get(str(raw))
            if idx is not None and idx < trained_own:
                raise ValueError(f"{kind} {raw!r} is already trained; pass its new "
                                 f"interactions to update()")
            found = other.lookup(as_list(neighbours)[0])
            if idx is not None:
                found = torch.cat([self.folded[kind][idx][0].cpu(), found])
            found = torch.unique(found)
            nodes.append(torch.full_like(found, n))
            nbrs.append(found)
        node_all, nbr_all = torch.cat(nodes).to(self.device), torch.cat(nbrs).to(
            self.device)
        trained = nbr_all < trained_other
        node, nbr = node_all[trained], nbr_all[trained]
        lonely = torch.bincount(node, minlength=len(raws)) == 0
        if bool(lonely.any()):
            raw = raws[int(torch.nonzero(lonely)[0])]
            raise ValueError(f"{kind} {raw!r} has no neighbour the model was trained "
                             f"on; fold-in needs at least one")
        final, ego_rows = foldin.fold_in_rows(self, is_user, node, nbr, len(raws),
                                              ego=ego, steps=steps, lr=lr, seed=seed)
        index = own.add(raws).to(self.device)
        table = self.user_emb if is_user else self.item_emb
        grow = len(own) - table.size(0)
        if grow:
            table = torch.cat([table, table.new_zeros(grow, table.size(1))])
        table[index] = final.to(table.dtype)
        if is_user:
            self.user_emb = table
            self.seen.add(index[node_all], nbr_all)
        else:
            self.item_emb = table
            self.seen.add(nbr_all, index[node_all])
        groups = nbr_all.split([part.numel() for part in nbrs])
        for n, i in enumerate(index.tolist()):
            self.folded[kind][i] = (groups[n], ego_rows[n])
        super()._clear_caches()
        log.info("folded in %d %ss", len(raws), kind)
        return index.tolist()

    def update(self, new: NewPairs, *, epochs: int | None = None,
               steps: int | None = None, trainer: Trainer | None = None,
               seed: int = 0) -> History:
        """Grows the model for new feedback and fine-tunes it.

        Give exactly one of ``epochs`` and ``steps`` (optimiser steps); the Adam
        state is kept in :attr:`optimizer` between updates. See
        :func:`graphcl_rec.serve.update.update`.
        """
        from graphcl_rec.serve.update import update

        return update(self, new, epochs=epochs, steps=steps, trainer=trainer,
                      seed=seed)

    def reset(self, train: Interactions) -> None:
        """Re-reads the model after its graph became ``train`` (drops fold-ins)."""
        param = next(self.model.parameters(), None)
        self.device = param.device if param is not None else self.device
        self.train = train.to(self.device)
        self.folded = {"user": {}, "item": {}}
        EmbeddingRecommender.__init__(self, *self._embed(), self.train)

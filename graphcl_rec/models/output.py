"""What an encoder returns: node embeddings, read by user or item id."""

from __future__ import annotations

import torch
from torch import Tensor

from graphcl_rec.graph.rows import take_rows


class EncoderOutput:
    r"""Final (and per-layer) node embeddings of every node or of some rows only.

    Nodes are numbered users first, then items (item ``i`` is node ``U + i``). A loss
    reads the output by id, the same way whichever rows the encoder computed:
    :meth:`users` and :meth:`items` gather ``[B, d]`` rows, :meth:`layer` gives one
    layer's embeddings in the same form. When the encoder computed only some rows
    (``rows`` is set), asking for a node outside them raises ``KeyError``, and the
    whole tables (:attr:`user`, :attr:`item`, :attr:`layers`) are not available.

    Args:
        final: ``[N, d]`` final embeddings of all ``N = U + I`` nodes, or ``[R, d]``
            of the sorted unique node ids ``rows``.
        layers: Per-layer embeddings in the same row space as ``final``
            (``layers[0]`` the ego layer); empty when not kept.
        num_users: ``U``.
        rows: ``[R]`` sorted unique int64 node ids, or ``None`` for all nodes.

    Examples:
        >>> out = EncoderOutput(torch.arange(10.0).view(5, 2), [], num_users=2)
        >>> out.items(torch.tensor([1])).tolist()
        [[6.0, 7.0]]
        >>> part = EncoderOutput(torch.ones(2, 2), [], 2, rows=torch.tensor([0, 3]))
        >>> part.items(torch.tensor([1])).shape
        torch.Size([1, 2])
    """

    def __init__(self, final: Tensor, layers: list[Tensor], num_users: int,
                 rows: Tensor | None = None) -> None:
        self.final, self._layers = final, layers
        self.num_users, self.rows = num_users, rows

    def users(self, ids: Tensor | None = None) -> Tensor:
        """``[*S, d]`` embeddings of users ``ids`` (shape ``S``); all if ``None``."""
        return self._take(ids, 0)

    def items(self, ids: Tensor | None = None) -> Tensor:
        """``[*S, d]`` embeddings of items ``ids`` (shape ``S``); all if ``None``."""
        return self._take(ids, self.num_users)

    def layer(self, index: int) -> EncoderOutput:
        """Layer ``index``'s embeddings (0 is the ego layer), read the same way."""
        return EncoderOutput(self._layers[index], [], self.num_users, self.rows)

    @property
    def user(self) -> Tensor:
        """All users' ``[U, d]`` embeddings (full outputs only)."""
        return self._whole()[: self.num_users]

    @property
    def item(self) -> Tensor:
        """All items' ``[I, d]`` embeddings (full outputs only)."""
        return self._whole()[self.num_users:]

    @property
    def layers(self) -> list[Tensor]:
        """Every layer's ``[U+I, d]`` node embeddings (full outputs only)."""
        self._whole()
        return self._layers

    def _whole(self) -> Tensor:
        if self.rows is not None:
            raise KeyError("this output holds only the rows the loss asked for; "
                           "call the encoder with rows=None for every node")
        return self.final

    def _take(self, ids: Tensor | None, offset: int) -> Tensor:
        if ids is None:
            return self.user if offset == 0 else self.item
        if self.rows is None:
            part = self.final[:self.num_users] if offset == 0 else self.final[offset:]
            return take_rows(part, ids)
        nodes = ids + offset
        pos = torch.searchsorted(self.rows, nodes).clamp_(max=self.rows.numel() - 1)
        if not torch.equal(self.rows[pos], nodes):
            raise KeyError("a node was asked for that the encoder did not compute; "
                           "pass it in rows=")
        return take_rows(self.final, pos)

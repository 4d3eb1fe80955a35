"""DirectAU: alignment and uniformity of normalised embeddings (KDD 2022)."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

from graphcl_rec.graph.rows import take_rows
from graphcl_rec.losses import l2_reg
from graphcl_rec.models.base import OBJECTIVES, Batch, Encoder, Recommender


def alignment_loss(user: Tensor, item: Tensor) -> Tensor:
    r"""Mean squared distance between the normalised rows of positive pairs.

    .. math::
        \ell_{align} = \frac{1}{B} \sum_{b} \lVert \hat{e}_{u_b} - \hat{e}_{i_b}
            \rVert_2^2, \qquad \hat{e} = e / \lVert e \rVert_2

    Shapes:
        - user, item: ``[B, d]`` (row ``b`` of each forms pair ``b``).

    Args:
        user: User embeddings.
        item: Their positive items' embeddings.

    Returns:
        A scalar in :math:`[0, 4]`.

    Examples:
        >>> alignment_loss(torch.tensor([[2.0, 0.0]]), torch.tensor([[0.0, 5.0]]))
        tensor(2.)
    """
    diff = F.normalize(user, dim=-1) - F.normalize(item, dim=-1)
    return diff.pow(2).sum(-1).mean()


class _Uniformity(torch.autograd.Function):
    r"""``log`` of the summed off-diagonal :math:`e^{2t(z_j^\top z_l - 1)}`, unit rows.

    Autograd through ``z @ z.T`` would form both operands' gradients (two ``[B, B]``
    by ``[B, d]`` products) and keep a log-softmax of the ``[B, B]`` logits; here
    the weights :math:`P` are kept from the forward pass and, :math:`P` being
    symmetric, the gradient is one product, :math:`\partial / \partial z =
    4t P z / \sum P`. The weights lie in :math:`[e^{-4t}, 1]`, so neither a shift
    nor ``logsumexp`` is needed.
    """

    @staticmethod
    def forward(ctx: Any, z: Tensor, t: float) -> Tensor:  # noqa: D102
        weights = torch.mm(z, z.T).sub_(1.0).mul_(2.0 * t).exp_()
        weights.fill_diagonal_(0.0)
        total = weights.sum()
        ctx.save_for_backward(z, weights, total)
        ctx.t = t
        return total.log()

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:  # noqa: D102
        z, weights, total = ctx.saved_tensors
        return torch.mm(weights, z).mul_(grad * (4.0 * ctx.t) / total), None


def uniformity_loss(x: Tensor, t: float = 2.0) -> Tensor:
    r"""Log of the mean Gaussian potential between the normalised rows of ``x``.

    .. math::
        \ell_{uniform} = \log \frac{2}{B(B-1)} \sum_{j < l}
            e^{-t \lVert \hat{x}_j - \hat{x}_l \rVert_2^2}

    For unit rows :math:`\lVert \hat{x}_j - \hat{x}_l \rVert^2 =
    2 - 2 \hat{x}_j^\top \hat{x}_l`, so the sum is taken over the off-diagonal
    entries of one ``[B, B]`` Gram matrix (each pair twice, which the mean cancels),
    with a one-product backward (:class:`_Uniformity`). Repeated rows count as
    pairs at distance 0, as in the authors' code, where a batch may hold a user
    twice.

    Shapes:
        - x: ``[B, d]``; a batch with fewer than two rows has no pairs and gives 0.

    Args:
        x: Embeddings.
        t: Temperature :math:`t > 0` (2 in the paper).

    Returns:
        A scalar in :math:`[-4t, 0]`.

    Examples:
        >>> uniformity_loss(torch.tensor([[1.0, 0.0], [-3.0, 0.0]]))
        tensor(-8.)
    """
    if not t > 0:
        raise ValueError(f"'t' must be positive (got {t})")
    b = x.shape[0]
    if b < 2:
        return x.sum() * 0.0
    return _Uniformity.apply(F.normalize(x, dim=-1), float(t)) - math.log(b * (b - 1))


@OBJECTIVES.register("directau")
class DirectAU(Recommender):
    r"""Alignment plus uniformity of the batch's normalised embeddings; no negatives.

    .. math::
        \mathcal{L} = \ell_{align}(e_U, e_I)
            + \gamma \, \frac{\ell_{uniform}(e_U) + \ell_{uniform}(e_I)}{2}
            + \lambda_2 R

    where :math:`e_U, e_I` are the ``[B, d]`` embeddings of the batch's users and
    positive items (:func:`alignment_loss`, :func:`uniformity_loss` with
    :math:`t = 2`) and :math:`R` the L2 term on their ego rows. ``batch.neg`` is not
    used. Ranking uses the raw (unnormalised) dot products, as the authors' code
    does. The encoder can be any (the paper: MF; SELFRec: LightGCN).

    Args:
        encoder: Any encoder.
        gamma: :math:`\gamma`, weight of the uniformity term. The papers tune it
            per dataset (the authors: 1 for Yelp, 5 for Gowalla; SELFRec: 2 for
            Yelp2018); the default 0.3 was chosen on the robustness datasets
            (``benchmarks/results/directau/README.md``): on dense data such as
            ML-100K a weight near 1 makes the loss favour spread-out, barely
            aligned embeddings, which rank below popularity.
        reg_weight: :math:`\lambda_2`, weight of the L2 term on the batch's ego
            rows (the authors use the optimiser's weight decay instead, 1e-6).

    Shapes:
        - batch: ``user``, ``pos`` ``[B]``
        - loss terms: scalars ``{"loss", "align", "uniform", "reg"}``

    Examples:
        >>> from graphcl_rec.models import MF
        >>> model = DirectAU(MF(3, 4, dim=8), gamma=2.0)
        >>> batch = Batch(*[torch.tensor([0, 1])] * 3)
        >>> sorted(model.loss(batch, [], None))
        ['align', 'loss', 'reg', 'uniform']
    """

    def __init__(self, encoder: Encoder, *, gamma: float = 0.3,
                 reg_weight: float = 1e-4) -> None:
        super().__init__()
        if not (math.isfinite(gamma) and gamma >= 0):
            raise ValueError(f"'gamma' must be a finite number >= 0 (got {gamma})")
        if not (math.isfinite(reg_weight) and reg_weight >= 0):
            raise ValueError(f"'reg_weight' must be a finite number >= 0 (got "
                             f"{reg_weight})")
        self.encoder, self.gamma, self.reg_weight = encoder, float(gamma), reg_weight

    def loss(self, batch: Batch, adjs: list[Tensor], views: list[list[Tensor]] | None,
             generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """Alignment + uniformity of the batch; see :meth:`Recommender.loss`."""
        rows = torch.cat([batch.user, batch.pos + self.encoder.num_users])
        out = self.encoder(adjs, rows=rows)
        user, item = out.users(batch.user), out.items(batch.pos)
        align = alignment_loss(user, item)
        uniform = (uniformity_loss(user) + uniformity_loss(item)) / 2
        ego_u, ego_i = self.encoder.ego()
        reg = l2_reg(take_rows(ego_u, batch.user), take_rows(ego_i, batch.pos))
        total = align + self.gamma * uniform + self.reg_weight * reg
        return {"loss": total, "align": align.detach(), "uniform": uniform.detach(),
                "reg": reg.detach()}

    def extra_repr(self) -> str:
        """Constructor arguments shown by ``repr``."""
        return f"gamma={self.gamma}, reg_weight={self.reg_weight}"

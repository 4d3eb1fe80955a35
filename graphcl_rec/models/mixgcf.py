r"""MixGCF: hard negatives synthesised from candidates (Huang et al., KDD 2021).

A negative-selection strategy of the BPR term, not a model: any objective that
scores its negatives through
:meth:`~graphcl_rec.models.bpr.BPRRecommender.bpr_terms` takes it with
``hard_negatives="mixgcf"``, the ``M`` candidates per triple coming from the
trainer (``Trainer(num_negatives=M)``, drawn uniformly or by popularity). The
paper takes M = 16 to 64 on catalogues of tens of thousands of items. On a small,
dense catalogue many candidates make the best-scored one often an item the user
likes but has not interacted with in training (a false negative): keep M small
there.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from graphcl_rec.models.output import EncoderOutput

HARD_NEGATIVES: tuple[bool | str, ...] = (False, True, "hardest", "mixgcf")
"""``hard_negatives`` choices: every candidate enters the loss (``False``), the
best-scored candidate (``True`` or ``"hardest"``), or MixGCF's synthesis."""


def check_hard_negatives(value: bool | str) -> bool | str:
    """Validates a ``hard_negatives`` choice (:data:`HARD_NEGATIVES`).

    Examples:
        >>> check_hard_negatives("mixgcf")
        'mixgcf'
    """
    if isinstance(value, bool) or (isinstance(value, str) and value in HARD_NEGATIVES):
        return value
    raise ValueError(f"Could not resolve hard_negatives {value!r} among choices "
                     f"{list(HARD_NEGATIVES)}")


def mixgcf_negatives(out: EncoderOutput, user: Tensor, pos: Tensor, neg: Tensor,
                     pool: Callable[[list[Tensor]], Tensor],
                     generator: torch.Generator | None = None
                     ) -> tuple[Tensor, Tensor]:
    r"""One synthetic hard negative per triple, by positive and hop mixing.

    For every layer :math:`l = 0..L` of the encoder, with one
    :math:`\alpha_l \sim U(0, 1)` per triple and layer:

    .. math::
        \tilde e_m^{(l)} = \alpha_l\, e_{i^+}^{(l)} + (1 - \alpha_l)\, e_m^{(l)}
        \quad \text{(positive mixing, each candidate } m = 1..M)

        c_l = \arg\max_m\; e_u^\top \tilde e_m^{(l)}
        \quad \text{(hop mixing: the hardest mixed candidate of each layer)}

        e^- = \mathrm{pool}\big(\tilde e_{c_0}^{(0)}, \dots, \tilde e_{c_L}^{(L)}\big)

    with :math:`e_u` the user's final embedding and ``pool`` the encoder's own
    combination of layers (:meth:`~graphcl_rec.models.base.Encoder.pool`, the
    layer mean for LightGCN), so :math:`e_u^\top e^-` is scored like any item.
    As :math:`\alpha_l` is shared by the ``M`` candidates and :math:`1 - \alpha_l
    > 0`, :math:`e_u^\top \tilde e_m^{(l)} = \alpha_l e_u^\top e_{i^+}^{(l)} +
    (1 - \alpha_l) e_u^\top e_m^{(l)}` has the argmax of :math:`e_u^\top
    e_m^{(l)}`: candidates are ranked unmixed (without gradient) and only the
    chosen one is mixed. The choice carries no gradient; the mixture does, into
    the positive's and the chosen candidates' rows.

    Args:
        out: Encoder output holding the batch's positives and candidates (every
            layer).
        user: ``[B, d]`` final user embeddings.
        pos: ``[B]`` positive item ids.
        neg: ``[B, M]`` candidate item ids (``[B]``: one candidate).
        pool: Combines ``L+1`` per-layer ``[B, d]`` embeddings into final ones.
        generator: Draws :math:`\alpha` (``None``: torch's global generator).

    Returns:
        ``([B, d] e^-, [B, d] its layer-0 embedding)`` (the latter for the L2 term,
        as in the reference code).

    Examples:
        >>> from graphcl_rec.models import MF
        >>> enc = MF(2, 5, dim=4)
        >>> out = enc([])
        >>> neg, ego = mixgcf_negatives(out, out.users(torch.tensor([0])),
        ...     torch.tensor([1]), torch.tensor([[2, 3, 4]]), enc.pool)
        >>> tuple(neg.shape), bool(torch.equal(neg, ego))
        ((1, 4), True)
    """
    cand = neg if neg.dim() == 2 else neg.unsqueeze(1)
    depth = len(out._layers)  # the layers this output holds (one per hop, and ego)
    if depth == 0:
        raise ValueError("hard_negatives='mixgcf' needs the per-layer embeddings, "
                         "and this encoder output holds none")
    where = user.device if generator is None else generator.device
    alpha = torch.rand(cand.shape[0], depth, 1, generator=generator, device=where,
                       dtype=user.dtype).to(user.device)
    rows = torch.arange(cand.shape[0], device=cand.device)
    mixed = []
    for hop in range(depth):
        layer = out.layer(hop)
        with torch.no_grad():
            scores = torch.bmm(layer.items(cand), user.detach().unsqueeze(2))
        chosen = cand[rows, scores.squeeze(2).argmax(1)]
        a = alpha[:, hop]
        mixed.append(a * layer.items(pos) + (1 - a) * layer.items(chosen))
    return pool(mixed), mixed[0]

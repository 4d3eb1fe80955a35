r"""Exact row-wise top-K of a wide score matrix from group maxima.

:func:`torch.topk` over a ``[B, I]`` score block costs about as much as the matrix
product that made it. The functions here get the same values from one streaming
maximum and a few small selections:

1. View the (padded) row as ``G`` groups of ``s`` consecutive columns and take each
   group's maximum :math:`m_g = \max_j x_{gs + j}` (one streaming pass).
2. Keep the ``K`` groups with the largest :math:`m_g`.
3. Take the top-``K`` of the ``K s`` elements of the kept groups.

Step 2 loses nothing: if an element ``x`` of a top-``K`` list lay in a group outside
the kept ones, each of the ``K`` kept groups would hold an element ``>= x``, so
``x`` could only be in the list through a tie, and a kept group holds an equal value
in its place. The values returned are therefore exactly those of
:func:`torch.topk`; indices can differ only where scores tie. :func:`select_topk`
applies the same argument again to the ``[B, G]`` maxima and the ``[B, K s]``
candidates, with groups of :data:`SUB`, because :func:`torch.topk` on CPU costs a
fixed time per row plus a small time per element, and the fixed part dominates
short rows (``benchmarks/PERF.md``).

Two layouts are served: row-major ``[B, W]`` blocks (:func:`grouped_topk`) and the
group-major ``[G, B, s]`` blocks that :func:`group_major_topk` takes, which one
batched product writes faster on CPU (see ``benchmarks/PERF.md``).
"""

from __future__ import annotations

import torch
from torch import Tensor

GROUP = 64
"""Columns per group ``s``. Powers of two vectorise the group maxima best; 64 was
chosen by measurement among them, for both the grouped selection and the batched
group-major product (``benchmarks/PERF.md``)."""

SUB = 8
"""Group size of the second-level selections in :func:`select_topk`."""


def padded_width(num_items: int, k: int, group: int = GROUP) -> int:
    """Row width that :func:`grouped_topk` expects for ``num_items`` real columns.

    Rows narrower than ``4 * group * k`` keep their width (plain :func:`torch.topk`
    is used for them); wider rows are rounded up to a multiple of ``group``.

    Examples:
        >>> padded_width(38048, 20)
        38080
        >>> padded_width(38080, 20)
        38080
        >>> padded_width(1682, 20)
        1682
    """
    if num_items < 4 * group * k:
        return num_items
    return -(-num_items // group) * group


def select_topk(x: Tensor, k: int, sorted: bool = True) -> tuple[Tensor, Tensor]:
    r"""Row-wise top-``k`` of a contiguous ``[B, n]`` matrix, through groups of 8.

    On CPU, rows of ``n >= 16 k`` elements are cut into groups of :data:`SUB` (the
    last one padded with :math:`-\infty`); the top-``k`` groups by maximum are found
    the same way, recursively, and :func:`torch.topk` runs on their ``8 k``
    elements. Elsewhere (and for shorter rows) this is :func:`torch.topk`.

    Args:
        x: ``[B, n]`` values (no NaN), ``k <= n``.
        k: Number of values per row.
        sorted: Whether the values come largest first (as :func:`torch.topk`).

    Returns:
        ``(values [B, k], indices [B, k])``: the values :func:`torch.topk` returns;
        indices can differ from its only between tied values, and a row with fewer
        than ``k`` values above :math:`-\infty` may get indices ``>= n`` (the
        padding) for its :math:`-\infty` values.

    Examples:
        >>> x = torch.randn(4, 500)
        >>> torch.equal(select_topk(x, 5)[0], torch.topk(x, 5).values)
        True
    """
    rows, n = x.shape
    if n < 16 * k or not x.is_cpu:  # the per-row cost is a CPU one
        return torch.topk(x, k, dim=1, sorted=sorted)
    groups = -(-n // SUB)
    if groups * SUB != n:
        x = torch.cat([x, x.new_full((rows, groups * SUB - n), float("-inf"))], 1)
    return _by_groups(x.view(rows, groups, SUB), k, sorted)


def _by_groups(x3: Tensor, k: int, sorted: bool = True) -> tuple[Tensor, Tensor]:
    """Top-``k`` per row of a contiguous ``[B, G, s]`` block."""
    rows, groups, group = x3.shape
    top = select_topk(x3.amax(dim=2), k, sorted=False)[1]                   # [B, k]
    top, bad = _real_groups(top, groups, _pads(groups, k))
    flat = torch.arange(rows, device=x3.device).unsqueeze(1) * groups + top
    return _finish(x3.view(rows * groups, group), flat, top, k, bad, sorted)


def _pads(n: int, k: int) -> bool:
    """Whether :func:`select_topk` may pad ``n`` columns (and return indices >= n)."""
    return n >= 16 * k and n % SUB != 0


def _real_groups(top: Tensor, groups: int, padded: bool
                 ) -> tuple[Tensor, Tensor | None]:
    r"""Kept groups with padding ones (``>= groups``) sent to 0, and their mask.

    A padding group is kept only at :math:`-\infty`; :func:`_finish` masks the
    real group put in its place. Without padding, returns ``(top, None)``.
    """
    if not padded:
        return top, None
    bad = top >= groups
    return top.masked_fill(bad, 0), bad


def _columns(top_groups: Tensor, pos: Tensor, group: int) -> Tensor:
    """Columns of positions ``pos`` in the concatenated kept groups ``top_groups``."""
    return torch.gather(top_groups, 1, pos.div(group, rounding_mode="floor")) * group \
        + pos.remainder(group)


def grouped_topk(scores: Tensor, k: int, num_items: int | None = None,
                 group: int = GROUP) -> tuple[Tensor, Tensor]:
    r"""Row-wise top-``k`` values and column indices, largest first.

    Shapes:
        - scores: ``[B, W]`` with ``W = padded_width(num_items, k, group)``; the
          padding columns ``num_items..W-1`` must hold :math:`-\infty`.
        - returns: ``values [B, k]`` and int64 ``indices [B, k]``.

    Args:
        scores: The score block (no NaN).
        k: List length, at most ``num_items``.
        num_items: Number of real columns (default ``W``).
        group: Group size ``s`` (the one given to :func:`padded_width`).

    Returns:
        ``(values, indices)`` as :func:`torch.topk` (``sorted=True``) returns them
        on ``scores[:, :num_items]``.

    Examples:
        >>> x = torch.randn(3, 6400)
        >>> torch.equal(grouped_topk(x, 5, group=64)[0], torch.topk(x, 5).values)
        True
    """
    width = scores.size(1)
    num_items = width if num_items is None else num_items
    if width != padded_width(num_items, k, group):
        raise ValueError(f"'scores' has {width} columns but {num_items} items need "
                         f"{padded_width(num_items, k, group)}")
    if width == num_items and width < 4 * group * k:
        return torch.topk(scores, k, dim=1)
    return _by_groups(scores.view(scores.size(0), width // group, group), k)


def group_major_topk(scores: Tensor, k: int) -> tuple[Tensor, Tensor]:
    r"""Row-wise top-``k`` of a score block stored group-major.

    ``scores[g, b, j]`` is the score of row ``b`` at column ``g s + j``; the
    row-major block would be ``scores.permute(1, 0, 2).reshape(B, G s)``.

    Shapes:
        - scores: contiguous ``[G, B, s]`` with ``G >= k``; padding columns must hold
          :math:`-\infty`.
        - returns: ``values [B, k]`` and int64 column ``indices [B, k]``.

    Args:
        scores: The score block (no NaN).
        k: List length.

    Returns:
        ``(values, indices)``: the values :func:`torch.topk` returns on the
        row-major block (largest first); indices differ from its only between ties.

    Examples:
        >>> x = torch.randn(3, 1280)
        >>> major = x.view(3, 20, 64).transpose(0, 1).contiguous()
        >>> torch.equal(group_major_topk(major, 5)[0], torch.topk(x, 5).values)
        True
    """
    groups, rows, group = scores.shape
    padded = -(-groups // SUB) * SUB  # spares select_topk a padded copy
    group_max = scores.new_empty(padded, rows)
    torch.amax(scores, dim=2, out=group_max[:groups])                       # [G, B]
    group_max[groups:] = float("-inf")
    top = select_topk(group_max.t().contiguous(), k, sorted=False)[1]       # [B, k]
    top, bad = _real_groups(top, groups, padded > groups)
    flat = top * rows + torch.arange(rows, device=scores.device).unsqueeze(1)
    return _finish(scores.view(groups * rows, group), flat, top, k, bad)


def _finish(source: Tensor, flat: Tensor, top: Tensor, k: int, bad: Tensor | None,
            sorted: bool = True) -> tuple[Tensor, Tensor]:
    r"""Top-``k`` among the kept groups' elements.

    Args:
        source: ``[R, s]`` score rows, one per (row, group) pair.
        flat: ``[B, k]`` rows of ``source`` holding each row's kept groups.
        top: ``[B, k]`` the kept groups' indices.
        k: List length.
        bad: ``[B, k]`` kept groups whose elements count as :math:`-\infty`
            (``None``: none).
        sorted: Whether the values come largest first.

    Returns:
        ``(values [B, k], column indices [B, k])``.
    """
    rows, group = top.size(0), source.size(1)
    cand = source.index_select(0, flat.view(-1)).view(rows, k, group)
    if bad is not None:
        cand.masked_fill_(bad.unsqueeze(2), float("-inf"))
    values, pos = select_topk(cand.view(rows, k * group), k, sorted)
    return values, _columns(top, pos, group)

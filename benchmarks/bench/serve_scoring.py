"""Scoring recommenders with different id spaces on one test set (small datasets).

The ``update`` benchmark compares a model that knows only the training period's
users and items with models that know more. Each is scored on the same users, the
same test pairs and the same exclusions, in the dataset's own index space: a user
the recommender does not know gets its most popular items (as
``recommend(..., unknown="popular")`` would), an item it does not know can never be
recommended (it stays in the test pairs, so recall counts it as missed). The
scores are one dense ``[users, items]`` matrix, fine for ML-100K-sized data.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class Target:
    """Who is scored on what, over a dataset's index space.

    Attributes:
        users: ``[n]`` global indices of the scored users.
        raw_users: Their raw ids.
        raw_items: Raw id of every global item index.
        truth: Each scored user's test items (global indices).
        exclude: Each scored user's items never to rank.
        groups: ``{name: [n] bool}`` subsets of the scored users.
    """

    users: Tensor
    raw_users: list[str]
    raw_items: list[str]
    truth: list[list[int]]
    exclude: list[list[int]]
    groups: dict[str, Tensor]


def target(test, seen_parts: list, known_parts: list, groups_by: dict[str, list]
           ) -> Target:
    """Test users that ``known_parts`` know, their test pairs and seen items.

    Args:
        test: The test pairs (global index space, raw ids).
        seen_parts: Parts whose pairs are excluded (e.g. train and feedback).
        known_parts: A test user is scored when it has a pair in one of these.
        groups_by: ``{group: parts}``: a scored user is in the group when it has a
            pair in one of the parts.
    """
    def has_pair(parts: list) -> Tensor:
        mask = torch.zeros(test.num_users, dtype=torch.bool)
        for part in parts:
            mask[part.user] = True
        return mask

    in_test = torch.zeros(test.num_users, dtype=torch.bool)
    in_test[test.user] = True
    users = torch.nonzero(in_test & has_pair(known_parts)).flatten()
    truth_all = test.user_lists()
    seen: list[set[int]] = [set() for _ in range(test.num_users)]
    for part in seen_parts:
        for u, i in zip(part.user.tolist(), part.item.tolist()):
            seen[u].add(i)
    return Target(
        users=users, raw_users=[test.user_ids[u] for u in users.tolist()],
        raw_items=list(test.item_ids),
        truth=[truth_all[u] for u in users.tolist()],
        exclude=[sorted(seen[u]) for u in users.tolist()],
        groups={name: has_pair(parts)[users] for name, parts in groups_by.items()})


def scores(rec, tgt: Target) -> Tensor:
    """``[n, I]`` scores of a recommender over the global item space.

    ``rec`` is any ``graphcl_rec.serve.EmbeddingRecommender``: its raw-id maps
    place its rows; unknown users get its item popularity, unknown items
    :math:`-\\infty`.
    """
    item_pos = torch.tensor([rec.items.index.get(raw, -1) for raw in tgt.raw_items])
    user_pos = torch.tensor([rec.users.index.get(raw, -1) for raw in tgt.raw_users])
    known_i = torch.nonzero(item_pos >= 0).flatten()
    out = torch.full((len(tgt.raw_users), len(tgt.raw_items)), float("-inf"))
    items = rec.item_emb[item_pos[known_i]].float()
    known_u = torch.nonzero(user_pos >= 0).flatten()
    users = rec.user_emb[user_pos[known_u]].float()
    out[known_u.unsqueeze(1), known_i] = users @ items.T
    unknown_u = torch.nonzero(user_pos < 0).flatten()
    if unknown_u.numel():
        pop = rec.popularity()[item_pos[known_i]].float()
        out[unknown_u.unsqueeze(1), known_i] = pop.expand(unknown_u.numel(), -1)
    return out


def metrics(rec, tgt: Target) -> dict[str, float]:
    """Recall@20 and NDCG@20 of all scored users and of each group."""
    import graphcl_rec as gr

    s = scores(rec, tgt)
    out: dict[str, float] = {}
    for name, mask in {"all": torch.ones(len(tgt.truth), dtype=torch.bool),
                       **tgt.groups}.items():
        rows = torch.nonzero(mask).flatten().tolist()
        if not rows:
            continue
        m = gr.eval.topk_metrics(s[rows], [tgt.truth[r] for r in rows],
                                 [tgt.exclude[r] for r in rows], k=[20])
        suffix = "" if name == "all" else f" {name}"
        out[f"recall@20{suffix}"] = m["recall@20"]
        out[f"ndcg@20{suffix}"] = m["ndcg@20"]
        out[f"users{suffix}"] = len(rows)
    return out

import re

import numpy as np
import pytest
import torch

from graphcl_rec.serve.feedback import apply_feedback, raw_pairs
from tests.serve.conftest import trained


def test_raw_pairs_spell_ids_as_strings():
    assert raw_pairs([("u1", 7), [196, "x"], (np.int64(3), "y")]) == [
        ("u1", "7"), ("196", "x"), ("3", "y")]
    assert raw_pairs([]) == []


@pytest.mark.parametrize("pair, message", [
    (("u1",), "pair 1 must be [user, item]"),
    (("u1", "i1", "i2"), "pair 1 must be [user, item]"),
    ("u1i1", "pair 1 must be [user, item]"),
    ((1.5, "i1"), "pair 1: the user id must be a non-empty string or an integer "
                  "(got 1.5)"),
    (("u1", True), "pair 1: the item id"),
    (("", "i1"), "pair 1: the user id"),
    (("u1", None), "pair 1: the item id"),
])
def test_raw_pairs_refuse_bad_pairs(pair, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        raw_pairs([("u0", "i0"), pair])


def seen_items(rec, user):
    row, item = rec.seen.gather(rec.users.lookup([user]))
    return {rec.items.ids[i] for i in item.tolist()}


def test_a_new_user_is_folded_in_from_its_known_items(small):
    rec = trained("lightgcn", small)
    folded, waiting = apply_feedback(rec, [("new", "i1"), ("new", "i2"),
                                           ("new", "brand-new-item")])
    assert (folded, waiting) == (["new"], [])
    assert rec.num_users == 21 and rec.num_trained_users == 20
    assert seen_items(rec, "new") == {"i1", "i2"}
    ids, _ = rec.recommend("new", k=15)
    assert not {"i1", "i2"} & set(ids) and "brand-new-item" not in rec.items


def test_a_new_user_without_known_items_waits(small):
    rec = trained("lightgcn", small)
    folded, waiting = apply_feedback(rec, [("new", "x1"), ("new", "x2")])
    assert (folded, waiting) == ([], ["new"])
    assert "new" not in rec.users and rec.num_users == 20


def test_a_trained_users_known_items_become_seen(small):
    rec = trained("mf", small)
    user = "u3"
    unseen = [i for i in rec.items.ids if i not in seen_items(rec, user)]
    before = rec.user_emb.clone()
    assert apply_feedback(rec, [(user, unseen[0]), (user, "x9")]) == ([], [])
    assert unseen[0] in seen_items(rec, user)
    assert unseen[0] not in set(rec.recommend(user, k=15)[0])
    assert torch.equal(rec.user_emb, before) and "x9" not in rec.items


def test_a_folded_user_is_folded_again_from_the_union(small):
    rec = trained("lightgcn", small)
    apply_feedback(rec, [("new", "i1")])
    first = rec.user_emb[20].clone()
    assert apply_feedback(rec, [("new", "i4")]) == (["new"], [])
    assert seen_items(rec, "new") == {"i1", "i4"}
    assert not torch.equal(rec.user_emb[20], first)
    # A user folded in before with only unknown new items: nothing to redo.
    again = rec.user_emb[20].clone()
    assert apply_feedback(rec, [("new", "x1")]) == ([], [])
    assert torch.equal(rec.user_emb[20], again)

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from graphcl_rec.data import Interactions
from graphcl_rec.serve import EmbeddingRecommender, UnknownIdError
from tests.serve.conftest import trained


def test_single_user_gets_unseen_items_best_first(hand):
    ids, scores = hand.recommend("u0", k=3)
    assert ids.tolist() == ["i1", "i2", "i4"]
    assert scores.tolist() == [4.0, 3.0, 1.0]
    assert ids.shape == scores.shape == (3,) and scores.dtype == np.float32


def test_list_of_users_gives_rows(hand):
    ids, scores = hand.recommend(["u1", "u0"], k=2)
    assert ids.shape == (2, 2)
    assert ids.tolist() == [["i3", "i2"], ["i1", "i2"]]
    assert scores.tolist() == [[4.0, 3.0], [4.0, 3.0]]


def test_exclude_seen_false_returns_seen_items(hand):
    ids, _ = hand.recommend("u0", k=2, exclude_seen=False)
    assert ids.tolist() == ["i0", "i1"]


def test_allow_list_restricts_candidates(hand):
    ids, scores = hand.recommend("u0", k=5, items=["i4", "i2", "i0", "i2"])
    # i0 is seen; only i2 and i4 remain; k is clipped to the 3 candidates.
    assert ids.tolist() == ["i2", "i4", None]
    assert scores[:2].tolist() == [3.0, 1.0] and scores[2] == -np.inf
    ids, _ = hand.recommend("u0", k=2, items=["i4", "i0"], exclude_seen=False)
    assert ids.tolist() == ["i0", "i4"]
    assert hand.recommend("u0", k=2, items="i2")[0].tolist() == ["i2"]


def test_unknown_item_in_allow_list_raises(hand):
    with pytest.raises(UnknownIdError, match="unknown item id 'nope'"):
        hand.recommend("u0", items=["i1", "nope"])


def test_unknown_user_error_names_the_id(hand):
    with pytest.raises(UnknownIdError) as info:
        hand.recommend(["u0", "ghost"])
    assert isinstance(info.value, KeyError)
    assert str(info.value) == "unknown user id 'ghost'"
    assert info.value.kind == "user" and info.value.raw_id == "ghost"


def test_unknown_user_popular_fallback(hand):
    ids, scores = hand.recommend(["ghost", "u0"], k=4, unknown="popular")
    # Popularity 1 for i0, i3, i4 (ties by index), then 0 for i1, i2.
    assert ids[0].tolist() == ["i0", "i3", "i4", "i1"]
    assert scores[0].tolist() == [1.0, 1.0, 1.0, 0.0]
    assert ids[1].tolist() == hand.recommend("u0", k=4)[0].tolist()
    ids, _ = hand.recommend("ghost", k=2, unknown="popular", items=["i2", "i4"])
    assert ids.tolist() == ["i4", "i2"]


def test_return_indices(hand):
    idx, scores = hand.recommend(["u0", "u1"], k=2, return_indices=True)
    assert idx.dtype == np.int64 and idx.tolist() == [[1, 2], [3, 2]]
    idx, _ = hand.recommend("u0", k=5, return_indices=True)
    assert idx.tolist() == [1, 2, 4, -1, -1]


def test_int_ids_are_looked_up_as_strings():
    seen = Interactions(torch.tensor([0]), torch.tensor([0]), 2, 2,
                        user_ids=("196", "7"), item_ids=("10", "20"))
    rec = EmbeddingRecommender(torch.ones(2, 1), torch.tensor([[1.0], [2.0]]), seen)
    assert rec.recommend(7, k=1)[0].tolist() == ["20"]
    assert rec.recommend(np.int64(196), k=1)[0].tolist() == ["20"]


def test_batching_equals_one_by_one(small):
    rec = trained("lightgcn", small)
    users = [f"u{u}" for u in (3, 0, 7, 3, 19, 11, 5)]
    ids, scores = rec.recommend(users, k=6, batch_size=2)
    for row, user in enumerate(users):
        one_ids, one_scores = rec.recommend(user, k=6)
        assert ids[row].tolist() == one_ids.tolist()
        # a batch and a single row may take different matmul kernels (summation order)
        np.testing.assert_allclose(scores[row], one_scores, rtol=1e-5, atol=1e-7)


def test_seen_items_never_returned(small):
    rec = trained("mf", small)
    ids, _ = rec.recommend([f"u{u}" for u in range(20)], k=15, return_indices=True)
    for user, items in enumerate(small.user_lists()):
        assert not set(items) & set(ids[user].tolist())
        assert (ids[user] >= 0).sum() == 15 - len(items)


@pytest.mark.parametrize("kwargs,match", [
    ({"k": 0}, "'k' must be a positive int"),
    ({"unknown": "skip"}, "'unknown' must be one of"),
    ({"batch_size": 0}, "'batch_size' must be positive"),
])
def test_bad_arguments(hand, kwargs, match):
    with pytest.raises(ValueError, match=match):
        hand.recommend("u0", **kwargs)


def test_similar_items_by_cosine_without_the_query(small):
    rec = trained("lightgcn", small)
    ids, scores = rec.similar_items(["i2", "i5"], k=4, return_indices=True)
    normed = F.normalize(rec.item_emb, dim=1)
    for row, query in enumerate([2, 5]):
        cos = normed @ normed[query]
        cos[query] = -np.inf
        expected = torch.topk(cos, 4)
        assert ids[row].tolist() == expected.indices.tolist()
        np.testing.assert_allclose(scores[row], expected.values.numpy(), rtol=1e-5)
        assert query not in ids[row]


def test_similar_users(hand):
    ids, scores = hand.similar_users("u0", k=5)
    assert sorted(ids.tolist()) == ["u1", "u2"]  # clipped to U - 1, u0 excluded
    assert scores.tolist() == [0.0, 0.0]
    with pytest.raises(UnknownIdError, match="unknown user id 'x'"):
        hand.similar_users("x")


def test_mismatched_embeddings_rejected():
    seen = Interactions(torch.tensor([0]), torch.tensor([0]), 2, 2)
    with pytest.raises(ValueError, match="do not match 'seen'"):
        EmbeddingRecommender(torch.ones(3, 2), torch.ones(2, 2), seen)
    rec = EmbeddingRecommender(torch.ones(2, 2), torch.ones(2, 2), seen)
    assert rec.recommend("1", k=1)[0].tolist() == ["0"]  # default raw ids
    assert repr(rec) == "EmbeddingRecommender(num_users=2, num_items=2, dim=2)"

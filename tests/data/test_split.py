import logging

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from graphcl_rec.data import (
    Interactions,
    check_disjoint,
    concat,
    holdout,
    leave_one_out,
    random_split,
    temporal_split,
)
from graphcl_rec.errors import DataError, LeakageError


def make(
    num_users: int = 200,
    num_items: int = 300,
    max_degree: int = 40,
    seed: int = 0,
    timestamps: bool = True,
) -> Interactions:
    """Unique random pairs; user degrees spread over 1..max_degree."""
    g = torch.Generator().manual_seed(seed)
    degree = torch.randint(1, max_degree + 1, (num_users,), generator=g)
    user = torch.repeat_interleave(torch.arange(num_users), degree)
    item = torch.cat([torch.randperm(num_items, generator=g)[:d] for d in degree])
    ts = torch.randperm(len(user), generator=g) if timestamps else None
    return Interactions(user, item, num_users, num_items, timestamp=ts)


def expected_sizes(degrees, ratios) -> list[int]:
    """Part sizes by the documented rule, user by user (a naive reference)."""
    sizes = [0] * len(ratios)
    for n in degrees.tolist():
        cum, bounds = 0.0, [0]
        for r in ratios[:-1]:
            cum += r
            bounds.append(max(int(n * round(cum, 9) + 0.5), 1 if n else 0))
        bounds.append(n)
        for j in range(len(ratios)):
            sizes[j] += bounds[j + 1] - bounds[j]
    return sizes


def pair_set(inter: Interactions) -> set[tuple[int, int]]:
    return set(zip(inter.user.tolist(), inter.item.tolist()))


def assert_partition(inter: Interactions, parts) -> None:
    assert sum(len(p) for p in parts) == len(inter)
    union = set().union(*(pair_set(p) for p in parts))
    assert union == pair_set(inter)
    for p in parts:
        assert p.shape == inter.shape


@pytest.mark.parametrize("per_user", [True, False])
def test_random_split_partitions_the_input(per_user):
    inter = make()
    parts = random_split(inter, (0.7, 0.2, 0.1), seed=3, per_user=per_user)
    assert len(parts) == 3
    assert_partition(inter, parts)
    check_disjoint(*parts)


def test_random_split_ratios_per_user():
    inter = make()
    train, val, test = random_split(inter, (0.8, 0.1, 0.1), seed=0)
    n = inter.user_degree()
    for part, share in ((train, 0.8), (val, 0.1), (test, 0.1)):
        counts = part.user_degree()
        big = n >= 10
        assert ((counts[big] - n[big] * share).abs() <= 1).all()
    assert (train.user_degree() >= 1).all()  # every user keeps a training pair


def one_user(n: int) -> Interactions:
    return Interactions(torch.zeros(n, dtype=torch.long), torch.arange(n), 1, n)


def test_random_split_rounding_is_documented_cumulative_rounding():
    # boundaries round(12.0) = 12 and round(13.5) = 14
    assert [len(p) for p in random_split(one_user(15), (0.8, 0.1, 0.1))] == [12, 2, 1]
    # n = 5: boundaries round(4.0) = 4 and round(4.5) = 5 leave 'test' empty
    with pytest.raises(DataError, match="'test' .* needs 6 pairs"):
        random_split(one_user(5), (0.8, 0.1, 0.1))
    # a user with a single pair keeps it in the first part
    with pytest.raises(DataError, match="'part 1' .* at most 1, .* needs 2 pairs"):
        random_split(one_user(1), (0.1, 0.9))


def test_random_split_global_counts():
    inter = make()
    parts = random_split(inter, (0.5, 0.25, 0.25), seed=1, per_user=False)
    expected_first = int(len(inter) * 0.5 + 0.5)
    assert len(parts[0]) == expected_first


def test_random_split_is_deterministic_per_seed():
    inter = make()
    a = random_split(inter, seed=5)
    b = random_split(inter, seed=torch.Generator().manual_seed(5))
    c = random_split(inter, seed=6)
    assert all(torch.equal(x.keys(), y.keys()) for x, y in zip(a, b))
    assert not torch.equal(a[2].keys().sort().values, c[2].keys().sort().values)


def test_test_part_does_not_depend_on_the_validation_ratio():
    inter = make()
    _, _, test_a = random_split(inter, (0.8, 0.1, 0.1), seed=2)
    _, val_b, test_b = random_split(inter, (0.9, 0.0, 0.1), seed=2)
    assert len(val_b) == 0
    assert pair_set(test_a) == pair_set(test_b)


@pytest.mark.parametrize("ratios", [(0.5, 0.4), (1.2, -0.2), ()])
def test_random_split_rejects_bad_ratios(ratios):
    with pytest.raises(ValueError, match="ratios"):
        random_split(make(), ratios)


def test_random_split_on_duplicated_input_reports_leakage():
    inter = make(num_users=20)
    doubled = inter.with_pairs(
        torch.cat([inter.user, inter.user]), torch.cat([inter.item, inter.item])
    )
    with pytest.raises(LeakageError, match="share"):
        random_split(doubled, seed=0)


@settings(max_examples=25, deadline=None)
@given(
    st.integers(1, 30),
    st.integers(0, 2**31 - 1),
    st.sampled_from([(0.8, 0.1, 0.1), (0.5, 0.5), (0.6, 0.0, 0.4), (1.0,)]),
)
def test_random_split_invariants(num_users, seed, ratios):
    inter = make(num_users=num_users, num_items=50, max_degree=12, seed=seed % 97)
    expected = expected_sizes(inter.user_degree(), ratios)
    if any(size == 0 and r > 0 for size, r in zip(expected, ratios)):
        with pytest.raises(DataError, match="would be empty"):
            random_split(inter, ratios, seed=seed)
        return
    parts = random_split(inter, ratios, seed=seed)
    assert [len(p) for p in parts] == expected
    assert_partition(inter, parts)
    assert (parts[0].user_degree() >= (inter.user_degree() > 0).long()).all()


def test_holdout():
    train = make()
    fit, val = holdout(train, 0.2, seed=0)
    assert_partition(train, (fit, val))
    assert (fit.user_degree() >= 1).all()
    big = train.user_degree() >= 10
    assert ((val.user_degree()[big] - 0.2 * train.user_degree()[big]).abs() <= 1).all()
    same, empty = holdout(train, 0.0, seed=0)
    assert len(empty) == 0 and pair_set(same) == pair_set(train)
    with pytest.raises(ValueError, match="ratio"):
        holdout(train, 1.0)


def test_leave_one_out_by_timestamp_picks_the_latest():
    inter = make()
    train, val, test = leave_one_out(inter, seed=0)
    assert_partition(inter, (train, val, test))
    n = inter.user_degree()
    assert torch.equal(test.user_degree(), (n >= 3).long())
    assert torch.equal(val.user_degree(), (n >= 3).long())
    assert torch.equal(train.user_degree()[n < 3], n[n < 3])
    last = torch.zeros(inter.num_users, dtype=torch.long).scatter_reduce(
        0, inter.user, inter.timestamp, reduce="amax"
    )
    assert torch.equal(test.timestamp, last[test.user])
    latest_train = torch.zeros_like(last).scatter_reduce(
        0, train.user, train.timestamp, reduce="amax"
    )
    assert (val.timestamp > latest_train[val.user]).all()
    test_time = torch.zeros_like(last).scatter(0, test.user, test.timestamp)
    assert (val.timestamp < test_time[val.user]).all()


def test_leave_one_out_without_timestamps_is_random_but_seeded():
    inter = make(timestamps=False)
    a = leave_one_out(inter, seed=1)
    b = leave_one_out(inter, seed=1)
    c = leave_one_out(inter, seed=2)
    assert_partition(inter, a)
    assert pair_set(a[2]) == pair_set(b[2]) and pair_set(a[2]) != pair_set(c[2])


@pytest.mark.parametrize("per_user", [True, False])
def test_temporal_split_orders_by_time(per_user):
    inter = make()
    train, val, test = temporal_split(inter, (0.6, 0.2, 0.2), per_user=per_user)
    assert_partition(inter, (train, val, test))
    if per_user:

        def latest(p):
            return torch.full((p.num_users,), -1).scatter_reduce(
                0, p.user, p.timestamp, reduce="amax"
            )

        def earliest(p):
            return torch.full((p.num_users,), 10**9).scatter_reduce(
                0, p.user, p.timestamp, reduce="amin"
            )

        assert (latest(train) < earliest(val)).all()
        assert (latest(val) < earliest(test)).all()
    else:
        assert train.timestamp.max() < val.timestamp.min()
        assert val.timestamp.max() < test.timestamp.min()


def test_temporal_split_needs_timestamps():
    with pytest.raises(ValueError, match="timestamps"):
        temporal_split(make(timestamps=False))


def test_check_disjoint_detects_planted_overlap():
    train, val, test = random_split(make(), seed=0)
    leaked = concat([test, train.subset(torch.arange(7))])
    with pytest.raises(LeakageError) as err:
        check_disjoint(train, val, leaked, names=["train", "val", "test"])
    assert "'train' and 'test' share 7" in str(err.value)
    assert "'val'" not in str(err.value)
    with pytest.raises(LeakageError, match="'part 0' and 'part 1' share 7"):
        check_disjoint(train, leaked)
    check_disjoint(train, val, test)


def test_check_disjoint_rejects_mismatched_parts():
    a = make(num_users=10)
    b = Interactions(a.user, a.item, a.num_users + 1, a.num_items)
    with pytest.raises(ValueError, match="shape"):
        check_disjoint(a, b)
    with pytest.raises(ValueError, match="names"):
        check_disjoint(a, a, names=["only one"])


# --- empty inputs and empty parts -------------------------------------------------


def single_item(num_users: int) -> Interactions:
    zeros = torch.zeros(num_users, dtype=torch.long)
    return Interactions(torch.arange(num_users), zeros, num_users, 1)


def test_an_empty_input_is_refused():
    empty = make(num_users=3).subset(torch.zeros(0, dtype=torch.long))
    for split in (random_split, leave_one_out, temporal_split):
        with pytest.raises(DataError, match="empty set of interactions"):
            split(empty)
    with pytest.raises(DataError, match="0 pairs"):
        holdout(empty, 0.1)


@pytest.mark.parametrize("inter", [single_item(5), single_item(1)])
def test_a_single_item_or_a_single_pair_gives_a_clear_error(inter):
    with pytest.raises(DataError) as err:
        random_split(inter, (0.8, 0.1, 0.1))
    message = str(err.value)
    assert "'val' (ratio 0.1) would be empty" in message
    assert "at most 1" in message and "needs 3 pairs" in message
    assert "val_ratio" not in message


def test_a_whole_set_split_names_the_total():
    with pytest.raises(DataError, match="2 pairs in all are fewer than"):
        random_split(single_item(2), (0.8, 0.1, 0.1), per_user=False)


def test_an_explicit_zero_ratio_is_a_warning_not_an_error(caplog):
    inter = make()
    with caplog.at_level(logging.WARNING, logger="graphcl_rec"):
        train, val, test = random_split(inter, [0.8, 0, 0.2], seed=0)
    assert len(val) == 0 and len(train) and len(test)
    assert "'val' is empty (its ratio is 0)" in caplog.text
    with caplog.at_level(logging.WARNING, logger="graphcl_rec"):
        fit, none = holdout(inter, 0.0)
    assert len(none) == 0 and caplog.text.count("is empty (its ratio is 0)") == 2


def test_holdout_and_temporal_split_refuse_empty_parts():
    with pytest.raises(DataError, match="'val' \\(ratio 0.1\\) would be empty"):
        holdout(make(max_degree=2), 0.1)
    with pytest.raises(DataError, match="'part 1' \\(ratio 0.1\\) would be empty"):
        temporal_split(make(max_degree=2), (0.9, 0.1))


def test_leave_one_out_needs_a_user_with_three_pairs():
    with pytest.raises(DataError, match="3 or more pairs, but every user has at most"):
        leave_one_out(make(max_degree=2))


# --- cold pairs (user or item unseen in train) ------------------------------------


def naive_cold(train: Interactions, part: Interactions) -> list[bool]:
    users = set(train.user.tolist())
    items = set(train.item.tolist())
    return [
        u not in users or i not in items
        for u, i in zip(part.user.tolist(), part.item.tolist())
    ]


def sparse_items() -> Interactions:
    """Many items with one pair: a random split leaves some only in val/test."""
    return make(num_users=60, num_items=400, max_degree=12, seed=1)


def test_cold_pairs_are_kept_and_logged_by_default(caplog):
    inter = sparse_items()
    with caplog.at_level(logging.WARNING, logger="graphcl_rec"):
        train, val, test = random_split(inter, seed=0)
    count = sum(naive_cold(train, test))
    assert count > 0
    assert f"test: {count} of {len(test)} pairs have a user (0) or an item" in (
        caplog.text
    )
    assert "kept (cold='keep')" in caplog.text
    assert_partition(inter, (train, val, test))


@pytest.mark.parametrize("split", ["random", "temporal", "loo", "holdout"])
def test_cold_drop_removes_exactly_the_cold_pairs(split, caplog):
    inter = sparse_items()
    calls = {
        "random": lambda c: random_split(inter, seed=0, cold=c),
        "temporal": lambda c: temporal_split(inter, cold=c),
        "loo": lambda c: leave_one_out(inter, seed=0, cold=c),
        "holdout": lambda c: holdout(inter, 0.2, seed=0, cold=c),
    }[split]
    kept = calls("keep")
    with caplog.at_level(logging.WARNING, logger="graphcl_rec"):
        dropped = calls("drop")
    assert pair_set(dropped[0]) == pair_set(kept[0])
    for before, after in zip(kept[1:], dropped[1:]):
        cold = naive_cold(kept[0], before)
        warm = before.subset(torch.tensor([not c for c in cold], dtype=torch.bool))
        assert pair_set(after) == pair_set(warm)
        assert not any(naive_cold(dropped[0], after))
    assert "dropped (cold='drop')" in caplog.text


def test_bad_cold_choice():
    with pytest.raises(ValueError, match="'cold' must be one of \\['keep', 'drop'\\]"):
        random_split(make(), cold="remove")


def test_dropping_every_pair_of_a_part_is_an_error():
    # users 2 and 3 come last in time: their test pairs have no training pair
    inter = Interactions(
        torch.arange(4), torch.arange(4), 4, 4, timestamp=torch.arange(4)
    )
    _, _, test = temporal_split(inter, (0.5, 0.0, 0.5), per_user=False)
    assert len(test) == 2
    with pytest.raises(DataError, match="'test': all its 2 pairs are cold"):
        temporal_split(inter, (0.5, 0.0, 0.5), per_user=False, cold="drop")

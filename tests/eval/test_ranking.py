import pytest
import torch
from torch import nn

from graphcl_rec.data.interactions import Interactions, concat
from graphcl_rec.errors import LeakageError
from graphcl_rec.eval import evaluate, evaluate_embeddings, topk_metrics
from graphcl_rec.eval.groups import coverage

KS = [1, 5, 10, 40]
NUM_USERS, NUM_ITEMS = 53, 30


def exact_embeddings(seed, num_users=NUM_USERS, num_items=NUM_ITEMS, dim=8):
    """Embeddings whose dot products are exact in float32 and all distinct per user.

    Entries are multiples of 1/16 in [-1, 1] (products exact, |sum| <= dim), and a
    last coordinate adds ``item / 2**20`` as a tie-breaker, so any summation order
    (block size, BLAS kernel) gives bit-identical scores and a unique ranking.
    """
    gen = torch.Generator().manual_seed(seed)
    user = torch.randint(-16, 17, (num_users, dim), generator=gen) / 16
    item = torch.randint(-16, 17, (num_items, dim), generator=gen) / 16
    user = torch.cat([user, torch.ones(num_users, 1)], 1)
    item = torch.cat([item, (torch.arange(num_items) / 2**20).unsqueeze(1)], 1)
    return user.float(), item.float()


def random_pairs(seed, density, num_users=NUM_USERS, num_items=NUM_ITEMS):
    gen = torch.Generator().manual_seed(seed)
    mask = torch.rand(num_users, num_items, generator=gen) < density
    user, item = mask.nonzero(as_tuple=True)
    return Interactions(user, item, num_users, num_items)


@pytest.fixture
def case():
    """Train (exclude) and test (target) sets, disjoint; some users have no test."""
    user_emb, item_emb = exact_embeddings(0)
    both = random_pairs(1, 0.5)
    gen = torch.Generator().manual_seed(2)
    to_test = torch.rand(len(both), generator=gen) < 0.4
    test = both.subset(to_test & (both.user % 6 != 0))
    train = both.subset(~to_test)
    return user_emb, item_emb, train, test


def dense_reference(user_emb, item_emb, target, exclude, ks):
    scores = user_emb @ item_emb.T
    truth = target.user_lists()
    ex = None if exclude is None else exclude.user_lists()
    return scores, truth, ex, topk_metrics(scores, truth, ex, ks)


@pytest.mark.parametrize("batch_size", [1, 7, NUM_USERS, 1000, None])
def test_equals_dense_topk_metrics(case, batch_size):
    user_emb, item_emb, train, test = case
    scores, truth, ex, want = dense_reference(user_emb, item_emb, test, train, KS)
    got = evaluate_embeddings(
        user_emb, item_emb, test, exclude=train, k=KS, batch_size=batch_size
    )
    for name, value in want.items():
        assert got[name] == pytest.approx(value, rel=1e-12, abs=1e-15), name
    has_truth = torch.tensor([len(t) > 0 for t in truth])
    masked = scores.clone()
    masked[train.user, train.item] = float("-inf")
    for k in KS:
        vals, idx = torch.topk(masked[has_truth], min(k, NUM_ITEMS), dim=1)
        expected = coverage(idx, NUM_ITEMS, vals > float("-inf"))
        assert got[f"coverage@{k}"] == pytest.approx(expected)


def test_memory_budget_sizes_blocks(case):
    user_emb, item_emb, train, test = case
    tiny = evaluate_embeddings(
        user_emb, item_emb, test, train, k=KS, memory_budget_mb=1e-9
    )
    assert tiny == pytest.approx(
        evaluate_embeddings(user_emb, item_emb, test, train, k=KS, batch_size=1)
    )


def test_no_exclude_and_list_exclude(case):
    user_emb, item_emb, train, test = case
    *_, want = dense_reference(user_emb, item_emb, test, None, KS)
    got = evaluate_embeddings(user_emb, item_emb, test, None, k=KS)
    assert {n: got[n] for n in want} == pytest.approx(want)
    first, second = train.subset(train.item < 15), train.subset(train.item >= 15)
    assert evaluate_embeddings(
        user_emb, item_emb, test, [first, second, first], k=KS, batch_size=5
    ) == evaluate_embeddings(user_emb, item_emb, test, train, k=KS, batch_size=5)
    assert len(concat([first, second])) == len(train)


def test_excluded_items_never_ranked():
    # Excluded items score highest; truth = every other item. Precision@K can be 1
    # only if no excluded item entered the top K.
    user_emb, item_emb = exact_embeddings(3)
    item_emb[:10, -1] = 100.0
    ex = Interactions(
        torch.arange(NUM_USERS).repeat_interleave(10),
        torch.arange(10).repeat(NUM_USERS),
        NUM_USERS,
        NUM_ITEMS,
    )
    rest = torch.arange(10, NUM_ITEMS)
    target = Interactions(
        torch.arange(NUM_USERS).repeat_interleave(rest.numel()),
        rest.repeat(NUM_USERS),
        NUM_USERS,
        NUM_ITEMS,
    )
    for batch_size in (1, 8, None):
        out = evaluate_embeddings(
            user_emb, item_emb, target, ex, k=[1, 20], batch_size=batch_size
        )
        assert out["precision@1"] == 1.0
        assert out["precision@20"] == 1.0
        assert out["coverage@20"] == pytest.approx(20 / NUM_ITEMS)
    scores = user_emb @ item_emb.T
    assert (
        topk_metrics(scores, target.user_lists(), ex.user_lists(), [20])["precision@20"]
        == 1.0
    )


def test_leakage_error_counts_overlap(case):
    user_emb, item_emb, train, test = case
    planted = test.subset(torch.arange(4))
    leaky = concat([train, planted])
    with pytest.raises(LeakageError, match="^4 \\(user, item\\) pairs"):
        evaluate_embeddings(user_emb, item_emb, test, [leaky], k=KS)


def test_per_user_output(case):
    user_emb, item_emb, train, test = case
    out = evaluate_embeddings(
        user_emb, item_emb, test, train, k=[5, 10], per_user=True, batch_size=4
    )
    users = torch.unique(test.user)
    assert torch.equal(out["users"], users)
    means = evaluate_embeddings(user_emb, item_emb, test, train, k=[5, 10])
    for name, values in out.items():
        if name == "users":
            continue
        assert values.shape == (users.numel(),)
        assert values.dtype == torch.float64
        assert float(values.mean()) == pytest.approx(means[name])
    assert set(out) == {n for n in means if not n.startswith("coverage")} | {"users"}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"k": 0}, "'k'"),
        ({"batch_size": 0}, "'batch_size'"),
        ({"memory_budget_mb": 0}, "'memory_budget_mb'"),
        ({"user_emb": torch.zeros(3, 9)}, "cover"),
        ({"item_emb": torch.zeros(NUM_ITEMS, 4)}, r"\[U, d\]"),
        ({"user_emb": torch.full((NUM_USERS, 9), float("nan"))}, "NaN"),
        (
            {"exclude": Interactions(torch.tensor([0]), torch.tensor([0]), 1, 1)},
            "shape",
        ),
    ],
)
def test_bad_arguments(case, kwargs, match):
    user_emb, item_emb, train, test = case
    args = {"user_emb": user_emb, "item_emb": item_emb, "target": test}
    with pytest.raises(ValueError, match=match):
        evaluate_embeddings(**(args | kwargs))


def test_empty_target_raises(case):
    user_emb, item_emb, _, test = case
    with pytest.raises(ValueError, match="no pairs"):
        evaluate_embeddings(user_emb, item_emb, test.subset(test.user < 0))


class StubEncoder(nn.Module):
    def __init__(self, num_layers):
        super().__init__()
        self.num_layers = num_layers


class StubModel(nn.Module):
    def __init__(self, user_emb, item_emb, num_layers=2):
        super().__init__()
        self.encoder = StubEncoder(num_layers)
        self.user_emb = nn.Parameter(user_emb.clone())
        self.item_emb = nn.Parameter(item_emb.clone())
        self.calls = []

    def embed(self, adjs):
        self.calls.append((list(adjs), self.training, torch.is_grad_enabled()))
        return self.user_emb * 1.0, self.item_emb * 1.0


@pytest.mark.parametrize("training", [True, False])
def test_evaluate_restores_mode_and_excludes_graph(case, training):
    user_emb, item_emb, train, test = case
    model = StubModel(user_emb, item_emb)
    model.train(training)
    out = evaluate(model, train, test, k=KS, batch_size=9)
    assert model.training is training
    ((adjs, mode_inside, grad_inside),) = model.calls
    assert mode_inside is False and grad_inside is False
    assert len(adjs) == 2 and adjs[0] is adjs[1]
    assert adjs[0].shape == (NUM_USERS + NUM_ITEMS, NUM_USERS + NUM_ITEMS)
    assert adjs[0].layout == torch.sparse_csr
    assert out == pytest.approx(
        evaluate_embeddings(user_emb, item_emb, test, train, k=KS, batch_size=9)
    )


def test_evaluate_exclude_options(case):
    user_emb, item_emb, train, test = case
    model = StubModel(user_emb, item_emb, num_layers=0)
    out = evaluate(model, train, test, exclude=None, k=[5])
    assert out == pytest.approx(
        evaluate_embeddings(user_emb, item_emb, test, None, k=[5])
    )
    assert model.calls[0][0] == []
    per_user = evaluate(model, train, test, k=[5], per_user=True)
    assert "users" in per_user
    with pytest.raises(ValueError, match="'exclude'"):
        evaluate(model, train, test, exclude="train")


def test_evaluate_takes_embeddings(case):
    user_emb, item_emb, train, test = case
    out = evaluate((user_emb, item_emb), train, test, k=KS, batch_size=9)
    assert out == evaluate_embeddings(user_emb, item_emb, test, train, k=KS,
                                      batch_size=9)
    model = StubModel(user_emb, item_emb)
    assert out == pytest.approx(evaluate(model, train, test, k=KS, batch_size=9))
    assert evaluate((user_emb, item_emb), train, test, exclude=None, k=[5]) == (
        evaluate_embeddings(user_emb, item_emb, test, None, k=[5]))


def test_evaluate_takes_any_embedder(case):
    user_emb, item_emb, train, test = case

    class Plain:  # not an nn.Module: no mode, no parameters
        encoder = StubEncoder(0)

        def embed(self, adjs):
            assert adjs == []
            return user_emb, item_emb

    assert evaluate(Plain(), train, test, k=[5]) == evaluate_embeddings(
        user_emb, item_emb, test, train, k=[5])


@pytest.mark.parametrize("bad", [
    "model", nn.Linear(2, 2), (torch.zeros(2, 2),), (torch.zeros(2, 2), "x"),
])
def test_evaluate_rejects_other_arguments(case, bad):
    _, _, train, test = case
    with pytest.raises(TypeError, match=r"evaluate\(\) takes a"):
        evaluate(bad, train, test)


def test_evaluate_restores_mode_on_error(case):
    user_emb, item_emb, train, test = case

    class Broken(StubModel):
        def embed(self, adjs):
            raise RuntimeError("boom")

    model = Broken(user_emb, item_emb)
    with pytest.raises(RuntimeError, match="boom"):
        evaluate(model, train, test)
    assert model.training


def test_evaluation_on_device_equals_cpu(device):
    if device == "cpu":
        pytest.skip("compares a GPU's evaluation with the CPU's")
    from tests.conftest import random_interactions
    g = torch.Generator().manual_seed(3)
    train = random_interactions(40, 300, 900, seed=1)
    test = random_interactions(40, 300, 200, seed=2)
    test = Interactions(*_minus(test, train), 40, 300)
    eu, ei = torch.randn(40, 8, generator=g), torch.randn(300, 8, generator=g)
    cpu = evaluate_embeddings(eu, ei, test, train, k=[5, 20], per_user=True)
    dev = evaluate_embeddings(eu.to(device), ei.to(device), test.to(device),
                              train.to(device), k=[5, 20], per_user=True)
    assert cpu.keys() == dev.keys()
    for key in cpu:
        torch.testing.assert_close(dev[key].cpu(), cpu[key])


def _minus(a, b):
    """The pairs of ``a`` not in ``b`` (user and item tensors)."""
    keys_b = set(zip(b.user.tolist(), b.item.tolist()))
    kept = [(u, i) for u, i in zip(a.user.tolist(), a.item.tolist())
            if (u, i) not in keys_b]
    return torch.tensor([u for u, _ in kept]), torch.tensor([i for _, i in kept])

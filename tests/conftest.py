import os

import pytest
import torch
from hypothesis import settings

from graphcl_rec.data import Interactions

# CI replays a fixed set of examples (.ci/run sets HYPOTHESIS_PROFILE=ci); local runs
# draw new ones, which is how the fuzzers find new cases.
settings.register_profile("ci", derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture
def toy() -> Interactions:
    """6 users x 5 items, written out by hand."""
    pairs = [
        (0, 0),
        (0, 1),
        (1, 1),
        (1, 2),
        (2, 0),
        (2, 3),
        (3, 4),
        (4, 2),
        (4, 4),
        (5, 0),
        (5, 1),
        (5, 3),
    ]
    user = torch.tensor([p[0] for p in pairs])
    item = torch.tensor([p[1] for p in pairs])
    return Interactions(user, item, 6, 5)


def make_checkerboard(n: int = 20) -> tuple[Interactions, Interactions]:
    """Two communities by parity; one same-parity item per user is withheld.

    User ``u`` likes item ``i`` iff ``u % 2 == i % 2``. The withheld item of ``u`` is
    ``(u + 2 * (u // 2)) % n`` adjusted to u's parity, so every item is withheld by
    some user and a model must rank it first among that user's unseen items.
    """
    users, items = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    users, items = users.flatten(), items.flatten()
    like = users % 2 == items % 2
    held_item = (torch.arange(n) + 2 * (torch.arange(n) // 2)) % n
    held = like & (items == held_item[users])
    train = Interactions(users[like & ~held], items[like & ~held], n, n)
    test = Interactions(users[held], items[held], n, n)
    return train, test


@pytest.fixture
def checkerboard() -> tuple[Interactions, Interactions]:
    return make_checkerboard(20)


DEVICES = ["cpu"] + ([pytest.param("cuda:0", marks=pytest.mark.gpu)]
                     if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def device(request: pytest.FixtureRequest) -> str:
    """``"cpu"``, plus ``"cuda:0"`` (marked ``gpu``) where a GPU is present."""
    return request.param


@pytest.fixture
def generator() -> torch.Generator:
    return torch.Generator().manual_seed(0)


def random_interactions(
    num_users: int, num_items: int, num_pairs: int, seed: int = 0
) -> Interactions:
    g = torch.Generator().manual_seed(seed)
    keys = torch.randperm(num_users * num_items, generator=g)[:num_pairs]
    return Interactions(keys // num_items, keys % num_items, num_users, num_items)


# Unit tests use tiny tensors: one intra-op thread avoids thread wake-up costs that
# dominate such ops (and makes timings robust on a loaded 2-core machine).
torch.set_num_threads(1)


@pytest.fixture
def native_kernel(request: pytest.FixtureRequest) -> None:
    """Skips a test parametrised with ``ranker="native"`` where the kernel cannot
    be built (no C compiler, or ``GRAPHCL_REC_NATIVE=0``), naming the reason."""
    callspec = getattr(request.node, "callspec", None)
    if callspec is not None and callspec.params.get("ranker") == "native":
        from graphcl_rec import native

        try:
            native.load()
        except native.NativeUnavailable as err:
            pytest.skip(f"native kernel unavailable: {err}")


@pytest.fixture(autouse=True)
def _allocator_untouched(monkeypatch):
    """The training commands tune glibc's allocator; not in the test process.

    ``hold_freed_memory`` is process-wide and lasting, so tests that call
    ``graphcl-rec train`` in-process see a C library without ``mallopt`` instead
    (``tests/train/test_allocator.py`` checks the real call in child processes).
    """
    monkeypatch.setattr("graphcl_rec.train.allocator._glibc", lambda: None)
    monkeypatch.setattr("graphcl_rec.train.allocator._state",
                        {"allocator": "system", "reason": "not requested"})

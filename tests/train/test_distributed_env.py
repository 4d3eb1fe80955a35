"""The process group from the environment, sharding, per-rank seeds (no processes)."""

import pytest
import torch

from graphcl_rec.data.sampling import Batch
from graphcl_rec.train.ddp import rank_seed, take
from graphcl_rec.train.distributed import (
    backend_for,
    current,
    env_world_size,
    init_from_env,
    is_main_process,
    launched,
)

VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in VARS:
        monkeypatch.delenv(name, raising=False)


def test_one_process_without_a_launcher():
    assert env_world_size() == 1
    assert init_from_env("cpu") is None and current() is None
    assert is_main_process()
    with launched("cpu") as group:
        assert group is None


@pytest.mark.parametrize("value", ["two", "0", "-1"])
def test_refuses_a_bad_world_size(monkeypatch, value):
    monkeypatch.setenv("WORLD_SIZE", value)
    with pytest.raises(ValueError, match=f"WORLD_SIZE must be an int >= 1.*{value}"):
        env_world_size()


def test_names_the_missing_variables(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    with pytest.raises(ValueError, match=r"\['MASTER_ADDR', 'MASTER_PORT'\].*torchrun"):
        init_from_env("cpu")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_refuses_one_gpu_for_every_process(monkeypatch):
    for name, value in zip(VARS, ("0", "2", "0", "127.0.0.1", "29500")):
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match="puts all 2 processes on one GPU"):
        init_from_env("cuda:0")


def test_backend_follows_the_device():
    assert backend_for(torch.device("cpu")) == "gloo"
    assert backend_for(torch.device("cuda", 0)) == "nccl"


def test_each_process_takes_its_batch_of_a_step_with_its_weight():
    t = torch.arange
    step = [Batch(t(4), t(4) + 10, t(4) + 20), Batch(t(2), t(2), t(2).view(2, 1))]
    taken = [take(step, r, 2) for r in range(2)]
    assert [b.pos.tolist() for b, _ in taken] == [[10, 11, 12, 13], [0, 1]]
    # weights N n_r / n: the weighted mean of the two means is the mean of all six
    assert [w for _, w in taken] == pytest.approx([8 / 6, 4 / 6])


def test_a_process_without_a_batch_runs_one_triple_at_weight_zero():
    t = torch.arange(3)
    part, weight = take([Batch(t, t, t.view(3, 1))], 2, 3)
    assert weight == 0.0 and part.user.tolist() == [0] and part.neg.shape == (1, 1)


def test_rank_seeds_differ_by_seed_epoch_and_rank():
    seeds = {rank_seed(s, e, r) for s in range(3) for e in range(3) for r in range(3)}
    assert len(seeds) == 27 and all(0 <= s < 2**63 for s in seeds)
    assert rank_seed(1, 2, 3) == rank_seed(1, 2, 3)

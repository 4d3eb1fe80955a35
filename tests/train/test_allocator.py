import os
import subprocess
import sys
import textwrap

import pytest

from graphcl_rec.cli.main import parser, prepare_process
from graphcl_rec.train import allocator
from graphcl_rec.train.allocator import allocator_state, hold_freed_memory


class FakeLibc:
    """Records ``mallopt`` calls; refuses the parameters in ``refuse``."""

    def __init__(self, refuse=()):
        self.calls, self.refuse = [], set(refuse)

    def mallopt(self, param, value):
        self.calls.append((param, value))
        return 0 if param in self.refuse else 1

    def gnu_get_libc_version(self):
        return b"2.99"


@pytest.fixture
def clean_env(monkeypatch):
    for key in (*allocator.ENVIRONMENT_KEYS, "GLIBC_TUNABLES"):
        monkeypatch.delenv(key, raising=False)


@pytest.mark.parametrize("kwargs", [
    {"mmap_threshold": 0}, {"mmap_threshold": -5}, {"trim_threshold": 2**31},
    {"mmap_threshold": True}, {"mmap_threshold": 1.5e8},
    {"mmap_threshold": 2**20, "trim_threshold": 2**19},
])
def test_bad_thresholds_are_refused(kwargs):
    with pytest.raises(ValueError, match="threshold"):
        hold_freed_memory(**kwargs)


def test_sets_both_thresholds_and_records_them(monkeypatch, clean_env):
    libc = FakeLibc()
    monkeypatch.setattr(allocator, "_glibc", lambda: libc)
    state = hold_freed_memory(mmap_threshold=3 * 2**20, trim_threshold=5 * 2**20)
    assert libc.calls == [(allocator.M_MMAP_THRESHOLD, 3 * 2**20),
                          (allocator.M_TRIM_THRESHOLD, 5 * 2**20)]
    assert state == {"allocator": "glibc", "version": "2.99",
                     "mmap_threshold": 3 * 2**20, "trim_threshold": 5 * 2**20}
    assert allocator_state() == state
    allocator_state()["allocator"] = "changed"  # a copy: the record stays
    assert allocator_state() == state


def test_defaults_sit_above_the_adaptive_ceiling(monkeypatch, clean_env):
    libc = FakeLibc()
    monkeypatch.setattr(allocator, "_glibc", lambda: libc)
    hold_freed_memory()
    (_, mmap), (_, trim) = libc.calls
    assert 32 * 2**20 < mmap <= trim  # glibc's own threshold stops at 32 MiB


@pytest.mark.parametrize("key,value", [
    ("MALLOC_MMAP_THRESHOLD_", "1048576"), ("MALLOC_TRIM_THRESHOLD_", "0"),
    ("MALLOC_TOP_PAD_", "0"), ("MALLOC_MMAP_MAX_", "0"),
    ("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1"),
])
def test_the_users_environment_wins(monkeypatch, clean_env, key, value):
    libc = FakeLibc()
    monkeypatch.setattr(allocator, "_glibc", lambda: libc)
    monkeypatch.setenv(key, value)
    state = hold_freed_memory()
    assert libc.calls == []
    assert state == {"allocator": "system",
                     "reason": f"environment sets {key}={value}"}


def test_other_glibc_tunables_do_not_count(monkeypatch, clean_env):
    libc = FakeLibc()
    monkeypatch.setattr(allocator, "_glibc", lambda: libc)
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.pthread.rseq=0")
    assert hold_freed_memory()["allocator"] == "glibc" and len(libc.calls) == 2


def test_another_c_library_is_left_alone(monkeypatch, clean_env):
    monkeypatch.setattr(allocator, "_glibc", lambda: None)
    assert hold_freed_memory() == {"allocator": "system", "reason": "not glibc"}


@pytest.mark.parametrize("refuse,named", [
    ([allocator.M_MMAP_THRESHOLD], "mmap_threshold"),
    ([allocator.M_TRIM_THRESHOLD], "trim_threshold"),
])
def test_a_refused_threshold_is_reported(monkeypatch, clean_env, refuse, named):
    monkeypatch.setattr(allocator, "_glibc", lambda: FakeLibc(refuse))
    state = hold_freed_memory()
    assert state == {"allocator": "system", "reason": f"mallopt refused {named}"}


@pytest.mark.parametrize("argv,calls", [
    (["train", "c.toml"], 1), (["bench", "c.toml"], 1), (["run"], 1),
    (["train", "c.toml", "--system-malloc"], 0),
    (["bench", "c.toml", "--system-malloc"], 0), (["run", "--system-malloc"], 0),
    (["datasets"], 0),
])
def test_training_commands_tune_the_allocator(monkeypatch, argv, calls):
    seen = []
    monkeypatch.setattr("graphcl_rec.cli.main.hold_freed_memory",
                        lambda: seen.append(1))
    args, _ = parser().parse_known_args(argv)
    prepare_process(args)
    assert len(seen) == calls


CHILD = textwrap.dedent("""
    import resource, sys, torch
    from graphcl_rec.train.allocator import hold_freed_memory
    state = hold_freed_memory() if sys.argv[1] == "held" else None
    def faults():
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    torch.empty(12 * 2**20).fill_(1.0)  # 48 MiB: above glibc's 32 MiB ceiling
    before = faults()
    for _ in range(6):
        torch.empty(12 * 2**20).fill_(1.0)
    print(faults() - before, state and state["allocator"])
""")


@pytest.mark.skipif(allocator._glibc() is None, reason="glibc only")
def test_freed_blocks_are_reused_instead_of_faulted_again():
    env = {k: v for k, v in os.environ.items()
           if k not in allocator.ENVIRONMENT_KEYS and k != "GLIBC_TUNABLES"}
    out = {}
    for mode in ("system", "held"):
        res = subprocess.run([sys.executable, "-c", CHILD, mode], env=env,
                             capture_output=True, text=True, check=True, timeout=120)
        faults, state = res.stdout.split()
        out[mode] = int(faults)
        assert state == ("glibc" if mode == "held" else "None")
    # Six fresh 48 MiB blocks fault in ~12,000 pages each; reused ones do not.
    assert out["system"] > 6 * 8000
    assert out["held"] < out["system"] / 4

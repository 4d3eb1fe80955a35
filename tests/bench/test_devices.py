import pytest

from graphcl_rec.bench.devices import device_cell, device_label


def _run(model=None, name=None):
    device = {"type": "cuda", "name": name} if name else {"type": "cpu", "threads": 1}
    if model is not None:
        device["model"] = model
    return {"device": device}


def test_label_names_a_gpu_but_not_the_cpu_model():
    assert device_label(_run(name="NVIDIA H200")) == "cuda (NVIDIA H200)"
    assert device_label(_run("AMD EPYC")) == "cpu"
    assert device_label({}) == "cpu"


def test_cell_names_one_shared_cpu_model():
    assert device_cell([_run("AMD EPYC"), _run("AMD EPYC")]) == "cpu (AMD EPYC)"
    assert device_cell([_run(), _run()]) == "cpu"
    assert device_cell([_run(name="NVIDIA H200")]) == "cuda (NVIDIA H200)"


def test_cell_counts_each_model_when_seeds_ran_on_different_cpus():
    runs = [_run("Intel Xeon"), _run("AMD EPYC"), _run("AMD EPYC"), _run()]
    assert device_cell(runs) == (
        "cpu (AMD EPYC ×2, Intel Xeon ×1, model not recorded ×1)")


def test_cell_refuses_runs_of_two_device_kinds_or_none():
    with pytest.raises(ValueError, match="one device label"):
        device_cell([_run(), _run(name="NVIDIA H200")])
    with pytest.raises(ValueError, match="none"):
        device_cell([])

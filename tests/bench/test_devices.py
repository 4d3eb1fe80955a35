import pytest

from graphcl_rec.bench.devices import (
    UNLIKE_MARK,
    UNLIKE_NOTE,
    device_cell,
    device_label,
    median_epoch_seconds,
    median_train_seconds,
    timing_cell,
    timing_key,
    timing_keys,
)
from graphcl_rec.bench.report import results_table


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


def _timed(threads=1, model="AMD EPYC", allocator=None):
    run = {"device": {"type": "cpu", "threads": threads, "model": model}}
    if allocator is not None:
        run["allocator"] = {"allocator": allocator}
    return run


def test_timing_key_reads_model_threads_and_allocator():
    assert timing_key(_timed(2, "X", "glibc")) == ("cpu", "X", 2, "glibc")
    # Files from before the field ran with the system's allocator.
    assert timing_key(_timed()) == timing_key(_timed(allocator="system"))
    assert timing_key({}) == ("cpu", "model not recorded", None, "system")


def test_timing_cell_is_a_mean_for_alike_runs():
    assert timing_cell([1.0, 2.0, 6.0], [_timed()] * 3) == "3.00"
    assert timing_cell([1000.4, 1200.4], [_timed()] * 2, digits=0) == "1100"


@pytest.mark.parametrize("other", [_timed(threads=2), _timed(model="Intel Xeon"),
                                   _timed(allocator="glibc")])
def test_timing_cell_is_a_marked_range_for_unlike_runs(other):
    cell = timing_cell([3.0, 1.0, 2.0], [_timed(), _timed(), other])
    assert cell == f"1.00–3.00 {UNLIKE_MARK}"


def test_timing_cell_keeps_one_number_when_the_range_rounds_to_a_point():
    assert timing_cell([2.001, 2.002], [_timed(), _timed(threads=2)]) == "2.00"


def test_timing_cell_needs_a_value():
    with pytest.raises(ValueError, match="at least one"):
        timing_cell([], [])


def test_results_table_notes_a_range(tmp_path):
    def result(seed, seconds, threads):
        return {"name": "c", "protocol": "validated", "seed": seed,
                "config": {"data": {"dataset": "gowalla"},
                           "model": {"objective": "bpr"}, "train": {"epochs": 5}},
                "test": {"recall@20": 0.1, "ndcg@20": 0.1}, "best_epoch": 5,
                "epochs_run": 5, "seconds_per_epoch": seconds,
                "seconds_per_eval": 1.0, "peak_memory_mb": 900.0,
                "history": [{"epoch": 5, "val": {"recall@20": 0.1}}],
                "path": str(tmp_path / f"c-seed{seed}.json"),
                **_timed(threads)}

    alike = results_table([result(0, 10.0, 1), result(1, 20.0, 1)], tmp_path)
    assert "| 15.00 | 1.00 | 900 |" in alike[2] and UNLIKE_NOTE not in alike
    unlike = results_table([result(0, 10.0, 1), result(1, 20.0, 2)], tmp_path)
    # Equal figures stay one number, whatever the runs.
    assert f"| 10.00–20.00 {UNLIKE_MARK} | 1.00 | 900 |" in unlike[2]
    assert unlike[-2:] == ["", UNLIKE_NOTE]
    refit = result(0, 10.0, 1) | {"protocol": "refit", "history": [{"epoch": 5}]}
    assert "| 10.00 | — | 900 |" in results_table([refit], tmp_path)[2]


def test_timing_keys_of_a_run_are_those_of_its_parts():
    one, two = _timed(), _timed(threads=2)
    assert timing_keys(one) == {timing_key(one)}
    assert timing_keys({**two, "parts": [one, one]}) == {timing_key(one)}
    # A part from before the fields: not known, so unlike any recorded one.
    assert len(timing_keys({**one, "parts": [{"from_epoch": 1}, one]})) == 2


def test_timing_cell_marks_a_run_whose_parts_differ():
    mixed = {**_timed(), "parts": [_timed(), _timed(threads=2)]}
    assert timing_cell([2.0], [mixed]) == f"2.00 {UNLIKE_MARK}"
    assert timing_cell([2.0, 2.0], [mixed, _timed()]) == f"2.00 {UNLIKE_MARK}"
    assert timing_cell([1.0, 3.0], [mixed, mixed]) == f"1.00–3.00 {UNLIKE_MARK}"
    alike = {**_timed(), "parts": [_timed(), _timed()]}
    assert timing_cell([1.0, 3.0], [alike, _timed()]) == "2.00"


def test_median_epoch_seconds_ignores_a_paused_epoch_and_falls_back_to_the_mean():
    history = [{"train_seconds": 10.0}, {"train_seconds": 7000.0},
               {"train_seconds": 12.0}, {"train_seconds": 11.0}]
    assert median_epoch_seconds({"history": history,
                                 "seconds_per_epoch": 1758.25}) == 11.5
    assert median_train_seconds([{"epoch": 1}]) is None
    assert median_epoch_seconds({"history": [{"epoch": 1}],
                                 "seconds_per_epoch": 3.0}) == 3.0

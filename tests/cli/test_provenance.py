import torch

from graphcl_rec.cli.provenance import cpu_model, device_info


def test_cpu_model_reads_the_first_model_name(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nvendor_id\t: X\nmodel name\t: Some CPU @ 2GHz\n\n"
                    "processor\t: 1\nmodel name\t: Some CPU @ 2GHz\n")
    assert cpu_model(info) == "Some CPU @ 2GHz"


def test_cpu_model_is_none_without_one(tmp_path):
    assert cpu_model(tmp_path / "missing") is None
    (tmp_path / "empty").write_text("processor\t: 0\nmodel name\t:\n")
    assert cpu_model(tmp_path / "empty") is None


def test_cpu_device_info_names_the_model_when_known():
    info = device_info(torch.device("cpu"))
    assert info["type"] == "cpu" and info["threads"] >= 1
    assert info.get("model") == cpu_model()

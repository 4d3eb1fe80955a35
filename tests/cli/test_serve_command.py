"""``graphcl-rec serve RUN_DIR``: the HTTP service from the command line."""

import sys

import pytest

from graphcl_rec.cli.main import main
from tests.serve.runs import delimited, ratings_file, train_run


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve-run")
    return train_run(root, delimited(ratings_file(root)), encoder="mf")


def call(capsys, *argv):
    capsys.readouterr()
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err.strip()


def test_without_the_extra_one_line_says_how_to_install_it(run, capsys,
                                                           monkeypatch):
    monkeypatch.setitem(sys.modules, "fastapi", None)  # import fastapi fails
    code, out, err = call(capsys, "serve", run.folder)
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert err == ("graphcl-rec: error: ImportError: serving over HTTP needs FastAPI "
                   "and uvicorn (the 'serve' extra): pip install 'graphcl-rec[serve]'")


@pytest.mark.parametrize("argv, detail", [
    (["--port", "70000"], "argument --port: must be in 0..65535 (got 70000)"),
    (["--update-every", "-1"], "argument --update-every: must be >= 0 seconds"),
    (["--update-every", "inf"], "argument --update-every: must be >= 0 seconds"),
    (["--update-epochs", "0"], "argument --update-epochs: must be >= 1 (got 0)"),
])
def test_bad_options(run, capsys, argv, detail):
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    code, _, err = call(capsys, "serve", run.folder, *argv)
    assert code == 2 and len(err.splitlines()) == 1 and detail in err


@pytest.mark.parametrize("argv, every, unknown", [
    ([], 60.0, "error"),
    (["--update-every", "0", "--unknown", "popular", "--update-epochs", "3"], None,
     "popular"),
])
def test_serves_the_run_with_uvicorn(run, capsys, monkeypatch, argv, every, unknown):
    pytest.importorskip("fastapi")
    uvicorn = pytest.importorskip("uvicorn")
    from fastapi.testclient import TestClient

    served = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.update(app=app, **kw))
    code, out, _ = call(capsys, "serve", run.folder, "--port", "8123",
                        "--log-level", "warning", *argv)
    assert code == 0 and "on http://127.0.0.1:8123" in out
    assert (served["host"], served["port"], served["log_level"]) == (
        "127.0.0.1", 8123, "warning")
    with TestClient(served["app"]) as client:
        health = client.get("/health").json()
        assert health["update_every"] == every
        assert health["update_epochs"] == (3 if argv else 1)
        assert health["users"] == 30 and health["items"] == 40
        status = client.get("/recommend?user=nobody").status_code
        assert status == (404 if unknown == "error" else 200)

"""The backend registry: one list of names behind the config's check, the
CLI's choices, the bench and "auto"; each backend says what it runs on."""
import argparse

import pytest

import edge_fakes
from edge_app import AppConfig, bench
from edge_app.backends import backend_choices, backend_names, default_model, open_backend, resolve_backend
from edge_app.backends.acl import AclBackend
from edge_app.backends.base import REGISTRY, Backend
from edge_app.cli import build_parser
from edge_app.errors import InpaintError


class _Recorder(Backend):
    """A backend that only records how it was opened."""

    name = "recorder"

    @classmethod
    def default_model(cls, config):
        return "bundled.rec"

    @classmethod
    def open(cls, model_path, config):
        backend = cls()
        backend.model_path = model_path
        return backend


@pytest.fixture
def recorder(monkeypatch):
    """_Recorder registered for the test only."""
    monkeypatch.setitem(REGISTRY, _Recorder.name, _Recorder)
    return _Recorder


def _parses(parser, argv):
    try:
        parser.parse_args(argv)
    except SystemExit:
        return False
    return True


def test_both_backends_are_registered_and_auto_is_a_choice():
    assert set(backend_names()) == {"acl", "onnxruntime"}
    assert backend_choices() == ("auto",) + backend_names()
    for name in backend_choices():
        AppConfig(backend=name).check()
    with pytest.raises(ValueError, match="backend must be one of auto, "):
        AppConfig(backend="tpu").check()
    with pytest.raises(InpaintError, match="unknown backend 'tpu'"):
        resolve_backend("tpu")


def test_the_registry_drives_the_config_the_cli_and_the_bench(recorder):
    AppConfig().with_options(backend="recorder")
    inpaint = ["inpaint", "a.png", "m.png", "-o", "o.png", "--backend"]
    assert _parses(build_parser(), inpaint + ["recorder"]) and not _parses(build_parser(), inpaint + ["tpu"])
    sub = argparse.ArgumentParser().add_subparsers(dest="command")
    bench_parser = bench.add_parser(sub)
    assert _parses(bench_parser, ["--backend", "recorder", "--out", "r.json"])
    assert default_model("recorder") == "bundled.rec"
    with open_backend("recorder") as backend:
        assert isinstance(backend, _Recorder) and backend.model_path == "bundled.rec"
    assert open_backend("recorder", "other.rec").model_path == "other.rec"


def test_auto_takes_the_first_available_backend(monkeypatch):
    monkeypatch.setattr(AclBackend, "available", classmethod(lambda cls: False))
    assert resolve_backend("auto") == "onnxruntime"
    assert default_model("auto") == AppConfig().onnx_model
    monkeypatch.setattr(AclBackend, "available", classmethod(lambda cls: True))
    assert resolve_backend("auto") == "acl"
    assert default_model("auto") == AppConfig().om_model


def test_each_backend_says_what_it_runs_on(acl, tmp_path):
    with open_backend("onnxruntime", edge_fakes.fake_hifill(tmp_path / "fake.onnx")) as backend:
        assert backend.providers[0] == "CPUExecutionProvider"
        assert backend.precision() == ("fp32", "default") and backend.accelerator() is None
    with open_backend("acl", edge_fakes.fake_om(tmp_path, "fake")) as backend:
        assert backend.providers == [] and backend.precision() == ("fp16", "default")
        assert backend.accelerator() == "Ascend310 (acl stand-in, no NPU)"  # never passed off as an NPU

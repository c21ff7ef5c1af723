"""The backend registry: one list of names behind the CLI's choices, the
Inpainter, the bench and "auto"; it alone checks a backend's name; each
backend says what it runs on and takes its settings as arguments."""
import argparse

import pytest

import edge_fakes
from edge_app import AppConfig, Inpainter, bench
from edge_app.backends import backend_choices, backend_names, open_backend, resolve_backend
from edge_app.backends.acl import AclBackend
from edge_app.backends.base import REGISTRY, Backend
from edge_app.cli import build_parser
from edge_app.errors import InpaintError
from edge_app.pipeline import open_configured_backend


class _Recorder(Backend):
    """A backend that only records how it was opened."""

    name = "recorder"
    model_option = "onnx_model"

    @classmethod
    def open(cls, model_path, device_id=0, cra_matmul_model="", threads=0):
        backend = cls()
        backend.model_path, backend.device_id, backend.cra_matmul_model = model_path, device_id, cra_matmul_model
        backend.threads = threads
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
        assert resolve_backend(name) in backend_names()
    with pytest.raises(InpaintError, match="unknown backend 'tpu'"):
        resolve_backend("tpu")
    with pytest.raises(InpaintError, match="unknown backend 'tpu'"):
        Inpainter(backend="tpu")


def test_the_registry_drives_the_cli_the_bench_and_the_inpainter(recorder):
    inpaint = ["inpaint", "a.png", "m.png", "-o", "o.png", "--backend"]
    assert _parses(build_parser(), inpaint + ["recorder"]) and not _parses(build_parser(), inpaint + ["tpu"])
    sub = argparse.ArgumentParser().add_subparsers(dest="command")
    bench_parser = bench.add_parser(sub)
    assert _parses(bench_parser, ["--backend", "recorder", "--out", "r.json"])
    with Inpainter(backend="recorder") as inpainter:
        assert isinstance(inpainter.backend, _Recorder) and inpainter.backend.model_path == AppConfig().onnx_model
    config = AppConfig(backend="recorder", onnx_model="mine.rec", device_id=2, cra_matmul_model="p.om",
                       network_threads=3, fill="network")
    opened = open_configured_backend(config)
    assert (opened.model_path, opened.device_id, opened.cra_matmul_model, opened.threads) == ("mine.rec", 2, "p.om", 3)
    assert open_configured_backend(config, "other.rec").model_path == "other.rec"
    assert open_backend("recorder", "x.rec", 1).device_id == 1


def test_auto_takes_the_first_available_backend(monkeypatch):
    monkeypatch.setattr(AclBackend, "available", classmethod(lambda cls: False))
    assert resolve_backend("auto") == "onnxruntime"
    monkeypatch.setattr(AclBackend, "available", classmethod(lambda cls: True))
    assert resolve_backend("auto") == "acl"
    assert [REGISTRY[n].model_option for n in ("acl", "onnxruntime")] == ["om_model", "onnx_model"]


def test_each_backend_says_what_it_runs_on(acl, tmp_path):
    with open_backend("onnxruntime", edge_fakes.fake_hifill(tmp_path / "fake.onnx")) as backend:
        assert backend.providers[0] == "CPUExecutionProvider"
        assert backend.precision() == ("fp32", "default") and backend.accelerator() is None
    with open_backend("acl", edge_fakes.fake_om(tmp_path, "fake")) as backend:
        assert backend.providers == [] and backend.precision() == ("fp16", "default")
        assert backend.accelerator() == "Ascend310 (acl stand-in, no NPU)"  # never passed off as an NPU

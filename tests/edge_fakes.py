"""Test fakes for edge_app: interface-compatible HiFill models and the acl stand-in.

``fake_hifill`` writes an ONNX model with exactly the interface of
edge_app/interface.py (opset 11), cheap enough for tests:
inpainted = normalised box blur of the known pixels inside the hole (or,
``fill="mean"``, their mean over the whole view), the input outside; attention = uniform over the cells whose 3 x 3 neighbourhood
of 16 x 16 blocks is fully known (as the ACM masks keys), the same for every
query; mask_processed = max(mask, 7 x 7 box blur of the mask). ``fake_om``
and ``om_model`` add the ``.om`` name the acl stand-in runs as its ONNX twin.
``HeldRuns`` makes a backend a network whose runs the test lets go one by
one (a slow network, without sleeps or timed assertions).

tests/conftest.py loads this module as a plugin (the ``acl`` fixture); test
modules import it for the model builders.
"""
import importlib
import shutil
import sys
import threading
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from edge_app import interface

#: The folder holding the pyACL stand-in package ``acl`` (not importable unless put on sys.path).
STANDIN = str(Path(__file__).resolve().parent / "acl_standin")
#: acl.util API sets of CANN releases, as acl.standin.use_util_api takes them.
UTIL_APIS = ("bytes", "numpy")


def _forget_acl() -> None:
    for name in [n for n in sys.modules if n == "acl" or n.startswith("acl.")]:
        del sys.modules[name]


@pytest.fixture(params=UTIL_APIS)
def acl(request, monkeypatch):
    """The pyACL stand-in, importable only during the test and freshly imported
    (a new process as far as acl can tell), offering the acl.util functions of
    one CANN release: a test using it runs under each. Fails the test if
    anything but acl.init (kept until exit, as on the board) is left."""
    _forget_acl()
    monkeypatch.syspath_prepend(STANDIN)
    module = importlib.import_module("acl")
    module.standin.use_util_api(request.param)
    yield module
    leaked = [entry for entry in module.standin.outstanding() if entry["kind"] != "init"]
    _forget_acl()
    assert leaked == [], "the test leaked ACL resources"


def _const(name, value):
    arr = np.asarray(value, dtype=np.float32)
    return helper.make_node("Constant", [], [name], value=helper.make_tensor(
        name + "_v", TensorProto.FLOAT, arr.shape, arr.ravel().tolist()))


def _shape_const(name, values):
    return helper.make_node("Constant", [], [name], value=helper.make_tensor(
        name + "_v", TensorProto.INT64, [len(values)], list(values)))


def _fill_sums(fill):
    """Nodes giving ``num`` and ``den``, sums of the known pixels and of the
    known mask: over 15 x 15 windows ("blur": a wide hole keeps 0 in its
    middle) or over the whole view ("mean": any hole is filled)."""
    if fill == "blur":
        return [helper.make_node("AveragePool", [x], [y], kernel_shape=[15, 15], pads=[7] * 4, count_include_pad=1)
                for x, y in (("xk", "num"), ("known", "den"))]
    if fill == "mean":
        return [helper.make_node("ReduceMean", [x], [y], axes=[2, 3], keepdims=1)
                for x, y in (("xk", "num"), ("known", "den"))]
    raise ValueError("fill must be blur or mean")


def fake_hifill_model(size=interface.MODEL_SIZE, outputs=None, version=interface.INTERFACE_VERSION, fill="blur"):
    """The ModelProto; ``size``/``outputs`` let tests build wrong models;
    ``fill``: "blur" (the known pixels' 15 x 15 box mean) or "mean" (their
    mean over the whole view) in the hole."""
    grid = interface.ATTENTION_GRID
    cells = interface.ATTENTION_CELLS
    nodes = [
        _const("one", 1.0), _const("eps", 1e-3), _const("tiny", 1e-6),
        helper.make_node("Transpose", ["img"], ["x"], perm=[0, 3, 1, 2]),
        helper.make_node("Transpose", ["mask"], ["m"], perm=[0, 3, 1, 2]),
        helper.make_node("Sub", ["one", "m"], ["known"]),
        helper.make_node("Mul", ["x", "known"], ["xk"]),
    ] + _fill_sums(fill) + [
        helper.make_node("Max", ["den", "eps"], ["den_safe"]),
        helper.make_node("Div", ["num", "den_safe"], ["fill"]),
        helper.make_node("Mul", ["fill", "m"], ["fill_hole"]),
        helper.make_node("Add", ["fill_hole", "xk"], ["out_nchw"]),
        helper.make_node("Transpose", ["out_nchw"], ["inpainted"], perm=[0, 2, 3, 1]),
        helper.make_node("MaxPool", ["m"], ["m32"], kernel_shape=[size // grid] * 2, strides=[size // grid] * 2),
        helper.make_node("MaxPool", ["m32"], ["m32d"], kernel_shape=[3, 3], pads=[1] * 4),
        helper.make_node("Sub", ["one", "m32d"], ["valid"]),
        _shape_const("row_shape", [1, 1, 1, cells]),
        helper.make_node("Reshape", ["valid", "row_shape"], ["row"]),
        helper.make_node("ReduceSum", ["row"], ["total"], axes=[3], keepdims=1),
        helper.make_node("Max", ["total", "tiny"], ["total_safe"]),
        helper.make_node("Div", ["row", "total_safe"], ["att_row"]),
        _shape_const("att_shape", [1, grid, grid, cells]),
        helper.make_node("Expand", ["att_row", "att_shape"], ["attention"]),
        helper.make_node("AveragePool", ["m"], ["m_blur"], kernel_shape=[7, 7], pads=[3] * 4, count_include_pad=1),
        helper.make_node("Max", ["m_blur", "m"], ["soft"]),
        helper.make_node("Transpose", ["soft"], ["mask_processed"], perm=[0, 2, 3, 1]),
    ]
    shapes = {"inpainted": [1, size, size, 3], "attention": [1, grid, grid, cells],
              "mask_processed": [1, size, size, 1]}
    outputs = outputs or list(shapes)
    graph = helper.make_graph(
        nodes, "fake_hifill",
        [helper.make_tensor_value_info("img", TensorProto.FLOAT, [1, size, size, 3]),
         helper.make_tensor_value_info("mask", TensorProto.FLOAT, [1, size, size, 1])],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, shapes[name]) for name in outputs])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])
    model.ir_version = 7
    helper.set_model_props(model, {"interface_version": version, "source": "tests/edge_fakes.py"})
    onnx.checker.check_model(model)
    return model


def fake_hifill(path, **kwargs) -> str:
    """Write the fake model to ``path`` (.onnx); return the path."""
    onnx.save(fake_hifill_model(**kwargs), str(path))
    return str(path)


def fake_om(directory, name="hifill", **kwargs) -> str:
    """An ``name.om`` placeholder with its ONNX twin, for the acl stand-in."""
    return _om_twin(fake_hifill(directory / (name + ".onnx"), **kwargs))


def om_model(directory, name: str, nodes, inputs, outputs) -> str:
    """A small opset-11 graph (onnx.helper nodes and value infos) as
    ``name.om`` with its ONNX twin, for the acl stand-in."""
    model = helper.make_model(helper.make_graph(nodes, name, inputs, outputs),
                              opset_imports=[helper.make_opsetid("", 11)])
    model.ir_version = 7
    path = str(directory / (name + ".onnx"))
    onnx.save(model, path)
    return _om_twin(path)


def unsigned_om(directory) -> str:
    """``unsigned.om``: y0, y1, y2 = x0, x1, x2, uint16 / uint32 / uint64 [1, 2]."""
    types = (TensorProto.UINT16, TensorProto.UINT32, TensorProto.UINT64)
    return om_model(directory, "unsigned", [helper.make_node("Identity", ["x%d" % i], ["y%d" % i]) for i in range(3)],
                    [helper.make_tensor_value_info("x%d" % i, t, [1, 2]) for i, t in enumerate(types)],
                    [helper.make_tensor_value_info("y%d" % i, t, [1, 2]) for i, t in enumerate(types)])


def gather_om(directory) -> str:
    """``gather.om``: picked [1] = data [4] (float32) at index [1] (int64); an
    index out of range makes the run itself fail."""
    return om_model(directory, "gather", [helper.make_node("Gather", ["data", "index"], ["picked"])],
                    [helper.make_tensor_value_info("data", TensorProto.FLOAT, [4]),
                     helper.make_tensor_value_info("index", TensorProto.INT64, [1])],
                    [helper.make_tensor_value_info("picked", TensorProto.FLOAT, [1])])


def cra_matmul_om(directory, patch_values: int, name="cra_matmul") -> str:
    """The CRA product model for the acl stand-in: aggregated [1024, P] =
    attention [1024, 1024] @ patches [1024, P] (what ``convert cra-matmul``
    makes), as ``name.om`` with its ONNX twin."""
    cells = interface.ATTENTION_CELLS
    return om_model(directory, name, [helper.make_node("MatMul", ["attention", "patches"], ["aggregated"])],
                    [helper.make_tensor_value_info("attention", TensorProto.FLOAT, [cells, cells]),
                     helper.make_tensor_value_info("patches", TensorProto.FLOAT, [cells, patch_values])],
                    [helper.make_tensor_value_info("aggregated", TensorProto.FLOAT, [cells, patch_values])])


def _om_twin(onnx_path: str) -> str:
    om_path = onnx_path[:-len(".onnx")] + ".om"
    shutil.copyfile(onnx_path, om_path)
    return om_path


class HeldRuns:
    """A backend's runs recorded (their ``img`` input and thread) and, from
    run ``hold_from`` on (1 = the first), held until the test lets them go
    (``allow``): a network as slow as the test wants. Runs from
    ``shift_from`` on get ``shift`` added to their inpainted output (a
    network whose fill changes). ``wait_started(n)`` waits until run n
    began; the timeouts only keep a broken test from hanging."""

    TIMEOUT = 60.0

    def __init__(self, backend, hold_from: int = 2, shift: float = 0.0, shift_from: int = 2):
        self._run = backend.run
        backend.run = self.run
        self.hold_from, self.shift, self.shift_from = hold_from, shift, shift_from
        self.inputs = []  # img of each run, in the order they began
        self.threads = []
        self.finished = 0
        self._allowed = hold_from - 1
        self._lock = threading.Condition()

    def run(self, img, mask):
        with self._lock:
            self.inputs.append(img.copy())
            self.threads.append(threading.current_thread().name)
            n = len(self.inputs)
            self._lock.notify_all()
            assert self._lock.wait_for(lambda: n <= self._allowed, self.TIMEOUT), "run {} held too long".format(n)
        inpainted, attention, blend = self._run(img, mask)
        if n >= self.shift_from and self.shift:
            inpainted = inpainted + np.float32(self.shift)
        with self._lock:
            self.finished += 1
            self._lock.notify_all()
        return inpainted, attention, blend

    @property
    def started(self) -> int:
        with self._lock:
            return len(self.inputs)

    def allow(self, runs: int) -> None:
        """Let runs up to number ``runs`` go."""
        with self._lock:
            self._allowed = max(self._allowed, runs)
            self._lock.notify_all()

    def wait_started(self, runs: int) -> None:
        with self._lock:
            began = self._lock.wait_for(lambda: len(self.inputs) >= runs, self.TIMEOUT)
            assert began, "run {} never began".format(runs)

"""acl.op: single operators (MatMul / BatchMatMul, as the sample's CRA product).

``set_model_dir`` (once per process) loads the single-operator models of a
folder and two levels below it; an operator runs only if one was found for
its type. The stand-in reads the type from ATC's file name
(``0_BatchMatMul_<dtype>_<format>_<dims>...om``), not from the model.
``execute_v2`` launches on the stream: inputs are read and outputs written
when the stream is synchronised, not before.
"""
import ctypes
import os

import numpy as np

from . import _core
from ._core import STATE

_DTYPES = {0: np.float32, 1: np.float16}
#: Operators the stand-in can compute.
_COMPUTED = ("MatMul", "BatchMatMul")
#: Levels set_model_dir reads: the folder and two below it.
_DIR_DEPTH = 3


def _op_types(folder: str, depth: int):
    """Operator types of the ``.om`` files in ``folder`` and ``depth - 1`` levels below it."""
    types = set()
    for entry in sorted(os.listdir(folder)):
        path = os.path.join(folder, entry)
        if os.path.isdir(path) and depth > 1:
            types |= _op_types(path, depth - 1)
        elif os.path.isfile(path) and entry.endswith(".om") and entry.count("_") >= 1:
            types.add(entry.split("_")[1].split(".")[0])
    return types


def set_model_dir(path: str) -> int:
    if not STATE.initialized:
        return _core.UNINITIALIZE
    if STATE.op_types is not None:
        return _core.REPEAT_INITIALIZE
    if not isinstance(path, str) or not os.path.isdir(path):
        return _core.READ_MODEL_FAILURE
    STATE.op_types = _op_types(path, _DIR_DEPTH)
    return _core.SUCCESS


def create_attr() -> int:
    return STATE.new("attr", {}) if STATE.initialized else 0


def destroy_attr(attr: int) -> int:
    return STATE.drop(attr, "attr")


def set_attr_bool(attr: int, name: str, value) -> int:
    entry = STATE.get(attr, "attr")
    if entry is None:
        return _core.INVALID_PARAM
    entry[1][name] = bool(value)
    return _core.SUCCESS


def _tensor(desc: int, buf: int):
    """(dtype, dims, address) of a tensor description over device memory, else None."""
    entry = STATE.get(desc, "tensor_desc")
    region = STATE.device_region(buf)
    if entry is None or region is None or entry[1][0] not in _DTYPES:
        return None
    dtype = np.dtype(_DTYPES[entry[1][0]])
    dims = entry[1][1]
    if int(np.prod(dims)) * dtype.itemsize > region[1]:
        return None
    return dtype, dims, region[0]


def _transposes(attr: int):
    """(transpose x1, transpose x2) from the attributes (transpose_x* for MatMul, adj_x* for BatchMatMul)."""
    attrs = STATE.get(attr, "attr")[1] if STATE.get(attr, "attr") else {}
    return (bool(attrs.get("transpose_x1") or attrs.get("adj_x1")),
            bool(attrs.get("transpose_x2") or attrs.get("adj_x2")))


def _product_shape(a_dims, b_dims, transposes):
    """The result's shape, or None when the operands do not multiply."""
    if len(a_dims) < 2 or len(b_dims) < 2:
        return None
    a = a_dims[-2:][::-1] if transposes[0] else a_dims[-2:]
    b = b_dims[-2:][::-1] if transposes[1] else b_dims[-2:]
    try:
        batch = np.broadcast_shapes(tuple(a_dims[:-2]), tuple(b_dims[:-2]))
    except ValueError:
        return None
    return list(batch) + [a[0], b[1]] if a[1] == b[0] else None


def _run(tensors, transposes) -> int:
    """The product, read from and written to device memory (when the stream runs it)."""
    arrays = []
    for (dtype, dims, address), transpose in zip(tensors[:2], transposes):
        count = int(np.prod(dims)) * dtype.itemsize
        if STATE.find(address, count)[0] is None:
            return _core.INTERNAL_ERROR  # freed before the stream ran the task
        arr = np.frombuffer(ctypes.string_at(address, count), dtype=dtype).reshape(dims).astype(np.float32)
        arrays.append(np.swapaxes(arr, -1, -2) if transpose else arr)
    dtype, dims, address = tensors[2]
    data = np.matmul(*arrays).astype(dtype).tobytes()
    if STATE.find(address, len(data))[0] is None:
        return _core.INTERNAL_ERROR
    ctypes.memmove(address, data, len(data))
    return _core.SUCCESS


def execute_v2(op_type: str, in_descs, in_bufs, out_descs, out_bufs, attr: int, stream: int) -> int:
    """Launch MatMul / BatchMatMul on ``stream``: OP_NOT_FOUND without a
    model for ``op_type`` from set_model_dir, API_NOT_SUPPORT for operators
    the stand-in cannot compute; the result is there after synchronize_stream."""
    ret = STATE.ready()
    if ret:
        return ret
    if STATE.op_types is None or op_type not in STATE.op_types:
        return _core.OP_NOT_FOUND
    if op_type not in _COMPUTED:
        return _core.API_NOT_SUPPORT
    if len(in_descs) != 2 or len(out_descs) != 1 or len(in_bufs) != 2 or len(out_bufs) != 1:
        return _core.INVALID_PARAM
    tensors = [_tensor(d, b) for d, b in zip(list(in_descs) + list(out_descs), list(in_bufs) + list(out_bufs))]
    queue = STATE.get(stream, "stream")
    if any(t is None for t in tensors) or queue is None:
        return _core.INVALID_PARAM
    transposes = _transposes(attr)
    if _product_shape(tensors[0][1], tensors[1][1], transposes) != list(tensors[2][1]):
        return _core.INVALID_PARAM
    queue[1].append(lambda: _run(tensors, transposes))
    return _core.SUCCESS

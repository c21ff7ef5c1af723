"""acl.op: single operators (MatMul / BatchMatMul, as the sample's CRA product)."""
import ctypes

import numpy as np

from . import _core
from ._core import STATE

_DTYPES = {0: np.float32, 1: np.float16}


def set_model_dir(path: str) -> int:
    if not STATE.initialized:
        return _core.UNINITIALIZE
    STATE.op_model_dir = path
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
    entry = STATE.get(desc, "tensor_desc")
    data = STATE.get(buf, "data_buffer")
    if entry is None or data is None or entry[1][0] not in _DTYPES:
        return None
    dtype = np.dtype(_DTYPES[entry[1][0]])
    dims = entry[1][1]
    address, size = data[1]
    if int(np.prod(dims)) * dtype.itemsize > size or STATE.find(address, size)[0] is None:
        return None
    return dtype, dims, address


def execute_v2(op_type: str, in_descs, in_bufs, out_descs, out_bufs, attr: int, stream: int) -> int:
    """MatMul / BatchMatMul with transpose_x1 / transpose_x2 (adj_x1 / adj_x2) attributes."""
    ret = STATE.ready()
    if ret:
        return ret
    if op_type not in ("MatMul", "BatchMatMul") or len(in_descs) != 2 or len(out_descs) != 1:
        return _core.INVALID_PARAM
    tensors = [_tensor(d, b) for d, b in zip(list(in_descs) + list(out_descs), list(in_bufs) + list(out_bufs))]
    if any(t is None for t in tensors) or STATE.get(stream, "stream") is None:
        return _core.INVALID_PARAM
    attrs = STATE.get(attr, "attr")[1] if STATE.get(attr, "attr") else {}
    arrays = []
    for dtype, dims, address in tensors[:2]:
        raw = ctypes.string_at(address, int(np.prod(dims)) * dtype.itemsize)
        arrays.append(np.frombuffer(raw, dtype=dtype).reshape(dims).astype(np.float32))
    a, b = arrays
    if attrs.get("transpose_x1") or attrs.get("adj_x1"):
        a = np.swapaxes(a, -1, -2)
    if attrs.get("transpose_x2") or attrs.get("adj_x2"):
        b = np.swapaxes(b, -1, -2)
    if a.shape[-1] != b.shape[-2]:
        return _core.INVALID_PARAM
    dtype, dims, address = tensors[2]
    result = np.matmul(a, b).astype(dtype)
    if list(result.shape) != list(dims):
        return _core.INVALID_PARAM
    data = result.tobytes()
    ctypes.memmove(address, data, len(data))
    return _core.SUCCESS

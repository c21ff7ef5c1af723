"""acl.util: pointers to and from Python objects.

As in pyACL, a pointer is a bare address: nothing keeps its object alive, so
a pointer to a temporary (``bytes_to_ptr(x.tobytes())``) is unknown memory
here as soon as the temporary is gone. CANN releases differ in what they
offer: ``bytes_to_ptr`` / ``ptr_to_bytes``, or ``numpy_to_ptr`` /
``ptr_to_numpy`` (CANN 5.0.x); one set is exposed at a time (default
"bytes"; ``acl.standin.use_util_api`` switches). In ACL_HOST run mode device
memory lives on the card and cannot be read from the host.
"""
import ctypes

import numpy as np

from . import _core
from ._core import STATE

#: numpy type numbers, as pyACL's ptr_to_numpy takes them (11 float32, 23 float16, ...)
TYPE_CODES = {np.dtype(t).num: np.dtype(t) for t in (np.float32, np.float16, np.float64, np.int8, np.int16,
                                                      np.int32, np.int64, np.uint8, np.uint16, np.uint32,
                                                      np.uint64, np.bool_)}

#: API set -> the functions it exposes
_API_SETS = {"bytes": ("bytes_to_ptr", "ptr_to_bytes"), "numpy": ("numpy_to_ptr", "ptr_to_numpy")}


def _bytes_to_ptr(data: bytes) -> int:
    """Address of a bytes object's buffer (the object must outlive the pointer)."""
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError("bytes_to_ptr needs bytes")
    if isinstance(data, bytearray):
        address = ctypes.addressof((ctypes.c_char * len(data)).from_buffer(data))
    else:
        address = ctypes.cast(ctypes.c_char_p(data), ctypes.c_void_p).value
    return STATE.register(address, len(data), data)


def _numpy_to_ptr(arr: np.ndarray) -> int:
    """Address of a C-contiguous array's data (the data's owner must outlive the pointer)."""
    if not arr.flags["C_CONTIGUOUS"]:
        raise ValueError("numpy_to_ptr needs a C-contiguous array")
    owner = arr
    while isinstance(owner, np.ndarray) and owner.base is not None:
        owner = owner.base  # a view's memory lives as long as the object that owns it
    return STATE.register(arr.ctypes.data, arr.nbytes, owner)


def _readable(ptr: int, count: int, call: str) -> None:
    """ValueError unless the host can read [ptr, ptr + count)."""
    mem, _ = STATE.find(ptr, count)
    if mem is None:
        raise ValueError("{}: unknown pointer or out of bounds".format(call))
    if mem.kind == "device" and STATE.run_mode == _core.ACL_HOST:
        raise ValueError("{}: device memory is not readable from the host in ACL_HOST run mode".format(call))


def _ptr_to_bytes(ptr: int, size: int) -> bytes:
    """A copy of the ``size`` bytes at ``ptr``."""
    _readable(ptr, size, "ptr_to_bytes")
    return ctypes.string_at(ptr, size)


def _ptr_to_numpy(ptr: int, shape, type_code: int) -> np.ndarray:
    """A numpy view of memory at ``ptr`` (type codes are numpy's: 11 float32...)."""
    dtype = TYPE_CODES.get(type_code)
    if dtype is None:
        raise ValueError("ptr_to_numpy: unknown type code {}".format(type_code))
    count = int(np.prod(shape)) * dtype.itemsize
    _readable(ptr, count, "ptr_to_numpy")
    raw = (ctypes.c_char * count).from_address(ptr)
    return np.frombuffer(raw, dtype=dtype).reshape(shape)


_FUNCTIONS = {"bytes_to_ptr": _bytes_to_ptr, "ptr_to_bytes": _ptr_to_bytes,
              "numpy_to_ptr": _numpy_to_ptr, "ptr_to_numpy": _ptr_to_numpy}


def _expose(api: str) -> None:
    """Offer the functions of one API set, and only those."""
    if api not in _API_SETS:
        raise ValueError("unknown acl.util API set {!r} (bytes or numpy)".format(api))
    for name in _FUNCTIONS:
        globals().pop(name, None)
    for name in _API_SETS[api]:
        globals()[name] = _FUNCTIONS[name]


_expose("bytes")

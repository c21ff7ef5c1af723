"""acl.util: pointers to and from Python objects."""
import ctypes

import numpy as np

from ._core import STATE

#: numpy type numbers, as pyACL's ptr_to_numpy takes them (11 float32, 23 float16, ...)
TYPE_CODES = {np.dtype(t).num: np.dtype(t) for t in (np.float32, np.float16, np.float64, np.int8, np.int16,
                                                      np.int32, np.int64, np.uint8, np.uint16, np.bool_)}


def bytes_to_ptr(data: bytes) -> int:
    """Address of a bytes object's buffer (the object must outlive the pointer)."""
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError("bytes_to_ptr needs bytes")
    if isinstance(data, bytearray):
        address = ctypes.addressof((ctypes.c_char * len(data)).from_buffer(data))
    else:
        address = ctypes.cast(ctypes.c_char_p(data), ctypes.c_void_p).value
    return STATE.register(address, len(data), data)


def numpy_to_ptr(arr: np.ndarray) -> int:
    """Address of a C-contiguous array's data (older pyACL API)."""
    if not arr.flags["C_CONTIGUOUS"]:
        raise ValueError("numpy_to_ptr needs a C-contiguous array")
    return STATE.register(arr.ctypes.data, arr.nbytes, arr)


def ptr_to_bytes(ptr: int, size: int) -> bytes:
    mem, _ = STATE.find(ptr, size)
    if mem is None:
        raise ValueError("ptr_to_bytes: unknown pointer or out of bounds")
    return ctypes.string_at(ptr, size)


def ptr_to_numpy(ptr: int, shape, type_code: int) -> np.ndarray:
    """A numpy view of memory at ``ptr`` (type codes are numpy's: 11 float32...)."""
    dtype = TYPE_CODES.get(type_code)
    if dtype is None:
        raise ValueError("ptr_to_numpy: unknown type code {}".format(type_code))
    count = int(np.prod(shape)) * dtype.itemsize
    mem, _ = STATE.find(ptr, count)
    if mem is None:
        raise ValueError("ptr_to_numpy: unknown pointer or out of bounds")
    raw = (ctypes.c_char * count).from_address(ptr)
    return np.frombuffer(raw, dtype=dtype).reshape(shape)

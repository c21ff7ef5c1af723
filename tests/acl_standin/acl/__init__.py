"""A stand-in for pyACL (CANN's ``acl`` module) for tests without a board.

Calling conventions as documented (spec ascend.md 2): creators and failing
getters return ``(value, ret)``, actions return ``ret``, plain getters the
value; ``ret`` 0 is success, errors are the documented codes. Memory is real
(ctypes buffers at real addresses, bounds-checked copies); a model
``x.om`` runs its ONNX twin ``x.onnx`` with onnxruntime. ``acl.standin``
inspects the allocation ledger, sets the run mode and picks the ``acl.util``
API set of a CANN release.
"""
from . import _core
from ._core import STATE
from . import mdl, op, rt, standin, util  # noqa: F401  (submodules, as in pyACL)


def init(config_path=None) -> int:
    """Once per process: a second call is refused, also after finalize."""
    with STATE.lock:
        if STATE.initialized or STATE.finalized:
            return _core.REPEAT_INITIALIZE
        STATE.initialized = True
        return _core.SUCCESS


def finalize() -> int:
    with STATE.lock:
        if STATE.finalized:
            return _core.REPEAT_FINALIZE
        if not STATE.initialized:
            return _core.UNINITIALIZE
        STATE.initialized = False
        STATE.finalized = True
        return _core.SUCCESS


def get_soc_name():
    return STATE.soc_name if STATE.initialized else None


def create_data_buffer(ptr: int, size: int) -> int:
    """A data buffer over [ptr, ptr + size) (0 on error, like pyACL's NULL)."""
    if not STATE.initialized or size < 0:
        return 0
    mem, _ = STATE.find(ptr, size)
    if size and mem is None:
        return 0
    return STATE.new("data_buffer", (ptr, size))


def destroy_data_buffer(buf: int) -> int:
    if not STATE.initialized:
        return _core.UNINITIALIZE
    return STATE.drop(buf, "data_buffer")


def get_data_buffer_addr(buf: int) -> int:
    entry = STATE.get(buf, "data_buffer")
    return entry[1][0] if entry else 0


def get_data_buffer_size_v2(buf: int) -> int:
    entry = STATE.get(buf, "data_buffer")
    return entry[1][1] if entry else 0


get_data_buffer_size = get_data_buffer_size_v2


def create_tensor_desc(dtype: int, dims, fmt: int) -> int:
    if not STATE.initialized:
        return 0
    return STATE.new("tensor_desc", (int(dtype), [int(d) for d in dims], int(fmt)))


def destroy_tensor_desc(desc: int) -> int:
    return STATE.drop(desc, "tensor_desc")

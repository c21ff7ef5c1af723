"""acl.rt: devices, contexts, streams, memory and copies."""
import ctypes

from . import _core
from ._core import STATE, Memory

_POLICIES = (0, 1, 2)  # HUGE_FIRST, HUGE_ONLY, NORMAL_ONLY


def set_device(device_id: int) -> int:
    if not STATE.initialized:
        return _core.UNINITIALIZE
    if device_id != 0:
        return _core.INVALID_DEVICE
    STATE.devices[device_id] += 1
    return _core.SUCCESS


def reset_device(device_id: int) -> int:
    if not STATE.initialized:
        return _core.UNINITIALIZE
    if STATE.devices[device_id] <= 0:
        return _core.INVALID_DEVICE
    STATE.devices[device_id] -= 1
    return _core.SUCCESS


def create_context(device_id: int):
    if not STATE.initialized:
        return 0, _core.UNINITIALIZE
    if STATE.devices[device_id] <= 0:
        return 0, _core.INVALID_DEVICE
    ctx = STATE.new("context", device_id)
    STATE.context = ctx  # a new context is current in the creating thread
    return ctx, _core.SUCCESS


def destroy_context(ctx: int) -> int:
    if not STATE.initialized:
        return _core.UNINITIALIZE
    ret = STATE.drop(ctx, "context")
    if ret == _core.SUCCESS and STATE.context == ctx:
        STATE.context = None
    return ret


def set_context(ctx: int) -> int:
    if not STATE.initialized:
        return _core.UNINITIALIZE
    if STATE.get(ctx, "context") is None:
        return _core.INVALID_PARAM
    STATE.context = ctx
    return _core.SUCCESS


def get_context():
    ret = STATE.ready()
    return (STATE.context, ret) if ret == _core.SUCCESS else (0, ret)


def create_stream():
    """A stream: its payload is the queue of tasks launched on it and not yet run."""
    ret = STATE.ready()
    if ret:
        return 0, ret
    return STATE.new("stream", []), _core.SUCCESS


def destroy_stream(stream: int) -> int:
    """Work launched and never synchronised is lost with the stream."""
    if not STATE.initialized:
        return _core.UNINITIALIZE
    return STATE.drop(stream, "stream")


def synchronize_stream(stream: int) -> int:
    """Run the stream's queued tasks in order; the first failure is returned."""
    ret = STATE.ready()
    if ret:
        return ret
    entry = STATE.get(stream, "stream")
    if entry is None:
        return _core.INVALID_PARAM
    tasks, entry[1] = entry[1], []
    results = [task() for task in tasks]
    return next((r for r in results if r != _core.SUCCESS), _core.SUCCESS)


def get_run_mode():
    if not STATE.initialized:
        return 0, _core.UNINITIALIZE
    return STATE.run_mode, _core.SUCCESS


def _alloc(kind: str, size: int):
    ret = STATE.ready()
    if ret:
        return 0, ret
    if not isinstance(size, int) or size <= 0:
        return 0, _core.INVALID_PARAM
    if size > _core.MAX_ALLOC:
        return 0, _core.BAD_ALLOC
    mem = Memory(kind, size)
    with STATE.lock:
        STATE.memory[mem.address] = mem
    return mem.address, _core.SUCCESS


def _free(kind: str, ptr: int) -> int:
    if not STATE.initialized:
        return _core.UNINITIALIZE
    with STATE.lock:
        mem = STATE.memory.get(ptr)
        if mem is None or mem.kind != kind:
            return _core.INVALID_PARAM
        del STATE.memory[ptr]
    return _core.SUCCESS


def malloc(size: int, policy: int):
    if policy not in _POLICIES:
        return 0, _core.INVALID_PARAM
    return _alloc("device", size)


def malloc_host(size: int):
    return _alloc("host", size)


def free(ptr: int) -> int:
    return _free("device", ptr)


def free_host(ptr: int) -> int:
    return _free("host", ptr)


#: memcpy kind -> (source side, destination side) in host run mode
_SIDES = {_core.HOST_TO_HOST: ("host", "host"), _core.HOST_TO_DEVICE: ("host", "device"),
          _core.DEVICE_TO_HOST: ("device", "host"), _core.DEVICE_TO_DEVICE: ("device", "device")}


def _side(mem) -> str:
    return "device" if mem.kind == "device" else "host"


def memcpy(dst: int, dst_max: int, src: int, count: int, kind: int) -> int:
    """Synchronous copy; INVALID_PARAM when count > dst_max, a pointer is
    unknown / freed / dangling / out of bounds, or (ACL_HOST run mode) the
    kind does not match where the memory lives. On the board (ACL_DEVICE)
    host and device memory are one: CANN copies within the device whatever
    the kind, so every kind between known memory is accepted."""
    ret = STATE.ready()
    if ret:
        return ret
    if kind not in _SIDES or count < 0 or count > dst_max:
        return _core.INVALID_PARAM
    dst_mem, _ = STATE.find(dst, dst_max)
    src_mem, _ = STATE.find(src, count)
    if dst_mem is None or src_mem is None:
        return _core.INVALID_PARAM
    if STATE.run_mode == _core.ACL_HOST and (_side(src_mem), _side(dst_mem)) != _SIDES[kind]:
        return _core.INVALID_PARAM
    _core.copy_bytes(dst, src, count)
    STATE.log.append(("memcpy", kind, count))
    return _core.SUCCESS


def memset(ptr: int, max_size: int, value: int, count: int) -> int:
    ret = STATE.ready()
    if ret:
        return ret
    mem, _ = STATE.find(ptr, max_size)
    if mem is None or count > max_size:
        return _core.INVALID_PARAM
    ctypes.memset(ptr, value, count)
    return _core.SUCCESS

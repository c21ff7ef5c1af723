"""An acllite-compatible layer over pyACL (spec ascend.md 2-3).

Same names as the Ascend samples' acllite (``AclLiteResource``,
``AclLiteModel``) so board users feel at home, without the original's
weaknesses: every failing call raises ``AclError`` with the ACL error name,
and everything created is released, in reverse order, even after a failure.
ACL itself is initialised once per process and shared (CANN refuses a
second ``acl.init``, even after ``acl.finalize``); it is finalised at exit.
"""
import atexit
import threading
import time
from typing import Callable, List, Optional, Tuple

import numpy as np

from ..errors import InpaintError

ACL_DEVICE, ACL_HOST = 0, 1
ACL_MEM_MALLOC_HUGE_FIRST = 0
ACL_MEMCPY_HOST_TO_HOST, ACL_MEMCPY_HOST_TO_DEVICE, ACL_MEMCPY_DEVICE_TO_HOST, ACL_MEMCPY_DEVICE_TO_DEVICE = 0, 1, 2, 3
ACL_SUCCESS = 0
ACL_ERROR_REPEAT_INITIALIZE = 100002

ACL_ERRORS = {
    0: "ACL_SUCCESS",
    100000: "ACL_ERROR_INVALID_PARAM",
    100001: "ACL_ERROR_UNINITIALIZE",
    100002: "ACL_ERROR_REPEAT_INITIALIZE",
    100003: "ACL_ERROR_INVALID_FILE",
    100011: "ACL_ERROR_INVALID_MODEL_ID",
    100013: "ACL_ERROR_PARSE_MODEL",
    100017: "ACL_ERROR_MODEL_INPUT_NOT_MATCH",
    107002: "ACL_ERROR_RT_CONTEXT_NULL",
    200000: "ACL_ERROR_BAD_ALLOC",
    200001: "ACL_ERROR_API_NOT_SUPPORT",
    200002: "ACL_ERROR_INVALID_DEVICE",
    500000: "ACL_ERROR_INTERNAL_ERROR",
    500001: "ACL_ERROR_FAILURE",
}
ACL_ERROR_FAILURE = 500001

#: aclDataType -> numpy dtype
ACL_DTYPES = {0: np.float32, 1: np.float16, 2: np.int8, 3: np.int32, 4: np.uint8, 6: np.int16, 7: np.uint16,
              8: np.uint32, 9: np.int64, 10: np.uint64, 11: np.float64, 12: np.bool_}


class AclError(InpaintError):
    """A pyACL call returned an error code."""

    def __init__(self, call: str, code: int, detail: str = ""):
        self.call = call
        self.code = int(code)
        problem = "{} failed: {} ({})".format(call, ACL_ERRORS.get(self.code, "unknown ACL error"), self.code)
        super().__init__(problem + (": " + detail if detail else ""))


def import_acl():
    """The pyACL module, or a clear error off the board."""
    try:
        import acl
    except ImportError:
        raise InpaintError("pyACL (module acl) is not importable: run on the board with CANN's Python "
                           "environment, or use --backend onnxruntime")
    return acl


def check(call: str, ret: int, detail: str = "") -> None:
    """Raise AclError unless ``ret`` is ACL_SUCCESS."""
    if ret != ACL_SUCCESS:
        raise AclError(call, ret, detail)


_init_lock = threading.Lock()
_initialised = None  # the acl module this process has initialised (a module imported afresh is initialised afresh)


def _init_acl(acl) -> None:
    """``acl.init()`` once per process, shared by every resource; ``acl.finalize()`` at exit."""
    global _initialised
    with _init_lock:
        if _initialised is acl:
            return
        ret = acl.init()
        if ret != ACL_ERROR_REPEAT_INITIALIZE:  # initialised by other code of this process: theirs to finalise
            check("acl.init", ret)
            atexit.register(acl.finalize)
        _initialised = acl


class _Releaser:
    """A stack of release actions, run in reverse order; all of them run even
    if some fail, and the first failure is raised at the end."""

    def __init__(self) -> None:
        self._stack = []  # type: List[Tuple[str, Callable[[], int]]]

    def push(self, call: str, action: Callable[[], int]) -> None:
        self._stack.append((call, action))

    def release(self) -> None:
        first = None
        while self._stack:
            call, action = self._stack.pop()
            ret = action()
            if ret != ACL_SUCCESS and first is None:
                first = AclError(call, ret)
        if first is not None:
            raise first

    def release_quietly(self) -> None:
        """Release after a failure, whose error matters more than a release error."""
        try:
            self.release()
        except AclError:
            pass


class AclLiteResource:
    """Device, context and stream: ``init()`` does init (once per process) ->
    set_device -> create_context -> create_stream -> get_run_mode;
    ``destroy()`` undoes all but the init."""

    def __init__(self, device_id: int = 0):
        self.device_id = device_id
        self.context = None
        self.stream = None
        self.run_mode = None
        self._acl = import_acl()
        self._releaser = _Releaser()

    def init(self) -> "AclLiteResource":
        acl = self._acl
        _init_acl(acl)
        try:
            check("acl.rt.set_device", acl.rt.set_device(self.device_id), "device {}".format(self.device_id))
            self._releaser.push("acl.rt.reset_device", lambda: acl.rt.reset_device(self.device_id))
            self.context, ret = acl.rt.create_context(self.device_id)
            check("acl.rt.create_context", ret)
            ctx = self.context
            self._releaser.push("acl.rt.destroy_context", lambda: acl.rt.destroy_context(ctx))
            self.stream, ret = acl.rt.create_stream()
            check("acl.rt.create_stream", ret)
            stream = self.stream
            self._releaser.push("acl.rt.destroy_stream", lambda: acl.rt.destroy_stream(stream))
            self.run_mode, ret = acl.rt.get_run_mode()
            check("acl.rt.get_run_mode", ret)
        except Exception:
            self._releaser.release_quietly()
            raise
        return self

    def bind_thread(self) -> None:
        """Make the resource's context current in the calling thread."""
        check("acl.rt.set_context", self._acl.rt.set_context(self.context))

    def destroy(self) -> None:
        """Release stream, context and device (reverse order); ACL stays initialised."""
        self.context = self.stream = None
        self._releaser.release()

    def __enter__(self) -> "AclLiteResource":
        return self if self.context is not None else self.init()

    def __exit__(self, *exc) -> None:
        self.destroy()


def _bytes_api(util) -> bool:
    """True for acl.util's bytes_to_ptr / ptr_to_bytes, False for the numpy_to_ptr /
    ptr_to_numpy of older CANN (5.0.x): the test of Huawei's samples."""
    if "bytes_to_ptr" in dir(util):
        return True
    if "numpy_to_ptr" in dir(util):
        return False
    raise InpaintError("acl.util has neither bytes_to_ptr nor numpy_to_ptr: unsupported CANN release")


class _Tensor:
    """One model input or output: its device buffer and what it holds."""

    def __init__(self, name: str, dims: List[int], dtype, size: int):
        self.name = name
        self.shape = tuple(int(d) for d in dims)
        self.dtype = np.dtype(dtype)
        self.size = int(size)
        self.device_ptr = None
        self.host_ptr = None

    def describe(self) -> str:
        return "{} {} ({} bytes)".format(self.dtype.name, list(self.shape), self.size)


class AclLiteModel:
    """An .om model: ``execute(list_of_arrays) -> list_of_arrays``.

    Device buffers for inputs and outputs (and host staging buffers for the
    outputs) are allocated once at load and reused; an input of another size
    or type is an error. On the board (ACL_DEVICE) copies are
    device-to-device; on an x86 host with a card, host-to-device and
    device-to-host. ``timings`` holds the seconds of the last execute.
    """

    def __init__(self, model_path: str, run_mode: Optional[int] = None):
        self._acl = import_acl()
        self._bytes_api = _bytes_api(self._acl.util)
        self.model_path = model_path
        self.timings = {}
        self.inputs = []  # type: List[_Tensor]
        self.outputs = []  # type: List[_Tensor]
        self._releaser = _Releaser()
        self._model_id = self._desc = self._in_ds = self._out_ds = None
        try:
            if run_mode is None:
                run_mode, ret = self._acl.rt.get_run_mode()
                check("acl.rt.get_run_mode", ret)
            device = run_mode == ACL_DEVICE
            self._copy_in = ACL_MEMCPY_DEVICE_TO_DEVICE if device else ACL_MEMCPY_HOST_TO_DEVICE
            self._copy_out = ACL_MEMCPY_DEVICE_TO_DEVICE if device else ACL_MEMCPY_DEVICE_TO_HOST
            self._load()
        except Exception:
            self._releaser.release_quietly()
            raise

    def _load(self) -> None:
        acl = self._acl
        self._model_id, ret = acl.mdl.load_from_file(self.model_path)
        check("acl.mdl.load_from_file", ret, self.model_path)
        model_id = self._model_id
        self._releaser.push("acl.mdl.unload", lambda: acl.mdl.unload(model_id))
        desc = self._desc = acl.mdl.create_desc()
        if not desc:
            raise AclError("acl.mdl.create_desc", ACL_ERROR_FAILURE)
        self._releaser.push("acl.mdl.destroy_desc", lambda: acl.mdl.destroy_desc(desc))
        check("acl.mdl.get_desc", acl.mdl.get_desc(desc, model_id))
        self._in_ds = self._dataset(acl.mdl.get_num_inputs(desc), acl.mdl.get_input_size_by_index,
                                    acl.mdl.get_input_dims, acl.mdl.get_input_data_type, self.inputs, "input")
        self._out_ds = self._dataset(acl.mdl.get_num_outputs(desc), acl.mdl.get_output_size_by_index,
                                     acl.mdl.get_output_dims, acl.mdl.get_output_data_type, self.outputs, "output")
        for tensor in self.outputs:
            tensor.host_ptr, ret = acl.rt.malloc_host(tensor.size)
            check("acl.rt.malloc_host", ret, "{} bytes".format(tensor.size))
            ptr = tensor.host_ptr
            self._releaser.push("acl.rt.free_host", lambda p=ptr: acl.rt.free_host(p))

    def _dataset(self, count: int, size_of, dims_of, dtype_of, tensors: List[_Tensor], kind: str):
        """A dataset of ``count`` device buffers described by the model."""
        acl, desc = self._acl, self._desc
        dataset = acl.mdl.create_dataset()
        if not dataset:
            raise AclError("acl.mdl.create_dataset", ACL_ERROR_FAILURE)
        self._releaser.push("acl.mdl.destroy_dataset", lambda: acl.mdl.destroy_dataset(dataset))
        for i in range(count):
            dims, ret = dims_of(desc, i)
            check("acl.mdl.get_{}_dims".format(kind), ret)
            code = dtype_of(desc, i)
            if code not in ACL_DTYPES:
                raise AclError("acl.mdl.get_{}_data_type".format(kind), ACL_ERROR_FAILURE,
                               "unsupported aclDataType {}".format(code))
            tensor = _Tensor(dims.get("name", "{}{}".format(kind, i)), dims["dims"], ACL_DTYPES[code],
                             size_of(desc, i))
            tensor.device_ptr, ret = acl.rt.malloc(tensor.size, ACL_MEM_MALLOC_HUGE_FIRST)
            check("acl.rt.malloc", ret, "{} bytes".format(tensor.size))
            ptr = tensor.device_ptr
            self._releaser.push("acl.rt.free", lambda p=ptr: acl.rt.free(p))
            buf = acl.create_data_buffer(ptr, tensor.size)
            if not buf:
                raise AclError("acl.create_data_buffer", ACL_ERROR_FAILURE)
            self._releaser.push("acl.destroy_data_buffer", lambda b=buf: acl.destroy_data_buffer(b))
            _, ret = acl.mdl.add_dataset_buffer(dataset, buf)
            check("acl.mdl.add_dataset_buffer", ret)
            tensors.append(tensor)
        return dataset

    def _host_pointer(self, arr: np.ndarray):
        """(pointer, owner): the owner must stay alive until the copy is done."""
        util = self._acl.util
        if self._bytes_api:
            data = arr.tobytes()
            return util.bytes_to_ptr(data), data
        return util.numpy_to_ptr(arr), arr

    def _read_host(self, tensor: _Tensor) -> np.ndarray:
        util = self._acl.util
        if self._bytes_api:
            flat = np.frombuffer(util.ptr_to_bytes(tensor.host_ptr, tensor.size), dtype=tensor.dtype)
        else:
            flat = util.ptr_to_numpy(tensor.host_ptr, (tensor.size // tensor.dtype.itemsize,), tensor.dtype.num)
        return flat.reshape(tensor.shape).copy()

    def execute(self, inputs: List[np.ndarray]) -> List[np.ndarray]:
        """Copy the inputs in, run the model, return copies of its outputs."""
        if self._model_id is None:
            raise InpaintError("model is destroyed", self.model_path)
        if len(inputs) != len(self.inputs):
            raise InpaintError("model takes {} inputs, got {}".format(len(self.inputs), len(inputs)),
                               self.model_path)
        acl = self._acl
        t0 = time.perf_counter()
        for i, (arr, tensor) in enumerate(zip(inputs, self.inputs)):
            arr = np.ascontiguousarray(arr)
            if arr.dtype != tensor.dtype or arr.nbytes != tensor.size:
                raise InpaintError("input {} ({}): the model takes {}, got {} {} ({} bytes)".format(
                    i, tensor.name, tensor.describe(), arr.dtype.name, list(arr.shape), arr.nbytes),
                    self.model_path)
            ptr, owner = self._host_pointer(arr)
            check("acl.rt.memcpy", acl.rt.memcpy(tensor.device_ptr, tensor.size, ptr, arr.nbytes, self._copy_in),
                  "input {}".format(tensor.name))
            del owner
        t1 = time.perf_counter()
        check("acl.mdl.execute", acl.mdl.execute(self._model_id, self._in_ds, self._out_ds), self.model_path)
        t2 = time.perf_counter()
        results = []
        for tensor in self.outputs:
            check("acl.rt.memcpy", acl.rt.memcpy(tensor.host_ptr, tensor.size, tensor.device_ptr, tensor.size,
                                                 self._copy_out), "output {}".format(tensor.name))
            results.append(self._read_host(tensor))
        self.timings = {"h2d": t1 - t0, "inference": t2 - t1, "d2h": time.perf_counter() - t2}
        return results

    def destroy(self) -> None:
        """Free every buffer, data buffer, dataset, description and the model."""
        self._model_id = None
        self._releaser.release()

    def __enter__(self) -> "AclLiteModel":
        return self

    def __exit__(self, *exc) -> None:
        self.destroy()

"""acl.mdl: models, descriptions, datasets; ``x.om`` runs its twin ``x.onnx``."""
import ctypes
import os

import numpy as np

from . import _core
from ._core import STATE

#: ONNX tensor type string -> (aclDataType, numpy dtype)
_TYPES = {"tensor(float)": (0, np.float32), "tensor(float16)": (1, np.float16), "tensor(int8)": (2, np.int8),
          "tensor(int32)": (3, np.int32), "tensor(uint8)": (4, np.uint8), "tensor(int16)": (6, np.int16),
          "tensor(uint16)": (7, np.uint16), "tensor(uint32)": (8, np.uint32), "tensor(int64)": (9, np.int64),
          "tensor(uint64)": (10, np.uint64), "tensor(double)": (11, np.float64), "tensor(bool)": (12, np.bool_)}


class _Model:
    """An onnxruntime session and its static tensor descriptions."""

    def __init__(self, onnx_path: str):
        import onnxruntime as ort
        self.session = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
        self.inputs = [self._describe(t) for t in self.session.get_inputs()]
        self.outputs = [self._describe(t) for t in self.session.get_outputs()]

    @staticmethod
    def _describe(tensor):
        if tensor.type not in _TYPES or not all(isinstance(d, int) for d in tensor.shape):
            raise ValueError("dynamic or unsupported tensor {}".format(tensor.name))
        code, dtype = _TYPES[tensor.type]
        size = int(np.prod(tensor.shape)) * np.dtype(dtype).itemsize
        return {"name": tensor.name, "dims": list(tensor.shape), "code": code, "dtype": dtype, "size": size}


def load_from_file(path: str):
    ret = STATE.ready()
    if ret:
        return 0, ret
    if not isinstance(path, str) or not os.path.isfile(path):
        return 0, _core.INVALID_FILE
    twin = os.path.splitext(path)[0] + ".onnx"
    if not os.path.isfile(twin):
        return 0, _core.INVALID_FILE
    try:
        model = _Model(twin)
    except Exception:
        return 0, _core.PARSE_MODEL
    return STATE.new("model", model), _core.SUCCESS


def unload(model_id: int) -> int:
    if not STATE.initialized:
        return _core.UNINITIALIZE
    if STATE.get(model_id, "model") is None:
        return _core.INVALID_MODEL_ID
    return STATE.drop(model_id, "model")


def create_desc() -> int:
    return STATE.new("desc", None) if STATE.initialized else 0


def destroy_desc(desc: int) -> int:
    return STATE.drop(desc, "desc")


def get_desc(desc: int, model_id: int) -> int:
    if not STATE.initialized:
        return _core.UNINITIALIZE
    entry = STATE.get(desc, "desc")
    model = STATE.get(model_id, "model")
    if entry is None:
        return _core.INVALID_PARAM
    if model is None:
        return _core.INVALID_MODEL_ID
    entry[1] = model[1]
    return _core.SUCCESS


def _tensors(desc: int, which: str):
    entry = STATE.get(desc, "desc")
    return getattr(entry[1], which) if entry and entry[1] is not None else []


def get_num_inputs(desc: int) -> int:
    return len(_tensors(desc, "inputs"))


def get_num_outputs(desc: int) -> int:
    return len(_tensors(desc, "outputs"))


def _one(desc: int, which: str, index: int):
    tensors = _tensors(desc, which)
    return tensors[index] if 0 <= index < len(tensors) else None


def get_input_size_by_index(desc: int, index: int) -> int:
    t = _one(desc, "inputs", index)
    return t["size"] if t else 0


def get_output_size_by_index(desc: int, index: int) -> int:
    t = _one(desc, "outputs", index)
    return t["size"] if t else 0


def _dims(t):
    if t is None:
        return {"name": "", "dimCount": 0, "dims": []}, _core.INVALID_PARAM
    return {"name": t["name"], "dimCount": len(t["dims"]), "dims": list(t["dims"])}, _core.SUCCESS


def get_input_dims(desc: int, index: int):
    return _dims(_one(desc, "inputs", index))


def get_output_dims(desc: int, index: int):
    return _dims(_one(desc, "outputs", index))


def get_input_name_by_index(desc: int, index: int) -> str:
    t = _one(desc, "inputs", index)
    return t["name"] if t else ""


def get_output_name_by_index(desc: int, index: int) -> str:
    t = _one(desc, "outputs", index)
    return t["name"] if t else ""


def get_input_data_type(desc: int, index: int) -> int:
    t = _one(desc, "inputs", index)
    return t["code"] if t else -1


def get_output_data_type(desc: int, index: int) -> int:
    t = _one(desc, "outputs", index)
    return t["code"] if t else -1


def create_dataset() -> int:
    return STATE.new("dataset", []) if STATE.initialized else 0


def destroy_dataset(dataset: int) -> int:
    """Destroys the dataset only: its data buffers stay the caller's to destroy."""
    if not STATE.initialized:
        return _core.UNINITIALIZE
    return STATE.drop(dataset, "dataset")


def add_dataset_buffer(dataset: int, buf: int):
    entry = STATE.get(dataset, "dataset")
    if entry is None or STATE.get(buf, "data_buffer") is None:
        return dataset, _core.INVALID_PARAM
    entry[1].append(buf)
    return dataset, _core.SUCCESS


def get_dataset_num_buffers(dataset: int) -> int:
    entry = STATE.get(dataset, "dataset")
    return len(entry[1]) if entry else 0


def get_dataset_buffer(dataset: int, index: int) -> int:
    entry = STATE.get(dataset, "dataset")
    return entry[1][index] if entry and 0 <= index < len(entry[1]) else 0


def execute(model_id: int, inputs: int, outputs: int) -> int:
    """Run the twin: inputs read from, outputs written to device memory;
    INTERNAL_ERROR when the run itself fails."""
    ret = STATE.ready()
    if ret:
        return ret
    model = STATE.get(model_id, "model")
    if model is None:
        return _core.INVALID_MODEL_ID
    model = model[1]
    in_ds, out_ds = STATE.get(inputs, "dataset"), STATE.get(outputs, "dataset")
    if in_ds is None or out_ds is None:
        return _core.INVALID_PARAM
    if len(in_ds[1]) != len(model.inputs) or len(out_ds[1]) != len(model.outputs):
        return _core.MODEL_INPUT_NOT_MATCH
    feeds = {}
    for buf, t in zip(in_ds[1], model.inputs):
        region = STATE.device_region(buf)
        if region is None:
            return _core.INVALID_PARAM
        if region[1] != t["size"]:
            return _core.MODEL_INPUT_NOT_MATCH
        raw = ctypes.string_at(region[0], t["size"])
        feeds[t["name"]] = np.frombuffer(raw, dtype=t["dtype"]).reshape(t["dims"])
    regions = [STATE.device_region(buf) for buf in out_ds[1]]
    if any(r is None or r[1] < t["size"] for r, t in zip(regions, model.outputs)):
        return _core.INVALID_PARAM
    try:
        results = model.session.run([t["name"] for t in model.outputs], feeds)
    except Exception:
        return _core.INTERNAL_ERROR
    for (address, _), t, value in zip(regions, model.outputs, results):
        data = np.ascontiguousarray(value, dtype=t["dtype"]).tobytes()
        ctypes.memmove(address, data, len(data))
    STATE.log.append(("execute", model_id, len(feeds)))
    return _core.SUCCESS

"""The model interface shared by the exporter and the app (spec ascend.md 6).

One table, read by ``convert`` (to build and check the graph) and by the app
(to validate a model before running it). It is exactly the interface of
Huawei's HiFill sample model, so our app runs theirs and theirs runs ours.
Numpy-free on purpose: importable on the board and in the exporter alike.
"""
from collections import OrderedDict

INTERFACE_VERSION = "1"

#: Side of the square the network sees.
MODEL_SIZE = 512
#: Side of the attention grid (MODEL_SIZE / 16): 32 x 32 = 1024 cells.
ATTENTION_GRID = 32
ATTENTION_CELLS = ATTENTION_GRID * ATTENTION_GRID

#: name -> (shape, meaning). NHWC, float32, BGR.
INPUTS = OrderedDict([
    ("img", ((1, MODEL_SIZE, MODEL_SIZE, 3), "BGR image, float32 0..255")),
    ("mask", ((1, MODEL_SIZE, MODEL_SIZE, 1), "hole mask, float32, hole = 1")),
])
OUTPUTS = OrderedDict([
    ("inpainted", ((1, MODEL_SIZE, MODEL_SIZE, 3), "BGR result, float32 0..255")),
    ("attention", ((1, ATTENTION_GRID, ATTENTION_GRID, ATTENTION_CELLS), "CRA attention, rows = query cells")),
    ("mask_processed", ((1, MODEL_SIZE, MODEL_SIZE, 1), "softened blend mask, 0..1")),
])

#: Keys written into the ONNX metadata by ``convert export``.
METADATA_KEYS = ("interface_version", "checkpoint_sha256", "training_steps", "source")

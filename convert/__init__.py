"""Checkpoint -> Ascend-ready ONNX -> ATC script, with offline checks.

Modules, one job each:

- ``wrapper``: the generator inside the sample model's interface (NHWC, 0..255).
- ``export``: TorchScript export at opset 11, onnxsim, provenance metadata.
- ``supported_ops`` / ``check``: the offline ATC pre-flight (CANN 5.0.4 rules).
- ``fp16``: float16 twin of a graph (what ATC's force_fp16 does).
- ``runtime`` / ``samples`` / ``parity``: onnxruntime vs PyTorch on photos.
- ``socs``: the SoCs ``atc`` targets (one table), SoC detection from ``npu-smi info``.
- ``atc``: convert.sh / aipp.cfg writer.
- ``cra_matmul``: the CRA aggregation MatMul as its own model.

CLI: ``python -m convert {export,check,parity,atc,cra-matmul} --help``.
"""

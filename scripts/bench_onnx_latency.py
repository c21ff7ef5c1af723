#!/usr/bin/env python3
"""CPU latency of the 512 model: onnxruntime vs PyTorch eager, same run.

Both run the same weights (the wrapper, i.e. normalisation, generator,
composite and blend mask) on the same photo-like input, with the same thread
count; each is warmed up once, then timed ``--runs`` times. Prints both
medians and their ratio (PyTorch / onnxruntime: > 1 means onnxruntime is
faster).

    nice -n 10 .venv/bin/python scripts/bench_onnx_latency.py [--checkpoint CKPT] [--model M.onnx]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, List

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402

from convert.export import export  # noqa: E402
from convert.parity import ensure_same_weights  # noqa: E402
from convert.runtime import ort_session, run_ort, run_torch  # noqa: E402
from convert.samples import interface_inputs, make_mask  # noqa: E402
from convert.wrapper import load_wrapper  # noqa: E402
from edge_app import interface  # noqa: E402


def timed(fn: Callable[[], object], runs: int) -> List[float]:
    """Seconds per call, after one warm-up call."""
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="weights (default: random init, seed 0)")
    parser.add_argument("--model", help="exported ONNX of the same weights (default: export to a temp dir)")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    wrapper, provenance = load_wrapper(args.checkpoint)
    with tempfile.TemporaryDirectory() as tmp:
        model_path = args.model or str(Path(tmp) / "hifill.onnx")
        if not args.model:
            export(wrapper, provenance, model_path)
        ensure_same_weights(onnx.load(model_path), provenance)
        session = ort_session(model_path, args.threads)

        rng = np.random.default_rng(0)
        bgr = rng.integers(0, 256, (interface.MODEL_SIZE, interface.MODEL_SIZE, 3)).astype(np.uint8)
        img, mask = interface_inputs(bgr, make_mask(0))
        ort_times = timed(lambda: run_ort(session, img, mask), args.runs)
        torch_times = timed(lambda: run_torch(wrapper, img, mask), args.runs)

    ort_ms = 1e3 * statistics.median(ort_times)
    torch_ms = 1e3 * statistics.median(torch_times)
    print(f"512x512 model, {args.threads} thread(s), median of {args.runs} runs")
    print(f"onnxruntime CPU : {ort_ms:8.1f} ms")
    print(f"PyTorch eager   : {torch_ms:8.1f} ms")
    print(f"ratio PyTorch / onnxruntime: {torch_ms / ort_ms:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

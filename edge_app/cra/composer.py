"""compose: the full-resolution frame from the network's 512 outputs.

Checks the inputs, takes the caller's plan (or builds one), upsamples along x once,
prunes the attention rows, lets ``terms.choose`` pick how their product is
computed, then runs chunks of active cells over worker threads; each cell's
sum is rounded and blended into the output with the soft mask.
"""
import time
from typing import Dict, Optional, Tuple

import cv2
import numpy as np

from ..config import AppConfig
from ..interface import ATTENTION_CELLS, MODEL_SIZE
from ..preprocess import small_image
from .plan import CraPlan
from .residual import prune_rows, sharpen_rows
from .terms import MatMul, Terms, choose
from .threads import OpenCVSingleThreaded, Pool, default_threads


def _as_matrix(attention: np.ndarray) -> np.ndarray:
    """The attention as a (1024, 1024) float32 matrix, from any layout of its values."""
    att = np.asarray(attention, dtype=np.float32)
    if att.size != ATTENTION_CELLS * ATTENTION_CELLS:
        raise ValueError("attention must have 1024 x 1024 values, got shape {}".format(att.shape))
    return att.reshape(ATTENTION_CELLS, ATTENTION_CELLS)


def _as_plane(arr: np.ndarray, channels: int, name: str) -> np.ndarray:
    """A 512 model output as float32 (512, 512[, channels]), without its batch axis."""
    a = np.asarray(arr, dtype=np.float32)
    a = a.reshape(a.shape[-3:]) if a.ndim == 4 else a
    if channels == 1 and a.ndim == 3:
        a = a[:, :, 0]
    expected = (MODEL_SIZE, MODEL_SIZE) + ((channels,) if channels > 1 else ())
    if a.shape != expected:
        raise ValueError("{} must be {} (or with a batch axis), got {}".format(name, expected, np.shape(arr)))
    return a


def _rounded(result: np.ndarray, mean: Optional[np.ndarray] = None, total: float = 0.0,
             dst: Optional[np.ndarray] = None) -> np.ndarray:
    """rint(clip(result + total * mean, 0, 255)) as uint8, into ``dst`` when
    given (OpenCV's saturating conversion; one pass when there is a mean)."""
    if mean is not None:
        return cv2.addWeighted(result, 1.0, mean, total, 0.0, dst=dst, dtype=cv2.CV_8U)
    np.maximum(result, 0.0, out=result)  # convertScaleAbs takes |x|; the top saturates
    return cv2.convertScaleAbs(result, dst=dst)


def blend_cell(rounded: np.ndarray, original: np.ndarray, soft: np.ndarray, target: np.ndarray) -> None:
    """rint(soft * rounded + (1 - soft) * original) into ``target`` (uint8
    boxes of one shape, ``soft`` float32 over the box): how compose blends a
    cell, exactly ``original`` where soft is 0 and ``rounded`` where it is 1."""
    cv2.blendLinear(rounded, original, soft, 1.0 - soft, dst=target)


def _compose_chunk(image: np.ndarray, out: np.ndarray, plan: CraPlan, terms: Terms,
                   first: int, stop: int) -> Tuple[float, float]:
    """Result, blend and write of cells first .. stop - 1; (seconds, blend seconds)."""
    t_start = time.perf_counter()
    t_blend = 0.0
    for c, (result, mean, total) in zip(range(first, stop), terms.sums(first, stop)):
        _, (y0, y1, x0, x1), soft, interior = plan.cells[c]
        t0 = time.perf_counter()
        target = out[y0:y1, x0:x1]  # a view: OpenCV writes into it
        if interior:
            _rounded(result, mean, total, dst=target.reshape(result.shape))
        else:
            original = image[y0:y1, x0:x1]
            blend_cell(_rounded(result, mean, total).reshape(original.shape), original, soft, target)
        t_blend += time.perf_counter() - t0
    return time.perf_counter() - t_start, t_blend


def compose(image: np.ndarray, hole: np.ndarray, inpainted: np.ndarray, attention: Optional[np.ndarray],
            blend: np.ndarray, *, small: Optional[np.ndarray] = None, plan: Optional[CraPlan] = None,
            out: Optional[np.ndarray] = None, soft_floor: float = AppConfig.soft_floor,
            feather: int = AppConfig.blend_feather, prune_mass: float = AppConfig.attention_prune_mass,
            attention_power: float = AppConfig.attention_power,
            chunk_cells: int = AppConfig.cra_chunk_cells, matmul: Optional[MatMul] = None, threads: int = 0,
            timings: Optional[Dict[str, float]] = None) -> np.ndarray:
    """Full-resolution result from the network's 512 outputs.

    image: uint8 (H, W, 3) BGR; hole: (H, W) non-zero = hole; inpainted:
    float32 (512, 512, 3) 0..255; attention: (1024, 1024) or (1, 32, 32, 1024),
    or None for plain bilinear upsampling (the --no-cra ablation); blend:
    (512, 512) or (1, 512, 512, 1) in 0..1. Returns uint8 (H, W, 3).

    Optional: ``small`` the uint8 512 image the network saw (recomputed with
    INTER_AREA otherwise), ``plan`` the CraPlan of this hole, blend, floor and
    feather, from a caller that reuses it and keeps it valid (CraPlan.matches;
    built here when None), ``out`` an array holding a copy of ``image`` to write into (only
    pixels under the soft mask are written; a window of a larger frame is
    fine), ``matmul(a, b)`` to run the whole aggregation product at once
    elsewhere (e.g. on the AI core),
    ``threads`` worker threads over chunks of cells (0: ``default_threads``),
    ``feather`` the width in pixels of the soft edge outside the hole,
    ``attention_power`` the sharpening of the attention rows before they are
    pruned (``residual.sharpen_rows``; 1: the model's rows),
    ``timings`` a dict that gets seconds added under "cra" and "blend".
    """
    t_start = time.perf_counter()
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError("image must be uint8 (H, W, 3), got {} {}".format(image.dtype, image.shape))
    if hole.shape != image.shape[:2]:
        raise ValueError("hole {} does not match the image {}".format(hole.shape, image.shape[:2]))
    if out is not None and (out.shape != image.shape or out.dtype != np.uint8 or out.strides[1:] != (3, 1)):
        raise ValueError("out must be a uint8 array (or a window of one) of the image's shape {} with "
                         "contiguous pixels, got {} {}".format(image.shape, out.dtype, out.shape))
    blend = _as_plane(blend, 1, "blend")
    x2 = np.clip(_as_plane(inpainted, 3, "inpainted"), 0.0, 255.0)
    threads = threads or default_threads(*image.shape[:2])
    # whole-frame and whole-row work (plan, x upsampling) with OpenCV's own threads
    if plan is None:
        plan = CraPlan(hole, blend, soft_floor, feather=feather)
    elif plan.shape != hole.shape:
        raise ValueError("plan is for a {} frame, the hole is {}".format(plan.shape, hole.shape))
    if out is None:
        out = image.copy()
    width = image.shape[1]
    xinp = xsmall = weights = keep = None
    if plan.cells:
        xinp = cv2.resize(x2, (width, MODEL_SIZE), interpolation=cv2.INTER_LINEAR)
        if attention is not None:
            rows = sharpen_rows(_as_matrix(attention)[plan.cell_ids], attention_power)
            weights = prune_rows(rows, prune_mass)
            keep = np.flatnonzero(weights.any(axis=0))
            if keep.size:
                small_u8 = small_image(image) if small is None else small
                xsmall = cv2.resize(small_u8.astype(np.float32), (width, MODEL_SIZE),
                                    interpolation=cv2.INTER_LINEAR)
    # per-cell work: compose's threads (see OpenCVSingleThreaded)
    with OpenCVSingleThreaded(), Pool(threads) as pool:
        terms = choose(image, hole, plan, xinp, pool, weights, keep, xsmall, matmul)
        t_cells = time.perf_counter()
        chunks = plan.chunks(min(chunk_cells, max(1, -(-len(plan.cells) // (2 * threads)))))
        spent = pool.map(lambda r: _compose_chunk(image, out, plan, terms, *r), chunks)
    if timings is not None:
        # per-chunk blend share of the (possibly parallel) chunk phase
        total, t_cells = time.perf_counter() - t_start, time.perf_counter() - t_cells
        share = sum(b for _, b in spent) / max(sum(a for a, _ in spent), 1e-9)
        timings["cra"] = timings.get("cra", 0.0) + total - share * t_cells
        timings["blend"] = timings.get("blend", 0.0) + share * t_cells
    return out

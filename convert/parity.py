"""Parity of the exported graph: onnxruntime vs PyTorch, and fp16 vs fp32.

Three runs of the same (photo, mask) pairs:

1. the eager PyTorch wrapper (the reference),
2. the fp32 ONNX in onnxruntime: must match the reference to float rounding,
3. the fp16 twin of the ONNX (``convert.fp16``) in onnxruntime: what ATC's
   default ``--precision_mode=force_fp16`` does to the numbers.

Limits of (3) as a stand-in for the NPU: weights and every tensor between
operators are fp16, as on the AI core (the session runs without graph
optimisations, which would otherwise drop the fp16 rounding between ops);
inside an operator onnxruntime's CPU kernels may compute in fp32 (it wraps
ops without fp16 kernels in Casts), much as the 310's cube unit accumulates
convolutions and matrix products in fp32, but its vector unit computes e.g.
Softmax sums in fp16. Treat the figures as an estimate, not a bound. On the
weights measured so far the fp16 error is dominated by the last operators'
output rounding: fp16 steps are 0.125 between 128 and 256, so ``inpainted``
differs by up to ~0.06 grey levels.

Choice of ATC ``--precision_mode`` from the figures (:func:`recommend_precision`):

- ``force_fp16`` (ATC's default, every operator fp16, fastest) when the fp16
  run is within budget: ``inpainted`` max error <= FP16_INPAINTED_MAX and mean
  <= FP16_INPAINTED_MEAN grey levels (0..255; invisible, below JPEG noise),
  and every attention row's L1 error <= FP16_ATTENTION_ROW_L1 (the CRA
  residual is a weighted sum over a row, so its error is at most that
  fraction of the residual's amplitude). The attention module was designed
  for it: cosine logits bounded to +-10, masked logit -1e4, max-subtracted
  softmax, overflow-safe L2 normalisation.
- otherwise ``allow_fp32_to_fp16``: convolutions and matrix products stay fp16
  on the cube (the 310 has no fp32 cube), vector operators that support fp32
  (Softmax, reductions, Sqrt, Div) keep it. Not ``must_keep_origin_dtype``:
  the 310's AI core implements Conv2D in fp16 only, so it cannot keep the
  graph's fp32. Not ``allow_mix_precision``: its fp16/fp32 split follows
  ATC's built-in lists rather than this graph's measured weak points.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

import numpy as np
import onnx

from edge_app import interface
from .fp16 import to_float16
from .runtime import Outputs, ort_session, run_ort, run_torch
from .samples import interface_inputs, make_mask
from .wrapper import DeployWrapper, Provenance

FP16_INPAINTED_MAX = 4.0
FP16_INPAINTED_MEAN = 0.5
FP16_ATTENTION_ROW_L1 = 0.02


@dataclass(frozen=True)
class Diff:
    """Max and mean absolute difference of two arrays."""

    max_abs: float
    mean_abs: float

    @staticmethod
    def of(a: np.ndarray, b: np.ndarray) -> "Diff":
        d = np.abs(a.astype(np.float64) - b.astype(np.float64))
        return Diff(float(d.max()), float(d.mean()))

    @staticmethod
    def combine(diffs: Sequence["Diff"]) -> "Diff":
        """Over equal-sized samples: max of maxima, mean of means."""
        return Diff(max(d.max_abs for d in diffs), float(np.mean([d.mean_abs for d in diffs])))


@dataclass
class ParityReport:
    """Figures over all samples: ``fp32`` is onnxruntime vs PyTorch, ``fp16``
    is onnxruntime fp16 vs onnxruntime fp32, per output name."""

    images: List[str]
    fp32: Dict[str, Diff]
    fp16: Dict[str, Diff]
    fp16_attention_row_l1: float
    outside_hole_max: float

    def to_text(self) -> str:
        lines = [f"parity on {len(self.images)} photo(s): {', '.join(self.images)}",
                 f"{'output':<16}{'ort fp32 vs torch: max':>24}{'mean':>11}{'ort fp16 vs fp32: max':>24}{'mean':>11}"]
        for name in interface.OUTPUTS:
            a, b = self.fp32[name], self.fp16[name]
            lines.append(f"{name:<16}{a.max_abs:>24.3g}{a.mean_abs:>11.3g}{b.max_abs:>24.3g}{b.mean_abs:>11.3g}")
        mode, reason = recommend_precision(self)
        lines += [f"fp16 attention: max row L1 error {self.fp16_attention_row_l1:.3g}",
                  f"inpainted vs input outside the hole (ort fp32): max {self.outside_hole_max:.3g}",
                  f"recommended ATC --precision_mode={mode}: {reason}"]
        return "\n".join(lines)


def recommend_precision(report: ParityReport) -> Tuple[str, str]:
    """ATC precision mode for these figures (rule in the module docstring)."""
    inp = report.fp16["inpainted"]
    within = (inp.max_abs <= FP16_INPAINTED_MAX and inp.mean_abs <= FP16_INPAINTED_MEAN
              and report.fp16_attention_row_l1 <= FP16_ATTENTION_ROW_L1)
    budget = (f"budget: inpainted max {FP16_INPAINTED_MAX:g} / mean {FP16_INPAINTED_MEAN:g} grey levels, "
              f"attention row L1 {FP16_ATTENTION_ROW_L1:g}")
    if within:
        return "force_fp16", f"fp16 error within {budget}; ATC's default and fastest mode"
    return "allow_fp32_to_fp16", (f"fp16 error exceeds {budget}; keep vector ops in fp32 "
                                  "(convolutions stay fp16: the 310 has no fp32 cube)")


def ensure_same_weights(model: onnx.ModelProto, provenance: Provenance) -> None:
    """Refuse to compare a graph with weights other than the wrapper's."""
    meta = {p.key: p.value for p in model.metadata_props}
    mine = provenance.metadata()
    keys = ["checkpoint_sha256"] + (["source"] if provenance.checkpoint_sha256 == "random-init" else [])
    for key in keys:
        if meta.get(key) != mine[key]:
            raise ValueError(f"the ONNX model's {key} is {meta.get(key)!r} but the PyTorch weights' is {mine[key]!r}: "
                             "pass the checkpoint (or --random-init --seed) it was exported from")


def _row_l1(a: np.ndarray, b: np.ndarray) -> float:
    rows = np.abs(a.astype(np.float64) - b.astype(np.float64)).reshape(-1, interface.ATTENTION_CELLS)
    return float(rows.sum(axis=1).max())


def run_parity(wrapper: DeployWrapper, model: onnx.ModelProto, photos: Sequence[Tuple[str, np.ndarray]],
               threads: int = 0) -> ParityReport:
    """Compare the three runs on ``photos`` (name, uint8 BGR MODEL_SIZE
    square), the i-th photo with ``make_mask(i)``."""
    s32 = ort_session(model, threads)
    s16 = ort_session(to_float16(model), threads, optimize=False)
    fp32: Dict[str, List[Diff]] = {n: [] for n in interface.OUTPUTS}
    fp16: Dict[str, List[Diff]] = {n: [] for n in interface.OUTPUTS}
    row_l1, outside = [], []
    for i, (_, bgr) in enumerate(photos):
        img, mask = interface_inputs(bgr, make_mask(i))
        ref: Outputs = run_torch(wrapper, img, mask)
        o32 = run_ort(s32, img, mask)
        o16 = run_ort(s16, img, mask)
        for name in interface.OUTPUTS:
            fp32[name].append(Diff.of(o32[name], ref[name]))
            fp16[name].append(Diff.of(o16[name], o32[name]))
        row_l1.append(_row_l1(o16["attention"], o32["attention"]))
        known = mask[..., 0] <= 0.5
        outside.append(float(np.abs(o32["inpainted"] - img)[known].max()))
    return ParityReport(
        images=[name for name, _ in photos],
        fp32={n: Diff.combine(d) for n, d in fp32.items()},
        fp16={n: Diff.combine(d) for n, d in fp16.items()},
        fp16_attention_row_l1=max(row_l1),
        outside_hole_max=max(outside),
    )

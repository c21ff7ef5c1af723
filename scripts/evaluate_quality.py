#!/usr/bin/env python3
"""Full-resolution quality of the bundled model against the classical baselines.

For every photo of a validation folder (at its native resolution) and every
seeded hole (brush strokes and object-shaped blobs, 5% to 25% of the frame),
run: OpenCV Telea, OpenCV Navier-Stokes, the app without CRA (bilinear
upsampling of the 512 result: the ablation) and the app with CRA. Metrics:

- ``l1_hole``: mean absolute error inside the hole, on a 0..1 scale (lower is better);
- ``ms_ssim_around``: MS-SSIM on the hole's bounding box grown by a margin
  (higher is better);
- ``hf_ratio``: high-frequency energy in the hole (mean |Laplacian| of the
  grey image) divided by the truth's (1 is ideal; blur gives < 1);
- ``sharpness``: the variance of that Laplacian in the hole divided by the
  truth's (1 = as detailed as the real photo; a smooth fill is near 0);
- ``swd`` and ``swd_512``: the sliced Wasserstein distance between the
  hole's Laplacian-pyramid patches in the result and in the truth, at
  native size and on the hole's box scaled to at most 512 px a side
  (lower is better: blur and streaks score badly, the right grain well
  whatever its phase; training/hole_metrics.py);
- ``edge_f1``: Canny edges of the result against the truth's inside the
  hole's box scaled to at most 512 px, matched within 2 px (higher is
  better: blur loses recall, streaks and repeats lose precision).

Borrowed texture is never in phase with the truth, so L1 favours a smooth
fill; SWD judges the detail and edge F1 the structure.

Holes: brush strokes and object-shaped blobs (``--ratio`` of the frame) and
thin wires (one to three sagging cables 3 to 12 px wide, 0.5 % to 3 % of the
frame: the field camera's cable or pole), drawn from their own seeded
generator so the other kinds' holes do not depend on them.

Writes ``OUT/quality.json``, ``OUT/quality.md`` (the method x metric table),
``OUT/quality_grid.jpg`` (input, mask, Telea, no-CRA, CRA, truth) and
``OUT/worst_cases.jpg``: the cases where the app's result is furthest behind
Navier-Stokes (SWD at 512 against Navier-Stokes', then edge F1), each as
truth | app | Navier-Stokes around the hole: look at it before believing
the table.

    .venv/bin/python scripts/evaluate_quality.py --data VAL_DIR --out OUT
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge_app import AppConfig, Inpainter  # noqa: E402
from edge_app.config import FILLS  # noqa: E402
from edge_app.errors import ConfigError  # noqa: E402
from edge_app.fileio import read_image  # noqa: E402
from make_before_after import label  # noqa: E402  (scripts/ is sys.path[0])
from training.masks import free_form_mask, lama_mask  # noqa: E402
from training.hole_metrics import edge_f1, swd  # noqa: E402
from training.metrics import ms_ssim  # noqa: E402

METHODS = ("telea", "navier_stokes", "no_cra", "cra")
MASK_KINDS = ("strokes", "objects", "wires")
#: Hole fraction of the wires (the other kinds take --ratio).
WIRE_RATIO = (0.005, 0.03)
PHOTO_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp")


def _square_strokes(rng: np.random.Generator, height: int, width: int, lo: float, hi: float) -> np.ndarray:
    """Brush strokes drawn on a 512 square, stretched to the frame."""
    draw = free_form_mask if rng.uniform() < 0.5 else lama_mask
    square = draw(rng, 512, lo, hi)
    return cv2.resize(square, (width, height), interpolation=cv2.INTER_NEAREST) > 0


def _blob(mask: np.ndarray, rng: np.random.Generator, cx: float, cy: float, radius: float) -> None:
    """One star-shaped blob: a 24-gon with smooth random radial variation."""
    n = 24
    phases = rng.uniform(0, 2 * math.pi, 3)
    angles = np.linspace(0, 2 * math.pi, n, endpoint=False)
    wobble = sum(0.15 * np.sin((k + 2) * angles + p) for k, p in enumerate(phases))
    aspect = rng.uniform(0.6, 1.6)
    xs = cx + radius * (1 + wobble) * np.cos(angles) * math.sqrt(aspect)
    ys = cy + radius * (1 + wobble) * np.sin(angles) / math.sqrt(aspect)
    cv2.fillPoly(mask, [np.stack([xs, ys], 1).round().astype(np.int32)], 1)


def object_mask(rng: np.random.Generator, height: int, width: int, lo: float, hi: float) -> np.ndarray:
    """One to three object-shaped blobs whose total area fraction is in [lo, hi]."""
    target = rng.uniform(lo, hi)
    count = int(rng.integers(1, 4))
    centres = [(rng.uniform(0.2, 0.8) * width, rng.uniform(0.2, 0.8) * height) for _ in range(count)]
    seeds = rng.integers(0, 2**31, count)
    scale = 1.0
    mask = np.zeros((height, width), np.uint8)
    for _ in range(12):  # rescale the radii until the union hits the target
        mask[:] = 0
        radius = scale * math.sqrt(target * height * width / count / math.pi)
        for (cx, cy), seed in zip(centres, seeds):
            _blob(mask, np.random.default_rng(int(seed)), cx, cy, radius)
        ratio = float(mask.mean())
        if lo <= ratio <= hi and abs(ratio - target) < 0.01:
            break
        scale *= math.sqrt(target / max(ratio, 1e-6))
    return mask > 0


def wire_mask(rng: np.random.Generator, height: int, width: int, lo: float, hi: float) -> np.ndarray:
    """One to three sagging cables across the frame (parabolas between two
    edges), 3 to 12 px wide, thinned or thickened into [lo, hi] of the frame."""
    target = rng.uniform(lo, hi)
    mask = np.zeros((height, width), np.uint8)
    for _ in range(int(rng.integers(1, 4))):
        thickness = int(rng.integers(3, 13))
        y0, y1 = rng.uniform(0.1, 0.9, 2) * height
        sag = rng.uniform(0.0, 0.15) * height
        xs = np.linspace(0, width - 1, 64)
        t = xs / (width - 1)
        ys = y0 + (y1 - y0) * t + sag * 4 * t * (1 - t)
        cv2.polylines(mask, [np.stack([xs, ys], 1).round().astype(np.int32)], False, 1, thickness)
    kernel = np.ones((3, 3), np.uint8)
    for _ in range(8):  # grow or thin by a pixel a side until in range
        ratio = float(mask.mean())
        if lo <= ratio <= hi and abs(ratio - target) < target / 2:
            break
        grown = cv2.dilate(mask, kernel) if ratio < target else cv2.erode(mask, kernel)
        if not grown.any():
            break
        mask = grown
    return mask > 0


MASK_MAKERS: Dict[str, Callable[..., np.ndarray]] = {"strokes": _square_strokes, "objects": object_mask,
                                                     "wires": wire_mask}


def run_methods(inpainters: Dict[str, Inpainter], image: np.ndarray, hole: np.ndarray) -> Dict[str, np.ndarray]:
    """Every method's result for one photo and hole (the network runs once:
    the two app variants differ only after inference)."""
    hole8 = hole.astype(np.uint8) * 255
    cra_frames = inpainters["cra"].for_mask(hole)
    inferred = cra_frames.infer(image)
    return {
        "telea": cv2.inpaint(image, hole8, 3, cv2.INPAINT_TELEA),
        "navier_stokes": cv2.inpaint(image, hole8, 3, cv2.INPAINT_NS),
        "no_cra": inpainters["no_cra"].for_mask(hole).finish(image, inferred),
        "cra": cra_frames.finish(image, inferred),
    }


def _around(hole: np.ndarray, margin_fraction: float = 0.05) -> Tuple[slice, slice]:
    """The hole's bounding box grown by a margin (at least 176 px: 5 MS-SSIM scales)."""
    ys, xs = np.nonzero(hole)
    h, w = hole.shape
    margin = max(int(margin_fraction * min(h, w)), 88)
    y0, y1 = max(ys.min() - margin, 0), min(ys.max() + 1 + margin, h)
    x0, x1 = max(xs.min() - margin, 0), min(xs.max() + 1 + margin, w)
    return slice(y0, y1), slice(x0, x1)


def _tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255.0


def _laplacian(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32)
    return cv2.Laplacian(grey, cv2.CV_32F, ksize=3)[hole]


def score(result: np.ndarray, truth: np.ndarray, hole: np.ndarray) -> Dict[str, float]:
    """The three metrics of one result."""
    diff = np.abs(result.astype(np.float32) - truth.astype(np.float32)) / 255.0
    rows, cols = _around(hole)
    with torch.no_grad():
        around = ms_ssim(_tensor(result[rows, cols]), _tensor(truth[rows, cols])).item()
    lap, lap_truth = _laplacian(result, hole), _laplacian(truth, hole)
    return {
        "l1_hole": float(diff[hole].mean()),
        "ms_ssim_around": float(around),
        "hf_ratio": float(np.abs(lap).mean()) / max(float(np.abs(lap_truth).mean()), 1e-6),
        "sharpness": float(lap.var()) / max(float(lap_truth.var()), 1e-6),
        "swd": swd(result, truth, hole),
        "swd_512": swd(result, truth, hole, max_side=512),
        "edge_f1": edge_f1(result, truth, hole),
    }


def picture_grid(image: np.ndarray, hole: np.ndarray, results: Dict[str, np.ndarray], width: int = 480) -> np.ndarray:
    """Input | mask | Telea | no-CRA | CRA | truth, cropped around the hole."""
    rows, cols = _around(hole)
    shown = image.copy()
    shown[hole] = (255, 255, 255)
    tiles = [
        ("input", shown), ("mask", np.repeat(hole[..., None].astype(np.uint8) * 255, 3, 2)),
        ("Telea", results["telea"]), ("no CRA", results["no_cra"]), ("CRA", results["cra"]), ("truth", image),
    ]
    out = []
    for name, tile in tiles:
        crop = tile[rows, cols]
        h = int(round(crop.shape[0] * width / crop.shape[1]))
        out.append(label(cv2.resize(crop, (width, h), interpolation=cv2.INTER_AREA), name))
    return np.vstack([np.hstack(out[:3]), np.hstack(out[3:])])


def case_tiles(image: np.ndarray, hole: np.ndarray, results: Dict[str, np.ndarray], width: int = 400) -> np.ndarray:
    """Truth | app (CRA) | Navier-Stokes around the hole, side by side."""
    box = _around(hole)
    tiles = []
    for name, tile in (("truth", image), ("app", results["cra"]), ("Navier-Stokes", results["navier_stokes"])):
        crop = tile[box]
        height = int(round(crop.shape[0] * width / crop.shape[1]))
        tiles.append(label(cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA), name))
    return np.hstack(tiles)


def behind_navier_stokes(case: Dict) -> Tuple[float, float]:
    """How far the app is behind Navier-Stokes on a case: SWD at 512 as a
    multiple of Navier-Stokes', then Navier-Stokes' edge F1 minus the app's."""
    ours, ns = case["metrics"]["cra"], case["metrics"]["navier_stokes"]
    ratio = ours["swd_512"] / max(ns["swd_512"], 1e-6)
    return (ratio if ratio == ratio else 0.0), ns["edge_f1"] - ours["edge_f1"]


def worst_cases(cases: List[Dict], tiles: List[np.ndarray], count: int = 6) -> np.ndarray:
    """The ``count`` cases furthest behind Navier-Stokes, one captioned row each."""
    rows = []
    for i in sorted(range(len(cases)), key=lambda i: behind_navier_stokes(cases[i]), reverse=True)[:count]:
        case, row = cases[i], tiles[i]
        ratio, _ = behind_navier_stokes(case)
        caption = np.zeros((40, row.shape[1], 3), np.uint8)
        label(caption, f"{case['photo']} {case['kind']}#{case['index']}: SWD at 512 {ratio:.2f}x Navier-Stokes', "
                       f"edge F1 {case['metrics']['cra']['edge_f1']:.2f} vs {case['metrics']['navier_stokes']['edge_f1']:.2f}")
        rows.append(np.vstack([caption, row]))
    return np.vstack(rows)


def summarise(cases: List[Dict]) -> Dict[str, Dict[str, Dict[str, float]]]:
    """Mean of each metric per mask kind ('all' too) and method (NaN-free:
    a hole too thin for one SWD level is left out of that mean)."""
    summary: Dict[str, Dict[str, Dict[str, float]]] = {}
    for kind in MASK_KINDS + ("all",):
        chosen = [c for c in cases if kind in ("all", c["kind"])]
        if not chosen:
            continue
        summary[kind] = {
            m: {k: float(np.nanmean([c["metrics"][m][k] for c in chosen])) for k in chosen[0]["metrics"][m]}
            for m in METHODS
        }
    return summary


def markdown_table(summary: Dict[str, Dict[str, Dict[str, float]]]) -> str:
    lines = ["| holes | method | L1 in hole (0..255, lower better) | MS-SSIM around hole (higher better) "
             "| sharpness / truth (1 = as detailed as the photo) | SWD native (lower better) "
             "| SWD at 512 (lower better) | edge F1 (higher better) |",
             "|---|---|---|---|---|---|---|---|"]
    for kind, per_method in summary.items():
        for method, m in per_method.items():
            lines.append(f"| {kind} | {method} | {255 * m['l1_hole']:.2f} | {m['ms_ssim_around']:.4f} "
                         f"| {m['sharpness']:.3f} | {m['swd']:.3f} | {m['swd_512']:.3f} | {m['edge_f1']:.3f} |")
    return "\n".join(lines)


def main(argv: List[str] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="folder of validation photos (never used in training)")
    parser.add_argument("--out", required=True, help="output folder for quality.json/.md and quality_grid.jpg")
    parser.add_argument("--model", default=None, help="ONNX model (default: the bundled edge_app/models/hifill.onnx)")
    parser.add_argument("--fill", choices=FILLS, default=AppConfig.fill,
                        help="the app's --fill (default %(default)s)")
    parser.add_argument("--detail", type=float, default=AppConfig.attention_power,
                        help="the app's --detail for the CRA run (default %(default)s: the model's rows)")
    parser.add_argument("--holes-per-kind", type=int, default=2, help="seeded holes of each kind per photo (default 2)")
    parser.add_argument("--ratio", default="0.05,0.25", help="hole fraction range (default 0.05,0.25)")
    parser.add_argument("--seed", type=int, default=2020)
    args = parser.parse_args(argv)

    lo, hi = (float(v) for v in args.ratio.split(","))
    photos = sorted(p for p in Path(args.data).iterdir() if p.suffix.lower() in PHOTO_EXTENSIONS)
    if not photos:
        parser.error(f"{args.data}: no photos")
    try:
        with_cra = Inpainter(args.model, backend="onnxruntime", cra=True, fill=args.fill, attention_power=args.detail)
    except ConfigError as exc:
        parser.error(f"argument --detail: {exc.problem}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    inpainters = {"cra": with_cra, "no_cra": Inpainter(backend=with_cra.backend, cra=False, fill=args.fill)}
    shared = np.random.default_rng(args.seed)  # strokes and objects: one stream, as before wires were added
    rngs = {"strokes": shared, "objects": shared, "wires": np.random.default_rng(args.seed + 1)}
    cases, tiles, grid = [], [], None
    for photo in photos:
        image = read_image(str(photo))
        h, w = image.shape[:2]
        for kind in MASK_KINDS:
            for index in range(args.holes_per_kind):
                ratio = WIRE_RATIO if kind == "wires" else (lo, hi)
                hole = MASK_MAKERS[kind](rngs[kind], h, w, *ratio)
                results = run_methods(inpainters, image, hole)
                metrics = {m: score(results[m], image, hole) for m in METHODS}
                cases.append({"photo": photo.name, "size": [w, h], "kind": kind, "index": index,
                              "hole_fraction": float(hole.mean()), "metrics": metrics})
                tiles.append(case_tiles(image, hole, results))
                print(f"{photo.name} {w}x{h} {kind}#{index} hole {hole.mean():.1%}: "
                      + ", ".join(f"{m} L1 {metrics[m]['l1_hole']:.4f}" for m in METHODS), flush=True)
                if grid is None and kind == "objects":
                    grid = picture_grid(image, hole, results)
    summary = summarise(cases)
    table = markdown_table(summary)
    (out / "quality.json").write_text(json.dumps({"summary": summary, "cases": cases, "ratio": [lo, hi],
                                                  "seed": args.seed, "detail": args.detail,
                                                  "fill": args.fill}, indent=2))
    (out / "quality.md").write_text(table + "\n")
    if grid is not None:
        cv2.imwrite(str(out / "quality_grid.jpg"), grid, [cv2.IMWRITE_JPEG_QUALITY, 88])
    cv2.imwrite(str(out / "worst_cases.jpg"), worst_cases(cases, tiles), [cv2.IMWRITE_JPEG_QUALITY, 88])
    print(table)
    print(f"wrote {out / 'quality.json'}, {out / 'quality.md'}, {out / 'quality_grid.jpg'}, {out / 'worst_cases.jpg'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

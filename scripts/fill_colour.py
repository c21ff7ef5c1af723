#!/usr/bin/env python3
"""Does the fill have the colour of its surroundings? (a grey fill does not)

Inpaints a photo with the app (bundled model, CRA on) and with OpenCV's
Navier-Stokes at native resolution, and prints, per BGR channel, the mean of
each result inside the hole minus the mean of the known pixels in a ring
of --ring pixels around the hole. Exits with status 1 when the app's
largest difference is above --tolerance grey levels.

    .venv/bin/python scripts/fill_colour.py            # the bundled sample
    .venv/bin/python scripts/fill_colour.py --image photo.jpg --mask mask.png
"""
import argparse
import sys
from pathlib import Path
from typing import Dict

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edge_app import AppConfig, Inpainter  # noqa: E402
from edge_app.config import FILLS  # noqa: E402
from edge_app.errors import ConfigError, InpaintError  # noqa: E402
from edge_app.fileio import read_image  # noqa: E402
from edge_app.masks import read_hole  # noqa: E402

SAMPLE = REPO / "edge_app" / "samples"


def ring_of(hole: np.ndarray, width: int) -> np.ndarray:
    """Known pixels within ``width`` pixels (Euclidean) of the hole."""
    dist = cv2.distanceTransform((~hole).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return (dist > 0) & (dist <= width)


def colour_offsets(results: Dict[str, np.ndarray], image: np.ndarray, hole: np.ndarray,
                   ring: int) -> Dict[str, np.ndarray]:
    """Per result: mean BGR in the hole minus the mean BGR of the ring in ``image``."""
    reference = image[ring_of(hole, ring)].astype(np.float64).mean(axis=0)
    return {name: r[hole].astype(np.float64).mean(axis=0) - reference for name, r in results.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image", default=str(SAMPLE / "bridge.jpg"), help="photo (default: the bundled sample)")
    parser.add_argument("--mask", default=str(SAMPLE / "bridge_mask.png"), help="its mask, white = hole")
    parser.add_argument("--model", default=None, help="ONNX model (default: the bundled one)")
    parser.add_argument("--fill", choices=FILLS, default=AppConfig.fill, help="the app's --fill (default %(default)s)")
    parser.add_argument("--detail", type=float, default=AppConfig.attention_power,
                        help="the app's --detail (default %(default)s; with --fill network)")
    parser.add_argument("--ring", type=int, default=16, help="width of the ring of known pixels (default 16)")
    parser.add_argument("--tolerance", type=float, default=3.0,
                        help="largest accepted |difference| of the app, grey levels per channel (default 3)")
    args = parser.parse_args(argv)
    try:
        inpainter = Inpainter(args.model, backend="onnxruntime", fill=args.fill, attention_power=args.detail)
    except ConfigError as exc:
        parser.error(f"argument --detail: {exc.problem}")
    image = read_image(args.image)
    hole = read_hole(args.mask) != 0
    try:  # inpaint() validates the pair (sizes, empty or full mask)
        ours = inpainter.inpaint(image, hole, mask_path=args.mask)
    except InpaintError as exc:
        raise SystemExit(f"error: {exc}")
    ns = cv2.inpaint(image, hole.astype(np.uint8) * 255, 3, cv2.INPAINT_NS)
    offsets = colour_offsets({"app (CRA)": ours, "Navier-Stokes": ns}, image, hole, args.ring)
    print(f"{args.image}: hole {hole.mean():.1%} of the frame; mean colour in the hole minus the mean of "
          f"a {args.ring} px ring of known pixels (B, G, R grey levels):")
    for name, d in offsets.items():
        print(f"  {name:<14} {d[0]:+7.2f} {d[1]:+7.2f} {d[2]:+7.2f}   largest |d| {np.abs(d).max():.2f}")
    worst = float(np.abs(offsets["app (CRA)"]).max())
    verdict = "within" if worst <= args.tolerance else "ABOVE"
    print(f"app: largest |difference| {worst:.2f}, {verdict} the tolerance of {args.tolerance:g}")
    return 0 if worst <= args.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())

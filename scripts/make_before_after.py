#!/usr/bin/env python3
"""The README's before/after picture: the sample with its mask drawn in red,
next to the app's result with the bundled model and default settings, each scaled to
--width pixels.

    .venv/bin/python scripts/make_before_after.py [--out docs/images/sample_before_after.jpg]
"""
import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edge_app import Inpainter  # noqa: E402
from edge_app.atomic import atomic_path  # noqa: E402
from edge_app.errors import InpaintError  # noqa: E402
from edge_app.fileio import read_image  # noqa: E402
from edge_app.masks import read_hole  # noqa: E402

SAMPLE = REPO / "edge_app" / "samples"


def label(tile: np.ndarray, text: str) -> np.ndarray:
    """White text with a dark outline in the top-left corner (drawn into ``tile``)."""
    for colour, thickness in (((0, 0, 0), 4), ((255, 255, 255), 2)):
        cv2.putText(tile, text, (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.8, colour, thickness, cv2.LINE_AA)
    return tile


def before_after(image: np.ndarray, hole: np.ndarray, result: np.ndarray, width: int) -> np.ndarray:
    """[input with the hole tinted red | result], each ``width`` pixels wide."""
    shown = image.copy()
    shown[hole] = (0.45 * shown[hole] + 0.55 * np.array([0, 0, 255])).astype(np.uint8)
    height = int(round(image.shape[0] * width / image.shape[1]))
    tiles = [cv2.resize(t, (width, height), interpolation=cv2.INTER_AREA) for t in (shown, result)]
    return np.hstack([label(tiles[0], "input + mask"), label(tiles[1], "result (bundled model, default settings)")])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image", default=str(SAMPLE / "bridge.jpg"), help="photo (default: the bundled sample)")
    parser.add_argument("--mask", default=str(SAMPLE / "bridge_mask.png"), help="its mask, white = hole")
    parser.add_argument("--model", default=None, help="ONNX model (default: the bundled one)")
    parser.add_argument("--width", type=int, default=800, help="width of each half in pixels (default 800)")
    parser.add_argument("--out", default=str(REPO / "docs" / "images" / "sample_before_after.jpg"),
                        help="output JPEG (overwritten)")
    args = parser.parse_args(argv)
    image = read_image(args.image)
    hole = read_hole(args.mask) != 0
    try:  # inpaint() validates the pair (sizes, full mask) and names the mask file
        result = Inpainter(args.model, backend="onnxruntime").inpaint(image, hole, mask_path=args.mask)
    except InpaintError as exc:
        raise SystemExit(f"error: {exc}")
    picture = before_after(image, hole, result, args.width)
    ok, encoded = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, 88])
    if not ok:
        raise SystemExit("error: JPEG encoding failed")
    with atomic_path(args.out) as tmp:
        Path(tmp).write_bytes(encoded.tobytes())
    print(f"wrote {args.out} ({picture.shape[1]}x{picture.shape[0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

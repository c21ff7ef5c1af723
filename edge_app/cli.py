"""Command line: ``python -m edge_app inpaint|stream|bench|serve ...`` (see --help).

Bad input ends with one line, ``error: <file>: <problem>``, and exit status
2; warnings (empty mask, likely inverted mask) go to stderr as
``warning: ...`` and do not stop the run.
"""
import argparse
import os
import sys
import time
import warnings
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from . import bench, fileio, masks
from .config import AppConfig
from .errors import InpaintError, InpaintWarning, NotAMaskError
from .options import add_options, parse
from .timings import Timings, in_order

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m edge_app",
        description="HiFill inpainting with Contextual Residual Aggregation: remove what a mask covers from "
                    "photos of any size (up to 8K) or from a fixed camera's video, on an Atlas 200 DK (pyACL) or "
                    "a desktop (onnxruntime).")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    p = sub.add_parser("inpaint", help="inpaint an image (or a folder of images)",
                       description="Inpaint IMAGE where MASK marks the hole. With folders, each image is matched "
                                   "with the mask of the same file stem and written into the OUT folder.")
    p.add_argument("image", metavar="IMAGE", help="image file, or a folder of images")
    p.add_argument("mask", metavar="MASK", help="mask file (white = hole by default), or a folder of masks")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="output file (format from its extension), or a folder when IMAGE is a folder")
    add_options(p, "inpaint")
    p.set_defaults(run=cmd_inpaint)
    p = sub.add_parser("stream", help="inpaint a video or camera stream with a fixed mask",
                       description="Inpaint every frame of a video file, URL or camera with one fixed mask "
                                   "(an obstruction in front of a fixed camera) and write a video.")
    p.add_argument("--source", required=True, metavar="FILE|URL|INDEX",
                   help="video file, stream URL, or camera index (0, 1, ...)")
    p.add_argument("--mask", required=True, metavar="MASK", help="mask file of the frame size")
    p.add_argument("-o", "--output", required=True, metavar="OUT.mp4", help="output video (--stream-fourcc)")
    p.add_argument("--max-frames", type=int, metavar="N", help="stop after N frames")
    add_options(p, "stream")
    p.set_defaults(run=cmd_stream)
    bench.add_parser(sub)
    p = sub.add_parser("serve", help="a web page to draw the mask on a photo or a live frame and see the result",
                       description="Serve a page (no internet needed) where a browser uploads a photo or takes the "
                                   "current frame of --source, paints the hole, inpaints and compares, with the "
                                   "timings of each stage. Binds 127.0.0.1 unless --host is given; on another "
                                   "address every request needs the token of the printed URL.")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on: 0.0.0.0 for every network of the board (default: %(default)s)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default: %(default)s; 0: a free one)")
    p.add_argument("--source", metavar="FILE|URL|INDEX",
                   help="video file (looped), stream URL or camera index for the current frame and the live "
                        "preview")
    p.add_argument("--mask", default="stream_mask.png", metavar="MASK",
                   help="with --source: the mask file of the stream, the one `stream --mask` reads; \"use this "
                        "mask for the stream\" writes it (replacing a file that existed before the server "
                        "started only with --overwrite); loaded at start when it exists (default: %(default)s)")
    add_options(p, "serve")
    p.set_defaults(run=cmd_serve)
    return parser


def open_inpainter(args: argparse.Namespace):
    """The Inpainter of the parsed options, the network's threads sized for
    the command (edge_app.cores; imported late: a light --help)."""
    from .cores import for_command
    from .pipeline import Inpainter
    return Inpainter.from_config(for_command(args.config, args.command), args.model)


def read_pair(image_path: str, mask_path: str, config: AppConfig) -> Tuple[fileio.SourceImage, masks.MaskFile]:
    """(image, mask) from files: the image with its depth, grey and alpha
    (fileio.read_source), the mask by the configured conventions. A mask
    that looks like a photo while the image looks like a mask: the
    arguments are swapped, and the error says so."""
    image = fileio.read_source(image_path)
    try:
        return image, masks.read_mask(mask_path, config)
    except NotAMaskError:
        if masks.looks_like_a_mask(image.bgr):
            raise NotAMaskError("looks like a photo, and {} like a mask: are IMAGE and MASK swapped? The photo "
                                "comes first: inpaint PHOTO MASK -o OUT".format(image_path), mask_path)
        raise


def _pairs(image_dir: str, mask_dir: str, out_dir: str) -> Tuple[List[Tuple[str, str, str]], List[str]]:
    """(image, mask, output) matched by file stem, and the images without a mask."""
    def listing(folder):
        names = sorted(n for n in os.listdir(folder) if n.lower().endswith(IMAGE_EXTENSIONS))
        return [os.path.join(folder, n) for n in names]
    masks_by_stem = {}  # type: Dict[str, str]
    for path in listing(mask_dir):
        masks_by_stem.setdefault(os.path.splitext(os.path.basename(path))[0], path)
    pairs, missing = [], []
    for path in listing(image_dir):
        name = os.path.basename(path)
        mask = masks_by_stem.get(os.path.splitext(name)[0])
        if mask is None:
            missing.append(path)
        else:
            pairs.append((path, mask, os.path.join(out_dir, name)))
    return pairs, missing


class Progress:
    """tqdm when importable (not on the board), else a plain text line; in
    ``unit``s. Shown from the first update on, so that an error before any
    work is done is not preceded by an empty bar."""

    def __init__(self, total: Optional[int], label: str, unit: str):
        self.total, self.label, self.unit, self.count = total, label, unit, 0
        self._bar = None  # type: Any

    def update(self, note: str = "") -> None:
        self.count += 1
        if self.count == 1:
            try:
                from tqdm import tqdm
                self._bar = tqdm(total=self.total, desc=self.label, unit=self.unit, file=sys.stderr)
            except ImportError:
                pass
        if self._bar is not None:
            self._bar.update(1)
        elif self.total:
            print("{} [{}/{}] {}".format(self.label, self.count, self.total, note), file=sys.stderr)
        elif self.count % 25 == 0:
            print("{}: {} {}s".format(self.label, self.count, self.unit), file=sys.stderr)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _print_timings(timings: Timings, frames: int = 1) -> None:
    per = " per frame" if frames > 1 else ""
    for stage, seconds in in_order(timings):
        print("  {:<11s} {:8.1f} ms{}".format(stage, 1000.0 * seconds / max(frames, 1), per))
    print("  {:<11s} {:8.1f} ms{}".format("total", 1000.0 * sum(timings.values()) / max(frames, 1), per))


def _read_one(image_path: str, mask_path: str, out_path: str,
              config: AppConfig) -> Tuple[fileio.SourceImage, np.ndarray, float]:
    """Check OUT, read and check the pair (its notes printed as warnings) and
    check that OUT's format keeps the image's depth and alpha, before any
    inference: (image, hole, decode seconds)."""
    fileio.check_output_path(out_path, (image_path, mask_path), config.overwrite)
    t0 = time.perf_counter()
    image, mask = read_pair(image_path, mask_path, config)
    decode = time.perf_counter() - t0
    fileio.check_format(out_path, image.colour.dtype, image.alpha is not None)
    masks.warn(masks.check_pair(image.bgr, mask.hole, config, mask_path, by_alpha=mask.by_alpha))
    return image, mask.hole, decode


def _inpaint_one(inpainter, job: Tuple[fileio.SourceImage, np.ndarray, float], mask_path: str, out_path: str,
                 config: AppConfig, timings: bool) -> None:
    """Inpaint a pair read and checked by _read_one and write it in the input's layout (SourceImage.restore)."""
    image, hole, decode = job
    result = inpainter.for_mask(hole).inpaint(image.bgr)
    t0 = time.perf_counter()
    fileio.write_image(out_path, image.restore(result), config.jpeg_quality)
    stages = dict(inpainter.timings, decode=decode, encode=time.perf_counter() - t0)
    print("wrote {} ({}x{}, hole {:.1%}, {} backend, {:.2f} s)".format(
        out_path, result.shape[1], result.shape[0], hole.mean(), inpainter.backend.name, sum(stages.values())))
    if timings:
        _print_timings(stages)


def cmd_inpaint(args: argparse.Namespace) -> int:
    config = args.config
    if os.path.isdir(args.image):
        if not os.path.isdir(args.mask):
            raise InpaintError("IMAGE is a folder, so MASK must be a folder of masks", args.mask)
        if os.path.exists(args.output) and not os.path.isdir(args.output):
            raise InpaintError("IMAGE is a folder, so OUT must be a folder", args.output)
        if fileio.same_file(args.output, args.image) or fileio.same_file(args.output, args.mask):
            raise InpaintError("output folder is an input folder (choose another -o)", args.output)
        pairs, missing = _pairs(args.image, args.mask, args.output)
        for path in missing:
            print("warning: {}: no mask with this name in {}, skipped".format(path, args.mask), file=sys.stderr)
        if not pairs:
            raise InpaintError("no image with a matching mask", args.image)
        fileio.check_output_folder(args.output)
        os.makedirs(args.output, exist_ok=True)
        failed = 0
        with open_inpainter(args) as inpainter:
            progress = Progress(len(pairs), "inpaint", "img")
            try:
                for image_path, mask_path, out_path in pairs:
                    try:
                        job = _read_one(image_path, mask_path, out_path, config)
                        _inpaint_one(inpainter, job, mask_path, out_path, config, args.timings)
                    except InpaintError as exc:
                        failed += 1
                        print("error: {}".format(exc), file=sys.stderr)
                    progress.update(os.path.basename(image_path))
            finally:
                progress.close()
        print("{} of {} images written to {}".format(len(pairs) - failed, len(pairs), args.output))
        return 2 if failed else 0
    job = _read_one(args.image, args.mask, args.output, config)  # bad input fails before the model loads
    with open_inpainter(args) as inpainter:
        _inpaint_one(inpainter, job, args.mask, args.output, config, args.timings)
    return 0


def cmd_stream(args: argparse.Namespace) -> int:
    from .stream import run_stream
    config = args.config
    inputs = [args.mask] + ([args.source] if os.path.exists(args.source) else [])
    fileio.check_output_file(args.output, inputs, config.overwrite, "give a video file name (e.g. out.mp4)")
    mask = masks.read_mask(args.mask, config)
    with open_inpainter(args) as inpainter:
        progress = Progress(args.max_frames, "stream", "frame")
        try:
            report = run_stream(inpainter, args.source, mask.hole, args.output, args.max_frames,
                                progress=lambda n: progress.update(), mask_path=args.mask, by_alpha=mask.by_alpha)
        finally:
            progress.close()
    print("wrote {}: {}".format(args.output, report.summary()))
    if args.timings and report.written:
        _print_timings(report.timings, report.written)
        if report.network_runs:
            print("  {:<11s} {:8.1f} ms per run, {} runs in {} frames".format(
                "network", 1000.0 * report.network_seconds / report.network_runs, report.network_runs,
                report.written))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from .serve import run_server
    with open_inpainter(args) as inpainter:
        return run_server(inpainter, args.host, args.port, args.source, args.mask, args.timings)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print("warning: {}".format(message), file=sys.stderr)


def main(argv: Optional[List[str]] = None) -> int:
    """Run the CLI; returns the exit status (2 for bad input)."""
    args = parse(build_parser(), argv)
    with warnings.catch_warnings():
        warnings.simplefilter("always", InpaintWarning)
        warnings.showwarning = _show_warning
        try:
            return args.run(args)
        except InpaintError as exc:
            print("error: {}".format(exc), file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130

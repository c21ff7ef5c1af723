"""Benchmark of the two fills: ``--fill patches`` (the default) against ``--fill network``.

Runs one photo (default: the bundled 4K sample, edge_app/samples/bridge.jpg
and its mask) through both fills in one process, alternated run by run so
that load changes on a shared machine hit both alike, and prints for each
fill the median seconds per stage (as ``inpaint --timings`` names them:
decode and encode are cv2.imdecode / cv2.imencode in memory, preprocess
includes the mask's preparation; edge_app.bench.measure.time_frame) and the
median CPU time of the process per run, then the ratio of the totals
(patches / network; the target is at most 1.10).

For the patches fill it also splits its CRA stage: the completion of the
512 view (edge_app.completion.complete_view) and the transfer of detail at
full resolution (edge_app.cra.dense: SourceField and compose_dense), timed
on one inference's outputs right after each of its runs.

    .venv/bin/python scripts/bench_fill.py [--runs 9] [--image PHOTO --mask MASK] [--size WxH]
"""
import argparse
import os
import statistics
import sys
import time
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from edge_app.bench.frames import Frame, parse_sizes  # noqa: E402
from edge_app.bench.measure import time_frame  # noqa: E402
from edge_app.completion import complete_view  # noqa: E402
from edge_app.config import AppConfig  # noqa: E402
from edge_app.cra import CraPlan  # noqa: E402
from edge_app.cra.dense import SourceField, compose_dense  # noqa: E402
from edge_app.interface import ATTENTION_CELLS  # noqa: E402
from edge_app.errors import InpaintError  # noqa: E402
from edge_app.masks import read_hole  # noqa: E402
from edge_app.pipeline import Inpainter, open_configured_backend  # noqa: E402

SAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "edge_app", "samples")
FILLS = ("patches", "network")
#: Stages printed (those the CLI prints; copies to an accelerator when the backend times them apart).
SHOWN = ("decode", "preprocess", "h2d", "inference", "d2h", "cra", "blend", "encode")


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="Medians of alternated runs in one process; the CPU time is less "
                                       "disturbed by other load than the wall time.")
    p.add_argument("--runs", type=int, default=9, help="timed runs of each fill (default %(default)s)")
    p.add_argument("--warmup", type=int, default=1, help="untimed runs of each fill first (default %(default)s)")
    p.add_argument("--image", default=os.path.join(SAMPLES, "bridge.jpg"), help="photo (default: the 4K sample)")
    p.add_argument("--mask", default=os.path.join(SAMPLES, "bridge_mask.png"),
                   help="its hole mask, white = hole (default: the sample's)")
    p.add_argument("--size", help="resize photo and mask to WxH first (e.g. 640x360 for a quick check)")
    args = p.parse_args(argv)
    if args.runs < 1 or args.warmup < 0:
        p.error("--runs must be >= 1 and --warmup >= 0")
    for path in (args.image, args.mask):
        if not os.path.isfile(path):
            p.error("no such file: {}".format(path))
    if args.size:
        try:
            args.size = parse_sizes(args.size)[0]
        except ValueError as exc:
            p.error(str(exc))
    return args


def _frame(args: argparse.Namespace, config: AppConfig) -> Frame:
    """The photo and its hole as the app receives them (encoded in memory)."""
    image = cv2.imread(args.image, cv2.IMREAD_COLOR)
    if image is None:
        raise SystemExit("error: cannot read {} as an image".format(args.image))
    try:
        hole = read_hole(args.mask, config)
    except InpaintError as exc:
        raise SystemExit("error: {}".format(exc))
    if hole.shape != image.shape[:2]:
        raise SystemExit("error: the mask is {}x{} but the photo {}x{}".format(
            hole.shape[1], hole.shape[0], image.shape[1], image.shape[0]))
    if args.size:
        image = cv2.resize(image, args.size, interpolation=cv2.INTER_AREA)
        hole = cv2.resize(hole, args.size, interpolation=cv2.INTER_NEAREST)
    return Frame(image, hole, config)


class Split:
    """The patches fill's CRA stage in two: completion and transfer, timed on
    one inference's outputs (they do not change run to run) and the CRA plan
    of the frame's mask, as MaskFrames.finish calls them."""

    def __init__(self, inpainter: Inpainter, frame: Frame):
        config = self.config = inpainter.config
        self.image, hole = frame.decode()
        frames = inpainter.for_mask(hole)
        self.prepared, self.inferred = frames.prepared, frames.infer(self.image)
        blend = self.inferred.outputs[2]
        self.plan = CraPlan(self.prepared.hole, blend.reshape(blend.shape[-3:-1]), config.soft_floor,
                            self.prepared.any_hole, config.blend_feather)

    def run(self) -> Optional[Dict[str, float]]:
        """Seconds of each part; None when the completion finds nothing to copy (the fill falls back)."""
        prepared, inferred = self.prepared, self.inferred
        t0 = time.perf_counter()
        rows = np.asarray(inferred.outputs[1], dtype=np.float32).reshape(ATTENTION_CELLS, ATTENTION_CELLS)
        completion = complete_view(inferred.small, prepared.any_hole, rows)
        t1 = time.perf_counter()
        if completion is None:
            return None
        out = self.image.copy()
        field = SourceField(completion, prepared.hole.shape)
        compose_dense(self.image[prepared.window], field, self.plan, out[prepared.window],
                      threads=self.config.cra_threads)
        return {"completion": t1 - t0, "transfer": time.perf_counter() - t1}


def _median_ms(values: List[float]) -> float:
    return 1000.0 * statistics.median(values)


def main(argv: Sequence[str] = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    config = AppConfig()
    frame = _frame(args, config)
    backend = open_configured_backend(config)
    try:
        inpainters = {fill: Inpainter(backend=backend, fill=fill) for fill in FILLS}
        split = Split(inpainters["patches"], frame)
        for _ in range(args.warmup):
            for fill in FILLS:
                time_frame(inpainters[fill], frame)
            split.run()
        stages = {fill: {s: [] for s in SHOWN} for fill in FILLS}  # type: Dict[str, Dict[str, List[float]]]
        totals = {fill: [] for fill in FILLS}  # type: Dict[str, List[float]]
        cpu = {fill: [] for fill in FILLS}  # type: Dict[str, List[float]]
        parts = {"completion": [], "transfer": []}  # type: Dict[str, List[float]]
        for run in range(args.runs):
            for fill in (FILLS if run % 2 == 0 else FILLS[::-1]):
                c0 = time.process_time()
                seconds, total = time_frame(inpainters[fill], frame)
                cpu[fill].append(time.process_time() - c0)
                totals[fill].append(total)
                for s in SHOWN:
                    stages[fill][s].append(seconds[s])
                if fill == "patches":
                    for key, value in (split.run() or {}).items():
                        parts[key].append(value)
            print("run {}/{}: patches {:.0f} ms, network {:.0f} ms".format(
                run + 1, args.runs, 1000 * totals["patches"][-1], 1000 * totals["network"][-1]),
                file=sys.stderr, flush=True)
    finally:
        backend.close()
    print("{}x{}, hole {:.1%}, {} backend, {} alternated runs per fill (medians, ms)".format(
        frame.width, frame.height, frame.hole_fraction, backend.name, args.runs))
    print("  {:<12s} {:>9s} {:>9s}".format("stage", *FILLS))
    for s in SHOWN:
        if any(stages[fill][s][-1] for fill in FILLS):
            print("  {:<12s} {:9.1f} {:9.1f}".format(s, *(_median_ms(stages[fill][s]) for fill in FILLS)))
    print("  {:<12s} {:9.1f} {:9.1f}".format("total", *(_median_ms(totals[fill]) for fill in FILLS)))
    print("  {:<12s} {:9.1f} {:9.1f}".format("cpu", *(_median_ms(cpu[fill]) for fill in FILLS)))
    if parts["completion"]:
        print("patches cra split: completion {:.1f} ms, transfer {:.1f} ms".format(
            _median_ms(parts["completion"]), _median_ms(parts["transfer"])))
    else:
        print("patches cra split: none (the completion found no wholly known patch; the fill fell back)")
    print("patches / network: total {:.3f}x, cpu {:.3f}x (target: total at most 1.10x)".format(
        statistics.median(totals["patches"]) / statistics.median(totals["network"]),
        statistics.median(cpu["patches"]) / statistics.median(cpu["network"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())

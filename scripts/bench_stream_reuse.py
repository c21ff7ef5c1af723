"""Benchmark of the stream with the network's outputs reused against every frame.

A static-camera clip is generated from the bundled photo
(edge_app/samples/bridge.jpg): sensor noise (new each frame), a lighting
drift (brightness, colour and a gradient across the view that come and go),
and objects pasted in that move through the scene (cut from the photo
itself: one drives along the beach, one walks past and behind the blob, one
crosses the sky and the cable, one drives in and parks next to the blob). A fixed obstruction, a cable sagging across
the whole frame and a blob on the glass, is painted over the frames; the
mask covers it, and the truth is the same clip without it, so the hole
hides content that is really there. Nothing is downloaded; no video is
kept.

The clip runs through ``edge_app.stream.run_stream`` (a lossless FFV1 video
in, timed by its own clock, 25 frames/s; a video out with --stream-fourcc,
mp4v by default, as the stream command writes it; the quality figures are
of each frame's hole as the app made it, before the encoder) both ways,
``--every-frame`` and with reuse, alternated over ``--rounds`` rounds (the
first mode of each round alternates too), and for each run it reports
frames/s, the network's runs, the stage times per frame, and against the
truth in the hole: L1, the temporal error mean |(out_t - out_t-1) -
(truth_t - truth_t-1)| and the flicker ratio mean |out_t - out_t-1| / mean
|truth_t - truth_t-1|. Then the medians of each mode and their ratios.

    .venv/bin/python scripts/bench_stream_reuse.py [--sizes 1920x1080] [--frames 300] [--rounds 3] \\
        [--out result.json] [any option of `python -m edge_app stream`]

The threads are sized as the stream's (edge_app.cores). The machine running
it should be otherwise idle, or at least equally busy for both modes: the
rounds are alternated so that load changes hit both alike; rerun when the
rounds disagree.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time
from typing import Dict, Iterator, List, Optional, Tuple

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from edge_app.atomic import write_json  # noqa: E402
from edge_app.bench.frames import parse_sizes  # noqa: E402
from edge_app.bench.machine import machine_info  # noqa: E402
from edge_app.cores import for_command  # noqa: E402
from edge_app.options import add_options, parse  # noqa: E402
from edge_app.pipeline import Inpainter  # noqa: E402
from edge_app.stream import run_stream  # noqa: E402
from edge_app.timings import in_order  # noqa: E402

PHOTO = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "edge_app", "samples",
                     "bridge.jpg")
#: Standard deviation of the sensor noise, in grey levels.
NOISE = 2.5
MODES = ("every frame", "reuse")


def _sprite(photo: np.ndarray, box: Tuple[float, float, float, float], size: Tuple[int, int],
            shift: Tuple[int, int, int]) -> Tuple[np.ndarray, np.ndarray]:
    """An object cut from the photo (``box``: its fractions x0, y0, x1, y1),
    resized to ``size`` (w, h), colour-shifted so it stands out, and its
    elliptic alpha (float32 0..1, soft edge)."""
    height, width = photo.shape[:2]
    x0, y0, x1, y1 = (int(box[0] * width), int(box[1] * height), int(box[2] * width), int(box[3] * height))
    patch = cv2.resize(photo[y0:y1, x0:x1], size, interpolation=cv2.INTER_AREA).astype(np.float32)
    patch = np.clip(patch + np.float32(shift), 0, 255)
    alpha = np.zeros((size[1], size[0]), np.float32)
    cv2.ellipse(alpha, (size[0] // 2, size[1] // 2), (size[0] // 2 - 1, size[1] // 2 - 1), 0, 0, 360, 1.0, -1)
    return patch, cv2.GaussianBlur(alpha, (0, 0), max(1.0, size[1] / 60.0))


def _paste(frame: np.ndarray, sprite: Tuple[np.ndarray, np.ndarray], centre: Tuple[float, float]) -> None:
    """Alpha-paste a sprite centred at ``centre`` (pixels), clipped to the frame."""
    patch, alpha = sprite
    h, w = alpha.shape
    x0, y0 = int(round(centre[0] - w / 2.0)), int(round(centre[1] - h / 2.0))
    fx0, fy0, fx1, fy1 = max(x0, 0), max(y0, 0), min(x0 + w, frame.shape[1]), min(y0 + h, frame.shape[0])
    if fx0 >= fx1 or fy0 >= fy1:
        return
    a = alpha[fy0 - y0:fy1 - y0, fx0 - x0:fx1 - x0, None]
    region = frame[fy0:fy1, fx0:fx1]
    region += a * (patch[fy0 - y0:fy1 - y0, fx0 - x0:fx1 - x0] - region)


class Clip:
    """The generated static-camera clip: ``frame(t)`` gives (input, truth)
    uint8 BGR, ``hole`` the obstruction mask (uint8 0/1)."""

    def __init__(self, width: int, height: int, frames: int, seed: int = 0):
        self.width, self.height, self.frames, self.seed = width, height, frames, seed
        photo = cv2.imread(PHOTO, cv2.IMREAD_COLOR)
        if photo is None:
            raise SystemExit("cannot read {}".format(PHOTO))
        self.background = cv2.resize(photo, (width, height), interpolation=cv2.INTER_AREA).astype(np.float32)
        s = height / 1080.0
        self.sprites = [  # (object, from (x, y) to (x, y) in fractions of the frame, over that part of the clip)
            (_sprite(photo, (0.30, 0.40, 0.50, 0.55), (int(300 * s), int(110 * s)), (-50, -30, 20)),
             (-0.1, 0.82), (1.1, 0.80), (0.0, 1.0)),
            (_sprite(photo, (0.55, 0.85, 0.60, 0.99), (int(60 * s), int(180 * s)), (-60, -50, -40)),
             (0.95, 0.62), (0.35, 0.66), (0.0, 1.0)),
            (_sprite(photo, (0.70, 0.10, 0.75, 0.14), (int(50 * s), int(34 * s)), (-70, -60, -40)),
             (0.10, 0.10), (0.90, 0.45), (0.0, 1.0)),
            # drives in and parks right of the blob for the rest of the clip: a change that stays
            (_sprite(photo, (0.10, 0.88, 0.30, 0.97), (int(260 * s), int(100 * s)), (-80, -70, -30)),
             (1.15, 0.70), (0.84, 0.70), (0.30, 0.40)),
        ]
        self.hole = np.zeros((height, width), np.uint8)
        xs = np.linspace(0, width, 64)
        ys = height * (0.30 + 0.06 * xs / width) + 0.05 * height * np.sin(np.pi * xs / width)
        cable = np.stack([xs, ys], axis=1).round().astype(np.int32)
        cv2.polylines(self.hole, [cable], False, 1, max(2, int(round(9 * s))))
        cv2.ellipse(self.hole, (int(0.68 * width), int(0.64 * height)), (int(0.06 * width), int(0.08 * height)),
                    25, 0, 360, 1, -1)
        self.hole_pixels = self.hole != 0
        self.columns = (np.arange(width, dtype=np.float32) + 0.5) / width - 0.5

    def _light(self, t: int) -> Tuple[np.ndarray, np.ndarray]:
        """The lighting of frame t: a gain per channel (brightness and colour
        drifting over the clip) and one per column (a gradient across the
        view that comes and goes)."""
        phase = 2.0 * np.pi * t / max(self.frames, 1)
        gain = 1.0 + 0.10 * np.sin(phase)
        colour = np.float32([1.0 + 0.03 * np.sin(phase + 1.0), 1.0, 1.0 - 0.03 * np.sin(phase + 1.0)])
        return gain * colour, 1.0 + 0.12 * np.sin(0.5 * phase) * self.columns

    def frame(self, t: int) -> Tuple[np.ndarray, np.ndarray]:
        """(input, truth) of frame t."""
        frame = self.background.copy()
        where = t / max(self.frames - 1, 1)
        for sprite, start, end, (first, last) in self.sprites:
            part = min(max((where - first) / (last - first), 0.0), 1.0)
            centre = ((start[0] + part * (end[0] - start[0])) * self.width,
                      (start[1] + part * (end[1] - start[1])) * self.height)
            _paste(frame, sprite, centre)
        colour, gradient = self._light(t)
        frame *= gradient[None, :, None]
        frame *= colour
        noise = np.random.default_rng((self.seed, t)).standard_normal(frame.shape, dtype=np.float32)
        frame += NOISE * noise
        truth = np.clip(frame + 0.5, 0, 255).astype(np.uint8)
        seen = truth.copy()
        seen[self.hole_pixels] = (32, 34, 38)  # the obstruction: a dark cable and blob
        return seen, truth


def write_clip(clip: Clip, folder: str) -> Tuple[str, str, List[np.ndarray]]:
    """The clip as a lossless video and the mask as a PNG in ``folder``;
    (video, mask, each frame's truth in the hole)."""
    video = os.path.join(folder, "clip.avi")
    writer = cv2.VideoWriter(video, cv2.VideoWriter_fourcc(*"FFV1"), 25.0, (clip.width, clip.height))
    if not writer.isOpened():
        raise SystemExit("this OpenCV cannot write FFV1 video (lossless), which the figures need")
    truths = []
    for t in range(clip.frames):
        seen, truth = clip.frame(t)
        writer.write(seen)
        truths.append(truth[clip.hole_pixels])
    writer.release()
    mask = os.path.join(folder, "mask.png")
    cv2.imwrite(mask, clip.hole * 255)
    return video, mask, truths


def quality(outs: List[np.ndarray], truths: List[np.ndarray]) -> Dict[str, float]:
    """L1, temporal error and flicker ratio in the hole: each frame's hole
    pixels as the app made them against the truth's."""
    if len(outs) != len(truths):
        raise RuntimeError("{} frames written, the clip has {}".format(len(outs), len(truths)))
    l1 = temporal = moved = truth_moved = 0.0
    previous = previous_truth = None
    for out, truth in zip(outs, truths):
        got, want = out.astype(np.float32), truth.astype(np.float32)
        l1 += float(np.abs(got - want).mean())
        if previous is not None:
            step, truth_step = got - previous, want - previous_truth
            temporal += float(np.abs(step - truth_step).mean())
            moved += float(np.abs(step).mean())
            truth_moved += float(np.abs(truth_step).mean())
        previous, previous_truth = got, want
    steps = max(len(outs) - 1, 1)
    return {"l1": l1 / len(outs), "temporal_error": temporal / steps,
            "flicker_ratio": moved / truth_moved if truth_moved else float("nan")}


def run_mode(config, model: Optional[str], video: str, hole: np.ndarray, folder: str,
             truths: List[np.ndarray]) -> Dict[str, object]:
    """One run of the clip through the stream: its figures. The hole's
    pixels of each frame are taken as it goes to the encoder (exact, whatever
    the codec does after)."""
    where = np.flatnonzero(hole.reshape(-1))
    outs = []  # type: List[np.ndarray]
    with Inpainter.from_config(for_command(config, "stream"), model) as inpainter:
        report = run_stream(inpainter, video, hole, os.path.join(folder, "out.avi"),
                            on_frame=lambda out: outs.append(out.reshape(-1, 3).take(where, axis=0)))
        threads = inpainter.config.network_threads
    figures = {"fps": report.fps, "frames": report.written, "network_runs": report.network_runs,
               "network_ms_per_run": 1000.0 * report.network_seconds / max(report.network_runs, 1),
               "network_threads": threads, "fourcc": config.stream_fourcc,
               "stages_ms_per_frame": {stage: 1000.0 * seconds / max(report.written, 1)
                                       for stage, seconds in in_order(report.timings)}}
    figures.update(quality(outs, truths))
    os.remove(os.path.join(folder, "out.avi"))
    return figures


def _line(mode: str, f: Dict[str, object]) -> str:
    stages = " ".join("{} {:.0f}".format(k, v) for k, v in f["stages_ms_per_frame"].items())
    return ("  {:<12s} {:6.2f} frames/s  network {:3d} runs  L1 {:6.3f}  temporal {:6.3f}  flicker {:5.3f}  "
            "| ms/frame: {}").format(mode, f["fps"], f["network_runs"], f["l1"], f["temporal_error"],
                                     f["flicker_ratio"], stages)


def bench_size(config, model: Optional[str], size: Tuple[int, int], frames: int, rounds: int,
               log=print) -> Dict[str, object]:
    """Both modes on the clip of one size, alternated: every run and the medians."""
    clip = Clip(size[0], size[1], frames)
    runs = {mode: [] for mode in MODES}  # type: Dict[str, List[Dict[str, object]]]
    with tempfile.TemporaryDirectory(prefix="edge_app_reuse_") as folder:
        t0 = time.perf_counter()
        video, _, truths = write_clip(clip, folder)
        log("{}x{}: {} frames generated in {:.0f} s, hole {:.1%} of the frame".format(
            size[0], size[1], frames, time.perf_counter() - t0, clip.hole_pixels.mean()))
        for r in range(rounds):
            for mode in (MODES if r % 2 == 0 else MODES[::-1]):
                mode_config = config.with_options(reuse_network=mode == "reuse")
                figures = run_mode(mode_config, model, video, clip.hole, folder, truths)
                runs[mode].append(figures)
                log(_line(mode, figures))
    medians = {mode: {key: statistics.median(f[key] for f in runs[mode])
                      for key in ("fps", "network_runs", "l1", "temporal_error", "flicker_ratio")}
               for mode in MODES}
    every, reuse = medians["every frame"], medians["reuse"]
    ratios = {"fps": reuse["fps"] / every["fps"], "l1": reuse["l1"] / every["l1"],
              "temporal_error": reuse["temporal_error"] / every["temporal_error"]}
    log("  medians: every frame {:.2f} frames/s, reuse {:.2f} frames/s: {:.1f}x; L1 {:.3f} / {:.3f} ({:+.1%}); "
        "temporal error {:.3f} / {:.3f}; flicker ratio {:.3f} / {:.3f}".format(
            every["fps"], reuse["fps"], ratios["fps"], every["l1"], reuse["l1"], ratios["l1"] - 1.0,
            every["temporal_error"], reuse["temporal_error"], every["flicker_ratio"], reuse["flicker_ratio"]))
    return {"size": "{}x{}".format(*size), "frames": frames, "rounds": rounds,
            "hole_fraction": float(clip.hole_pixels.mean()), "runs": runs, "medians": medians, "ratios": ratios}


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1920x1080", help="comma-separated WxH clip sizes (default %(default)s)")
    parser.add_argument("--frames", type=int, default=300, help="frames of the clip (default %(default)s, 12 s)")
    parser.add_argument("--rounds", type=int, default=3, help="alternated runs of each mode (default %(default)s)")
    parser.add_argument("--out", help="JSON file for every run's figures and the medians")
    add_options(parser, "stream")
    args = parse(parser, argv)
    if args.frames < 2 or args.rounds < 1:
        parser.error("--frames must be >= 2 and --rounds >= 1")
    try:
        sizes = parse_sizes(args.sizes)
    except ValueError as exc:
        parser.error(str(exc))
    results = [bench_size(args.config, args.model, size, args.frames, args.rounds) for size in sizes]
    if args.out:
        report = {"tool": "scripts/bench_stream_reuse.py", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                  "argv": sys.argv[1:] if argv is None else list(argv), "machine": machine_info(),
                  "noise_sigma": NOISE, "results": results}
        write_json(args.out, report)
        print("wrote {}".format(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

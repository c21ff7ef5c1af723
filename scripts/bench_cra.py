"""Benchmark of edge_app.cra.compose against the reference CRA post-processing.

For each frame size (default 3840x2160 and 7680x4320) with an irregular hole
of about 12 % of the frame and an attention matrix built the way the
network's ACM builds it (3 x 3 patch correlations, softmax scale 10, keys
touching the hole masked), it measures in the same run (median of --runs):

- compose: ``edge_app.cra.compose`` (native size, active cells only), one
  call as for a single photo (the plan of the hole built inside);
- compose, plan reused: the same with a ``CraPlan`` built once, as the
  stream loop does for a fixed mask (reported, not a target);
- reference: the Ascend sample's algorithm, implemented here only as the
  baseline: resize the frame to a fixed 3072 square, full-frame float
  residual, dense 1024 x 1024 @ (1024 x 96*96*3) product, resize back,
  blend the whole frame;
- floor: one float conversion plus one resize (to the 3072 square) of the
  full frame, the least any full-frame method pays;

and prints the medians (wall and CPU time of this process: the CPU time is
less disturbed by other load on a shared machine) and the ratios (targets:
reference / compose >= 10, compose / floor <= 5), plus the peak memory of
one compose call (tracemalloc: numpy allocations, the output included) and
the growth of peak RSS of a fresh subprocess running one compose call
(Linux /proc).
The runs of the three methods are interleaved so load changes hit all alike.

    nice -n 10 .venv/bin/python scripts/bench_cra.py [--sizes 3840x2160,7680x4320] [--runs 5] [--flat] [--prune-mass M]

With ``--roi-model MODEL.onnx`` it measures the ROI mode instead: photos with
holes of several sizes, L1 inside the hole against the original and seconds
per image, ROI off vs on (the basis of AppConfig.roi_auto_max_area).
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from edge_app.config import AppConfig  # noqa: E402
from edge_app.cra import CraPlan, compose  # noqa: E402
from edge_app.preprocess import small_hole, small_image  # noqa: E402

REFERENCE_SIDE = 3072


def make_frame(width: int, height: int, rng: np.random.Generator, image_path: str = "") -> np.ndarray:
    """A photo resized to the frame, or smooth colour fields plus fine texture."""
    if image_path:
        img = cv2.imread(image_path, cv2.IMREAD_COLOR)
        return cv2.resize(img, (width, height), interpolation=cv2.INTER_CUBIC)
    base = cv2.resize(rng.integers(0, 256, (9, 16, 3), dtype=np.uint8), (width, height),
                      interpolation=cv2.INTER_CUBIC)
    noise = rng.integers(0, 256, (height // 8, width // 8), dtype=np.uint8)
    texture = cv2.resize(noise, (width, height), interpolation=cv2.INTER_LINEAR)
    cv2.scaleAdd(base, 0.8, cv2.merge([texture] * 3) // 5, dst=base)
    return base


def make_hole(width: int, height: int, rng: np.random.Generator, target: float = 0.12) -> np.ndarray:
    """Irregular strokes and blobs, drawn until about ``target`` of the frame."""
    scale = 8
    w, h = width // scale, height // scale
    mask = np.zeros((h, w), np.uint8)
    while mask.mean() < target:
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        for _ in range(int(rng.integers(3, 8))):
            nx = int(np.clip(x + rng.normal(0, w / 10), 0, w - 1))
            ny = int(np.clip(y + rng.normal(0, h / 10), 0, h - 1))
            cv2.line(mask, (x, y), (nx, ny), 1, int(rng.integers(w // 100 + 2, w // 30 + 3)))
            x, y = nx, ny
    return cv2.resize(mask, (width, height), interpolation=cv2.INTER_NEAREST)


def realistic_attention(small: np.ndarray, mask512: np.ndarray, query_norm: float = 8.0) -> np.ndarray:
    """ACM-style attention: 3x3 patch correlations of a 32x32 feature map
    (colour and detail), keys L2-normalised, queries not (their norm is
    ``query_norm``), softmax scale 10 over the keys whose patch is entirely
    known, zero elsewhere (the renormalised variant of spec hifill.md 4).
    The default norm gives rows whose top weight averages about 0.7: a
    trained network attends to a few similar patches; a small norm (e.g. 1)
    gives the flat rows of an untrained one, the worst case for compose."""
    feat = cv2.resize(small.astype(np.float32), (32, 32), interpolation=cv2.INTER_AREA)
    lap = feat - cv2.GaussianBlur(feat, (0, 0), 2)
    feat = np.concatenate([feat / 64.0, lap / 8.0], axis=2)
    padded = np.pad(feat, ((1, 1), (1, 1), (0, 0)), mode="edge")
    patches = np.stack([padded[dy:dy + 32, dx:dx + 32] for dy in range(3) for dx in range(3)], 2).reshape(1024, -1)
    patches -= patches.mean(1, keepdims=True)
    keys = patches / np.maximum(np.linalg.norm(patches, axis=1, keepdims=True), 1e-6)
    queries = keys * query_norm
    hole32 = cv2.resize(mask512, (32, 32), interpolation=cv2.INTER_AREA) > 0
    valid = ~cv2.dilate(hole32.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool).reshape(-1)
    logits = 10.0 * queries @ keys.T
    logits[:, ~valid] = -np.inf
    logits -= logits.max(1, keepdims=True)
    att = np.exp(logits)
    att /= att.sum(1, keepdims=True)
    return att.astype(np.float32)


def make_case(width: int, height: int, seed: int = 0, image_path: str = "", query_norm: float = 8.0):
    rng = np.random.default_rng(seed)
    frame = make_frame(width, height, rng, image_path)
    hole = make_hole(width, height, rng)
    small = small_image(frame)
    mask512 = small_hole(hole).astype(np.float32)
    inpainted = cv2.GaussianBlur(small.astype(np.float32), (0, 0), 2)
    blend = np.maximum(cv2.GaussianBlur(mask512, (7, 7), 1), mask512)
    return frame, hole, small, inpainted, realistic_attention(small, mask512, query_norm), blend


def reference(frame, hole, small, inpainted, attention, blend, side: int = REFERENCE_SIDE) -> np.ndarray:
    """The Ascend sample's post-processing (the baseline, not used by the app)."""
    height, width = frame.shape[:2]
    big = cv2.resize(frame, (side, side), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    mask = cv2.resize(hole.astype(np.float32), (side, side), interpolation=cv2.INTER_LINEAR)[:, :, None]
    blurry = cv2.resize(small.astype(np.float32), (side, side), interpolation=cv2.INTER_LINEAR)
    residual = (big - blurry) * (1.0 - mask)
    cell = side // 32
    patches = residual.reshape(32, cell, 32, cell, 3).transpose(0, 2, 1, 3, 4).reshape(1024, -1)
    agg = (attention.reshape(1024, 1024) @ patches).reshape(32, 32, cell, cell, 3)
    agg = agg.transpose(0, 2, 1, 3, 4).reshape(side, side, 3)
    up = cv2.resize(inpainted, (side, side), interpolation=cv2.INTER_LINEAR)
    result = np.clip(up + agg, 0, 255) * mask + big * (1.0 - mask)
    result = cv2.resize(result, (width, height), interpolation=cv2.INTER_LINEAR)
    soft = cv2.resize(blend, (width, height), interpolation=cv2.INTER_LINEAR)[:, :, None]
    return (result * soft + frame.astype(np.float32) * (1.0 - soft)).astype(np.uint8)


def floor_cost(frame, side: int = REFERENCE_SIDE) -> np.ndarray:
    """One float conversion plus one resize of the full frame."""
    return cv2.resize(frame.astype(np.float32), (side, side), interpolation=cv2.INTER_LINEAR)


def timed(fn):
    """(wall seconds, CPU seconds of this process) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def interleaved(fns, runs: int):
    """Median (wall, cpu) per function, the functions run in turn each round
    so a change of machine load hits them all alike."""
    samples = {name: [] for name in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            samples[name].append(timed(fn))
    return {name: (statistics.median(w for w, _ in s), statistics.median(c for _, c in s))
            for name, s in samples.items()}


def peak_memory(case) -> float:
    """Peak bytes numpy allocated during one compose call (output included)."""
    tracemalloc.start()
    compose(*case[:2], case[3], case[4], case[5], small=case[2])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def _proc_status_kb(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def rss_child(folder: str) -> None:
    """Subprocess body: peak RSS growth of one compose call over inputs loaded
    from .npy files. The peak (VmHWM) is reset first (Linux clear_refs), since
    a child's max RSS can start at its parent's size."""
    case = [np.load(os.path.join(folder, "{}.npy".format(i))) for i in range(6)]
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = _proc_status_kb("VmRSS")
    compose(*case[:2], case[3], case[4], case[5], small=case[2])
    print((_proc_status_kb("VmHWM") - before) * 1024)


def rss_growth(case) -> float:
    with tempfile.TemporaryDirectory() as folder:
        for i, arr in enumerate(case):
            np.save(os.path.join(folder, "{}.npy".format(i)), arr)
        child = subprocess.run([sys.executable, __file__, "--rss-child", folder], stdout=subprocess.PIPE,
                               universal_newlines=True, check=True)
    return float(child.stdout)


def report(size: str, attention: str, case, runs: int, prune_mass: float) -> None:
    frame, hole = case[0], case[1]
    args = (frame, hole, case[3], case[4], case[5])
    ours = compose(*args, small=case[2], prune_mass=prune_mass)  # warm-up, and the result to compare
    diff = np.abs(ours.astype(np.int16) - reference(*case).astype(np.int16))[hole != 0].mean()
    exact = ours if prune_mass == 0 else compose(*args, small=case[2], prune_mass=0.0)
    unpruned = np.abs(ours.astype(np.int16) - exact).max()
    plan = CraPlan(hole, case[5].reshape(case[5].shape[-2:]))
    t = interleaved({"compose": lambda: compose(*args, small=case[2], prune_mass=prune_mass),
                     "plan reused": lambda: compose(*args, small=case[2], plan=plan, prune_mass=prune_mass),
                     "reference": lambda: reference(*case),
                     "floor": lambda: floor_cost(frame)}, runs)
    print("{} ({} attention), hole {:.1%}, attention_prune_mass {:.6g}, median of {} interleaved runs, "
          "wall (cpu):".format(size, attention, (hole != 0).mean(), prune_mass, runs))
    for name in ("compose", "plan reused", "reference", "floor"):
        print("  {:<11s} {:7.3f} s ({:.3f} s)".format(name, *t[name]))
    for label, i in (("wall", 0), ("cpu", 1)):
        print("  {}: reference / compose = {:5.1f}x (target >= 10), compose / floor = {:4.2f}x (target <= 5)".format(
            label, t["reference"][i] / t["compose"][i], t["compose"][i] / t["floor"][i]))
    print("  plan reused: reference / compose = {:5.1f}x (wall)".format(t["reference"][0] / t["plan reused"][0]))
    print("  mean |compose - reference| in the hole: {:.2f} grey levels".format(diff))
    print("  max |compose - compose without pruning|: {} grey levels (bound {:.2f})".format(
        unpruned, 255 * prune_mass))


def roi_hole(shape, side: int, rng: np.random.Generator) -> np.ndarray:
    """An irregular blob (ellipse and strokes) inside a side x side box."""
    height, width = shape[:2]
    hole = np.zeros((height, width), np.uint8)
    cy, cx = int(rng.integers(side, height - side)), int(rng.integers(side, width - side))
    cv2.ellipse(hole, (cx, cy), (side // 3, side // 4), float(rng.uniform(0, 180)), 0, 360, 1, -1)
    for _ in range(3):
        dx, dy = (int(v) for v in rng.integers(-side // 2, side // 2, 2))
        cv2.line(hole, (cx, cy), (cx + dx, cy + dy), 1, max(2, side // 12))
    return hole


def roi_study(model: str, folder: str, count: int, seed: int = 0) -> None:
    """L1 in the hole against the truth and time, ROI off vs on, by hole size."""
    from edge_app import Inpainter
    from edge_app.roi import choose_crop
    names = sorted(n for n in os.listdir(folder) if n.lower().endswith((".jpg", ".jpeg", ".png")))[:count]
    images = [cv2.imread(os.path.join(folder, n), cv2.IMREAD_COLOR) for n in names]
    rng = np.random.default_rng(seed)
    modes = {"off": Inpainter(model=model, backend="onnxruntime", roi="off"),
             "on": Inpainter(model=model, backend="onnxruntime", roi="on")}
    print("ROI study: {} photos from {} ({}), model {}".format(len(images), folder,
                                                             ", ".join("{}x{}".format(i.shape[1], i.shape[0])
                                                                       for i in images), model))
    print("  hole box / short side | crop / frame | L1 in hole off -> on | seconds off -> on")
    for rel in (0.03, 0.06, 0.12, 0.2, 0.3):
        l1 = {m: [] for m in modes}
        secs = {m: [] for m in modes}
        areas = []
        for image in images:
            hole = roi_hole(image.shape, int(rel * min(image.shape[:2])), rng)
            crop = choose_crop("on", hole, 3.0, 512, 1.0)
            areas.append(0.0 if crop is None else (crop[1] - crop[0]) * (crop[3] - crop[2]) / float(hole.size))
            for name, inpainter in modes.items():
                t0 = time.perf_counter()
                out = inpainter(image, hole)
                secs[name].append(time.perf_counter() - t0)
                l1[name].append(np.abs(out.astype(np.int16) - image.astype(np.int16))[hole != 0].mean())
        print("  {:20.0%} | {:12.0%} | {:8.2f} -> {:6.2f} | {:6.3f} -> {:6.3f}".format(
            rel, np.mean(areas), np.mean(l1["off"]), np.mean(l1["on"]), np.median(secs["off"]),
            np.median(secs["on"])))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="3840x2160,7680x4320", help="comma-separated WxH frame sizes")
    ap.add_argument("--runs", type=int, default=5, help="timed runs per method (median reported)")
    ap.add_argument("--image", default="", help="photo to resize to each frame size (default: synthetic)")
    ap.add_argument("--prune-mass", type=float, default=AppConfig.attention_prune_mass,
                    help="compose's attention_prune_mass (default: the app's, %(default).6g; 0: no pruning)")
    ap.add_argument("--flat", action="store_true",
                    help="also time flat attention (an untrained network's: the worst case)")
    ap.add_argument("--roi-model", default="",
                    help="instead: measure ROI off vs on (L1 in the hole, time) with this ONNX model")
    ap.add_argument("--roi-images", default="",
                    help="folder of photos for --roi-model (e.g. from scripts/fetch_training_photos.sh)")
    ap.add_argument("--roi-count", type=int, default=4, help="photos for --roi-model (default: %(default)s)")
    ap.add_argument("--rss-child", default="", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.rss_child:
        rss_child(args.rss_child)
        return
    if args.roi_model:
        if not args.roi_images:
            ap.error("--roi-model needs --roi-images DIR")
        roi_study(args.roi_model, args.roi_images, args.roi_count)
        return
    print("numpy {}, OpenCV {} ({} threads), {} CPUs".format(np.__version__, cv2.__version__, cv2.getNumThreads(),
                                                            os.cpu_count()))
    for size in args.sizes.split(","):
        width, height = (int(v) for v in size.split("x"))
        case = make_case(width, height, image_path=args.image)
        report(size, "peaked", case, args.runs, args.prune_mass)
        print("  compose peak numpy memory {:.0f} MB (output frame {:.0f} MB included; target < 1500)".format(
            peak_memory(case) / 2 ** 20, case[0].nbytes / 2 ** 20))
        print("  compose peak RSS growth (subprocess) {:.0f} MB (target < 1500)".format(rss_growth(case) / 2 ** 20))
        if args.flat:
            flat = make_case(width, height, image_path=args.image, query_norm=1.0)
            report(size, "flat", flat, args.runs, args.prune_mass)
            print("  compose peak numpy memory {:.0f} MB".format(peak_memory(flat) / 2 ** 20))


if __name__ == "__main__":
    main()

"""Video / camera streams with a fixed obstruction mask (a fixed camera).

The mask-only work (ROI, 512 mask, CRA plan) is done once. Reading,
preprocessing and inference run in a worker thread that feeds a bounded
queue; the calling thread does CRA compose, blend and encode, so inference
of frame t+1 overlaps the host work of frame t. Frames that cannot be read
or processed are counted, never fatal.
"""
import queue
import threading
import time
import warnings
from typing import Callable, Optional

import cv2
import numpy as np

from . import masks
from .errors import InpaintError, InpaintWarning
from .pipeline import Inpainter
from .timings import Timings

_END = object()


class StreamReport:
    """What happened: frames written, dropped (read but not processed),
    unreadable (failed reads), wall seconds, frames per second and the
    seconds per stage summed over the written frames."""

    def __init__(self) -> None:
        self.written = 0
        self.dropped = 0
        self.unreadable = 0
        self.seconds = 0.0
        self.timings = {}  # type: Timings

    @property
    def fps(self) -> float:
        return self.written / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        return "{} frames written in {:.1f} s ({:.2f} frames/s); {} dropped, {} unreadable".format(
            self.written, self.seconds, self.fps, self.dropped, self.unreadable)


def open_source(source: str) -> cv2.VideoCapture:
    """A capture for a file, a URL or a camera index ("0", "1", ...)."""
    cap = cv2.VideoCapture(int(source)) if source.isdigit() else cv2.VideoCapture(source)
    if not cap.isOpened():
        cap.release()
        raise InpaintError("cannot open video source", source)
    return cap


class _Reader:
    """Frames from a capture; a failed read is retried up to ``max_failures``
    times in a row (a live source may hiccup), the end of a file is not."""

    def __init__(self, cap: cv2.VideoCapture, max_failures: int):
        self.cap = cap
        self.max_failures = max_failures
        self.unreadable = 0
        total = cap.get(cv2.CAP_PROP_FRAME_COUNT)
        self.total = int(total) if total and total > 0 else 0

    def read(self) -> Optional[np.ndarray]:
        failures = 0
        while True:
            ok, frame = self.cap.read()
            if ok and frame is not None:
                return frame
            if self.total and self.cap.get(cv2.CAP_PROP_POS_FRAMES) >= self.total:
                return None
            failures += 1
            self.unreadable += 1
            if failures >= self.max_failures:
                return None


def run_stream(inpainter: Inpainter, source: str, hole: np.ndarray, out_path: str,
               max_frames: Optional[int] = None, progress: Optional[Callable[[int], None]] = None,
               mask_path: Optional[str] = None) -> StreamReport:
    """Inpaint every frame of ``source`` with the fixed ``hole`` into ``out_path``.

    ``progress(n)`` is called after each written frame.
    """
    config = inpainter.config
    cap = open_source(source)
    report = StreamReport()
    reader = _Reader(cap, config.stream_max_failures)
    writer = None
    try:
        first = reader.read()
        if first is None:
            raise InpaintError("no readable frame", source)
        masks.check_pair(first, hole, config.mask_convention, config.inverted_mask_fraction, mask_path)
        prepared = inpainter.prepare(hole)
        fps = cap.get(cv2.CAP_PROP_FPS)
        fps = fps if fps and 0 < fps < 1000 else config.stream_default_fps
        writer = cv2.VideoWriter(out_path, cv2.VideoWriter_fourcc(*config.stream_fourcc), fps,
                                 (first.shape[1], first.shape[0]))
        if not writer.isOpened():
            raise InpaintError("cannot open the video writer ({})".format(config.stream_fourcc), out_path)
        frames = queue.Queue(maxsize=config.stream_queue)
        stop = threading.Event()
        state = {"dropped": 0, "error": None}

        def produce() -> None:
            try:
                inpainter.backend.bind_thread()
                frame, n = first, 0
                while frame is not None and not stop.is_set() and (max_frames is None or n < max_frames):
                    n += 1
                    if frame.shape != first.shape:
                        state["dropped"] += 1
                    else:
                        try:
                            frames.put((frame, inpainter.infer(frame, prepared)))
                        except Exception as exc:  # a bad frame must not end the stream
                            state["dropped"] += 1
                            warnings.warn(InpaintWarning("frame {} dropped: {}".format(n, exc)))
                    frame = reader.read()
            except Exception as exc:  # reported by the calling thread
                state["error"] = exc
            finally:
                frames.put(_END)

        t_start = time.perf_counter()
        worker = threading.Thread(target=produce, name="edge_app-infer", daemon=True)
        worker.start()
        try:
            while True:
                item = frames.get()
                if item is _END:
                    break
                frame, inferred = item
                try:
                    out = inpainter.finish(frame, prepared, inferred)
                except Exception as exc:
                    report.dropped += 1
                    warnings.warn(InpaintWarning("frame dropped: {}".format(exc)))
                    continue
                t0 = time.perf_counter()
                writer.write(out)
                inferred.timings["encode"] = time.perf_counter() - t0
                for key, seconds in inferred.timings.items():
                    report.timings[key] = report.timings.get(key, 0.0) + seconds
                report.written += 1
                if progress is not None:
                    progress(report.written)
        finally:
            stop.set()
            while worker.is_alive():  # unblock a producer waiting on a full queue
                try:
                    frames.get(timeout=0.1)
                except queue.Empty:
                    pass
            worker.join()
        report.seconds = time.perf_counter() - t_start
        report.dropped += state["dropped"]
        if state["error"] is not None:
            raise state["error"]
    finally:
        report.unreadable = reader.unreadable
        if writer is not None:
            writer.release()
        cap.release()
    return report

"""Video / camera streams with a fixed obstruction mask (a fixed camera).

``run_stream`` inpaints through the Inpainter's one path for a frame
(``MaskFrames``): the mask-only work (ROI, 512 mask, CRA plan) is done once.
Reading, preprocessing and inference (``MaskFrames.infer``) run in a worker
thread that feeds a bounded queue; the calling thread does CRA compose,
blend (``MaskFrames.finish``) and encode, so inference of frame t+1
overlaps the host work of frame t. With reuse (the default, edge_app.reuse)
``infer`` runs the network for the first frame only and it runs again on
its own thread when the view changes; the report says how often it ran.
Frames that cannot be read or processed are counted, never fatal.
``LatestFrame`` keeps the newest frame of a source for the serve page.
"""
import os
import queue
import threading
import time
import warnings
from typing import Callable, Optional, Tuple

import cv2
import numpy as np

from . import masks
from .config import AppConfig
from .errors import InpaintError, InpaintWarning
from .pipeline import Inpainter
from .timings import Timings

_END = object()


class StreamReport:
    """What happened: frames written, dropped (read but not processed),
    unreadable (failed reads), wall seconds, frames per second, the seconds
    per stage summed over the written frames, and the network's runs (in
    the frame path or on its own thread) and their seconds."""

    def __init__(self) -> None:
        self.written = 0
        self.dropped = 0
        self.unreadable = 0
        self.seconds = 0.0
        self.timings = {}  # type: Timings
        self.network_runs = 0
        self.network_seconds = 0.0

    @property
    def fps(self) -> float:
        return self.written / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        return ("{} frames written in {:.1f} s ({:.2f} frames/s); the network ran {} times; {} dropped, "
                "{} unreadable").format(self.written, self.seconds, self.fps, self.network_runs, self.dropped,
                                        self.unreadable)


def open_source(source: str) -> cv2.VideoCapture:
    """A capture for a file, a URL or a camera index ("0", "1", ...)."""
    cap = cv2.VideoCapture(int(source)) if source.isdigit() else cv2.VideoCapture(source)
    if not cap.isOpened():
        cap.release()
        raise InpaintError("cannot open video source", source)
    return cap


def source_fps(cap: cv2.VideoCapture, config: AppConfig) -> float:
    """The source's frame rate, or ``stream_default_fps`` where it reports none (or nonsense)."""
    fps = cap.get(cv2.CAP_PROP_FPS)
    return fps if fps and 0 < fps < 1000 else config.stream_default_fps


class LatestFrame:
    """The newest frame of a camera, URL or video file, read by its own thread
    (a file is looped at its frame rate, like a live camera)."""

    def __init__(self, spec: str, config: AppConfig):
        self.spec = spec
        self._cap = open_source(spec)
        ok, frame = self._cap.read()
        if not ok or frame is None:
            self._cap.release()
            raise InpaintError("no readable frame", spec)
        self._looped = os.path.isfile(spec)
        self._period = 1.0 / source_fps(self._cap, config)
        self._frame, self._count = frame, 1
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="edge_app-source", daemon=True)
        self._thread.start()

    @property
    def shape(self) -> Tuple[int, ...]:
        return self._frame.shape

    def latest(self) -> Tuple[np.ndarray, int]:
        """The newest frame and its number."""
        with self._lock:
            return self._frame, self._count

    def _read(self) -> None:
        due = time.monotonic()
        while not self._stop.is_set():
            ok, frame = self._cap.read()
            if not ok or frame is None:
                if self._looped:
                    self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                self._stop.wait(self._period)
                continue
            with self._lock:
                self._frame, self._count = frame, self._count + 1
            if self._looped:
                due = max(due + self._period, time.monotonic() - 1.0)
                self._stop.wait(due - time.monotonic())

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._cap.release()


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
               mask_path: Optional[str] = None, by_alpha: bool = False,
               on_frame: Optional[Callable[[np.ndarray], None]] = None) -> StreamReport:
    """Inpaint every frame of ``source`` with the fixed ``hole`` into ``out_path``.

    ``progress(n)`` is called after each written frame, ``on_frame(out)``
    with each frame as it goes to the encoder (to measure it: the bench);
    ``by_alpha``: the hole was read from the mask file's transparency
    (masks.check_pair).
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
        masks.warn(masks.check_pair(first, hole, config, mask_path, by_alpha=by_alpha))
        frames = inpainter.for_mask(hole)
        writer = cv2.VideoWriter(out_path, cv2.VideoWriter_fourcc(*config.stream_fourcc), source_fps(cap, config),
                                 (first.shape[1], first.shape[0]))
        if not writer.isOpened():
            raise InpaintError("cannot open the video writer ({})".format(config.stream_fourcc), out_path)
        ready = queue.Queue(maxsize=config.stream_queue)
        stop = threading.Event()
        state = {"dropped": 0, "error": None}
        # a file's frames are timed by its own clock (its frame rate), a live source's by the wall clock
        period = 1.0 / source_fps(cap, config) if os.path.isfile(source) else None

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
                            ready.put((frame, frames.infer(frame, None if period is None else (n - 1) * period)))
                        except Exception as exc:  # a bad frame must not end the stream
                            state["dropped"] += 1
                            warnings.warn(InpaintWarning("frame {} dropped: {}".format(n, exc)))
                    frame = reader.read()
            except Exception as exc:  # reported by the calling thread
                state["error"] = exc
            finally:
                ready.put(_END)

        t_start = time.perf_counter()
        worker = threading.Thread(target=produce, name="edge_app-infer", daemon=True)
        worker.start()
        try:
            while True:
                item = ready.get()
                if item is _END:
                    break
                frame, inferred = item
                try:
                    out = frames.finish(frame, inferred)
                except Exception as exc:
                    report.dropped += 1
                    warnings.warn(InpaintWarning("frame dropped: {}".format(exc)))
                    continue
                if on_frame is not None:
                    on_frame(out)
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
                    ready.get(timeout=0.1)
                except queue.Empty:
                    pass
            worker.join()
            frames.close()
        report.seconds = time.perf_counter() - t_start
        report.network_runs, report.network_seconds = frames.network_runs, frames.network_seconds
        report.dropped += state["dropped"]
        if state["error"] is not None:
            raise state["error"]
    finally:
        report.unreadable = reader.unreadable
        if writer is not None:
            writer.release()
        cap.release()
    return report

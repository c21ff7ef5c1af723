"""Threads of compose: workers over chunks of cells, OpenCV's own threads off
meanwhile, and how many workers a frame gets."""
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, List, TypeVar

import cv2

from .plan import GRID

#: Cells (frame / 32 x 32) smaller than this run in one thread (see default_threads).
PARALLEL_CELL_PIXELS = 16384

Item = TypeVar("Item")
Value = TypeVar("Value")


class OpenCVSingleThreaded:
    """OpenCV's own threads off while compose works cell by cell: its calls
    there are small (one cell), and parallel regions that small cost more
    than they save, badly so on a busy machine. compose parallelises over
    chunks of cells itself instead; the whole-frame steps before (plan, x
    upsampling) keep OpenCV's threads. Counted, so overlapping calls restore
    the setting once."""

    _lock = threading.Lock()
    _users = 0
    _saved = 1

    def __enter__(self) -> None:
        with self._lock:
            if OpenCVSingleThreaded._users == 0:
                OpenCVSingleThreaded._saved = cv2.getNumThreads()
                cv2.setNumThreads(1)
            OpenCVSingleThreaded._users += 1

    def __exit__(self, *exc) -> None:
        with self._lock:
            OpenCVSingleThreaded._users -= 1
            if OpenCVSingleThreaded._users == 0:
                cv2.setNumThreads(OpenCVSingleThreaded._saved)


class Pool:
    """``map`` over worker threads, or in the calling thread for one."""

    def __init__(self, threads: int):
        self._executor = ThreadPoolExecutor(threads) if threads > 1 else None

    def map(self, fn: Callable[[Item], Value], items: Iterable[Item]) -> List[Value]:
        return list(self._executor.map(fn, items)) if self._executor else [fn(item) for item in items]

    def __enter__(self) -> "Pool":
        return self

    def __exit__(self, *exc) -> None:
        if self._executor:
            self._executor.shutdown()


def default_threads(height: int, width: int) -> int:
    """Worker threads of compose for a frame: the CPU count, at most 4, when
    a cell has at least PARALLEL_CELL_PIXELS pixels, else 1. The per-cell
    work is many short OpenCV / BLAS calls; with small cells the threads
    spend more on handing the GIL to each other than they gain (2-CPU
    machine, 2026-11-30: 4K 124 ms with one thread, 168 ms with two; 8K 323
    vs 284 ms; medians of 15 and 8 runs)."""
    if (height // GRID) * (width // GRID) < PARALLEL_CELL_PIXELS:
        return 1
    return max(1, min(4, os.cpu_count() or 1))

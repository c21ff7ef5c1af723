"""Training batches from any folder of photos.

A batch is a deterministic function of ``(seed, step, shard)``: each step
and shard gets its own ``np.random.Generator``, so resuming at step N needs
no loader state and reproduces exactly the batches of an uninterrupted run.
A data-parallel run's step is ``TrainConfig.shards`` shards of
``batch_size`` samples, process r computing shard r (training/distributed.py);
shard 0 is the batch of a one-process run.

Images are found recursively (jpg/jpeg/png/webp/bmp, any case), read with
OpenCV (BGR), and cached decoded with the short side at most
``cache_short_side * size`` (bounded memory, cheap crops; least recently used
images are dropped beyond ``cache_images``). A sample is a square crop whose
side is a random fraction (``crop_scale``) of the cached image's short side,
resized to ``size``; images smaller than ``size`` are upscaled first.
Unreadable files are skipped with one warning each. ``PrefetchedBatches``
makes the same batches ahead in worker processes (to feed a GPU).
"""
from __future__ import annotations

import logging
import multiprocessing
import signal
from collections import OrderedDict
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Set, Tuple

import cv2
import numpy as np
import torch

from .config import DataConfig, MaskConfig
from .masks import MaskGenerator

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp")


def list_images(root: str) -> List[Path]:
    """Image files under ``root`` (recursive, sorted); error if the folder is missing."""
    folder = Path(root)
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder not found: {root}")
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


def step_rng(seed: int, step: int, stream: int, shard: int = 0) -> np.random.Generator:
    """The generator of one (seed, step, stream, shard); streams keep crops and
    masks apart. Shard 0 draws what one-process runs always drew (their
    checkpoints resume unchanged); shard r > 0 has a stream of its own."""
    entropy = [seed, step, stream] + ([shard] if shard else [])
    return np.random.default_rng(np.random.SeedSequence(entropy))


def concat_shards(parts: Sequence[Tuple[np.ndarray, np.ndarray]]) -> Tuple[np.ndarray, np.ndarray]:
    """The (images, masks) arrays of several shards, one after the other along the batch."""
    if len(parts) == 1:
        return parts[0]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


class PhotoFolder:
    """Decoded, size-bounded photos of a folder, with a bounded LRU cache."""

    def __init__(self, root: str, size: int, cache_short_side: float = 2.0, cache_images: int = 512) -> None:
        self.root = root
        self.paths = list_images(root)
        self.max_short = max(size, int(round(cache_short_side * size)))
        self.size = size
        self.capacity = max(1, cache_images)
        self._cache: "OrderedDict[int, np.ndarray]" = OrderedDict()
        self._bad: Set[int] = set()
        if not self.paths or self.first_usable(0) is None:
            raise ValueError(f"no usable image (jpg/jpeg/png/webp/bmp) in {root}")

    def __len__(self) -> int:
        return len(self.paths)

    def _decode(self, idx: int) -> Optional[np.ndarray]:
        img = cv2.imread(str(self.paths[idx]), cv2.IMREAD_COLOR)
        if img is None or img.size == 0:
            log.warning("skipping unreadable image %s", self.paths[idx])
            self._bad.add(idx)
            return None
        h, w = img.shape[:2]
        short = min(h, w)
        if short > self.max_short:
            f = self.max_short / short
            img = cv2.resize(img, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
        elif short < self.size:
            f = self.size / short
            img = cv2.resize(img, (max(self.size, round(w * f)), max(self.size, round(h * f))),
                             interpolation=cv2.INTER_CUBIC)
        return img

    def get(self, idx: int) -> Optional[np.ndarray]:
        """Image ``idx`` (cached), or None if it cannot be read."""
        if idx in self._bad:
            return None
        if idx in self._cache:
            self._cache.move_to_end(idx)
            return self._cache[idx]
        img = self._decode(idx)
        if img is not None:
            self._cache[idx] = img
            while len(self._cache) > self.capacity:
                self._cache.popitem(last=False)
        return img

    def first_usable(self, idx: int) -> Optional[int]:
        """``idx`` or the next readable image after it (cyclic); None if none."""
        for k in range(len(self.paths)):
            j = (idx + k) % len(self.paths)
            if self.get(j) is not None:
                return j
        return None


def random_crop(img: np.ndarray, size: int, rng: np.random.Generator, scale: Tuple[float, float],
                hflip: bool) -> np.ndarray:
    """A square crop of a random side (fraction of the short side), resized to ``size``."""
    h, w = img.shape[:2]
    short = min(h, w)
    lo = max(scale[0], size / short if short >= size else 1.0)
    lo = min(lo, scale[1])
    side = max(1, min(short, int(round(rng.uniform(lo, max(lo, scale[1])) * short))))
    y = int(rng.integers(0, h - side + 1))
    x = int(rng.integers(0, w - side + 1))
    crop = img[y:y + side, x:x + side]
    if side != size:
        interp = cv2.INTER_AREA if side > size else cv2.INTER_CUBIC
        crop = cv2.resize(crop, (size, size), interpolation=interp)
    if hflip and rng.uniform() < 0.5:
        crop = crop[:, ::-1]
    return np.ascontiguousarray(crop)


def to_tensors(images: np.ndarray, masks: np.ndarray) -> Tuple[torch.Tensor, torch.Tensor]:
    """uint8 BGR (B, H, W, 3) images and (B, H, W) 0/1 masks -> float
    images (B, 3, H, W) in [-1, 1] and masks (B, 1, H, W), hole = 1."""
    arr = images.astype(np.float32) / 127.5 - 1.0
    image_t = torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous()
    return image_t, torch.from_numpy(masks[:, None].astype(np.float32))


class BatchSource:
    """``source.batch(step)`` -> (images (B,3,S,S) in [-1,1] BGR, masks (B,1,S,S) hole=1);
    ``source.batch(step, shards)`` those of several shards, one after the other."""

    def __init__(self, data: DataConfig, masks: MaskConfig, batch_size: int, seed: int,
                 root: Optional[str] = None) -> None:
        size = data.size
        if size % 32:
            raise ValueError(f"training size must be a multiple of 32, got {size}")
        self.cfg = data
        self.photos = PhotoFolder(root or data.root, size, data.cache_short_side, data.cache_images)
        self.masks = MaskGenerator(masks, size)
        self.per_sample_masks = masks.per_sample
        self.batch_size = batch_size
        self.seed = seed

    def arrays(self, step: int, shard: int = 0) -> Tuple[np.ndarray, np.ndarray]:
        """The batch of ``step`` (of one shard) as uint8 arrays: images (B, S, S, 3)
        BGR and masks (B, S, S), hole = 1; the same every time for the same
        (seed, step, shard)."""
        rng = step_rng(self.seed, step, 0, shard)
        mask_rng = step_rng(self.seed, step, 1, shard)
        images, masks = [], []
        for i in range(self.batch_size):
            idx = self.photos.first_usable(int(rng.integers(0, len(self.photos))))
            if idx is None:
                raise ValueError(f"no usable image left in {self.photos.root}")
            img = self.photos.get(idx)
            images.append(random_crop(img, self.cfg.size, rng, self.cfg.crop_scale, self.cfg.hflip))
            if i == 0 or self.per_sample_masks:
                mask = self.masks(mask_rng)
            masks.append(mask)
        return np.stack(images), np.stack(masks).astype(np.uint8)

    def batch(self, step: int, shards: Sequence[int] = (0,)) -> Tuple[torch.Tensor, torch.Tensor]:
        """The batch of ``step`` as tensors (see to_tensors): the ``shards``' one after the other."""
        return to_tensors(*concat_shards([self.arrays(step, shard) for shard in shards]))


_WORKER_SOURCE: Optional[BatchSource] = None
#: Ctrl-C / `timeout -s INT` reach the whole process group: the trainer
#: finishes its step and saves, so its batch workers must not die under it.
#: Workers are spawned with these blocked (see PrefetchedBatches.batch) and
#: ignore them before unblocking, so none arrives while one still imports.
_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def _start_worker(source: BatchSource) -> None:
    global _WORKER_SOURCE
    for sig in _STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):  # POSIX
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)  # a pending one is dropped: ignored
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    _WORKER_SOURCE = source


@contextmanager
def _stop_signals_blocked() -> Iterator[None]:
    """SIGINT/SIGTERM blocked in this thread meanwhile (POSIX): processes
    spawned here inherit the mask (fork and exec keep it), and a signal
    that comes meanwhile waits for the trainer's handler instead of being lost."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    saved = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, saved)


def _worker_arrays(step: int, shard: int) -> Tuple[np.ndarray, np.ndarray]:
    assert _WORKER_SOURCE is not None
    return _WORKER_SOURCE.arrays(step, shard)


class PrefetchedBatches:
    """The batches of a BatchSource prepared ahead by worker processes, for a
    GPU that would otherwise wait for the CPU. A batch is a function of
    (seed, step), so they are exactly the batches of ``source.batch``.
    Workers are spawned (not forked: safe after CUDA is initialised); use as
    a context manager so they stop with the run."""

    def __init__(self, source: BatchSource, workers: int, ahead: int = 0) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.ahead = ahead or 2 * workers
        self._pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=_start_worker, initargs=(source,))
        self._pending: Dict[Tuple[int, int], Future] = {}

    def batch(self, step: int, shards: Sequence[int] = (0,)) -> Tuple[torch.Tensor, torch.Tensor]:
        """The batch of ``step`` (of ``shards``, as BatchSource.batch); the
        next ``ahead`` steps are queued."""
        for key in [key for key in self._pending if key[0] < step]:  # steps already passed (a jump ahead)
            self._pending.pop(key).cancel()
        with _stop_signals_blocked():  # submit spawns the workers
            for key in [(s, shard) for s in range(step, step + self.ahead) for shard in shards]:
                if key not in self._pending:
                    self._pending[key] = self._pool.submit(_worker_arrays, *key)
        return to_tensors(*concat_shards([self._pending.pop((step, shard)).result() for shard in shards]))

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._pending.clear()

    def __enter__(self) -> "PrefetchedBatches":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

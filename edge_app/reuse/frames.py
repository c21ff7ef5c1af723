"""The frames of one mask from the network's last outputs: what each frame
costs is decided here, once a frame, in frame order (``FrameReuse.frame``).

- New outputs (the first frame's, or a finished run's): a fill is composed
  from them and the current frame (``MaskFrames.compose_fill``: their 512
  fill brought into the current frame's light, CRA's residuals from the
  current frame); a run's replaces the fill through a cross-fade.
- A scene change since the fill's frame (much of the whole view changed, or
  the light jumped): the network is asked at once (a run of an older
  view finishing meanwhile is dropped) and, until it answers, the hole gets
  a quick fill of the new frame.
- The view around the hole changed since the network's frame (changes
  that have stood still for ``reuse_settle`` seconds: something passing by
  does not count), or its outputs are older than ``reuse_max_age``: the
  network is asked again, on its own thread (when it is idle), and the
  frame goes on with what it has.
- The context CRA borrows from changed since the fill's frame (changes that
  stood still, likewise): the fill is composed again from the same outputs
  and the current frame.
- Otherwise, and after each of these: the fill drawn in the current
  frame's light (``light``, ``fill.draw``): a still scene costs the light
  fit, the change count and the draw. The thin parts of the hole
  (edge_app.thin_holes, Navier-Stokes from the pixels around them) are
  filled again from the current frame in the tiles where something around
  them changed since the fill's frame, so nothing that passed by stays
  frozen in them.
"""
import time
import warnings
from typing import Dict, Optional

import cv2
import numpy as np

from ..errors import InpaintError, InpaintWarning
from ..cra.dense import SourceField
from ..interface import ATTENTION_GRID, MODEL_SIZE
from ..preprocess import image_input
from .change import ChangeMeter, Stillness
from .fill import Fill, draw
from .light import IDENTITY, LightModel
from .runner import NetworkRunner


def _add(timings: Dict[str, float], key: str, seconds: float) -> None:
    timings[key] = timings.get(key, 0.0) + seconds


class Key:
    """Network outputs, the 512 view they were made from, the completion's
    field of sources (fill 'patches'; None: cell CRA on the network's fill),
    the generation of the scene it belongs to, and how much the hole borrows
    from each context cell (None without CRA)."""

    def __init__(self, outputs, small: np.ndarray, field: Optional[SourceField], generation: int,
                 weights: Optional[np.ndarray]):
        self.outputs, self.small, self.field = outputs, small, field
        self.generation, self.weights = generation, weights


class Job:
    """A network run asked for: the 512 view, its scene's generation."""

    def __init__(self, small: np.ndarray, generation: int):
        self.small, self.generation = small, generation


class FrameReuse:
    """The reuse state of one MaskFrames (``frames``): its key outputs, its
    fill, a cross-fade in progress and the network's own thread."""

    def __init__(self, frames) -> None:
        self.frames = frames
        config, prepared = frames.config, frames.prepared
        self.config = config
        known = prepared.network_hole == 0
        self.light = LightModel(prepared.any_hole, known, config.reuse_light_degree, config.reuse_ring,
                                config.reuse_pixel_change)
        self.meter = ChangeMeter(prepared.any_hole, known, config.reuse_view_band, config.reuse_pixel_change)
        self.stillness = Stillness(self.meter, config.reuse_settle)
        #: the part of the 512 view around each tile of the thin-hole fill (edge_app.thin_holes)
        height, width = prepared.hole.shape
        self.thin_rects = [(a0 * MODEL_SIZE // height, -(-a1 * MODEL_SIZE // height),
                            b0 * MODEL_SIZE // width, -(-b1 * MODEL_SIZE // width))
                           for _, (a0, a1, b0, b1) in (prepared.thin.tiles if prepared.thin else [])]
        self.runner = NetworkRunner(self._run, frames.inpainter.backend.bind_thread)
        #: the clock that times reuse_max_age for frames without a time of
        #: their own (a live source; replaceable in tests), in seconds
        self.clock = time.monotonic
        self.key = None  # type: Optional[Key]
        self.fill = None  # type: Optional[Fill]
        self.fade = None  # type: Optional[Fill]
        self.faded = 0
        self.generation = 0
        self.asked = -float("inf")
        #: the stage seconds of the runs on the network's thread, summed
        self.network_timings = {}  # type: Dict[str, float]

    def _run(self, job: Job):
        """A run on the network's thread: (outputs, the completion's field,
        stage timings); the completion is the network's work too, so a frame
        never waits for it."""
        t0 = time.perf_counter()
        img = image_input(job.small)
        timings = {"preprocess": time.perf_counter() - t0}
        outputs = self.frames.run_network(img, timings)
        field = self.frames.completion_field(job.small, outputs[1], timings)
        return outputs, field, timings

    def _ask(self, small: np.ndarray, now: float) -> None:
        self.runner.request(Job(small, self.generation))
        self.asked = now

    def frame(self, image: np.ndarray, small: np.ndarray, outputs, timings: Dict[str, float],
              at: Optional[float] = None) -> np.ndarray:
        """The inpainted frame; ``small`` its 512 view, ``outputs`` network
        outputs of this very frame (a synchronous run) or None, ``at`` its
        time in seconds on its source's clock (None: ``clock``)."""
        frames, config = self.frames, self.config
        window = frames.prepared.window
        now = self.clock() if at is None else at
        t0 = time.perf_counter()
        out = image.copy()
        _add(timings, "cra", time.perf_counter() - t0)
        if outputs is not None:
            self.asked = now
            field = frames.completion_field(small, outputs[1], timings)
            self._adopt(Key(outputs, small, field, self.generation, self._weights(outputs, field)), image[window],
                        small, timings, fade=False)
        else:
            if self.fade is None:
                self._take(image[window], small, timings)
            if self.key is None:  # the first frame's run was lost (its frame failed): wait for one
                self._ask(small, now)
                self.runner.wait()
                self._take(image[window], small, timings)
                if self.key is None:
                    raise InpaintError("the network gave no outputs for this mask yet")
        t0 = time.perf_counter()
        fill = self.fill
        light = self.light.fit(fill.small, small)
        changed = self.meter.changed(fill.small, small, light)
        scene = light.beyond(config.reuse_scene_gain) or self.meter.whole(changed) > config.reuse_scene_change
        live = [i for i, (y0, y1, x0, x1) in enumerate(self.thin_rects) if changed[y0:y1, x0:x1].any()]
        still = self.stillness.still(small, now)
        if still is not None:
            changed &= still
        _add(timings, "preprocess", time.perf_counter() - t0)
        if scene:
            self.generation += 1
            self._ask(small, now)
            self.fill, self.fade, light = self._quick_fill(image[window], small, timings), None, IDENTITY
        elif not self.runner.busy and (now - self.asked >= config.reuse_max_age or
                                       self._view_changed(small, light, still, timings)):
            self._ask(small, now)
        elif (self.fade is None and not fill.quick and self.key.weights is not None
              and self.meter.borrowed(changed, self.key.weights) > config.reuse_residual_change):
            self.fill, light = self._compose(self.key, image[window], small, timings), IDENTITY
        t0 = time.perf_counter()
        fade = None
        if self.fade is not None:
            self.faded += 1
            fade = (self.fade, self.light.fit(self.fade.small, small), self.faded / float(config.reuse_crossfade))
            if self.faded >= config.reuse_crossfade:
                self.fade = None
        draw(self.fill, light, image[window], out[window], fade)
        if live and not scene:  # thin parts whose surroundings changed: filled from this frame
            frames.prepared.thin.fill(image[window], out[window], live)
        _add(timings, "blend", time.perf_counter() - t0)
        return out

    def _view_changed(self, small: np.ndarray, light, still: Optional[np.ndarray],
                      timings: Dict[str, float]) -> bool:
        """True when the view around the hole changed since the network's
        frame (its view in the fill's light, brought into this frame's by
        ``light``, the fill's to this frame's), counting the pixels that
        stand ``still`` (None: all)."""
        if self.fill.key_view is None:
            return False
        t0 = time.perf_counter()
        changed = self.meter.changed(self.fill.key_view, small, light)
        if still is not None:
            changed &= still
        _add(timings, "preprocess", time.perf_counter() - t0)
        return self.meter.around_hole(changed) > self.config.reuse_view_change

    def _take(self, window: np.ndarray, small: np.ndarray, timings: Dict[str, float]) -> None:
        """Adopt the network's newest finished run, unless a scene change came after its frame."""
        done = self.runner.take()
        if done is None:
            return
        if done.error is not None:
            warnings.warn(InpaintWarning("the network's run failed, the last outputs stay: {}".format(done.error)))
            return
        outputs, field, run_timings = done.result
        for stage, seconds in run_timings.items():
            _add(self.network_timings, stage, seconds)
        if done.job.generation == self.generation:
            key = Key(outputs, done.job.small, field, done.job.generation, self._weights(outputs, field))
            self._adopt(key, window, small, timings, fade=True)

    def _adopt(self, key: Key, window: np.ndarray, small: np.ndarray, timings: Dict[str, float], fade: bool) -> None:
        old = self.fill
        self.key, self.fill = key, self._compose(key, window, small, timings)
        if fade and old is not None and old.cells.plan is self.fill.cells.plan and self.config.reuse_crossfade > 1:
            self.fade, self.faded = old, 0
        else:
            self.fade = None

    def _compose(self, key: Key, window: np.ndarray, small: np.ndarray, timings: Dict[str, float]) -> Fill:
        """A fill from the key's outputs and the current frame (their fill in its light)."""
        inpainted, attention, blend = key.outputs
        t0 = time.perf_counter()
        light = self.light.fit(key.small, small)
        key_view = key.small if light.identity else light.apply_small(key.small, cv2.CV_8U)
        _add(timings, "preprocess", time.perf_counter() - t0)
        field = key.field
        if not light.identity:
            inpainted = light.apply_small(np.asarray(inpainted, np.float32).reshape(small.shape))
            if field is not None:  # the completed hole in this frame's light, the frame's own view around it
                hole = self.frames.prepared.any_hole[..., None] != 0
                field = field.with_filled(np.where(hole, light.apply_small(field.filled), small.astype(np.float32)))
        fill = self.frames.compose_fill(window, small, inpainted, attention, blend, timings, field)
        fill.key_view = key_view
        return fill

    def _quick_fill(self, window: np.ndarray, small: np.ndarray, timings: Dict[str, float]) -> Fill:
        """A scene change's fill until the network's: the frame's 512 view
        filled by OpenCV's Telea method, upsampled (no attention)."""
        t0 = time.perf_counter()
        quick = cv2.inpaint(small, self.frames.prepared.network_hole, 3, cv2.INPAINT_TELEA)
        _add(timings, "cra", time.perf_counter() - t0)
        fill = self.frames.compose_fill(window, small, quick.astype(np.float32), None, self.key.outputs[2], timings)
        fill.quick = True
        return fill

    def _weights(self, outputs, field: Optional[SourceField]) -> Optional[np.ndarray]:
        """How much the hole borrows from each context cell, normalised (None
        without CRA): the completion's sources counted per cell, or without
        one the active cells' attention rows summed."""
        inpainted, attention, blend = outputs
        plan = self.frames.plan_for(blend)
        if not self.config.cra or not plan.cells:
            return None
        if field is not None:
            column = field.sources_per_cell(ATTENTION_GRID).astype(np.float64)
        else:
            rows = np.asarray(attention, np.float32).reshape(-1, attention.shape[-1])[plan.cell_ids]
            column = rows.sum(axis=0, dtype=np.float64)
        total = column.sum()
        return column / total if total > 0 else None

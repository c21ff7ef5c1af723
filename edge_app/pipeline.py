"""The Inpainter: image + hole in, image out; data flows one way.

validate -> ROI crop -> preprocess (area to 512, any-pooled hole) ->
backend -> CRA compose + blend (edge_app.cra) -> thin parts of the hole
(edge_app.thin_holes) -> paste back.

One path for every frame: ``Inpainter.for_mask(hole)`` gives the
``MaskFrames`` of a hole mask, which does the mask-only work (ROI, 512
masks, thin parts: a ``Prepared``) once and keeps the CRA plan for the next
frame while it holds (checked once a frame, in ``finish``).
``MaskFrames.inpaint(frame)`` is ``finish(frame, infer(frame))``; the
stream calls the two halves from two threads, so inference of one frame
overlaps the host work of the previous one. The CLI
(``Inpainter.inpaint``), the stream, the serve page (its endpoint and live
preview) and the bench all inpaint through it. Every frame records seconds
per stage in ``timings`` (preprocess, h2d, inference, d2h, cra, blend).

With ``reuse_network`` (the default) only a mask's first frame runs the
network in ``infer``; the frames after it are made from its last outputs
and the current frame (edge_app.reuse, called from ``finish``), and the
network runs again on its own thread when the view changes. With
``--every-frame`` every ``infer`` runs it, as before. Model runs go one at a
time through ``Inpainter.run_network``.
"""
import os
import time
from dataclasses import fields
from typing import Dict, Optional, Tuple

import numpy as np

from . import cra, masks, roi
from .backends import Backend, backend_class, open_backend, resolve_backend
from .backends.base import Outputs
from .completion import complete_view
from .cra.dense import SourceField, compose_dense
from .config import AppConfig
from .cores import compose_threads
from .errors import InpaintError
from .interface import ATTENTION_CELLS
from .preprocess import image_input, known_fraction, known_small_image, majority_hole, mask_input, small_hole
from .reuse import Cells, Fill, FrameReuse, draw
from .reuse.light import IDENTITY
from .thin_holes import ThinHoles


class Prepared:
    """Everything derived from one hole mask for frames of one size (read-only once made)."""

    def __init__(self, hole: np.ndarray, config: AppConfig):
        self.shape = hole.shape
        self.empty = not hole.any()
        self.box = None if self.empty else roi.choose_crop(
            config.roi, hole, config.roi_growth, config.roi_min_side, config.roi_auto_max_area)
        y0, y1, x0, x1 = self.box or (0, hole.shape[0], 0, hole.shape[1])
        self.window = (slice(y0, y1), slice(x0, x1))
        self.hole = np.ascontiguousarray(hole[self.window])
        #: 512 cells holding any hole pixel (the CRA plan's and the thin parts' view) ...
        self.any_hole = small_hole(self.hole)
        #: ... and the network's hole (see AppConfig.min_known)
        self.fraction = known_fraction(self.hole)
        self.network_hole = (self.any_hole if config.min_known >= 1.0
                             else majority_hole(self.fraction, config.min_known))
        #: 512 pixels known to the network that hold hole pixels (known_small_image)
        self.partial = (self.network_hole == 0) & (self.any_hole != 0)
        if not self.empty and self.network_hole.all():
            raise InpaintError("the hole leaves no fully known pixel in the network's 512 x 512 view: "
                               "nothing left to borrow from")
        self.mask_input = mask_input(self.network_hole)
        #: the parts of the hole too thin for the network, filled after CRA
        self.thin = None if self.empty else ThinHoles(self.hole, self.any_hole, config.thin_width, config.thin_tile,
                                                       config.thin_margin, config.thin_radius)


class Inferred:
    """One frame's network outputs, the 512 image they came from, its
    timings, and its time in seconds (a video file's own clock; None: the
    wall clock when it is finished)."""

    def __init__(self, at: Optional[float] = None) -> None:
        self.small = None  # type: Optional[np.ndarray]
        self.outputs = None  # type: Optional[Outputs]
        self.timings = {}  # type: Dict[str, float]
        self.at = at


def _add(timings: Dict[str, float], key: str, seconds: float) -> None:
    timings[key] = timings.get(key, 0.0) + seconds


class MaskFrames:
    """Frames inpainted with one hole mask: the one path of every command.

    Made by ``Inpainter.for_mask``; keep it for frames that share the mask
    (a stream, the live preview): the mask-only work is done once, the CRA
    plan is reused while the network's blend mask stays the same, and with
    ``reuse_network`` the network's outputs are reused while the view
    around the hole holds (edge_app.reuse).
    """

    def __init__(self, inpainter: "Inpainter", hole: np.ndarray):
        self.inpainter = inpainter
        self.config = inpainter.config
        self.prepared = Prepared(hole, self.config)
        self._plan = None  # type: Optional[cra.CraPlan]
        self._cells = None  # type: Optional[Cells]
        y0, y1, x0, x1 = self.prepared.box or (0, hole.shape[0], 0, hole.shape[1])
        self._threads = compose_threads(self.config, y1 - y0, x1 - x0)
        self._synchronous_runs = 0
        self._synchronous_seconds = 0.0
        #: the reuse of the network's outputs, or None (--every-frame, or an empty mask)
        self.reuse = FrameReuse(self) if self.config.reuse_network and not self.prepared.empty else None

    @property
    def network_runs(self) -> int:
        """The network's runs for this mask so far (in ``infer`` and on its own thread)."""
        return self._synchronous_runs + (self.reuse.runner.runs if self.reuse else 0)

    @property
    def network_seconds(self) -> float:
        """Their seconds, summed."""
        return self._synchronous_seconds + (self.reuse.runner.seconds if self.reuse else 0.0)

    def inpaint(self, image: np.ndarray, at: Optional[float] = None) -> np.ndarray:
        """One frame: ``finish(image, infer(image, at))``."""
        return self.finish(image, self.infer(image, at))

    def infer(self, image: np.ndarray, at: Optional[float] = None) -> Inferred:
        """Preprocess and run the backend (nothing to do for an empty mask;
        with reuse, the network runs for the first frame only). ``at``: the
        frame's time in seconds on its source's clock (a video file's frame
        number / its frame rate), which times ``reuse_max_age``; None: the
        wall clock (a live source)."""
        prepared = self.prepared
        inferred = Inferred(at)
        if prepared.empty:
            return inferred
        if image.shape[:2] != prepared.shape:
            raise InpaintError("frame is {}x{} but the mask is {}x{}".format(
                image.shape[1], image.shape[0], prepared.shape[1], prepared.shape[0]))
        t0 = time.perf_counter()
        inferred.small = known_small_image(image[prepared.window], prepared.hole, prepared.fraction,
                                           prepared.partial)
        if self.reuse is not None and self._synchronous_runs:
            _add(inferred.timings, "preprocess", time.perf_counter() - t0)
            return inferred
        img_input = image_input(inferred.small)
        _add(inferred.timings, "preprocess", time.perf_counter() - t0)
        t0 = time.perf_counter()
        inferred.outputs = self.run_network(img_input, inferred.timings)
        self._synchronous_runs += 1
        self._synchronous_seconds += time.perf_counter() - t0
        return inferred

    def run_network(self, img_input: np.ndarray, timings: Dict[str, float]) -> Outputs:
        """The backend on the 512 image and this mask (one run at a time per
        backend: Inpainter.run_network); its stage seconds added to ``timings``."""
        outputs, stages = self.inpainter.run_network(img_input, self.prepared.mask_input)
        for key, seconds in stages.items():
            _add(timings, key, seconds)
        return outputs

    def finish(self, image: np.ndarray, inferred: Inferred) -> np.ndarray:
        """CRA compose and blend into a copy of the frame (only the crop
        changes), then the thin parts of the hole; with reuse, the frame
        from the last outputs (edge_app.reuse).

        The frame's stage timings end up in ``inferred.timings`` and the
        Inpainter's ``timings``.
        """
        prepared, timings = self.prepared, inferred.timings
        if self.reuse is not None:
            out = self.reuse.frame(image, inferred.small, inferred.outputs, timings, inferred.at)
            self.inpainter.timings = timings
            return out
        t0 = time.perf_counter()
        out = image.copy()
        _add(timings, "cra", time.perf_counter() - t0)
        if inferred.outputs is not None:
            inpainted, attention, blend = inferred.outputs
            plan = self.plan_for(blend, timings)
            field = self.completion_field(inferred.small, attention, timings)
            self._compose(image[prepared.window], inferred.small, inpainted, attention, plan, out[prepared.window],
                          field, timings)
            if prepared.thin:
                t0 = time.perf_counter()
                prepared.thin.fill(image[prepared.window], out[prepared.window])
                _add(timings, "blend", time.perf_counter() - t0)
        self.inpainter.timings = timings
        return out

    def completion_field(self, small: np.ndarray, attention: np.ndarray,
                         timings: Dict[str, float]) -> Optional[SourceField]:
        """With fill 'patches': the 512 view ``small`` completed from its own
        patches (time under "cra"), as the field CRA borrows through; None
        for fill 'network', or when nothing is wholly known."""
        if self.config.fill != "patches":
            return None
        t0 = time.perf_counter()
        rows = np.asarray(attention, dtype=np.float32).reshape(ATTENTION_CELLS, ATTENTION_CELLS)
        completion = complete_view(small, self.prepared.any_hole, rows)
        field = None if completion is None else SourceField(completion, self.prepared.hole.shape)
        _add(timings, "cra", time.perf_counter() - t0)
        return field

    def compose_fill(self, window: np.ndarray, small: np.ndarray, inpainted: np.ndarray,
                     attention: Optional[np.ndarray], blend: np.ndarray, timings: Dict[str, float],
                     field: Optional[SourceField] = None) -> Fill:
        """The fill of network outputs (or of the completion ``field``)
        composed from the frame's crop ``window`` and its 512 view ``small``,
        unblended, with the thin parts of the hole filled in
        (edge_app.reuse.fill): what ``finish`` writes, to draw into this and
        later frames."""
        prepared = self.prepared
        plan = self.plan_for(blend, timings)
        pixels = np.zeros_like(window)
        self._compose(window, small, inpainted, attention, plan.unblended(), pixels, field, timings)
        if self._cells is None or self._cells.plan is not plan:
            self._cells = Cells(plan, prepared.hole, prepared.thin)
        fill = Fill(pixels, small, self._cells)
        if prepared.thin:
            t0 = time.perf_counter()
            drawn = window.copy()
            draw(fill, IDENTITY, window, drawn)
            prepared.thin.fill(window, drawn)
            for (y0, y1, x0, x1), _ in prepared.thin.tiles:
                np.copyto(pixels[y0:y1, x0:x1], drawn[y0:y1, x0:x1], where=prepared.thin.mask[y0:y1, x0:x1, None] != 0)
            _add(timings, "blend", time.perf_counter() - t0)
        return fill

    def _compose(self, window: np.ndarray, small: np.ndarray, inpainted: np.ndarray, attention: Optional[np.ndarray],
                 plan: cra.CraPlan, out: np.ndarray, field: Optional[SourceField], timings: Dict[str, float]) -> None:
        """Write the fill into ``out`` under ``plan``: CRA through the
        completion's ``field`` when there is one, else cell CRA on the
        network's fill."""
        config = self.config
        if field is not None:
            compose_dense(window, field, plan, out, detail=config.cra, threads=self._threads, timings=timings)
            return
        cra.compose(window, self.prepared.hole, inpainted, attention if config.cra else None, plan.blend, small=small,
                    plan=plan, out=out, timings=timings, soft_floor=config.soft_floor, feather=config.blend_feather,
                    prune_mass=config.attention_prune_mass, attention_power=config.attention_power,
                    chunk_cells=config.cra_chunk_cells, threads=self._threads,
                    matmul=self.inpainter.backend.aggregator(plan.ph * plan.pw * 3))

    def plan_for(self, blend: np.ndarray, timings: Optional[Dict[str, float]] = None) -> cra.CraPlan:
        """The kept CRA plan of the network's blend output, rebuilt (time
        under "cra") when the blend mask changed."""
        blend = blend.reshape(blend.shape[-3:-1]) if blend.ndim > 2 else blend
        hole, feather = self.prepared.hole, self.config.blend_feather
        if self._plan is None or not self._plan.matches(hole, blend, feather):
            t0 = time.perf_counter()
            self._plan = cra.CraPlan(hole, blend, self.config.soft_floor, self.prepared.any_hole, feather)
            if timings is not None:
                _add(timings, "cra", time.perf_counter() - t0)
        return self._plan

    def close(self) -> None:
        """Ask the network's thread for no more runs (one running finishes)."""
        if self.reuse is not None:
            self.reuse.runner.stop()


def open_configured_backend(config: AppConfig, model=None) -> Backend:
    """The backend ``config`` names, on ``model`` (default: the config's model
    for that kind of backend, Backend.model_option), with its settings."""
    name = resolve_backend(config.backend)
    path = model if model is not None else getattr(config, backend_class(name).model_option)
    return open_backend(name, os.fspath(path), config.device_id, config.cra_matmul_model, config.network_threads)


class Inpainter:
    """HiFill with CRA: ``Inpainter(model=None, backend="auto", **options)(image, mask)``.

    ``image`` uint8 (H, W, 3) BGR, ``mask`` (H, W) bool/uint8 with hole != 0;
    returns uint8 (H, W, 3). ``backend``: "auto", "onnxruntime", "acl" or an
    open Backend; ``model``: a model path (default: the bundled model of the
    backend); ``options``: fields of edge_app.config.AppConfig.
    """

    def __init__(self, model=None, backend="auto", **options):
        given = isinstance(backend, Backend)
        self.config = AppConfig().with_options(backend=backend.name if given else backend, **options)
        self.backend = backend if given else open_configured_backend(self.config, model)
        #: the stage timings of the last frame
        self.timings = {}  # type: Dict[str, float]
        self._closed = False

    @classmethod
    def from_config(cls, config: AppConfig, model=None) -> "Inpainter":
        """The Inpainter of a whole AppConfig (the command line's), on ``model``
        or the config's model for its backend."""
        return cls(model, **{f.name: getattr(config, f.name) for f in fields(config)})

    def __call__(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return self.inpaint(image, masks.as_hole(mask))

    def inpaint(self, image: np.ndarray, hole: np.ndarray, mask_path: Optional[str] = None) -> np.ndarray:
        """Check the pair (warnings for an empty or likely inverted mask), then inpaint it."""
        masks.warn(masks.check_pair(image, hole, self.config, mask_path))
        return self.for_mask(hole).inpaint(image)

    def for_mask(self, hole: np.ndarray) -> MaskFrames:
        """The frames of one hole mask (uint8 (H, W), non-zero = hole): keep it
        for frames that share the mask."""
        return MaskFrames(self, hole)

    def run_network(self, img: np.ndarray, mask: np.ndarray) -> Tuple[Outputs, Dict[str, float]]:
        """The backend's run and its stage seconds, one run at a time (the
        frames' threads, the network's own and other Inpainters on the same
        backend share the model)."""
        with self.backend.lock:
            if self._closed:
                raise InpaintError("the model is closed")
            outputs = self.backend.run(img, mask)
            return outputs, dict(self.backend.timings)

    def close(self) -> None:
        """Close the backend, once a run in progress is done."""
        with self.backend.lock:
            self._closed = True
            self.backend.close()

    def __enter__(self) -> "Inpainter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

"""The Inpainter: image + hole in, image out; data flows one way.

validate -> ROI crop -> preprocess (area to 512, any-pooled hole) ->
backend -> CRA compose + blend (edge_app.cra) -> thin parts of the hole
(edge_app.thin_holes) -> paste back.

What depends only on the mask (ROI, 512 mask, CRA plan) is prepared once in
a ``Prepared`` so a stream with a fixed mask pays for it once; ``infer`` and
``finish`` split a frame's work so inference of one frame can overlap the
host work of the previous one. Every call records seconds per stage in
``timings`` (preprocess, h2d, inference, d2h, cra, blend).
"""
import time
from typing import Dict, Optional

import numpy as np

from . import cra, masks, roi
from .backends import Backend, open_backend
from .backends.base import Outputs
from .config import AppConfig
from .errors import InpaintError
from .preprocess import image_input, known_fraction, known_small_image, majority_hole, mask_input, small_hole
from .thin_holes import ThinHoles


class Prepared:
    """Everything derived from one hole mask for frames of one size."""

    def __init__(self, hole: np.ndarray, config: AppConfig):
        self.shape = hole.shape
        self.empty = not hole.any()
        self.box = None if self.empty else roi.choose_crop(
            config.roi, hole, config.roi_growth, config.roi_min_side, config.roi_auto_max_area)
        y0, y1, x0, x1 = self.box or (0, hole.shape[0], 0, hole.shape[1])
        self.window = (slice(y0, y1), slice(x0, x1))
        self.hole = np.ascontiguousarray(hole[self.window])
        #: 512 cells holding any hole pixel (the CRA plan's view) ...
        self.any_mask = small_hole(self.hole)
        #: ... and the network's hole (see AppConfig.min_known)
        self.fraction = known_fraction(self.hole)
        self.small_mask = self.any_mask if config.min_known >= 1.0 else majority_hole(self.fraction, config.min_known)
        #: 512 pixels known to the network that hold hole pixels (known_small_image)
        self.partial = (self.small_mask == 0) & (self.any_mask != 0)
        if not self.empty and self.small_mask.all():
            raise InpaintError("the hole leaves no fully known pixel in the network's 512 x 512 view: "
                               "nothing left to borrow from")
        self.mask_input = mask_input(self.small_mask)
        #: the parts of the hole too thin for the network, filled after CRA
        self.thin = None if self.empty else ThinHoles(self.hole, self.any_mask, config.thin_width, config.thin_tile,
                                                       config.thin_margin, config.thin_radius)
        self.plan = None  # type: Optional[cra.CraPlan]


class Inferred:
    """One frame's network outputs, the 512 image they came from, its timings."""

    def __init__(self) -> None:
        self.small = None  # type: Optional[np.ndarray]
        self.outputs = None  # type: Optional[Outputs]
        self.timings = {}  # type: Dict[str, float]


def _add(timings: Dict[str, float], key: str, seconds: float) -> None:
    timings[key] = timings.get(key, 0.0) + seconds


class Inpainter:
    """HiFill with CRA: ``Inpainter(model=None, backend="auto", **options)(image, mask)``.

    ``image`` uint8 (H, W, 3) BGR, ``mask`` (H, W) bool/uint8 with hole != 0;
    returns uint8 (H, W, 3). ``backend``: "auto", "onnxruntime", "acl" or an
    open Backend; ``model``: a model path (default: the bundled model of the
    backend); ``options``: fields of edge_app.config.AppConfig.
    """

    def __init__(self, model=None, backend="auto", **options):
        self.config = AppConfig().with_options(**options)
        if isinstance(backend, Backend):
            self.backend = backend
        else:
            self.backend = open_backend(backend, model, self.config)
        self.timings = {}  # type: Dict[str, float]

    def __call__(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return self.inpaint(image, masks.as_hole(mask))

    def inpaint(self, image: np.ndarray, hole: np.ndarray, mask_path: Optional[str] = None) -> np.ndarray:
        """Validate (warnings for an empty or likely inverted mask), then run."""
        masks.check_pair(image, hole, self.config.mask_convention, self.config.inverted_mask_fraction, mask_path)
        prepared = self.prepare(hole)
        return self.finish(image, prepared, self.infer(image, prepared))

    def prepare(self, hole: np.ndarray) -> Prepared:
        """The mask-only work (ROI, 512 mask); reuse it for frames sharing the mask."""
        return Prepared(hole, self.config)

    def infer(self, image: np.ndarray, prepared: Prepared) -> Inferred:
        """Preprocess and run the backend (nothing to do for an empty mask)."""
        inferred = Inferred()
        if prepared.empty:
            return inferred
        if image.shape[:2] != prepared.shape:
            raise InpaintError("frame is {}x{} but the mask is {}x{}".format(
                image.shape[1], image.shape[0], prepared.shape[1], prepared.shape[0]))
        t0 = time.perf_counter()
        inferred.small = known_small_image(image[prepared.window], prepared.hole, prepared.fraction,
                                           prepared.partial)
        img_input = image_input(inferred.small)
        _add(inferred.timings, "preprocess", time.perf_counter() - t0)
        inferred.outputs = self.backend.run(img_input, prepared.mask_input)
        for key, seconds in self.backend.timings.items():
            _add(inferred.timings, key, seconds)
        return inferred

    def finish(self, image: np.ndarray, prepared: Prepared, inferred: Inferred) -> np.ndarray:
        """CRA compose and blend into a copy of the frame (only the crop changes).

        The frame's stage timings end up in ``inferred.timings`` and ``self.timings``.
        """
        timings = inferred.timings
        t0 = time.perf_counter()
        out = image.copy()
        _add(timings, "cra", time.perf_counter() - t0)
        if inferred.outputs is not None:
            inpainted, attention, blend = inferred.outputs
            blend = blend.reshape(blend.shape[-3:-1])
            if prepared.plan is None or not prepared.plan.matches(prepared.hole, blend, self.config.blend_feather):
                t0 = time.perf_counter()
                prepared.plan = cra.CraPlan(prepared.hole, blend, self.config.soft_floor, prepared.any_mask,
                                            self.config.blend_feather)
                _add(timings, "cra", time.perf_counter() - t0)
            plan = prepared.plan
            cra.compose(image[prepared.window], prepared.hole, inpainted, attention if self.config.cra else None,
                        blend, small=inferred.small, plan=plan, out=out[prepared.window],
                        soft_floor=self.config.soft_floor, feather=self.config.blend_feather,
                        prune_mass=self.config.attention_prune_mass,
                        chunk_cells=self.config.cra_chunk_cells, threads=self.config.cra_threads,
                        matmul=self.backend.aggregator(plan.ph * plan.pw * 3), timings=timings)
            if prepared.thin:
                t0 = time.perf_counter()
                prepared.thin.fill(image[prepared.window], out[prepared.window])
                _add(timings, "blend", time.perf_counter() - t0)
        self.timings = timings
        return out

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> "Inpainter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

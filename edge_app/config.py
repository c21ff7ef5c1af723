"""Every setting of the app in one dataclass (thresholds, ROI, CRA, stream).

The CLI and ``Inpainter(**options)`` override fields by name; nothing else in
the package hard-codes a tunable number.
"""
import os
from dataclasses import dataclass, fields, replace

#: Mask file conventions: white = hole (the official test script) or white =
#: keep / black = hole (Huawei's Ascend sample).
MASK_CONVENTIONS = ("white-hole", "keep-white")
ROI_MODES = ("auto", "on", "off")

MODELS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "models")


@dataclass(frozen=True)
class AppConfig:
    """Settings of one Inpainter / CLI run (documented defaults)."""

    # --- masks -------------------------------------------------------------
    #: How grey mask files are read (see MASK_CONVENTIONS).
    mask_convention: str = "white-hole"
    #: Grey level above which a mask pixel is white (JPEG masks are not binary).
    mask_threshold: int = 127
    #: A mask with a non-opaque alpha channel is read from the alpha:
    #: alpha <= this (transparent) = hole, whatever the convention.
    alpha_threshold: int = 127
    #: Hole fraction above which the convention is probably inverted (warning).
    inverted_mask_fraction: float = 0.5

    # --- ROI ---------------------------------------------------------------
    #: "auto": crop around the hole when the crop is small enough; "on": always
    #: crop; "off": run on the whole frame.
    roi: str = "auto"
    #: The crop is a square of side growth x the hole's bounding-box side ...
    roi_growth: float = 3.0
    #: ... at least this many pixels (never below the network's 512) ...
    roi_min_side: int = 512
    #: ... and "auto" uses it only when it covers at most this fraction of the
    #: frame's area. Measured (scripts/bench_cra.py --roi-model, 10 photos):
    #: crops of 5-8 % of the frame cut the L1 error in the hole by 9-24 %,
    #: crops of 17 % and 37 % raised it by 9 % and 5 % (edge_app/README.md).
    roi_auto_max_area: float = 0.10

    # --- preprocessing -----------------------------------------------------
    #: A 512 pixel of the network's input is known when at least this
    #: fraction of its native area is (its colour: the mean of those known
    #: pixels); 1.0 is the reference's rule (any hole pixel makes a hole).
    #: See edge_app.preprocess.
    min_known: float = 0.5

    # --- CRA ---------------------------------------------------------------
    #: False: plain bilinear upsampling of the 512 result in the hole (ablation).
    cra: bool = True
    #: Soft-mask values at or below this are treated as 0 (a change below half
    #: a grey level): pixels there come back bit-identical.
    soft_floor: float = 1.0 / 512
    #: The blend into the frame: 1 on the full-resolution hole, falling to 0
    #: within this many pixels outside it (a linear ramp across a straight
    #: edge; never above the model's upsampled 512 blend mask); see
    #: edge_app.cra.plan.CraPlan._ramp.
    blend_feather: int = 3
    #: In each attention row the smallest weights are dropped while their
    #: sum stays at or below this: the aggregated residual then errs by at
    #: most 255 * this grey levels (0.25 at the default; see cra.prune_rows).
    attention_prune_mass: float = 1.0 / 1024
    #: Active cells aggregated per matrix product (bounds the memory at 8K:
    #: 128 cells of 135 x 240 x 3 floats = 50 MB).
    cra_chunk_cells: int = 128
    #: Worker threads of the CRA step (0: the CPU count, at most 4, for
    #: frames of 8K class; one below, see edge_app.cra.default_threads).
    cra_threads: int = 0

    # --- thin holes (edge_app.thin_holes) -----------------------------------
    #: Parts of the hole narrower than this many pixels of the network's
    #: 512 view (a cable, a wire) are filled at native resolution by OpenCV's
    #: Navier-Stokes inpainting after CRA, which continues edges across them
    #: better than the network's upsampled fill (MODEL_CARD.md); 0: off.
    thin_width: int = 7
    #: cv2.inpaint runs on tiles of this side holding thin pixels, each with
    #: this margin of context (its cost grows with the area it is given) ...
    thin_tile: int = 256
    thin_margin: int = 16
    #: ... and this neighbourhood radius.
    thin_radius: int = 3

    # --- output ------------------------------------------------------------
    jpeg_quality: int = 95
    overwrite: bool = False

    # --- backend -----------------------------------------------------------
    backend: str = "auto"
    device_id: int = 0
    onnx_model: str = os.path.join(MODELS_DIR, "hifill.onnx")
    om_model: str = os.path.join(MODELS_DIR, "hifill.om")
    #: acl only: a cra_matmul .om (python -m convert cra-matmul --size WxH) to
    #: run the CRA product on the AI core for frames (or ROI crops) of that size.
    cra_matmul_model: str = ""

    # --- stream ------------------------------------------------------------
    #: Frames in flight between the inference thread and the host work.
    stream_queue: int = 2
    #: Consecutive unreadable frames after which a live source counts as ended.
    stream_max_failures: int = 25
    #: Frame rate written when the source does not report one.
    stream_default_fps: float = 25.0
    #: FourCC of the written video.
    stream_fourcc: str = "mp4v"

    # --- web page (python -m edge_app serve) -------------------------------
    #: Largest upload (a photo or a mask file), in bytes: 413 above it.
    serve_max_upload: int = 64 * 1024 * 1024
    #: Largest photo or mask, in pixels (8K UHD: 7680 x 4320): 413 above it,
    #: read from the file's header before anything is decoded.
    serve_max_pixels: int = 7680 * 4320
    #: Seconds a request waits while another inference runs before it gets
    #: 503 (busy); the model runs one inference at a time.
    serve_wait: float = 60.0
    #: Photos (and results) kept in memory for the page, the newest ones (an
    #: 8K photo takes 100 MB).
    serve_keep: int = 3
    #: Live preview: JPEG frames of at most this longest side, this quality ...
    serve_preview_side: int = 960
    serve_preview_quality: int = 80
    #: ... made only while a page asked for one within this many seconds.
    serve_preview_idle: float = 5.0

    def with_options(self, **options) -> "AppConfig":
        """A copy with some fields replaced; unknown names are a TypeError."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise TypeError("unknown option(s): " + ", ".join(unknown))
        cfg = replace(self, **options)
        cfg.check()
        return cfg

    def check(self) -> None:
        """Reject values outside the documented choices."""
        if self.mask_convention not in MASK_CONVENTIONS:
            raise ValueError("mask_convention must be one of " + ", ".join(MASK_CONVENTIONS))
        if self.roi not in ROI_MODES:
            raise ValueError("roi must be one of " + ", ".join(ROI_MODES))
        from .backends import backend_choices  # the registry imports this module
        if self.backend not in backend_choices():
            raise ValueError("backend must be one of " + ", ".join(backend_choices()))
        if not 0 <= self.mask_threshold < 255 or not 0 <= self.alpha_threshold < 255:
            raise ValueError("mask thresholds must be in 0..254")
        if self.cra_chunk_cells < 1 or self.stream_queue < 1 or self.cra_threads < 0:
            raise ValueError("cra_chunk_cells and stream_queue must be >= 1, cra_threads >= 0")
        if self.blend_feather < 0:
            raise ValueError("blend_feather (--feather) must be >= 0 pixels")
        if self.thin_width < 0 or self.thin_tile < 1 or self.thin_margin < 0 or self.thin_radius < 1:
            raise ValueError("thin_width (--thin-width) and thin_margin must be >= 0, thin_tile and "
                             "thin_radius >= 1 pixels")
        if not 0.0 < self.min_known <= 1.0:
            raise ValueError("min_known must be in (0, 1]")

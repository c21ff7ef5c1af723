"""Every setting of the app in one dataclass (thresholds, ROI, CRA, stream, stream reuse).

The CLI (a flag for every field, the model paths through --model:
edge_app.options) and ``Inpainter(**options)`` override fields by name, and
``check`` validates them all in one place. What other modules keep as constants are not
settings: the model's interface (edge_app.interface), formats and protocol
details, and the CRA step's block sizes and path thresholds, chosen by
measured speed (cra.plan.BAND_ROWS, cra.terms.DENSE_FRACTION,
cra.threads.PARALLEL_CELL_PIXELS).

Standard library only, and no import of the rest of the package: the
backends, the trainer and the exporter import it.
"""
import os
from dataclasses import dataclass, fields, replace

from .errors import ConfigError

#: Mask file conventions: white = hole (the official test script) or white =
#: keep / black = hole (Huawei's Ascend sample).
MASK_CONVENTIONS = ("white-hole", "keep-white")
#: Alpha conventions of a mask with transparency: transparent = hole (erase
#: the object, as image-edit APIs take masks) or opaque = hole (strokes
#: painted on an empty layer).
ALPHA_CONVENTIONS = ("transparent-hole", "opaque-hole")
ROI_MODES = ("auto", "on", "off")
#: How the hole is filled at the network's 512 view (see AppConfig.fill).
FILLS = ("patches", "network")

MODELS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "models")


@dataclass(frozen=True)
class AppConfig:
    """Settings of one Inpainter / CLI run (documented defaults)."""

    # --- masks -------------------------------------------------------------
    #: How grey mask files are read (see MASK_CONVENTIONS).
    mask_convention: str = "white-hole"
    #: Grey level above which a mask pixel is white (JPEG masks are not binary).
    mask_threshold: int = 127
    #: A mask with a non-opaque alpha channel is read from the alpha, whatever
    #: the mask convention, by this alpha convention (see ALPHA_CONVENTIONS) ...
    alpha_convention: str = "transparent-hole"
    #: ... alpha <= this being transparent.
    alpha_threshold: int = 127
    #: Hole fraction above which the convention is probably inverted (warning).
    inverted_mask_fraction: float = 0.5
    #: A mask file with more than this fraction of its pixels neither black
    #: nor white (mid-grey, 64..191, or coloured) over many grey levels is
    #: refused as not a mask (a photo passed as the mask); measured: every
    #: training and validation photo but two very dark ones is above 0.30, a
    #: mask feathered by 40 pixels 0.22, JPEG masks below 0.06 (1: never).
    not_a_mask_fraction: float = 0.25

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

    # --- fill and CRA --------------------------------------------------------
    #: "patches": the hole is completed at 512 from the photo's own patches,
    #: started from an edge-continuing fill and guided by the network's
    #: attention (edge_app.completion), and CRA borrows the full-resolution
    #: detail through the completion's sources (edge_app.cra.dense);
    #: "network": the network's own fill and CRA by its attention cells (the
    #: reference's design; the AI-core CRA product applies to it).
    fill: str = "patches"
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
    #: Detail: each attention row raised to this power and renormalised
    #: before pruning (the model's softmax made sharper: its logits times
    #: this), so each hole cell borrows from fewer context cells. More
    #: detail in the hole, a little further from the truth pixel for pixel
    #: (MODEL_CARD.md, "Detail"); 1: the model's own rows.
    attention_power: float = 1.0
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
    #: Quality of written JPEG files (0..100).
    jpeg_quality: int = 95
    #: Replace an output that exists (the serve page: a stream mask file that
    #: existed before the server started).
    overwrite: bool = False

    # --- backend -----------------------------------------------------------
    #: "auto" (acl where pyACL imports, else onnxruntime) or a registered
    #: backend's name (edge_app.backends).
    backend: str = "auto"
    #: acl only: the NPU to run on.
    device_id: int = 0
    #: The model each kind of backend runs unless given another
    #: (Backend.model_option names the field).
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

    # --- stream reuse (edge_app.reuse; the threads: edge_app.cores) ---------
    #: False (--every-frame): run the network on every frame, as a
    #: comparison baseline. True: the frames of one mask reuse the last
    #: network outputs and the CRA work that depends on them, each frame's
    #: fill following the current frame's light (and its residuals when its
    #: context changed); the network runs again on its own thread when the
    #: view around the hole changed, at the latest every reuse_max_age
    #: seconds, and at once on a scene change. The first frame of a mask
    #: always runs it (nothing to reuse yet).
    reuse_network: bool = True
    #: A pixel of the 512 view counts as changed when one of its channels
    #: differs from the reference frame's by more than this many grey levels
    #: after the light correction (sensor noise there is about a level).
    reuse_pixel_change: float = 16.0
    #: The network runs again when this fraction of the known pixels of the
    #: 512 view within reuse_view_band pixels of the hole changed since the
    #: frame it last saw, in one of the blocks of that band (32 x 32 pixels
    #: of the 512 view: edge_app.reuse.change) ...
    reuse_view_change: float = 0.25
    reuse_view_band: int = 32
    #: ... counting only changes that have stood still this many seconds
    #: (something passing by runs nothing: once it is gone the view is as the
    #: network saw it; 0: every change counts) ...
    reuse_settle: float = 0.5
    #: ... or when this many seconds passed since it last ran (0: whenever it
    #: is idle): of a video file's own time (its frames / its frame rate), of
    #: the wall clock for a live source.
    reuse_max_age: float = 10.0
    #: A scene change (cut, camera moved, lights switched): this fraction of
    #: the whole known view changed, or a channel's light gain beyond this
    #: factor (either way); the network runs at once and, until it is done,
    #: the hole gets a quick fill of the new frame (Telea at 512, upsampled).
    reuse_scene_change: float = 0.5
    reuse_scene_gain: float = 1.5
    #: CRA's residuals are taken again from the current frame when this
    #: fraction of the context they borrow from (weighted by the attention)
    #: changed (changes that stood still reuse_settle seconds).
    reuse_residual_change: float = 0.05
    #: New network outputs are cross-faded in over this many frames (1: at once).
    reuse_crossfade: int = 8
    #: The light correction: a gain and an offset per channel that vary
    #: over the view as polynomials of this degree (0: one for the whole
    #: view; 1: a gradient across it; 2: also a brighter or darker middle),
    #: fitted on the known pixels within reuse_ring pixels of the hole and
    #: on a sparse grid of the rest (edge_app.reuse.light).
    reuse_light_degree: int = 2
    reuse_ring: int = 6
    #: Intra-op threads of the network (onnxruntime). 0: for `inpaint`, the
    #: runtime's default (every core); for `stream`, `serve` and `bench`,
    #: where frames are composed while the network runs, the cores minus
    #: the frame path's thread (edge_app.cores).
    network_threads: int = 0

    # --- web page (python -m edge_app serve) -------------------------------
    #: Largest upload (a photo or a mask file), in bytes: 413 above it.
    serve_max_upload: int = 64 * 1024 * 1024
    #: Largest photo or mask, in pixels (8K UHD: 7680 x 4320): 413 above it,
    #: read from the file's header before anything is decoded.
    serve_max_pixels: int = 7680 * 4320
    #: Seconds a request waits while another inference runs before it gets
    #: 503 (busy); the model runs one inference at a time.
    serve_wait: float = 60.0
    #: Memory for the photos and results the page keeps, in bytes (an 8K
    #: photo takes 100 MB; a 4K one 25 MB and its result 4 MB of PNG, measured
    #: by scripts/serve_memory.py): the least recently used go first when it
    #: is full ...
    serve_keep_bytes: int = 1 << 30
    #: ... but never one with an inpaint in flight or made within this many
    #: seconds: while only such are left a new upload gets 503 (Retry-After).
    serve_keep_recent: float = 120.0
    #: Live preview: JPEG frames of at most this longest side, this quality ...
    serve_preview_side: int = 960
    serve_preview_quality: int = 80
    #: ... made only while a page asked for one within this many seconds.
    serve_preview_idle: float = 5.0
    #: Seconds without a byte from a browser before its connection is dropped.
    serve_socket_timeout: float = 60.0

    def with_options(self, **options) -> "AppConfig":
        """A copy with some fields replaced and checked; unknown names are a TypeError."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise TypeError("unknown option(s): " + ", ".join(unknown))
        cfg = replace(self, **options)
        cfg.check()
        return cfg

    def check(self) -> None:
        """ConfigError (a ValueError naming the field) for the first value
        outside its documented range. The backend's name is the backend
        registry's to check (edge_app.backends.resolve_backend)."""
        for name, valid, problem in _RULES:
            if not valid(getattr(self, name)):
                raise ConfigError(name, problem)
        if self.fill != "network":  # settings of cell CRA only
            if self.attention_power != 1.0:
                raise ConfigError("attention_power", "sharpens the attention rows of cell CRA: it needs "
                                                     "fill 'network' (--fill network)")
            if self.cra_matmul_model:
                raise ConfigError("cra_matmul_model", "runs the product of cell CRA on the AI core: it needs "
                                                      "fill 'network' (--fill network)")


def _between(low: float, high: float):
    return lambda value: low <= value <= high


def _at_least(low: float):
    return lambda value: value >= low


#: (field, test, what the value must be) for every field with a range.
_RULES = (
    ("mask_convention", lambda v: v in MASK_CONVENTIONS, "must be one of " + ", ".join(MASK_CONVENTIONS)),
    ("mask_threshold", _between(0, 254), "must be in 0..254"),
    ("alpha_convention", lambda v: v in ALPHA_CONVENTIONS, "must be one of " + ", ".join(ALPHA_CONVENTIONS)),
    ("alpha_threshold", _between(0, 254), "must be in 0..254"),
    ("inverted_mask_fraction", lambda v: 0.0 < v <= 1.0, "must be in (0, 1]"),
    ("not_a_mask_fraction", lambda v: 0.0 < v <= 1.0, "must be in (0, 1]"),
    ("roi", lambda v: v in ROI_MODES, "must be one of " + ", ".join(ROI_MODES)),
    ("roi_growth", _at_least(1.0), "must be >= 1 (the crop holds the hole's box)"),
    ("roi_min_side", _at_least(1), "must be >= 1 pixel"),
    ("roi_auto_max_area", lambda v: 0.0 < v <= 1.0, "must be in (0, 1]"),
    ("min_known", lambda v: 0.0 < v <= 1.0, "must be in (0, 1]"),
    ("fill", lambda v: v in FILLS, "must be one of " + ", ".join(FILLS)),
    ("soft_floor", lambda v: 0.0 <= v < 1.0, "must be in [0, 1)"),
    ("blend_feather", _at_least(0), "must be >= 0 pixels"),
    ("attention_prune_mass", lambda v: 0.0 <= v < 1.0, "must be in [0, 1)"),
    ("attention_power", lambda v: 0.0 < v <= 16.0, "must be in (0, 16]"),
    ("cra_chunk_cells", _at_least(1), "must be >= 1"),
    ("cra_threads", _at_least(0), "must be >= 0"),
    ("thin_width", _at_least(0), "must be >= 0 pixels"),
    ("thin_tile", _at_least(1), "must be >= 1 pixel"),
    ("thin_margin", _at_least(0), "must be >= 0 pixels"),
    ("thin_radius", _at_least(1), "must be >= 1 pixel"),
    ("jpeg_quality", _between(0, 100), "must be in 0..100"),
    ("device_id", _at_least(0), "must be >= 0"),
    ("stream_queue", _at_least(1), "must be >= 1"),
    ("stream_max_failures", _at_least(1), "must be >= 1"),
    ("stream_default_fps", lambda v: 0.0 < v < 1000.0, "must be in (0, 1000)"),
    ("stream_fourcc", lambda v: len(v) == 4, "must be 4 characters (e.g. mp4v)"),
    ("reuse_pixel_change", _between(0.0, 255.0), "must be in 0..255 grey levels"),
    ("reuse_view_change", _between(0.0, 1.0), "must be in [0, 1]"),
    ("reuse_view_band", _at_least(1), "must be >= 1 pixel"),
    ("reuse_settle", _at_least(0.0), "must be >= 0 seconds"),
    ("reuse_max_age", _at_least(0.0), "must be >= 0 seconds"),
    ("reuse_scene_change", lambda v: 0.0 < v <= 1.0, "must be in (0, 1]"),
    ("reuse_scene_gain", _at_least(1.0), "must be >= 1"),
    ("reuse_residual_change", _between(0.0, 1.0), "must be in [0, 1]"),
    ("reuse_crossfade", _at_least(1), "must be >= 1 frame"),
    ("reuse_light_degree", _between(0, 3), "must be in 0..3"),
    ("reuse_ring", _at_least(1), "must be >= 1 pixel"),
    ("network_threads", _at_least(0), "must be >= 0"),
    ("serve_max_upload", _at_least(1), "must be >= 1 byte"),
    ("serve_max_pixels", _at_least(1), "must be >= 1 pixel"),
    ("serve_wait", _at_least(0.0), "must be >= 0 seconds"),
    ("serve_keep_bytes", _at_least(1), "must be >= 1 byte"),
    ("serve_keep_recent", _at_least(0.0), "must be >= 0 seconds"),
    ("serve_preview_side", _at_least(1), "must be >= 1 pixel"),
    ("serve_preview_quality", _between(0, 100), "must be in 0..100"),
    ("serve_preview_idle", lambda v: v > 0.0, "must be > 0 seconds"),
    ("serve_socket_timeout", lambda v: v > 0.0, "must be > 0 seconds"),
)

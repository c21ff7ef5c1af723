"""The command line's settings: one table from AppConfig fields to flags.

Every field of edge_app.config.AppConfig that a user may set has one flag
here (its dest is the field's name, its default the field's), with the
commands that use it; ``add_options`` gives a command exactly its flags
and ``parse`` turns them into the AppConfig, validated once by
``AppConfig.check`` (a value out of range is a usage error naming the
flag, exit status 2). The model paths (``onnx_model``, ``om_model``) are
set by ``--model`` for the backend that runs. ``--help`` lists the everyday
flags (EVERYDAY), ``--help-all`` every flag, the tuning ones by topic.
"""
import argparse
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

from .backends import backend_choices
from .config import ALPHA_CONVENTIONS, FILLS, MASK_CONVENTIONS, ROI_MODES, AppConfig
from .errors import ConfigError

COMMANDS = ("inpaint", "stream", "serve", "bench")
_ALL = COMMANDS
_STREAMING = ("stream", "bench")  # bench measures the stream loop too
_REUSING = ("stream", "serve", "bench")  # the frames of one mask: stream, live preview, bench's stream
_NETWORK_THREADS = "the network's threads (onnxruntime; 0: {}; default: %(default)s)"


class Flag(NamedTuple):
    """One AppConfig field on the command line."""

    field: str
    #: its help, or one per command (``{command: help}``)
    help: Union[str, Dict[str, str]]
    commands: Tuple[str, ...]
    group: str
    flag: str = ""  # default: --field-name
    metavar: Optional[str] = None
    #: the values it takes, or a function giving them when the parser is built
    choices: Union[None, Sequence[str], Callable[[], Sequence[str]]] = None

    @property
    def name(self) -> str:
        return self.flag or "--" + self.field.replace("_", "-")

    def help_for(self, command: str) -> str:
        return self.help if isinstance(self.help, str) else self.help[command]


TABLE = (
    Flag("backend", "auto: acl when pyACL is importable (the board), else onnxruntime (default: %(default)s)",
         _ALL, "model", choices=backend_choices),
    Flag("device_id", "acl backend: the NPU to run on (default: %(default)s)", _ALL, "model", metavar="N"),
    Flag("cra_matmul_model", "acl backend, --fill network: run the product of cell CRA on the AI core with this "
                             "cra_matmul .om (made by `python -m convert cra-matmul --size WxH`) for frames or ROI "
                             "crops of that size; worth it when the attention is flat", _ALL, "model",
         flag="--cra-matmul", metavar="OM"),
    Flag("network_threads", {c: _NETWORK_THREADS.format("the runtime's default, every core" if c == "inpaint" else
                                                       "the cores left by the frame path, which composes frames "
                                                       "while the network runs") for c in _ALL},
         _ALL, "model", metavar="N"),
    Flag("mask_convention", "white-hole: white pixels are the hole (default); keep-white: white is kept and black "
                            "is the hole, as in Huawei's Ascend sample. A mask with transparency is read from its "
                            "alpha channel instead (--alpha-convention)", _ALL, "masks",
         choices=MASK_CONVENTIONS),
    Flag("alpha_convention", "a mask with transparency (an alpha channel not fully opaque) is read from its alpha: "
                             "transparent-hole: the transparent pixels are the hole, as when the object is erased "
                             "from a layer and in image-edit APIs (default); opaque-hole: the painted pixels are the "
                             "hole, as for strokes painted on an empty layer", _ALL, "masks",
         choices=ALPHA_CONVENTIONS),
    Flag("mask_threshold", "grey level above which a mask pixel is white (JPEG masks are not binary; default: "
                           "%(default)s)", _ALL, "masks", metavar="0..254"),
    Flag("alpha_threshold", "in a mask with transparency, alpha at or below this is transparent (default: "
                            "%(default)s)", _ALL, "masks", metavar="0..254"),
    Flag("inverted_mask_fraction", "a hole above this fraction of the image gets a note that the mask may be "
                                   "inverted (default: %(default)s)", _ALL, "masks", metavar="F"),
    Flag("not_a_mask_fraction", "a mask file with more than this fraction of its pixels neither black nor white "
                                "(mid-grey or coloured), over many grey levels, is refused as a photo (1: never; "
                                "default: %(default)s)", _ALL, "masks", metavar="F"),
    Flag("roi", "crop around the hole before inference: auto (when the crop is at most --roi-auto-max-area of the "
                "frame), on, off (default: %(default)s)", _ALL, "processing", choices=ROI_MODES),
    Flag("roi_growth", "the crop's side is this many times the hole's longer side (default: %(default)s)",
         _ALL, "processing", metavar="X"),
    Flag("roi_min_side", "... and at least this many pixels (default: %(default)s)", _ALL, "processing",
         metavar="PX"),
    Flag("roi_auto_max_area", "--roi auto crops when the crop covers at most this fraction of the frame "
                              "(default: %(default)s)", _ALL, "processing", metavar="F"),
    Flag("min_known", "a pixel of the network's 512 x 512 view is known when at least this fraction of its area "
                      "is (1: any hole pixel makes it a hole; default: %(default)s)", _ALL, "processing",
         metavar="F"),
    Flag("fill", "patches: the hole is completed from the photo's own patches (continues horizons and edges, with "
                 "their grain) and CRA borrows full-resolution detail where those patches came from; network: "
                 "the network's own fill and CRA by its attention cells (default: %(default)s)", _ALL,
         "processing", choices=FILLS),
    Flag("cra", "plain bilinear upsampling of the 512 result in the hole (ablation: no borrowed detail)",
         _ALL, "processing", flag="--no-cra"),
    Flag("soft_floor", "blend weights at or below this count as 0: those pixels come back bit-identical "
                       "(default: %(default).6f)", _ALL, "processing", metavar="W"),
    Flag("blend_feather", "width in pixels of the soft edge around the hole where the fill fades into the "
                          "original (0: a hard edge; default: %(default)s)", _ALL, "processing", flag="--feather",
         metavar="PX"),
    Flag("attention_prune_mass", "in each attention row the smallest weights summing to at most this are dropped "
                                 "(error <= 255 x this grey levels; default: %(default).6f)", _ALL, "processing",
         metavar="M"),
    Flag("attention_power", "--fill network: the attention rows raised to this power and renormalised, so each "
                            "hole cell borrows its texture from fewer places (sharper fill, a little further from "
                            "the truth pixel for pixel; 1: the model's own rows; default: %(default)s)", _ALL,
         "processing", flag="--detail", metavar="P"),
    Flag("cra_chunk_cells", "active cells per CRA matrix product (bounds the memory; default: %(default)s)",
         _ALL, "processing", metavar="N"),
    Flag("cra_threads", "worker threads of the CRA step (0: by frame size, at most 4; default: %(default)s)",
         _ALL, "processing", metavar="N"),
    Flag("thin_width", "parts of the hole narrower than PX pixels of the network's 512 x 512 view (cables, wires) "
                       "are filled at full resolution by OpenCV's Navier-Stokes inpainting, which continues edges "
                       "across them (0: off; default: %(default)s)", _ALL, "processing", metavar="PX"),
    Flag("thin_tile", "side of the tiles that fill runs on (default: %(default)s)", _ALL, "processing",
         metavar="PX"),
    Flag("thin_margin", "context around each tile (default: %(default)s)", _ALL, "processing", metavar="PX"),
    Flag("thin_radius", "neighbourhood radius of that fill (default: %(default)s)", _ALL, "processing",
         metavar="PX"),
    Flag("jpeg_quality", {"inpaint": "quality of a JPEG output (default: %(default)s)",
                          "bench": "quality of the JPEG frames and results (default: %(default)s)"},
         ("inpaint", "bench"), "output", metavar="Q"),
    Flag("overwrite", {"inpaint": "replace an existing output file",
                       "stream": "replace an existing output video",
                       "serve": "let \"use this mask for the stream\" replace a --mask file that existed before "
                                "the server started",
                       "bench": "replace --out if it exists"}, _ALL, "output"),
    Flag("stream_queue", "frames in flight between the inference thread and the host work (default: "
                         "%(default)s)", _STREAMING, "stream", metavar="N"),
    Flag("stream_max_failures", "consecutive unreadable frames after which a live source counts as ended "
                                "(default: %(default)s)", _STREAMING, "stream", metavar="N"),
    Flag("stream_default_fps", "frame rate of a source that reports none (default: %(default)s)",
         ("stream", "serve", "bench"), "stream", metavar="FPS"),
    Flag("stream_fourcc", "FourCC of the written video (default: %(default)s)", _STREAMING, "stream",
         metavar="CODE"),
    Flag("reuse_network", "run the network on every frame (the baseline, for comparison) instead of reusing its "
                          "last outputs while the view around the hole holds", _REUSING, "stream reuse",
         flag="--every-frame"),
    Flag("reuse_pixel_change", "a pixel of the network's 512 x 512 view counts as changed when a channel differs by "
                               "more than this many grey levels after the light correction (default: %(default)s)",
         _REUSING, "stream reuse", metavar="LEVELS"),
    Flag("reuse_view_change", "run the network again when this fraction of the known pixels around the hole (in one "
                              "of its 32 x 32 blocks of the 512 x 512 view) changed since it last ran (default: "
                              "%(default)s)", _REUSING, "stream reuse", metavar="F"),
    Flag("reuse_view_band", "... within this many pixels of the hole in the 512 x 512 view (default: %(default)s)",
         _REUSING, "stream reuse", metavar="PX"),
    Flag("reuse_settle", "... counting the changes that stood still this many seconds (something passing by runs "
                         "nothing; 0: every change counts; default: %(default)s) ...", _REUSING, "stream reuse",
         metavar="S"),
    Flag("reuse_max_age", "... and at the latest every S seconds, of a video file's own time or of the wall clock "
                          "for a live source (0: whenever it is idle; default: %(default)s)", _REUSING,
         "stream reuse", metavar="S"),
    Flag("reuse_scene_change", "a scene change (cut, camera moved, lights switched) runs the network at once: this "
                               "fraction of the whole view changed (default: %(default)s) ...", _REUSING,
         "stream reuse", metavar="F"),
    Flag("reuse_scene_gain", "... or the light changed by more than this factor (default: %(default)s)", _REUSING,
         "stream reuse", metavar="X"),
    Flag("reuse_residual_change", "take CRA's borrowed detail again from the current frame when this fraction of the "
                                  "context it borrows from changed, weighted by how much it borrows from each place "
                                  "(default: %(default)s)", _REUSING, "stream reuse", metavar="F"),
    Flag("reuse_crossfade", "cross-fade new network outputs in over this many frames (default: %(default)s)",
         _REUSING, "stream reuse", metavar="N"),
    Flag("reuse_light_degree", "the fill follows the frame's light by a gain and offset that vary over the view as "
                               "polynomials of this degree (0: one for the whole view, 1: a gradient, 2: also a "
                               "brighter or darker middle; default: %(default)s) ...", _REUSING, "stream reuse",
         metavar="D"),
    Flag("reuse_ring", "... fitted on the known pixels within PX pixels of the hole in the 512 x 512 view and a "
                       "sparse grid of the rest (default: %(default)s)", _REUSING, "stream reuse", metavar="PX"),
    Flag("serve_max_upload", "largest upload in bytes (default: %(default)s)", ("serve",), "page",
         metavar="BYTES"),
    Flag("serve_max_pixels", "largest photo or mask in pixels (default: %(default)s, 8K UHD)", ("serve",), "page",
         metavar="N"),
    Flag("serve_wait", "seconds a request waits for the model before it gets 503 busy (default: %(default)s)",
         ("serve",), "page", metavar="S"),
    Flag("serve_keep_bytes", "memory for the photos and results the page keeps, in bytes; the least recently "
                             "used go first (default: %(default)s, 1 GiB)", ("serve",), "page", metavar="BYTES"),
    Flag("serve_keep_recent", "a photo or result is never dropped within this many seconds of its upload or "
                              "inpaint, nor while an inpaint of it runs: while only such fill the memory, a new "
                              "upload gets 503 with Retry-After (default: %(default)s)", ("serve",), "page",
         metavar="S"),
    Flag("serve_preview_side", "longest side of the live preview's frames (default: %(default)s)", ("serve",),
         "page", metavar="PX"),
    Flag("serve_preview_quality", "JPEG quality of the live preview (default: %(default)s)", ("serve",), "page",
         metavar="Q"),
    Flag("serve_preview_idle", "the preview stops this many seconds after a page last asked for it (default: "
                               "%(default)s)", ("serve",), "page", metavar="S"),
    Flag("serve_socket_timeout", "seconds without a byte from a browser before its connection is dropped "
                                 "(default: %(default)s)", ("serve",), "page", metavar="S"),
)
BY_FIELD = {f.field: f for f in TABLE}
#: Fields set otherwise: the model paths by --model.
NOT_FLAGS = ("onnx_model", "om_model")

#: The settings a user changes (besides the command's files, --model and
#: --timings): ``--help`` shows these; every other flag of the table, one
#: added later too, is a tuning option that ``--help-all`` adds.
EVERYDAY = ("backend", "mask_convention", "alpha_convention", "roi", "fill", "blend_feather", "jpeg_quality",
            "overwrite")

_GROUPS = {"model": "model", "masks": "masks", "processing": "processing", "output": "output",
           "stream": "stream", "stream reuse": "stream reuse (a fixed camera: the network runs when the view "
                                               "changes)", "page": "web page"}
_TIMINGS = {"inpaint": "print the seconds spent in each stage",
            "stream": "print the seconds per frame spent in each stage",
            "serve": "log each inpaint request's stage timings to stderr"}


class _HelpAll(argparse.Action):
    """``--help-all``: the help with the tuning options, then exit."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs):
        super().__init__(option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, nargs=0, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        for action in parser._actions:
            action.help = getattr(action, "tuning_help", action.help)
        parser.epilog = "Every option is described in edge_app/README.md (Options)."
        parser.print_help()
        parser.exit()


def add_options(parser: argparse.ArgumentParser, command: str) -> None:
    """The flags ``command`` uses (the table's, ``--model``, and ``--timings``
    where it prints them); ``parse`` reads them. ``--help`` lists the
    everyday ones (EVERYDAY) under "common options"; the tuning ones are
    listed by topic by ``--help-all``."""
    defaults = AppConfig()
    common = parser.add_argument_group("common options")
    groups = {}  # type: Dict[str, argparse._ArgumentGroup]
    tuning = 0

    def group(name: str) -> argparse._ArgumentGroup:
        if name not in groups:
            groups[name] = parser.add_argument_group("tuning: " + _GROUPS[name])
        return groups[name]

    common.add_argument("--model", metavar="PATH",
                        help="model file (default: edge_app/models/hifill.onnx, or hifill.om for the acl backend)")
    for flag in TABLE:
        if command not in flag.commands:
            continue
        default = getattr(defaults, flag.field)
        where = common if flag.field in EVERYDAY else group(flag.group)
        if isinstance(default, bool):  # a switch away from the default
            action = where.add_argument(flag.name, dest=flag.field, default=default, help=flag.help_for(command),
                                        action="store_false" if default else "store_true")
        else:
            choices = flag.choices() if callable(flag.choices) else flag.choices
            action = where.add_argument(flag.name, dest=flag.field, type=type(default), default=default,
                                        metavar=flag.metavar, choices=choices, help=flag.help_for(command))
        if where is not common:
            action.tuning_help, action.help = action.help, argparse.SUPPRESS
            tuning += 1
    if command in _TIMINGS:
        common.add_argument("--timings", action="store_true", help=_TIMINGS[command])
    parser.add_argument("--help-all", action=_HelpAll,
                        help="show the {} tuning options too, and exit".format(tuning))
    parser.set_defaults(parser=parser)


def config_from_args(args: argparse.Namespace) -> AppConfig:
    """The AppConfig of the parsed flags (ConfigError for a value out of range)."""
    given = {f.field: getattr(args, f.field) for f in TABLE if hasattr(args, f.field)}
    return AppConfig().with_options(**given)


def parse(parser: argparse.ArgumentParser, argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse ``argv``; ``args.config`` is the AppConfig of its flags. A value
    out of range ends like any usage error: the command's usage, exit 2."""
    args = parser.parse_args(argv)
    try:
        args.config = config_from_args(args)
    except ConfigError as exc:
        getattr(args, "parser", parser).error("argument {}: {}".format(BY_FIELD[exc.field].name, exc.problem))
    return args

"""A whole bench run: every frame size through one Inpainter, into the
report of docs/bench_schema.md."""
import argparse
import datetime
from typing import Callable, Dict, List, Optional, Tuple

from .. import fileio, masks
from ..cores import for_command
from ..pipeline import Inpainter
from ..timings import STAGES
from .frames import DEFAULT_SIZES, make_frame, parse_sizes
from .machine import machine_info
from .schema import SCHEMA_VERSION, TOOL, validate_report
from .measure import bench_size


def _utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def model_precision(backend, override: Optional[str]) -> Tuple[str, str]:
    """(precision, how it was found): --precision, else the backend's own
    (the model's metadata, else the backend's default: Backend.precision)."""
    if override:
        return override, "cli"
    return backend.precision()


def run_bench(options: argparse.Namespace, log: Callable[[str], None] = print) -> Dict[str, object]:
    """Run the whole bench described by parsed CLI options; return the report."""
    config = options.config
    image = hole = None
    if options.image:
        image = fileio.read_image(options.image)
        hole = masks.read_hole(options.mask, config)
        masks.warn(masks.check_pair(image, hole, config, options.mask))
    if options.sizes:
        sizes = parse_sizes(options.sizes)  # type: List[Optional[Tuple[int, int]]]
    else:
        sizes = [None] if image is not None else parse_sizes(DEFAULT_SIZES)

    with Inpainter.from_config(for_command(config, "bench"), options.model) as inpainter:
        backend = inpainter.backend
        precision, precision_source = model_precision(backend, options.precision)
        report = {
            "schema_version": SCHEMA_VERSION, "tool": TOOL, "date": _utc_now(),
            "machine": machine_info(backend.accelerator()),
            "run": {"backend": backend.name, "provider": backend.providers[0] if backend.providers else None,
                    "model": backend.model_path, "precision": precision, "precision_source": precision_source,
                    "runs": options.runs, "warmup": options.warmup, "image": options.image, "mask": options.mask,
                    "stage_source": "edge_app.Inpainter's one path for a frame (MaskFrames infer / finish) and "
                                    "its per-stage timings; cv2.imdecode / cv2.imencode in memory"},
            "results": [],
        }
        for size in sizes:
            frame = make_frame(size, image, hole, config)
            log("bench {} ({} backend, {} runs after {} warm-up) ...".format(
                frame.size, backend.name, options.runs, options.warmup))
            result = bench_size(inpainter, frame, options.runs, options.warmup,
                                options.stream_frames or options.runs)
            report["results"].append(result)
            log("  " + summary_line(result))
    problems = validate_report(report)
    if problems:  # a bug here, not bad input
        raise RuntimeError("the report does not follow its schema: " + "; ".join(problems))
    return report


def summary_line(result: Dict[str, object]) -> str:
    """``decode 12.1 | preprocess 3.0 | ... | end to end 250.3 ms | stream 4.1 frames/s``."""
    stages = result["stages"]
    parts = ["{} {}".format(s, "in " + stages[s]["included_in"] if "included_in" in stages[s]
                            else "{:.1f}".format(stages[s]["median_ms"])) for s in STAGES]
    return "{} | end to end {:.1f} ms (medians) | stream {:.2f} frames/s ({})".format(
        " | ".join(parts), result["end_to_end"]["median_ms"], result["stream"]["fps"], result["stream"]["mode"])

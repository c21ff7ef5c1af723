"""The bench's command line: ``python -m edge_app bench`` (or ``python -m edge_app.bench``)."""
import argparse
import os
import sys
from typing import Optional, Sequence

from ..atomic import write_json
from ..backends.base import PRECISIONS
from ..errors import InpaintError
from ..options import add_options, parse
from .ais_bench import read_ais_bench
from .frames import DEFAULT_SIZES, parse_sizes

DESCRIPTION = ("Time every stage of the inpainting pipeline (decode ... encode) at several frame sizes and write a "
               "JSON report (docs/bench_schema.md).")


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sizes", help="comma-separated WxH frame sizes (default {}; with --image: its own size)".format(
        DEFAULT_SIZES))
    p.add_argument("--runs", type=int, default=5, help="timed runs per size (default %(default)s)")
    p.add_argument("--warmup", type=int, default=1, help="untimed runs first (default %(default)s)")
    p.add_argument("--stream-frames", type=int, default=0,
                   help="frames of the stream measurement (default: --runs)")
    p.add_argument("--image", help="photo to use instead of a generated frame (needs --mask)")
    p.add_argument("--mask", help="its mask file (read with --mask-convention)")
    p.add_argument("--precision", choices=PRECISIONS,
                   help="record this precision instead of reading it from the model")
    p.add_argument("--ais-bench", metavar="PATH",
                   help="also put the model-only figures of an ais_bench run of the same .om in the report: its "
                        "*_summary.json (written with --output), that --output folder, or its saved printed summary")
    p.add_argument("--out", required=True, help="JSON report to write (docs/bench_schema.md)")
    add_options(p, "bench")  # the model options of inpaint


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``bench`` on edge_app's CLI subparsers (sets ``run``, as its other commands do)."""
    p = subparsers.add_parser("bench", help="time every pipeline stage at several frame sizes (JSON report)",
                              description=DESCRIPTION)
    _add_arguments(p)
    p.set_defaults(run=run)
    return p


def _check_options(options: argparse.Namespace) -> None:
    if options.runs < 1 or options.warmup < 0 or options.stream_frames < 0:
        raise ValueError("--runs must be >= 1, --warmup and --stream-frames >= 0")
    if bool(options.image) != bool(options.mask):
        raise ValueError("--image and --mask go together")
    if options.sizes:
        parse_sizes(options.sizes)
    if os.path.isdir(options.out):
        raise ValueError("{} is a folder: give --out a file name (e.g. results.json)".format(options.out))
    if os.path.exists(options.out) and not options.config.overwrite:
        raise ValueError("{} exists: pass --overwrite to replace it".format(options.out))
    parent = os.path.dirname(os.path.abspath(options.out))
    if not os.path.isdir(parent):
        raise ValueError("output folder does not exist: {}".format(parent))


def run(options: argparse.Namespace) -> int:
    """Run the bench from parsed arguments; 0 on success, 2 on bad input."""
    from .report import run_bench  # the pipeline, imported late: a light --help
    try:
        _check_options(options)
        model_only = read_ais_bench(options.ais_bench) if options.ais_bench else None  # before the long run
        report = run_bench(options, log=lambda line: print(line, file=sys.stderr))
    except (ValueError, InpaintError) as exc:
        print("error: {}".format(exc), file=sys.stderr)
        return 2
    if model_only is not None:
        report["model_only"] = model_only
        timed, ran = model_only["model"], report["run"]["model"]
        if timed and os.path.basename(timed) != os.path.basename(ran):
            print("warning: ais_bench timed {}, this bench ran {}".format(timed, ran), file=sys.stderr)
    write_json(options.out, report)
    print("wrote {}".format(options.out))
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m edge_app.bench``: parse ``argv`` and run; the exit status."""
    parser = argparse.ArgumentParser(prog="python -m edge_app.bench", description=DESCRIPTION)
    _add_arguments(parser)
    return run(parse(parser, argv))

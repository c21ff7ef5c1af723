"""``python -m convert``: export, check, parity, atc, cra-matmul, bundle.

Exit codes: 0 success, 1 a check failed, 2 bad input (one-line error).
Modules that import torch are imported by the commands that need them, so
``check``, ``atc`` and ``cra-matmul`` start fast.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

import onnx

from .atc import DEFAULT_PRECISION, PRECISION_MODES, AtcJob, aipp_size, input_shape_arg, run_or_explain, write_job
from . import bundle
from .check import check_file, check_model
from .cra_matmul import build_cra_matmul, parse_size
from .socs import SOCS, detect_soc, soc_help
from .supported_ops import help_text

DEFAULT_SEED = 0


def _add_weights(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="training checkpoint (.pt) with a 'generator' entry")
    src.add_argument("--random-init", action="store_true", help="randomly initialised generator (tests, smoke runs)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of --random-init (default %(default)s)")


def _add_target(p: argparse.ArgumentParser) -> None:
    p.add_argument("--soc", default=SOCS[0],
                   help=f"ATC --soc_version: {soc_help()}; or the text of `npu-smi info` (inline or @file), "
                        "read as Ascend + its chip name (default %(default)s)")
    p.add_argument("--precision", choices=PRECISION_MODES, default=DEFAULT_PRECISION,
                   help="ATC --precision_mode (default %(default)s, chosen from `parity` figures)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m convert", description="Checkpoint -> Ascend-ready ONNX -> ATC script, with offline checks.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("export", help="checkpoint -> ATC-ready ONNX (opset 11, static, simplified)")
    p.add_argument("--out", required=True, help="ONNX file to write")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    _add_weights(p)

    p = sub.add_parser("check", help="offline ATC pre-flight of an ONNX file",
                       epilog=help_text(), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model")
    p.add_argument("--no-interface", action="store_true", help="skip the edge_app/interface.py check (generic graphs)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")

    p = sub.add_parser("parity", help="onnxruntime (fp32 and fp16) vs PyTorch on real photos")
    p.add_argument("model")
    _add_weights(p)
    p.add_argument("--images", required=True, help="folder of photos (jpg/png), searched recursively")
    p.add_argument("--count", type=int, default=4, help="photos to use (default %(default)s)")
    p.add_argument("--threads", type=int, default=0, help="onnxruntime threads (default: its own choice)")

    p = sub.add_parser("atc", help="write (and run, where atc exists) the ATC conversion script")
    p.add_argument("model")
    p.add_argument("--out", required=True, help="folder for convert.sh (and aipp.cfg); the .om lands there")
    p.add_argument("--aipp", action="store_true", help="static AIPP (uint8 image) on input 0")
    _add_target(p)

    p = sub.add_parser("cra-matmul", help="CRA aggregation MatMul model + its ATC script for a WxH frame")
    p.add_argument("--size", required=True, help="frame size WxH, multiples of 32 (e.g. 3072x3072)")
    p.add_argument("--out", required=True, help="folder for the ONNX and convert.sh")
    p.add_argument("--overwrite", action="store_true", help="replace the ONNX if it exists")
    _add_target(p)

    bundle.add_parser(sub)
    return parser


def _export(args: argparse.Namespace) -> int:
    from .export import export
    from .wrapper import load_wrapper
    wrapper, provenance = load_wrapper(None if args.random_init else args.checkpoint, args.seed)
    print(export(wrapper, provenance, args.out, args.overwrite).describe())
    return 0


def _check(args: argparse.Namespace) -> int:
    report = check_file(args.model, check_interface=not args.no_interface)
    print(report.to_json() if args.json else report.to_text())
    return 0 if report.ok else 1


def _parity(args: argparse.Namespace) -> int:
    from .parity import ensure_same_weights, run_parity
    from .samples import load_photos
    from .wrapper import load_wrapper
    if args.count < 1:
        raise ValueError(f"--count must be at least 1, got {args.count}")
    model = onnx.load(args.model)
    wrapper, provenance = load_wrapper(None if args.random_init else args.checkpoint, args.seed)
    ensure_same_weights(model, provenance)
    print(run_parity(wrapper, model, load_photos(args.images, args.count), args.threads).to_text())
    return 0


def _write_atc(model_path: str, model: onnx.ModelProto, args: argparse.Namespace, soc: str, aipp: bool) -> int:
    report = check_model(model, name=model_path, check_interface=False)
    if not report.ok:
        print(report.to_text())
        return 1
    inputs = [(v.name, [d.dim_value for d in v.type.tensor_type.shape.dim]) for v in model.graph.input]
    job = AtcJob(
        model=model_path, out_dir=args.out, soc=soc, input_shape=input_shape_arg(inputs),
        input_format="NCHW" if all(len(dims) == 4 for _, dims in inputs) else "ND",
        precision=args.precision, aipp_size=aipp_size(model) if aipp else None,
    )
    script = write_job(job)
    print(f"wrote {script}" + (f" and {script.parent / 'aipp.cfg'}" if aipp else ""))
    code, message = run_or_explain(script, model_path)
    print(message)
    return code


def _atc(args: argparse.Namespace) -> int:
    soc = detect_soc(args.soc)
    if not Path(args.model).is_file():
        raise FileNotFoundError(f"ONNX file not found: {args.model}")
    return _write_atc(args.model, onnx.load(args.model), args, soc, args.aipp)


def _cra_matmul(args: argparse.Namespace) -> int:
    from .export import save_onnx
    soc = detect_soc(args.soc)
    size = parse_size(args.size)
    model = build_cra_matmul(size)
    path = str(Path(args.out) / f"cra_matmul_{size[0]}x{size[1]}.onnx")
    save_onnx(model, path, args.overwrite)
    print(f"wrote {path}")
    return _write_atc(path, model, args, soc, aipp=False)


_COMMANDS = {"export": _export, "check": _check, "parity": _parity, "atc": _atc, "cra-matmul": _cra_matmul,
             "bundle": bundle.run}


def main(argv: Optional[List[str]] = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except (ValueError, FileNotFoundError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""``python -m convert bundle``: one tar.gz with everything the board needs.

The archive is flat (unpack it into any directory) and holds:

- ``edge_app/``: the app, Python files only (no tests, samples or weights),
  checked to parse as Python 3.7 and to import neither torch nor onnx;
- ``model.om`` (the ATC output) and, with ``--onnx``, its ONNX twin
  ``model.onnx`` (pre-flight checked; the acl stand-in and the onnxruntime
  backend run it);
- ``interface.json``: the model interface of ``edge_app/interface.py``;
- ``run.sh``: the smoke inpaint of the sample; ``board_check.sh``;
- ``requirements-board.txt`` (edge_app's); ``sample.jpg`` / ``sample_mask.png``;
- ``SHA256SUMS``: every other file, for ``sha256sum -c SHA256SUMS``.

``scripts/deploy_board.sh`` copies, unpacks, verifies and runs it.
"""
from __future__ import annotations

import argparse
import ast
import hashlib
import io
import json
import os
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from edge_app import interface
from edge_app.atomic import atomic_path

REPO = Path(__file__).resolve().parent.parent
APP_DIR = REPO / "edge_app"
BOARD_CHECK = REPO / "scripts" / "board_check.sh"
REQUIREMENTS_BOARD = APP_DIR / "requirements-board.txt"
DEFAULT_SAMPLE = (APP_DIR / "samples" / "bridge.jpg", APP_DIR / "samples" / "bridge_mask.png")
#: Folders of edge_app that never go to the board.
SKIP_DIRS = frozenset({"__pycache__", "tests", "models", "samples"})
#: Top-level modules the board does not have (spec ascend.md 1): an edge_app
#: file importing one of them would fail there.
FORBIDDEN_IMPORTS = frozenset({"torch", "onnx", "onnxsim", "training", "convert"})
#: The board's Python (Atlas 200 DK images: Python 3.7).
BOARD_PYTHON = (3, 7)
DESCRIPTION = ("Pack everything the board needs into one tar.gz: the edge_app package, the .om (and its ONNX "
               "twin), interface.json, run.sh, board_check.sh, requirements, a sample and SHA256SUMS.")
EXECUTABLE = 0o755
REGULAR = 0o644

RUN_SH = """\
#!/usr/bin/env bash
# Smoke test of this bundle: inpaint the sample photo into out.png.
# BACKEND=acl (default, the NPU) or onnxruntime; MODEL overrides the model file;
# PYTHON overrides the interpreter (default python3).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
export PYTHONPATH="$here${{PYTHONPATH:+:$PYTHONPATH}}"
BACKEND="${{BACKEND:-acl}}"
{model_choice}
"${{PYTHON:-python3}}" -m edge_app inpaint {image} {mask} -o out.png --backend "$BACKEND" --model "$MODEL" --overwrite
echo "run.sh: wrote $here/out.png"
"""


class BundleError(Exception):
    """A bad input or an unsafe bundle: one line for the user."""


@dataclass(frozen=True)
class BundleSpec:
    """What goes into one bundle."""

    model: str
    out: str
    onnx: Optional[str] = None
    sample_image: str = str(DEFAULT_SAMPLE[0])
    sample_mask: str = str(DEFAULT_SAMPLE[1])
    overwrite: bool = False


def app_files(app_dir: Path = APP_DIR) -> List[Path]:
    """The app's Python files and the files of its static/ folder (the
    ``serve`` page), sorted, without tests, samples and models."""
    found = []
    for root, dirs, files in os.walk(app_dir):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        static = Path(root).name == "static"
        found += [Path(root) / f for f in sorted(files) if f.endswith(".py") or static]
    return found


def board_problems(path: Path, source: str) -> List[str]:
    """Why a Python file would fail on the board: newer syntax, torch/onnx imports."""
    try:
        tree = ast.parse(source, filename=str(path), feature_version=BOARD_PYTHON)
    except SyntaxError as exc:
        return [f"{path}:{exc.lineno}: not Python {BOARD_PYTHON[0]}.{BOARD_PYTHON[1]} syntax ({exc.msg})"]
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            if name.split(".")[0] in FORBIDDEN_IMPORTS:
                problems.append(f"{path}:{node.lineno}: imports {name}, which the board does not have")
    return problems


def interface_description(onnx_name: Optional[str], om_name: str,
                          onnx_metadata: Optional[Dict[str, str]] = None) -> dict:
    """The model interface of edge_app/interface.py as JSON-ready data."""
    def tensors(table) -> list:
        return [{"name": name, "shape": list(shape), "dtype": "float32", "layout": "NHWC", "meaning": meaning}
                for name, (shape, meaning) in table.items()]

    return {
        "interface_version": interface.INTERFACE_VERSION,
        "model_size": interface.MODEL_SIZE,
        "attention_grid": interface.ATTENTION_GRID,
        "inputs": tensors(interface.INPUTS),
        "outputs": tensors(interface.OUTPUTS),
        "atc_input_shape": ";".join(f"{n}:{','.join(str(d) for d in s)}" for n, (s, _) in interface.INPUTS.items()),
        "metadata_keys": list(interface.METADATA_KEYS),
        "files": {"om": om_name, "onnx": onnx_name},
        "onnx_metadata": onnx_metadata,
    }


def _onnx_metadata(path: str) -> Dict[str, str]:
    """Run the pre-flight check on the ONNX twin; return its metadata (provenance)."""
    import onnx  # host-side only; not needed for an .om-only bundle

    from .check import check_file

    report = check_file(path)
    if not report.ok:
        raise BundleError(f"{path} fails the pre-flight check (python -m convert check {path}):\n{report.to_text()}")
    return {p.key: p.value for p in onnx.load(path, load_external_data=False).metadata_props}


def _check_input(path: str, what: str) -> None:
    if not os.path.isfile(path):
        raise BundleError(f"{what} not found: {path}")
    if os.path.getsize(path) == 0:
        raise BundleError(f"{what} is empty: {path}")


class _Archive:
    """A tar.gz being written, recording each member's SHA-256."""

    def __init__(self, fileobj) -> None:
        self.tar = tarfile.open(fileobj=fileobj, mode="w:gz")
        self.sums: List[Tuple[str, str]] = []
        self.mtime = int(time.time())

    def add_bytes(self, name: str, data: bytes, mode: int = REGULAR, checksum: bool = True) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = len(data), mode, self.mtime
        self.tar.addfile(info, io.BytesIO(data))
        if checksum:
            self.sums.append((hashlib.sha256(data).hexdigest(), name))

    def add_file(self, name: str, path, mode: int = REGULAR) -> None:
        self.add_bytes(name, Path(path).read_bytes(), mode)

    def close(self) -> None:
        lines = "".join(f"{digest}  {name}\n" for digest, name in self.sums)
        self.add_bytes("SHA256SUMS", lines.encode(), checksum=False)
        self.tar.close()


def build_bundle(spec: BundleSpec) -> List[str]:
    """Write the bundle atomically; return the member names."""
    out = Path(spec.out)
    if out.exists() and not spec.overwrite:
        raise BundleError(f"{out} exists: pass --overwrite to replace it")
    _check_input(spec.model, "model (.om)")
    _check_input(spec.sample_image, "sample image")
    _check_input(spec.sample_mask, "sample mask")
    if spec.onnx:
        _check_input(spec.onnx, "ONNX model")
    if not out.parent.is_dir():
        raise BundleError(f"output folder does not exist: {out.parent}")

    sources = []
    problems = []
    for path in app_files():
        data = path.read_bytes()
        if path.suffix == ".py":
            problems += board_problems(path.relative_to(REPO), data.decode("utf-8"))
        sources.append((path.relative_to(REPO).as_posix(), data))
    if problems:
        raise BundleError("edge_app would not run on the board:\n" + "\n".join(problems))
    metadata = _onnx_metadata(spec.onnx) if spec.onnx else None

    om_name, onnx_name = "model.om", ("model.onnx" if spec.onnx else None)
    image_name = "sample" + Path(spec.sample_image).suffix.lower()
    mask_name = "sample_mask" + Path(spec.sample_mask).suffix.lower()
    if image_name == mask_name:
        raise BundleError("sample image and mask need different file types or names")
    if onnx_name:
        model_choice = (f'if [ -z "${{MODEL:-}}" ]; then\n'
                        f'  if [ "$BACKEND" = onnxruntime ]; then MODEL={onnx_name}; else MODEL={om_name}; fi\nfi')
    else:
        model_choice = f'MODEL="${{MODEL:-{om_name}}}"'
    run_sh = RUN_SH.format(model_choice=model_choice, image=image_name, mask=mask_name)
    description = json.dumps(interface_description(onnx_name, om_name, metadata), indent=2) + "\n"

    with atomic_path(out) as tmp:
        with open(tmp, "wb") as f:
            archive = _Archive(f)
            for name, data in sources:
                archive.add_bytes(name, data)
            archive.add_file(om_name, spec.model)
            if spec.onnx:
                archive.add_file(onnx_name, spec.onnx)
            archive.add_bytes("interface.json", description.encode())
            archive.add_bytes("run.sh", run_sh.encode(), EXECUTABLE)
            archive.add_file("board_check.sh", BOARD_CHECK, EXECUTABLE)
            archive.add_file("requirements-board.txt", REQUIREMENTS_BOARD)
            archive.add_file(image_name, spec.sample_image)
            archive.add_file(mask_name, spec.sample_mask)
            archive.close()
            names = [name for _, name in archive.sums] + ["SHA256SUMS"]
        os.chmod(tmp, REGULAR)
    return names


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="the ATC output (.om)")
    p.add_argument("--out", required=True, help="bundle to write (.tar.gz)")
    p.add_argument("--onnx", help="also ship this ONNX twin (pre-flight checked) as model.onnx")
    p.add_argument("--sample", nargs=2, metavar=("IMAGE", "MASK"),
                   help="sample photo and mask (white = hole) for run.sh (default: edge_app/samples/bridge.*)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``bundle`` on a CLI's subparsers; dispatch parsed arguments to :func:`run`."""
    p = subparsers.add_parser("bundle", help="pack the app, the .om and a smoke test for the board",
                              description=DESCRIPTION)
    _add_arguments(p)
    return p


def run(args: argparse.Namespace) -> int:
    """Build the bundle from parsed arguments; 0 on success, 2 on bad input."""
    image, mask = args.sample or (str(DEFAULT_SAMPLE[0]), str(DEFAULT_SAMPLE[1]))
    spec = BundleSpec(model=args.model, out=args.out, onnx=args.onnx, sample_image=image, sample_mask=mask,
                      overwrite=args.overwrite)
    try:
        names = build_bundle(spec)
    except BundleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    size = os.path.getsize(spec.out)
    print(f"wrote {spec.out}: {len(names)} files, {size / 1e6:.2f} MB "
          f"(deploy: scripts/deploy_board.sh {spec.out}; check: sha256sum -c SHA256SUMS)")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m convert.bundle", description=DESCRIPTION)
    _add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

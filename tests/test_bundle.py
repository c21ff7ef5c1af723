"""convert bundle + scripts/deploy_board.sh: the archive runs where only numpy,
OpenCV and onnxruntime (and the acl stand-in) exist, its checksums verify, and
the deploy script works locally and only prints commands in --dry-run."""
import hashlib
import os
import stat
import subprocess
import sys
import sysconfig
import tarfile
from pathlib import Path

import cv2
import numpy as np
import pytest

import onnx

import edge_fakes
from convert import bundle
from edge_app import interface
from edge_app.bench import frames

REPO = Path(__file__).resolve().parent.parent
STANDIN = REPO / "tests" / "acl_standin"
DEPLOY = REPO / "scripts" / "deploy_board.sh"
#: What the board has (spec ascend.md 1), plus onnxruntime for the ONNX variant.
BOARD_PACKAGES = ("numpy", "numpy.libs", "cv2", "opencv_python_headless.libs", "onnxruntime")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A fake .om with its ONNX twin, and a small sample photo and mask."""
    d = tmp_path_factory.mktemp("bundle_in")
    model = edge_fakes.fake_hifill_model()
    # The provenance an exported model records (the bundle runs `convert check` on --onnx).
    onnx.helper.set_model_props(model, {"interface_version": interface.INTERFACE_VERSION, "checkpoint_sha256": "0" * 64,
                                        "training_steps": "0", "source": "edge_fakes"})
    onnx_path = d / "hifill.onnx"
    onnx.save(model, str(onnx_path))
    om = d / "hifill.om"
    om.write_bytes(b"not a real om: the acl stand-in runs hifill.onnx beside it\n")
    image = frames.synthetic_frame(480, 320, seed=5)
    hole = frames.obstruction_mask(480, 320, seed=6)
    cv2.imwrite(str(d / "photo.jpg"), image)
    cv2.imwrite(str(d / "photo_mask.png"), hole * 255)
    return {"om": om, "onnx": onnx_path, "image": d / "photo.jpg", "mask": d / "photo_mask.png"}


@pytest.fixture(scope="module")
def built(inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("bundle_out") / "bundle.tar.gz"
    code = bundle.main(["--model", str(inputs["om"]), "--onnx", str(inputs["onnx"]), "--out", str(out),
                        "--sample", str(inputs["image"]), str(inputs["mask"])])
    assert code == 0
    return out


@pytest.fixture(scope="module")
def board_python(tmp_path_factory):
    """(python wrapper, PYTHONPATH) that can import numpy, cv2 and onnxruntime and
    nothing else from the project's environment (-S: no site-packages)."""
    d = tmp_path_factory.mktemp("board_env")
    site = d / "site"
    site.mkdir()
    packages = Path(sysconfig.get_paths()["purelib"])
    for name in BOARD_PACKAGES:
        if (packages / name).exists():
            (site / name).symlink_to(packages / name)
    wrapper = d / "python3"
    wrapper.write_text('#!/bin/sh\nexec "{}" -s -S "$@"\n'.format(sys.executable))
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    return wrapper, site


def _env(board_python, acl=False, **extra):
    wrapper, site = board_python
    paths = [str(site)] + ([str(STANDIN)] if acl else [])
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "BACKEND", "MODEL")}
    env.update(PYTHON=str(wrapper), PYTHONPATH=os.pathsep.join(paths), **extra)
    return env


def _unpack(archive, dest):
    dest.mkdir()
    with tarfile.open(str(archive)) as tar:
        tar.extractall(str(dest))
    return dest


@pytest.mark.slow  # starts a process
def test_board_env_has_only_the_board_packages(board_python):
    wrapper, _ = board_python
    code = ("import importlib.util as u; "
            "print(' '.join(m for m in ('numpy', 'cv2', 'onnxruntime', 'torch', 'onnx', 'training', "
            "'matplotlib') if u.find_spec(m)))")
    proc = subprocess.run([str(wrapper), "-c", code], stdout=subprocess.PIPE, universal_newlines=True,
                          env=_env(board_python), cwd="/", timeout=60)
    assert proc.stdout.split() == ["numpy", "cv2", "onnxruntime"]


@pytest.mark.slow  # starts processes
def test_contents_and_checksums(built, inputs, tmp_path):
    with tarfile.open(str(built)) as tar:
        names = tar.getnames()
        modes = {m.name: m.mode for m in tar.getmembers()}
    app = [n for n in names if n.startswith("edge_app/")]
    # every Python file of the package (its subpackages too) and the serve page, nothing else
    expected = [p.relative_to(REPO).as_posix() for p in sorted((REPO / "edge_app").rglob("*.py"))
                if "__pycache__" not in p.parts]
    assert sorted(app) == sorted(expected + ["edge_app/static/index.html"])
    assert "edge_app/serve/server.py" in app and "edge_app/cra/plan.py" in app
    assert sorted(set(names) - set(app)) == sorted([
        "SHA256SUMS", "board_check.sh", "interface.json", "model.om", "model.onnx", "requirements-board.txt",
        "run.sh", "sample.jpg", "sample_mask.png"])
    assert modes["run.sh"] & 0o111 and modes["board_check.sh"] & 0o111

    d = _unpack(built, tmp_path / "x")
    assert (d / "model.om").read_bytes() == inputs["om"].read_bytes()
    assert (d / "sample.jpg").read_bytes() == inputs["image"].read_bytes()
    listed = [line.split("  ", 1)[1] for line in (d / "SHA256SUMS").read_text().splitlines()]
    assert sorted(listed) == sorted(n for n in names if n != "SHA256SUMS")
    ok = subprocess.run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=str(d), timeout=60)
    assert ok.returncode == 0
    (d / "model.om").write_bytes(b"tampered")
    bad = subprocess.run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=str(d), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    assert bad.returncode != 0 and "model.om: FAILED" in bad.stdout

    import json
    description = json.loads((d / "interface.json").read_text())
    assert [t["name"] for t in description["inputs"]] == ["img", "mask"]
    assert description["outputs"][1] == {"name": "attention", "shape": [1, 32, 32, 1024], "dtype": "float32",
                                         "layout": "NHWC", "meaning": interface.OUTPUTS["attention"][1]}
    assert [t["meaning"] for t in description["inputs"]] == [m for _, m in interface.INPUTS.values()]
    assert description["atc_input_shape"] == "img:1,512,512,3;mask:1,512,512,1"
    assert description["files"] == {"om": "model.om", "onnx": "model.onnx"}
    assert description["onnx_metadata"]["source"] == "edge_fakes"


@pytest.mark.slow  # starts processes
@pytest.mark.parametrize("backend", ["onnxruntime", "acl"])
def test_run_script_inpaints_the_sample(built, board_python, tmp_path, backend):
    d = _unpack(built, tmp_path / "board")
    proc = subprocess.run(["bash", "run.sh"], cwd=str(d), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=300,
                          env=_env(board_python, acl=backend == "acl", BACKEND=backend))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = cv2.imread(str(d / "out.png"))
    sample = cv2.imread(str(d / "sample.jpg"))
    assert out is not None and out.shape == sample.shape
    hole = cv2.imread(str(d / "sample_mask.png"), cv2.IMREAD_GRAYSCALE) > 127
    # The fake network fills the hole with a blur of the known pixels; outside the blend band the photo is kept.
    far = cv2.dilate(hole.astype(np.uint8), np.ones((31, 31), np.uint8)) == 0
    assert np.array_equal(out[far], sample[far])
    assert not np.array_equal(out[hole], sample[hole])


def test_default_sample_and_overwrite(inputs, tmp_path, capsys):
    out = tmp_path / "b.tar.gz"
    assert bundle.main(["--model", str(inputs["om"]), "--out", str(out)]) == 0
    with tarfile.open(str(out)) as tar:
        names = tar.getnames()
        sample = tar.extractfile("sample.jpg").read()
        run_sh = tar.extractfile("run.sh").read().decode()
    assert "model.onnx" not in names
    assert hashlib.sha256(sample).digest() == hashlib.sha256((bundle.DEFAULT_SAMPLE[0]).read_bytes()).digest()
    assert ('-m edge_app inpaint sample.jpg sample_mask.png -o out.png --backend "$BACKEND" --model "$MODEL"'
            in run_sh and 'BACKEND="${BACKEND:-acl}"' in run_sh)
    before = out.read_bytes()
    assert bundle.main(["--model", str(inputs["om"]), "--out", str(out)]) == 2
    assert "exists: pass --overwrite" in capsys.readouterr().err
    assert out.read_bytes() == before
    assert bundle.main(["--model", str(tmp_path / "missing.om"), "--out", str(tmp_path / "c.tar.gz")]) == 2
    assert "model (.om) not found" in capsys.readouterr().err


def test_board_problems_flags_newer_syntax_and_host_imports():
    src = "import os\nimport torch\nfrom onnx import helper\nfrom .x import y\nimport onnxruntime\n"
    problems = bundle.board_problems(Path("edge_app/m.py"), src)
    assert problems == ["edge_app/m.py:2: imports torch, which the board does not have",
                        "edge_app/m.py:3: imports onnx, which the board does not have"]
    walrus = bundle.board_problems(Path("edge_app/w.py"), "if (n := 3):\n    pass\n")
    assert len(walrus) == 1 and "not Python 3.7 syntax" in walrus[0]
    assert all(bundle.board_problems(p, p.read_text()) == [] for p in bundle.app_files() if p.suffix == ".py")


@pytest.mark.slow  # starts processes
def test_deploy_local(built, board_python, tmp_path):
    dest = tmp_path / "board_home" / "hifill_edge"
    proc = subprocess.run(["bash", str(DEPLOY), str(built), "--local", str(dest), "--backend", "onnxruntime"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=300,
                          env=_env(board_python))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "checksums OK" in proc.stdout and "== Summary" in proc.stdout
    assert (dest / "run.sh").is_file() and cv2.imread(str(dest / "out.png")) is not None
    assert "deployed to {}".format(dest) in proc.stdout


@pytest.mark.slow  # starts processes
def test_deploy_dry_run_prints_and_runs_nothing(built, tmp_path):
    # ssh / scp stand-ins that would leave a mark if anything called them.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    marker = tmp_path / "called"
    for tool in ("ssh", "scp"):
        fake = bin_dir / tool
        fake.write_text("#!/bin/sh\necho {} >> '{}'\n".format(tool, marker))
        fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    env = dict(os.environ, PATH=str(bin_dir) + os.pathsep + os.environ["PATH"])
    proc = subprocess.run(["bash", str(DEPLOY), str(built), "--dry-run"], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "+ scp -o ConnectTimeout=10 {} HwHiAiUser@192.168.1.2:/tmp/bundle.tar.gz".format(built)
    assert lines[1].startswith("+ ssh -o ConnectTimeout=10 HwHiAiUser@192.168.1.2 'set -e; mkdir -p hifill_edge")
    for step in ("tar -xzf /tmp/bundle.tar.gz -C hifill_edge", "sha256sum -c --quiet SHA256SUMS",
                 "bash board_check.sh", "bash run.sh"):
        assert step in lines[1]
    assert lines[-1] == "dry run: nothing was copied or run"
    assert not marker.exists()

    local = subprocess.run(["bash", str(DEPLOY), str(built), "--local", str(tmp_path / "d"), "--dry-run"],
                           stdout=subprocess.PIPE, universal_newlines=True, timeout=60, env=env)
    assert local.returncode == 0 and "+ cp " in local.stdout and not (tmp_path / "d").exists()


def test_registers_on_convert_style_subparsers(inputs):
    import argparse
    parser = argparse.ArgumentParser()
    bundle.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["bundle", "--model", str(inputs["om"]), "--out", "b.tar.gz",
                              "--sample", "a.jpg", "b.png", "--overwrite"])
    assert (args.command, args.model, args.sample, args.overwrite, args.onnx) == (
        "bundle", str(inputs["om"]), ["a.jpg", "b.png"], True, None)

"""The shared atomic-write helper (checkpoints, ONNX exports, bundles)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from edge_app.atomic import atomic_path

REPO = Path(__file__).resolve().parent.parent


def test_replaces_the_target_only_on_success(tmp_path):
    target = tmp_path / "sub" / "model.bin"
    with atomic_path(target) as tmp:
        assert os.path.dirname(tmp) == str(target.parent)
        with open(tmp, "wb") as f:
            f.write(b"first")
    assert target.read_bytes() == b"first"
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask  # as open() would create it

    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target) as tmp:
            with open(tmp, "wb") as f:
                f.write(b"half")
            raise KeyboardInterrupt
    assert target.read_bytes() == b"first"  # the interrupted write left the old file intact
    assert sorted(p.name for p in target.parent.iterdir()) == ["model.bin"]  # and no temporary file


@pytest.mark.slow  # starts a Python process: a fresh sys.modules
def test_importing_it_does_not_import_the_app():
    """The trainer's checkpoints use it: neither numpy nor OpenCV come with it."""
    code = ("import sys, edge_app.atomic\n"
            "heavy = sorted({'cv2', 'numpy'} & set(sys.modules))\n"
            "assert not heavy, heavy\n"
            "import training.checkpoint\n"
            "assert 'cv2' not in sys.modules and 'edge_app.pipeline' not in sys.modules\n"
            "from edge_app import Inpainter\n"
            "assert Inpainter.__module__ == 'edge_app.pipeline'\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=str(REPO), stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=120)
    assert proc.returncode == 0, proc.stderr

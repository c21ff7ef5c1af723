"""The shared atomic-write helper (checkpoints, ONNX exports, bundles)."""
import os

import pytest

from edge_app.atomic import atomic_path


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

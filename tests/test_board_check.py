"""scripts/board_check.sh: graceful here, and right when the Ascend pieces exist.

The boards are played by fake commands and files: an `npu-smi` on PATH that
prints a table of the shape the boards print, and a device-tree model file.
The model strings below are guesses of what the board images write (none was
read from a real board): the script matches them loosely."""
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from convert.socs import SOCS

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "board_check.sh"
pytestmark = pytest.mark.slow  # every test starts the script

# The shape of an `npu-smi info` table on an Atlas 200I DK A2 (chip 310B4).
NPU_SMI_TABLE = """\
+--------------------------------------------------------------------------------------------------------+
| npu-smi 23.0.0                                   Version: 23.0.0                                       |
+-------------------------------+-----------------+------------------------------------------------------+
| NPU     Name                  | Health          | Power(W)     Temp(C)           Hugepages-Usage(page) |
| Chip    Device                | Bus-Id          | AICore(%)    Memory-Usage(MB)                        |
+===============================+=================+======================================================+
| 0       310B4                 | Alarm           | 0.0          53                15   / 15             |
| 0       0                     | NA              | 0            310  / 15610                            |
+===============================+=================+======================================================+
"""


def _run(env_extra, path_dirs=()):
    env = {k: v for k, v in os.environ.items() if k not in ("ASCEND_TOOLKIT_HOME", "PYTHONPATH")}
    env["PATH"] = os.pathsep.join(list(path_dirs) + [env["PATH"]])
    env["PYTHON"] = sys.executable
    env["ASCEND_HOME"] = "/nonexistent-ascend"
    env["DEVICE_TREE_MODEL_FILE"] = "/nonexistent-device-tree-model"
    env.update(env_extra)
    proc = subprocess.run(["bash", str(SCRIPT)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, env=env, timeout=60)
    return proc


def _summary(out):
    """The 'key: value' lines after '== Summary'."""
    block = out.split("== Summary", 1)[1]
    pairs = [line.split(":", 1) for line in block.strip().splitlines()]
    return {k.strip(): v.strip() for k, v in pairs}


def _fake_npu_smi(tmp_path, chip):
    """A bin folder whose npu-smi prints NPU_SMI_TABLE with ``chip`` as the Name."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (tmp_path / "npu-smi.txt").write_text(NPU_SMI_TABLE.replace("310B4", chip.ljust(5)))
    fake = bin_dir / "npu-smi"
    fake.write_text("#!/bin/sh\n[ \"$1\" = info ] && cat '{}'\n".format(tmp_path / "npu-smi.txt"))
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    return bin_dir


def _device_tree(tmp_path, model):
    path = tmp_path / "model"
    path.write_bytes(model.encode() + b"\0")  # device-tree strings end in NUL
    return str(path)


def test_known_socs_match_the_convert_table():
    line = next(l for l in SCRIPT.read_text().splitlines() if l.startswith("KNOWN_SOCS="))
    assert tuple(re.search(r'"(.*)"', line).group(1).split()) == SOCS


@pytest.mark.parametrize("model, chip, board", [
    ("Orange Pi AIpro", "310B4", "Orange Pi AIpro"),
    ("OrangePi AIpro(20T)", "310B4", "Orange Pi AIpro"),
    ("Atlas 200I DK A2", "310B1", "Atlas 200I DK A2"),
    ("Atlas 200 DK", "310", "Atlas 200 DK"),
])
def test_recognises_the_board(tmp_path, model, chip, board):
    proc = _run({"DEVICE_TREE_MODEL_FILE": _device_tree(tmp_path, model)}, [str(_fake_npu_smi(tmp_path, chip))])
    assert proc.returncode == 0, proc.stderr
    summary = _summary(proc.stdout)
    assert summary["board"] == board
    assert summary["SoC"] == summary["atc soc_version"] == "Ascend" + chip
    assert "device tree model: " + model in proc.stdout
    assert ("TE_PARALLEL_COMPILER=1" in proc.stdout) == chip.startswith("310B")


@pytest.mark.parametrize("chip, family", [("310B1", "Ascend 310B board"), ("310B4", "Ascend 310B board"),
                                          ("310", "Ascend 310 board")])
def test_board_family_from_the_soc_alone(tmp_path, chip, family):
    proc = _run({}, [str(_fake_npu_smi(tmp_path, chip))])  # no device-tree model
    summary = _summary(proc.stdout)
    assert family in summary["board"] and summary["board"].endswith("from the SoC")


def test_a_soc_convert_does_not_accept_is_said(tmp_path):
    proc = _run({}, [str(_fake_npu_smi(tmp_path, "310P3"))])
    assert proc.returncode == 0
    summary = _summary(proc.stdout)
    assert summary["SoC"] == "Ascend310P3" and summary["board"] == "not found"
    assert summary["atc soc_version"] == "Ascend310P3 (not one that convert atc accepts: {})".format(" ".join(SOCS))


def test_degrades_gracefully_without_ascend():
    proc = _run({})
    assert proc.returncode == 0, proc.stderr
    summary = _summary(proc.stdout)
    assert summary["board"] == "not found"
    assert summary["npu-smi"] == "not found"
    assert summary["CANN"] == "not found"
    assert summary["import acl"] == "not found"
    assert summary["SoC"] == "not found"
    assert summary["python"] == "{}.{}.{}".format(*sys.version_info[:3])
    assert "acl not found: No module named 'acl'" in proc.stdout


def test_reads_npu_smi_and_cann_version(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (tmp_path / "npu-smi.txt").write_text(NPU_SMI_TABLE)
    fake = bin_dir / "npu-smi"
    fake.write_text("#!/bin/sh\n[ \"$1\" = info ] && cat '{}'\n".format(tmp_path / "npu-smi.txt"))
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    toolkit = tmp_path / "ascend-toolkit" / "latest"
    (toolkit / "aarch64-linux").mkdir(parents=True)
    (toolkit / "aarch64-linux" / "ascend_toolkit_install.info").write_text(
        "package_name=Ascend-cann-toolkit\nversion=6.0.1\ninnerversion=V100R001C30\n")

    proc = _run({"ASCEND_TOOLKIT_HOME": str(toolkit)}, [str(bin_dir)])
    assert proc.returncode == 0, proc.stderr
    summary = _summary(proc.stdout)
    assert summary["npu-smi"] == str(fake)
    assert summary["CANN"] == "6.0.1"
    assert summary["SoC"] == "Ascend310B4"
    assert summary["atc soc_version"] == "Ascend310B4"
    assert "from npu-smi info" in proc.stdout


def test_default_ascend_home_layout(tmp_path):
    info = tmp_path / "ascend-toolkit" / "latest" / "x86_64-linux" / "ascend_toolkit_install.info"
    info.parent.mkdir(parents=True)
    info.write_text("version=5.0.4\n")
    proc = _run({"ASCEND_HOME": str(tmp_path)})
    assert proc.returncode == 0
    assert _summary(proc.stdout)["CANN"] == "5.0.4"


def test_soc_from_acl_when_importable():
    standin = Path(__file__).resolve().parent / "acl_standin"
    proc = _run({"PYTHONPATH": str(standin)})
    assert proc.returncode == 0, proc.stderr
    summary = _summary(proc.stdout)
    assert summary["import acl"] == "importable"
    assert summary["SoC"] == "Ascend310"  # the stand-in's acl.get_soc_name() after acl.init()
    assert summary["atc soc_version"] == "Ascend310"
    assert "from acl.get_soc_name()" in proc.stdout

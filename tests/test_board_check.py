"""scripts/board_check.sh: graceful here, and right when the Ascend pieces exist."""
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

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
    env.update(env_extra)
    proc = subprocess.run(["bash", str(SCRIPT)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, env=env, timeout=60)
    return proc


def _summary(out):
    """The 'key: value' lines after '== Summary'."""
    block = out.split("== Summary", 1)[1]
    pairs = [line.split(":", 1) for line in block.strip().splitlines()]
    return {k.strip(): v.strip() for k, v in pairs}


def test_degrades_gracefully_without_ascend():
    proc = _run({})
    assert proc.returncode == 0, proc.stderr
    summary = _summary(proc.stdout)
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

"""Probes of the machine a bench runs on: CPU, GPU, CANN, library versions."""
import glob
import os
import platform
import re
import shutil
import subprocess
from typing import Dict, Optional

import cv2
import numpy as np

ASCEND_HOME = "/usr/local/Ascend"

#: ARM core types by the "CPU part" of /proc/cpuinfo (implementer 0x41, ARM).
_ARM_PARTS = {"0xd03": "Cortex-A53", "0xd04": "Cortex-A35", "0xd05": "Cortex-A55", "0xd07": "Cortex-A57",
              "0xd08": "Cortex-A72", "0xd09": "Cortex-A73", "0xd0a": "Cortex-A75", "0xd0b": "Cortex-A76",
              "0xd0c": "Neoverse-N1", "0xd0d": "Cortex-A77"}


def cpu_model(cpuinfo: str) -> Optional[str]:
    """CPU name from the text of /proc/cpuinfo; ARM boards give only part numbers."""
    match = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    if match:
        return match.group(1).strip()
    implementer = re.search(r"^CPU implementer\s*:\s*(\S+)", cpuinfo, re.MULTILINE)
    parts = sorted(set(re.findall(r"^CPU part\s*:\s*(\S+)", cpuinfo, re.MULTILINE)))
    if not parts:
        return None
    if implementer and implementer.group(1).lower() == "0x41":
        return "ARM " + " + ".join(_ARM_PARTS.get(p.lower(), "part " + p) for p in parts)
    return "implementer {} part {}".format(implementer.group(1) if implementer else "?", "/".join(parts))


def cann_version(toolkit_home: Optional[str] = None, ascend_home: str = ASCEND_HOME) -> Optional[str]:
    """``version=`` of the CANN toolkit's ascend_toolkit_install.info, or None."""
    patterns = []
    if toolkit_home:
        patterns += [os.path.join(toolkit_home, "ascend_toolkit_install.info"),
                     os.path.join(toolkit_home, "*", "ascend_toolkit_install.info")]
    patterns.append(os.path.join(ascend_home, "ascend-toolkit", "latest", "*", "ascend_toolkit_install.info"))
    for pattern in patterns:
        for path in sorted(glob.glob(pattern)):
            with open(path, errors="replace") as f:
                match = re.search(r"^\s*version\s*=\s*(\S+)", f.read(), re.MULTILINE)
            if match:
                return match.group(1)
    return None


def nvidia_gpu() -> Optional[str]:
    """Name of the first GPU nvidia-smi lists, or None."""
    exe = shutil.which("nvidia-smi")
    if not exe:
        return None
    try:
        out = subprocess.run([exe, "--query-gpu=name", "--format=csv,noheader"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, universal_newlines=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    names = [line.strip() for line in out.splitlines() if line.strip()]
    return names[0] if names else None


def machine_info(accelerator: Optional[str] = None) -> Dict[str, object]:
    """The ``machine`` object of the report (accelerator: the backend's own,
    else the first GPU nvidia-smi lists)."""
    try:
        with open("/proc/cpuinfo", errors="replace") as f:
            cpu = cpu_model(f.read())
    except OSError:
        cpu = None
    try:
        import onnxruntime as ort
        ort_version, providers = ort.__version__, list(ort.get_available_providers())
    except ImportError:
        ort_version, providers = None, []
    return {
        "cpu_model": cpu or platform.processor() or None,
        "cpu_count": os.cpu_count() or 1,
        "accelerator": accelerator or nvidia_gpu(),
        "arch": platform.machine(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "opencv": cv2.__version__,
        "onnxruntime_version": ort_version,
        "onnxruntime_providers": providers,
        "cann_version": cann_version(os.environ.get("ASCEND_TOOLKIT_HOME")),
        "load_average": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
    }

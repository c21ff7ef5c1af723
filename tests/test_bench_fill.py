"""scripts/bench_fill.py runs both fills on a small frame and prints every figure."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = str(REPO / "scripts" / "bench_fill.py")


@pytest.mark.slow  # starts a process that runs the 512 model
def test_bench_fill_prints_stages_split_and_ratio():
    done = subprocess.run([sys.executable, SCRIPT, "--size", "320x180", "--runs", "1", "--warmup", "0"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert re.search(r"^320x180, hole \d+\.\d%, \w+ backend, 1 alternated runs per fill", out, re.M), out
    assert re.search(r"^  stage +patches +network$", out, re.M), out
    rows = {m.group(1): (float(m.group(2)), float(m.group(3)))
            for m in re.finditer(r"^  (\w+) +(\d+\.\d) +(\d+\.\d)$", out, re.M)}
    for stage in ("preprocess", "inference", "cra", "blend", "total", "cpu"):
        assert stage in rows, (stage, out)
    assert all(value > 0 for stage in ("inference", "cra", "total") for value in rows[stage])
    # the total is at least the frame's stages
    for column in (0, 1):
        assert rows["total"][column] >= sum(rows[s][column] for s in ("preprocess", "inference", "cra"))
    split = re.search(r"^patches cra split: completion (\d+\.\d) ms, transfer (\d+\.\d) ms$", out, re.M)
    assert split and float(split.group(1)) > 0 and float(split.group(2)) > 0, out
    ratio = re.search(r"^patches / network: total (\d+\.\d{3})x, cpu (\d+\.\d{3})x", out, re.M)
    assert ratio, out
    assert float(ratio.group(1)) == pytest.approx(rows["total"][0] / rows["total"][1], abs=2e-3)


@pytest.mark.slow  # starts a process
def test_bench_fill_bad_size_is_a_usage_error():
    done = subprocess.run([sys.executable, SCRIPT, "--size", "10x10"], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=120)
    assert done.returncode == 2
    assert "bad size '10x10'" in done.stderr.strip().splitlines()[-1]
    assert "Traceback" not in done.stderr

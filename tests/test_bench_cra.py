"""scripts/bench_cra.py runs end to end on small frames and prints its figures."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # starts a process
def test_bench_cra_prints_every_figure():
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "bench_cra.py"), "--sizes", "640x360",
                           "--runs", "1", "--flat"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout
    out = done.stdout
    for label in ("peaked attention", "flat attention"):
        assert label in out
    for name in ("compose", "plan reused", "reference", "floor"):
        assert re.search(r"^  {} +\d+\.\d+ s \(\d+\.\d+ s\)$".format(name), out, re.M), name
    assert len(re.findall(r"reference / compose = +\d+\.\dx", out)) >= 4
    # compose agrees with the reference algorithm inside the hole (within a few grey levels)
    diffs = [float(v) for v in re.findall(r"in the hole: (\d+\.\d+) grey levels", out)]
    assert len(diffs) == 2 and max(diffs) < 3.0
    # pruning stays within its bound (+1 for the rounding of the result)
    pruned = re.findall(r"without pruning\|: (\d+) grey levels \(bound (\d+\.\d+)\)", out)
    assert len(pruned) == 2 and all(int(n) <= int(float(bound)) + 1 for n, bound in pruned)
    memory = re.search(r"peak RSS growth \(subprocess\) (\d+) MB", out)
    assert memory and int(memory.group(1)) < 1500

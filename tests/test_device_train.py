"""scripts/device_train.sh (GPU training through the device tool) on the CPU:
prepare -> run (DEVICE=cpu, a few seconds) -> collect gives a state that
resumes, and what comes back fits the tool's limit of 8 files."""
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "device_train.sh"


def _photos(folder: Path, n: int, shape) -> Path:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        img = cv2.resize(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8), shape[::-1], interpolation=cv2.INTER_CUBIC)
        cv2.imwrite(str(folder / f"p{i}.png"), img)
    return folder


def test_prepare_run_collect_on_the_cpu(tmp_path):
    train = _photos(tmp_path / "train", 3, (700, 1000))
    val = _photos(tmp_path / "val", 1, (600, 800))
    env = dict(os.environ, DEVICE_PHOTOS=str(tmp_path / "photos"), OUT=str(tmp_path / "out"), DEVICE="cpu",
               EVAL_COUNT="1", PYTHON=sys.executable)
    (tmp_path / "out").mkdir()
    subprocess.run(["bash", str(SCRIPT), "prepare", str(train), str(val)], env=env, check=True, cwd=tmp_path)
    shrunk = cv2.imread(str(tmp_path / "photos" / "train" / "p0.jpg"))
    assert shrunk.shape[:2] == (512, 731)  # short side 512
    assert (tmp_path / "photos" / "val" / "p0.png").read_bytes() == (val / "p0.png").read_bytes()
    done = subprocess.run(["bash", str(SCRIPT), "run", "12", "1", "1"], env=env, cwd=tmp_path,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
    assert done.returncode == 0, done.stdout
    out = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert len(out) <= 8 and "state.part-00" in out and "run.txt" in out, out
    assert all((tmp_path / "out" / n).stat().st_size <= 16 * 2 ** 20 for n in out)
    metrics = json.loads((tmp_path / "out" / "evaluate_512.json").read_text())
    assert metrics["total_steps"] > metrics["step"] >= 1  # started from the bundled weights (--init)
    run = tmp_path / "collected"
    subprocess.run(["bash", str(SCRIPT), "collect", str(tmp_path / "out"), str(run)], env=env, check=True)
    steps = metrics["step"]
    subprocess.run([sys.executable, "-m", "training", "train", "--out", str(run), "--resume", "--data",
                    str(tmp_path / "photos" / "train"), "--iters", str(steps + 1), "--no-progress"],
                   cwd=REPO, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert len((run / "losses.jsonl").read_text().splitlines()) == steps + 1
    # a damaged part is refused, and an existing state is never overwritten
    part = tmp_path / "out" / "state.part-01"
    part.write_bytes(part.read_bytes()[:-1] + b"x")
    bad = subprocess.run(["bash", str(SCRIPT), "collect", str(tmp_path / "out"), str(tmp_path / "again")],
                         stderr=subprocess.PIPE, text=True)
    assert bad.returncode == 1 and "does not match" in bad.stderr
    assert not (tmp_path / "again" / "last.pt").exists()
    again = subprocess.run(["bash", str(SCRIPT), "collect", str(tmp_path / "out"), str(run)],
                           stderr=subprocess.PIPE, text=True)
    assert again.returncode == 2 and "exists" in again.stderr

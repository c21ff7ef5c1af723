"""scripts/remote_train.sh (continuing the bundled model on a GPU machine)
end to end on local folders, without a GPU: prepare -> run (DEVICE=cpu, a
few seconds) -> collect gives a state that resumes; the torchrun command of
GPUS > 1; and what it refuses."""
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "remote_train.sh"
RESULTS = {"last.pt", "losses.jsonl", "config.yaml", "evaluate_512.json", "train.log", "run.txt"}


def _photos(folder: Path, names, shape) -> Path:
    rng = np.random.default_rng(0)
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        img = cv2.resize(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8), shape[::-1], interpolation=cv2.INTER_CUBIC)
        cv2.imwrite(str(folder / name), img)
    return folder


def _script(*args, env, cwd, timeout=60):
    return subprocess.run(["bash", str(SCRIPT), *map(str, args)], env=env, cwd=cwd, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=timeout)


@pytest.mark.slow  # spawns processes and trains for a while
def test_prepare_run_collect_on_the_cpu(tmp_path):
    train = _photos(tmp_path / "train", ["p0.png", "p1.png", "more/p0.png"], (700, 1000))
    val = _photos(tmp_path / "val", ["v0.png"], (600, 800))
    env = dict(os.environ, DEVICE="cpu", EVAL_COUNT="1", PYTHON=sys.executable, PHOTOS=str(tmp_path / "photos"))

    # prepare (paths relative to where it is started): training photos at short side 512, validation as they are
    done = _script("prepare", "train", "val", "photos", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    photos = tmp_path / "photos"
    assert cv2.imread(str(photos / "train" / "p0.png.jpg")).shape[:2] == (512, 731)
    assert (photos / "train" / "more" / "p0.png.jpg").is_file()  # equal names in subfolders stay apart
    assert (photos / "val" / "v0.png").read_bytes() == (val / "v0.png").read_bytes()
    assert "rsync" in done.stdout and "run 3600" in done.stdout  # how to go on
    again = _script("prepare", train, val, photos, env=env, cwd=tmp_path)  # its own folder: replaced
    assert again.returncode == 0, again.stderr
    assert sorted(p.name for p in photos.iterdir()) == ["prepared.txt", "train", "val"]
    own = tmp_path / "own"
    (own / "train").mkdir(parents=True)
    refused = _script("prepare", train, val, own, env=env, cwd=tmp_path)  # not made by prepare: refused
    assert refused.returncode == 2 and "not made by prepare" in refused.stderr
    assert (own / "train").is_dir()

    # run: a new run from the bundled weights, stopped by SIGINT (it saves), evaluated at 512
    done = _script("run", 20, "out", 1, 1, env=env, cwd=tmp_path, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    out = tmp_path / "out"
    assert {p.name for p in out.iterdir()} == RESULTS
    run_txt = (out / "run.txt").read_text()
    digest = hashlib.sha256((out / "last.pt").read_bytes()).hexdigest()
    assert f"last.pt sha256: {digest}\n" in run_txt
    assert "device: cpu" in run_txt and "amp: off" in run_txt
    assert "processes: 1, batch: 1 per process (1 in all), workers: 1 per process" in run_txt
    assert "torch.distributed.run" not in run_txt  # one process: no torchrun
    assert "--init edge_app/models/hifill_train_state.pt" in run_txt and "--size 256" in run_txt
    metrics = json.loads((out / "evaluate_512.json").read_text())
    assert metrics["size"] == 512 and metrics["count"] == 1
    assert metrics["total_steps"] > metrics["step"] >= 1  # started from the bundled weights (--init)
    steps = metrics["step"]
    assert f"training exit status: 124 (stopped after 20 s; clean stop saved at step {steps})" in run_txt
    assert len((out / "losses.jsonl").read_text().splitlines()) == steps
    assert "batch_size: 1" in (out / "config.yaml").read_text()

    # an OUT_DIR that holds a last.pt is refused, before anything starts
    before = (out / "run.txt").read_bytes()
    refused = _script("run", 20, out, 1, 1, env=env, cwd=tmp_path)
    assert refused.returncode == 2 and "last.pt exists" in refused.stderr
    assert (out / "run.txt").read_bytes() == before

    # collect: the checked state resumes exactly where the run stopped
    run = tmp_path / "collected"
    done = _script("collect", out, run, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert {p.name for p in run.iterdir()} == RESULTS
    assert (run / "last.pt").read_bytes() == (out / "last.pt").read_bytes()
    assert f"after {steps} steps" in done.stdout and "--resume" in done.stdout
    subprocess.run([sys.executable, "-m", "training", "train", "--out", str(run), "--resume", "--data",
                    str(photos / "train"), "--iters", str(steps + 1), "--no-progress"],
                   cwd=REPO, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
    assert len((run / "losses.jsonl").read_text().splitlines()) == steps + 1

    # an existing RUN_DIR/last.pt is never overwritten
    kept = (run / "last.pt").read_bytes()
    refused = _script("collect", out, run, env=env, cwd=tmp_path)
    assert refused.returncode == 2 and "last.pt exists" in refused.stderr
    assert (run / "last.pt").read_bytes() == kept

    # a damaged last.pt (e.g. an incomplete copy) does not match run.txt: refused, nothing written
    state = out / "last.pt"
    state.write_bytes(state.read_bytes()[:-1] + b"x")
    bad = _script("collect", out, tmp_path / "again", env=env, cwd=tmp_path)
    assert bad.returncode == 1 and "does not match" in bad.stderr
    assert not (tmp_path / "again" / "last.pt").exists()


@pytest.mark.slow  # starts processes
def test_usage_and_bad_arguments(tmp_path):
    env = dict(os.environ, PYTHON=sys.executable)
    for args in [(), ("prepare", "only-one"), ("run", "10"), ("collect", "a"), ("other",)]:
        done = _script(*args, env=env, cwd=tmp_path)
        assert done.returncode == 2 and "usage:" in done.stderr, args
    done = _script("run", "ten", tmp_path / "out", env=env, cwd=tmp_path)
    assert done.returncode == 2 and "SECONDS must be a whole number" in done.stderr
    done = _script("run", 10, tmp_path / "out", env=dict(env, PHOTOS=str(tmp_path / "none")), cwd=tmp_path)
    assert done.returncode == 2 and "no prepared photos" in done.stderr
    assert not (tmp_path / "out").exists()
    done = _script("collect", tmp_path / "none", tmp_path / "run", env=env, cwd=tmp_path)
    assert done.returncode == 2 and "copy OUT_DIR back" in done.stderr


# Stands in for PYTHON: records the training and evaluation commands; a
# training writes a last.pt into its --out and the trainer's stop.json of a
# finished run. FAKE_STOPPED: the record of a clean signal stop, and status 1
# as torchrun's after it passed the signal on; FAKE_CRASHED: status 1, no
# record; FAKE_SIGNALS=FILE: it writes FILE once it counts SIGINTs, waits for
# one, then 2 s for more, and logs how many came and whether it leads a
# session of its own (a terminal's Ctrl-C does not reach it). Anything else (the
# script's machine check) runs in the real interpreter.
FAKE_PYTHON = """#!{python}
import json, os, signal, sys, time
from pathlib import Path
args = sys.argv[1:]
if args[:2] not in (["-m", "torch.distributed.run"], ["-m", "training"]):
    os.execv(sys.executable, [sys.executable] + args)
log = open(os.environ["FAKE_LOG"], "a")
log.write(json.dumps(args) + "\\n")
log.flush()
if "train" in args:
    out = Path(args[args.index("--out") + 1])
    out.mkdir(parents=True)
    (out / "last.pt").write_bytes(b"state")
    if os.environ.get("FAKE_CRASHED"):
        sys.exit(1)
    record = dict(reason="finished", signal=None, step=3)
    if os.environ.get("FAKE_SIGNALS"):
        got = []
        signal.signal(signal.SIGINT, lambda *_: got.append(1))
        Path(os.environ["FAKE_SIGNALS"]).write_text("counting")
        deadline = time.monotonic() + 120
        while not got and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(2)
        log.write(json.dumps(dict(sigints=len(got), own_session=os.getsid(0) == os.getpid())) + "\\n")
    if os.environ.get("FAKE_STOPPED") or os.environ.get("FAKE_SIGNALS"):
        record = dict(reason="signal", signal="SIGINT", step=3)
    (out / "stop.json").write_text(json.dumps(dict(record, iters=100000000, processes=2, checkpoint="last.pt")))
    sys.exit(1 if os.environ.get("FAKE_STOPPED") else 0)
"""


@pytest.mark.slow  # starts processes
def _fake_env(tmp_path: Path, **more) -> dict:
    """The script's environment with the stand-in PYTHON, on an empty prepared photo folder."""
    fake = tmp_path / "python"
    fake.write_text(FAKE_PYTHON.format(python=sys.executable))
    fake.chmod(0o755)
    photos = tmp_path / "photos"
    for sub in ("train", "val"):
        (photos / sub).mkdir(parents=True)
    (photos / "prepared.txt").write_text("prepared: for the test\n")
    return dict(os.environ, DEVICE="cpu", PYTHON=str(fake), PHOTOS=str(photos),
                FAKE_LOG=str(tmp_path / "commands.jsonl"), **more)


@pytest.mark.slow  # starts processes
def test_run_on_several_gpus_starts_torchrun_with_the_batch_per_gpu(tmp_path):
    env = _fake_env(tmp_path, GPUS="2")
    fake, log = env["PYTHON"], tmp_path / "commands.jsonl"

    done = _script("run", 5, "out", 3, 2, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    train, evaluate = [json.loads(line) for line in log.read_text().splitlines()]
    assert train[:8] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "training",
                         "train"]
    assert train[train.index("--batch") + 1] == "3" and train[train.index("--workers") + 1] == "2"
    assert train[train.index("--device") + 1] == "cpu"
    assert evaluate[:3] == ["-m", "training", "evaluate"]  # evaluated by one process
    run_txt = (tmp_path / "out" / "run.txt").read_text()
    assert "processes: 2, batch: 3 per process (6 in all), workers: 2 per process" in run_txt
    assert f"command: {fake} -m torch.distributed.run --standalone --nproc_per_node 2 -m training train" in run_txt
    assert "training exit status: 0 (finished)" in run_txt  # the stand-in returns at once

    # torchrun exits 1 after it passed a signal on; the trainer's record says the stop was clean
    log.unlink()
    done = _script("run", 5, "stopped", 3, 2, env=dict(env, FAKE_STOPPED="1"), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    run_txt = (tmp_path / "stopped" / "run.txt").read_text()
    assert "training exit status: 1 (stopped by SIGINT; clean stop saved at step 3)" in run_txt
    assert (tmp_path / "stopped" / "last.pt").read_bytes() == b"state"
    for gpus in ("1", "2"):  # the same status and no record: a failure, whatever the launcher
        done = _script("run", 5, f"crashed{gpus}", 3, 2, env=dict(env, FAKE_CRASHED="1", GPUS=gpus), cwd=tmp_path)
        assert done.returncode == 1 and "status 1, with no record of a clean stop" in done.stderr
        assert "(failed: no record of a clean stop)" in (tmp_path / f"crashed{gpus}" / "run.txt").read_text()

    for gpus, device, message in [("0", "cpu", "GPUS must be a whole number >= 1"),
                                  ("two", "cpu", "GPUS must be a whole number >= 1"),
                                  ("2", "cuda:1", "GPUS=2 takes DEVICE=cuda")]:
        refused = _script("run", 5, "never", env=dict(env, GPUS=gpus, DEVICE=device), cwd=tmp_path)
        assert refused.returncode == 2 and message in refused.stderr, refused.stderr
        assert not (tmp_path / "never").exists()


@pytest.mark.slow  # starts processes
def test_ctrl_c_reaches_the_trainer_once_and_is_reported_as_a_clean_stop(tmp_path):
    """Ctrl-C (SIGINT to the script's whole process group, as a terminal
    sends it) reaches the trainer once, passed on by timeout: the trainer is
    in a session of its own, out of the terminal's reach (two signals sent
    at once may merge into one, so the count alone would not show it)."""
    counting = tmp_path / "counting"
    env = _fake_env(tmp_path, GPUS="2", FAKE_SIGNALS=str(counting))
    script = subprocess.Popen(["bash", str(SCRIPT), "run", "100", "out", "3", "2"],
                              env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              start_new_session=True)
    deadline = time.monotonic() + 120
    while not counting.exists():
        assert script.poll() is None and time.monotonic() < deadline, script.communicate()
        time.sleep(0.05)
    os.killpg(script.pid, signal.SIGINT)
    out, err = script.communicate(timeout=120)
    assert script.returncode == 0, out + err
    lines = [json.loads(line) for line in (tmp_path / "commands.jsonl").read_text().splitlines()]
    assert {"sigints": 1, "own_session": True} in lines
    assert "training exit status: 0 (stopped by SIGINT; clean stop saved at step 3)" in \
        (tmp_path / "out" / "run.txt").read_text()

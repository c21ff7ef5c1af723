"""Training survives torchrun restarts and stop signals: a worker killed
mid-run under ``torchrun --max-restarts 1`` is restarted and the run
continues exactly; SIGTERM to one worker stops both after the same step
with status 0 and RUN_DIR/stop.json; a second SIGTERM during the save
waits for it; ``--resume auto`` and restarts continue only their own run.
Faults are placed by tests/preemption_driver.py; 2 CPU processes (gloo)."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from training.__main__ import main
from training.checkpoint import load_checkpoint
from training.config import DataConfig, LossConfig, TrainConfig
from training.distributed import TRACE_ENV
from training.train import Trainer, train

from test_training_pipeline import SIZE, read_losses, write_toy_images

REPO = Path(__file__).resolve().parents[1]
DRIVER = Path(__file__).resolve().parent / "preemption_driver.py"
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
WAIT = 240  # seconds: generous for a loaded machine; each wait ends on an event


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    return write_toy_images(tmp_path_factory.mktemp("photos"))


def _args(photos: Path, run: Path, *more) -> list:
    return ["train", "--data", str(photos), "--out", str(run), "--size", str(SIZE), "--batch", "1",
            "--adv-weight", "0", "--threads", "1", "--no-progress", *map(str, more)]


def _start(launcher: list, args: list, tmp_path: Path, **env) -> subprocess.Popen:
    """The driver under ``launcher`` (torchrun's flags, or [] for one process);
    output into tmp_path/output.txt, every step traced into tmp_path/trace."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
               OMP_NUM_THREADS="1", DRIVER_DIR=str(tmp_path), **{TRACE_ENV: str(tmp_path / "trace")}, **env)
    log = open(tmp_path / "output.txt", "w")
    command = launcher + [str(DRIVER)] if launcher else [sys.executable, str(DRIVER)]
    proc = subprocess.Popen(command + args, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    return proc


def _finish(proc: subprocess.Popen, tmp_path: Path) -> str:
    proc.wait(timeout=WAIT)
    return (tmp_path / "output.txt").read_text()


def _wait_for(ready, what: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + WAIT
    while not ready():
        assert proc.poll() is None, f"ended (status {proc.returncode}) before {what}"
        assert time.monotonic() < deadline, f"no {what} after {WAIT} s"
        time.sleep(0.05)


def _logged_steps(run: Path, n: int):
    log = run / "losses.jsonl"
    return lambda: log.exists() and log.read_text().count("\n") >= n


def _trace(tmp_path: Path, rank: int):
    return [json.loads(line) for line in (tmp_path / "trace" / f"rank{rank}.jsonl").read_text().splitlines()]


def _record(run: Path) -> dict:
    return json.loads((run / "stop.json").read_text())


@pytest.mark.slow  # torchrun, 2 processes, a kill and a restart (about 30 s)
def test_worker_killed_mid_run_restarts_and_the_run_continues_exactly(photos, tmp_path):
    run = tmp_path / "run"
    # each start on a store of its own: on the one torchrun's agent keeps, a restart may not connect (README)
    proc = _start(TORCHRUN + ["--max-restarts", "1"], _args(photos, run, "--iters", 6, "--save-every", 2),
                  tmp_path, DRIVER_CRASH_AT="3", TORCH_DISABLE_SHARE_RDZV_TCP_STORE="1")
    output = _finish(proc, tmp_path)
    assert proc.returncode == 0, output
    assert "TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1" not in output  # no warning: set
    assert "exitcode: -9" in output  # rank 1 was killed after step 3; last.pt holds step 2
    assert "dropped 1 line(s) after step 2" in output  # the restart went on from last.pt by itself

    # both processes redid step 3 after the restart, to the same weights bit for bit, and went on together
    for rank in (0, 1):
        steps = _trace(tmp_path, rank)
        assert [r["step"] for r in steps] == [1, 2, 3, 3, 4, 5, 6]
        assert steps[2]["weights"] == steps[3]["weights"]
    assert [r["weights"] for r in _trace(tmp_path, 0)] == [r["weights"] for r in _trace(tmp_path, 1)]

    # the losses of every step are those of an uninterrupted run (one process computing both shards)
    reference = tmp_path / "reference"
    train(TrainConfig(data=DataConfig(root=str(photos), size=SIZE), batch_size=1, iters=6, shards=2,
                      loss=LossConfig(adv_weight=0.0)), str(reference), progress=False)
    got, want = read_losses(run), read_losses(reference)
    assert [r["step"] for r in got] == list(range(1, 7))
    for row, expected in zip(got, want):
        assert set(row) == set(expected)
        for key, value in expected.items():
            assert row[key] == pytest.approx(value, rel=1e-5, abs=1e-7), (row["step"], key)
    assert _record(run)["reason"] == "finished" and _record(run)["step"] == 6


@pytest.mark.slow  # torchrun, 2 processes
def test_sigterm_to_one_worker_stops_both_after_the_same_step_with_status_0(photos, tmp_path):
    run = tmp_path / "run"
    proc = _start(TORCHRUN, _args(photos, run, "--iters", 100000), tmp_path)
    _wait_for(_logged_steps(run, 2), "2 logged steps", proc)
    os.kill(int((tmp_path / "pid1").read_text()), 15)  # rank 1 alone, as a scheduler may
    output = _finish(proc, tmp_path)
    # torchrun's agent, not signalled itself, returns 0 only when every worker exited 0
    assert proc.returncode == 0, output
    assert "Traceback" not in output
    record = _record(run)
    assert record["reason"] == "signal" and record["signal"] == "SIGTERM" and record["processes"] == 2
    step = record["step"]
    assert [_trace(tmp_path, rank)[-1]["step"] for rank in (0, 1)] == [step, step]
    assert load_checkpoint(run / "last.pt")["step"] == step == len(read_losses(run))
    assert f"stopped by SIGTERM after step {step}" in output


@pytest.mark.slow  # torchrun, 2 processes, then one process resumes
def test_second_sigterm_during_the_save_waits_for_it_and_the_run_resumes(photos, tmp_path):
    run = tmp_path / "run"
    proc = _start(TORCHRUN + ["--shutdown-timeout", "120"], _args(photos, run, "--iters", 100000), tmp_path,
                  DRIVER_HOLD_SAVE="1")
    _wait_for(_logged_steps(run, 2), "2 logged steps", proc)
    os.kill(proc.pid, 15)  # to torchrun, which passes it on to both workers
    _wait_for((tmp_path / "saving").exists, "the save", proc)  # rank 0 is writing last.pt, and waits
    os.kill(int((tmp_path / "pid0").read_text()), 15)
    _wait_for(lambda: "already stopping" in (tmp_path / "output.txt").read_text(), "the second signal", proc)
    (tmp_path / "go").touch()
    output = _finish(proc, tmp_path)
    assert proc.returncode == 1, output  # torchrun's own status after it passed a signal on (README)
    assert "SignalException" in output and "[rank" not in output  # its traceback, none of a worker
    record = _record(run)
    assert record["reason"] == "signal" and record["signal"] == "SIGTERM"
    step = record["step"]
    assert load_checkpoint(run / "last.pt")["step"] == step == len(read_losses(run))
    assert sorted(p.name for p in run.glob("last.pt*")) == ["last.pt"]  # no temporary file left

    # the same command with --resume auto continues it, here on one process computing both shards
    resumed = tmp_path / "resumed"
    resumed.mkdir()
    again = _start([], _args(photos, run, "--iters", step + 1, "--resume", "auto"), resumed)
    output = _finish(again, resumed)
    assert again.returncode == 0, output
    assert "1 per shard x 2 shards" in output
    assert [r["step"] for r in read_losses(run)] == list(range(1, step + 2))
    record = _record(run)
    assert (record["reason"], record["signal"], record["step"], record["processes"]) == ("finished", None, step + 1, 1)
    assert _trace(resumed, 0)[0]["step"] == step + 1


def _files(run: Path) -> dict:
    return {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}


@pytest.mark.slow  # trains a few steps
def test_resume_auto_and_restarts_continue_only_their_own_run(photos, tmp_path, monkeypatch):
    run = tmp_path / "run"
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "launch-a")
    assert main(_args(photos, run, "--iters", 1, "--resume", "auto")) == 0  # no checkpoint: a new run
    assert main(_args(photos, run, "--iters", 2, "--resume", "auto")) == 0  # continued
    assert [r["step"] for r in read_losses(run)] == [1, 2] and _record(run)["step"] == 2

    before = _files(run)
    with pytest.raises(SystemExit, match=r"holds a run of another config \(optim.lr: 0.0001 -> 0.1\)"):
        main(_args(photos, run, "--iters", 3, "--resume", "auto", "--lr", "0.1"))
    with pytest.raises(SystemExit, match=r"another config \(data.size: 64 -> 128\)"):
        main(_args(photos, run, "--iters", 3, "--resume", "auto", "--size", "128"))
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "1")  # a torchrun restart, no --resume
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "launch-b")
    with pytest.raises(SystemExit, match="already has checkpoints of another launch"):
        main(_args(photos, run, "--iters", 3))
    assert _files(run) == before  # refusals write nothing

    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "launch-a")  # its own launch: continued
    assert main(_args(photos, run, "--iters", 3)) == 0
    assert [r["step"] for r in read_losses(run)] == [1, 2, 3]

    # a run that crashes leaves no record of a clean stop (the earlier one goes when it starts)
    def crash(self, x, mask):
        raise RuntimeError("crashed")

    monkeypatch.setattr(Trainer, "train_step", crash)
    with pytest.raises(RuntimeError, match="crashed"):
        main(_args(photos, run, "--iters", 4, "--resume", "auto"))
    assert not (run / "stop.json").exists() and load_checkpoint(run / "last.pt")["step"] == 3


def test_resume_takes_no_value_but_auto(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "--out", "r", "--resume", "always"])
    assert exc.value.code == 2 and "expected no value or 'auto'" in capsys.readouterr().err

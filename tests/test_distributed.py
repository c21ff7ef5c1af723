"""Data-parallel training (training/distributed.py): torchrun with 2 CPU
processes (gloo) on tiny generated photos, a run resumed on 2 processes and
on 1, and the sharding and process-group rules without processes."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from training.checkpoint import load_checkpoint
from training.config import DataConfig, MaskConfig
from training.data import BatchSource
from training.distributed import TRACE_ENV, Group, joined

from test_training_pipeline import SIZE, read_losses, write_toy_images

REPO = Path(__file__).resolve().parents[1]
ITERS = 4


def _train(args, trace: Path, processes: int) -> str:
    """``python -m training train ARGS`` in ``processes`` processes (torchrun
    when more than one), tracing every step into ``trace``; its output."""
    launcher = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes)]
    launcher = launcher if processes > 1 else []
    cmd = [sys.executable, *launcher, "-m", "training", "train", *map(str, args), "--threads", "1", "--no-progress"]
    env = dict(os.environ, **{TRACE_ENV: str(trace)}, OMP_NUM_THREADS="1")
    done = subprocess.run(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout
    return done.stdout


def _trace(folder: Path, rank: int):
    return [json.loads(line) for line in (folder / f"rank{rank}.jsonl").read_text().splitlines()]


def _resumed(run: Path, snapshot: Path, trace: Path, processes: int):
    """A copy of the run's step-2 snapshot resumed to ITERS steps: (its losses, last.pt, output)."""
    run.mkdir()
    shutil.copyfile(snapshot, run / "last.pt")
    output = _train(["--out", run, "--resume", "--iters", ITERS], trace, processes)
    return read_losses(run), load_checkpoint(run / "last.pt"), output


@pytest.mark.slow  # starts torchrun and trains three times
def test_two_processes_train_their_own_shards_in_step_and_resume_on_two_or_one(tmp_path):
    photos = write_toy_images(tmp_path / "photos")
    (tmp_path / "run.yaml").write_text("snapshot_every: 2\nval_every: 2\nval_count: 1\n")
    full = tmp_path / "full"
    output = _train(["--data", photos, "--out", full, "--size", SIZE, "--batch", 1, "--iters", ITERS,
                     "--config", tmp_path / "run.yaml", "--val-data", photos], tmp_path / "trace", 2)
    assert "effective batch 2 = 1 per process x 2 processes (gloo)" in output

    # each process its own samples, the same weights after every step (critic and gradient penalty included)
    ranks = [_trace(tmp_path / "trace", rank) for rank in (0, 1)]
    assert [[r["step"] for r in t] for t in ranks] == [list(range(1, ITERS + 1))] * 2
    assert [set(r["batches"]) for t in ranks for r in t] == [{"0"}] * ITERS + [{"1"}] * ITERS
    hashes = [h for t in ranks for r in t for h in r["batches"].values()]
    assert len(set(hashes)) == 2 * ITERS  # no batch seen twice, by either process
    assert [r["weights"] for r in ranks[0]] == [r["weights"] for r in ranks[1]]
    assert len({r["weights"] for r in ranks[0]}) == ITERS  # and they did move

    # rank 0 alone wrote the run folder: one line per step, one event file, one sample grid
    assert {p.name for p in full.iterdir()} == {"config.yaml", "last.pt", "step_00000002.pt", "step_00000004.pt",
                                                "losses.jsonl", "val.jsonl", "samples", "tb", "stop.json"}
    losses = read_losses(full)
    assert [r["step"] for r in losses] == list(range(1, ITERS + 1)) and "gp" in losses[0]
    assert [json.loads(line)["step"] for line in (full / "val.jsonl").read_text().splitlines()] == [2, 4]
    assert len(list((full / "samples").iterdir())) == 1 and len(list((full / "tb").iterdir())) == 1
    state = load_checkpoint(full / "last.pt")
    assert state["step"] == ITERS and state["config"]["shards"] == 2
    assert not [k for key in ("generator", "discriminator") for k in state[key] if k.startswith("module.")]

    # resumed on 2 processes: the same losses and weights, bit for bit
    snapshot = full / "step_00000002.pt"
    again, again_state, _ = _resumed(tmp_path / "two", snapshot, tmp_path / "trace2", 2)
    assert again == losses[2:]
    for key in ("generator", "discriminator"):
        assert all(torch.equal(state[key][k], again_state[key][k]) for k in state[key])

    # resumed on 1 process: it computes both shards of each step; the same within float32 rounding
    one, one_state, output = _resumed(tmp_path / "one", snapshot, tmp_path / "trace1", 1)
    assert "effective batch 2 = 1 per shard x 2 shards" in output
    traced = _trace(tmp_path / "trace1", 0)
    assert [r["batches"] for r in traced] == [{**ranks[0][s]["batches"], **ranks[1][s]["batches"]} for s in (2, 3)]
    assert [r["step"] for r in one] == [3, 4]
    for got, want in zip(one, losses[2:]):
        assert set(got) == set(want)
        for key, value in want.items():
            assert got[key] == pytest.approx(value, rel=1e-5, abs=1e-7), key
    for key in ("generator", "discriminator"):
        assert all(torch.allclose(state[key][k], one_state[key][k], rtol=0, atol=1e-6) for k in state[key])


def test_shards_of_a_step_are_their_own_and_shard_0_is_the_one_process_batch(tmp_path):
    write_toy_images(tmp_path, n=3)
    source = BatchSource(DataConfig(root=str(tmp_path), size=SIZE), MaskConfig(), 2, seed=3)
    x, m = source.batch(5, (0, 1))
    (x0, m0), (x1, m1) = source.batch(5), source.batch(5, (1,))
    assert x.shape[0] == 4 and torch.equal(x, torch.cat([x0, x1])) and torch.equal(m, torch.cat([m0, m1]))
    assert not torch.equal(x0, x1) and not torch.equal(m0, m1)
    assert torch.equal(source.batch(5, (1,))[0], x1)  # reproducible from the seed


def test_which_shards_a_process_computes():
    assert Group(rank=1, world_size=2).shards(2) == range(1, 2)
    assert Group().shards(3) == range(3)  # one process computes every shard of a 3-process run
    with pytest.raises(ValueError, match="runs on 4 processes or on 1, not on 2"):
        Group(rank=0, world_size=2).shards(4)
    with pytest.raises(ValueError, match=">= 1"):
        Group().shards(0)


def test_several_processes_take_one_gpu_each(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    with pytest.raises(ValueError, match="each takes cuda:LOCAL_RANK; pass --device cuda"):
        with joined("cuda:1"):
            pass
    monkeypatch.setenv("WORLD_SIZE", "1")
    with joined("cpu") as (group, device):
        assert group == Group() and device == torch.device("cpu")

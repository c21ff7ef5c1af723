"""Data loading, the training loop (loss goes down, exact resume, Ctrl-C),
run-directory safety, --init, and deterministic evaluation, on tiny images."""
import dataclasses
import json
import logging
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from training.__main__ import main
from training.checkpoint import load_checkpoint, load_generator, total_steps
from training.config import DataConfig, LossConfig, MaskConfig, ModelConfig, OptimConfig, TrainConfig, load_config
from training.data import BatchSource, PrefetchedBatches
from training.evaluate import METRICS
from training.train import RunDirError, Trainer, autocast_dtype, train

REPO = Path(__file__).resolve().parents[1]
SIZE = 64


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def write_toy_images(folder: Path, n: int = 8, side: int = 160, ext: str = ".png") -> Path:
    """Smooth gradients with a disc: easy to inpaint, so the loss can drop fast."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:side, 0:side] / side
    for i in range(n):
        a, b, c = rng.uniform(0.3, 1.0, 3)
        img = np.stack([yy * 255 * a, xx * 255 * b, (xx + yy) * 127 * c], -1).astype(np.uint8)
        centre = tuple(int(v) for v in rng.integers(side // 5, 4 * side // 5, 2))
        cv2.circle(img, centre, int(rng.integers(side // 10, side // 4)), [int(v) for v in rng.integers(0, 255, 3)], -1)
        cv2.imwrite(str(folder / f"img{i}{ext}"), img)
    return folder


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    return write_toy_images(tmp_path_factory.mktemp("photos"))


def tiny_config(root, iters, **kw):
    kw.setdefault("loss", LossConfig())
    return TrainConfig(data=DataConfig(root=str(root), size=SIZE), batch_size=kw.pop("batch_size", 2),
                       iters=iters, image_every=0, **kw)


def read_losses(run):
    return [{k: v for k, v in json.loads(line).items() if k != "sec"}
            for line in (Path(run) / "losses.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def trained_run(images, tmp_path_factory):
    run = tmp_path_factory.mktemp("run") / "r"
    train(tiny_config(images, 2), str(run), progress=False)
    return run


# ---------------------------------------------------------------- data

def test_empty_folder_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("no images here")
    (tmp_path / "vector.svg").write_text("<svg/>")
    with pytest.raises(ValueError, match=f"no usable image .* in {tmp_path}"):
        BatchSource(DataConfig(root=str(tmp_path), size=SIZE), MaskConfig(), 1, 0)
    assert main(["train", "--data", str(tmp_path), "--out", str(tmp_path / "run"), "--size", "64",
                 "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(tmp_path) in err[0] and err[0].startswith("error:")


def test_unreadable_files_are_skipped_with_one_warning(tmp_path, caplog):
    write_toy_images(tmp_path, n=2)
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 truncated")
    src = BatchSource(DataConfig(root=str(tmp_path), size=SIZE), MaskConfig(), 4, 0)
    with caplog.at_level(logging.WARNING):
        for step in range(10):
            x, _ = src.batch(step)
            assert torch.isfinite(x).all()
    hits = [r for r in caplog.records if "broken.jpg" in r.getMessage()]
    assert len(hits) == 1 and hits[0].levelno == logging.WARNING


def test_batches_are_a_function_of_seed_and_step(tmp_path):
    write_toy_images(tmp_path / "sub" / "deeper", n=3, side=100, ext=".PNG")  # recursive, upper case, small
    src = BatchSource(DataConfig(root=str(tmp_path), size=128), MaskConfig(), 3, seed=7)
    again = BatchSource(DataConfig(root=str(tmp_path), size=128), MaskConfig(), 3, seed=7)
    x, m = src.batch(5)
    assert x.shape == (3, 3, 128, 128) and m.shape == (3, 1, 128, 128)
    assert x.min() >= -1 and x.max() <= 1 and set(torch.unique(m).tolist()) <= {0.0, 1.0}
    x2, m2 = again.batch(5)
    assert torch.equal(x, x2) and torch.equal(m, m2)
    assert not torch.equal(x, src.batch(6)[0])
    assert not torch.equal(m[0], m[1])  # one mask per sample by default
    lo, hi = MaskConfig().hole_ratio
    assert all(lo <= r <= hi for r in m.mean(dim=(1, 2, 3)).tolist())


# ---------------------------------------------------------------- training loop

@pytest.mark.slow  # trains
def test_training_lowers_the_reconstruction_loss(images, tmp_path):
    """The loop learns: the release design (zeros in the hole) drops its
    loss within 30 steps; the default pre-fill design starts where that
    one has not arrived yet, from the classical fill."""
    recon = {}
    for prefill in (False, True):
        cfg = tiny_config(images, 30, batch_size=4, loss=LossConfig(adv_weight=0.0), optim=OptimConfig(lr=1e-3),
                          model=ModelConfig(prefill=prefill))
        run = tmp_path / "run{}".format(int(prefill))
        train(cfg, str(run), progress=False)
        losses = read_losses(run)
        assert len(losses) == 30 and "g_adv" not in losses[0] and "d" not in losses[0]
        recon[prefill] = np.array([row["l1"] for row in losses])
        state = load_checkpoint(run / "last.pt")
        assert state["step"] == 30 and "discriminator" not in state
    assert recon[False][-6:].mean() < 0.8 * recon[False][:6].mean()
    assert recon[True][:6].mean() < 0.5 * recon[False][-6:].mean()


@pytest.mark.slow  # trains
def test_resumed_run_equals_uninterrupted_run(images, tmp_path):
    full, split = tmp_path / "full", tmp_path / "split"
    train(tiny_config(images, 4), str(full), progress=False)
    train(tiny_config(images, 2), str(split), progress=False)
    state = load_checkpoint(split / "last.pt")
    assert state["step"] == 2
    assert {"generator", "discriminator", "optim_g", "optim_d", "rng", "config"} <= set(state)
    train(tiny_config(images, 4), str(split), resume=True, progress=False)
    a, b = read_losses(full), read_losses(split)
    assert [r["step"] for r in b] == [1, 2, 3, 4]
    assert a == b  # bitwise: every loss of every step
    ga, gb = load_checkpoint(full / "last.pt"), load_checkpoint(split / "last.pt")
    for key in ("generator", "discriminator"):
        assert all(torch.equal(ga[key][k], gb[key][k]) for k in ga[key])


@pytest.mark.slow  # trains, with worker processes
def test_batches_prepared_by_workers_are_the_same(images, tmp_path):
    """--workers changes where batches are made, not which: same batches
    (also after a jump back), same losses, same weights."""
    source = BatchSource(DataConfig(root=str(images), size=SIZE), MaskConfig(), 2, seed=3)
    with PrefetchedBatches(source, 2) as batches:
        for step in (0, 1, 2, 5, 1):
            (x, m), (x2, m2) = batches.batch(step), source.batch(step)
            assert torch.equal(x, x2) and torch.equal(m, m2)
        (x, m), (x2, m2) = batches.batch(6, (0, 1)), source.batch(6, (0, 1))  # a step's two shards
        assert x.shape[0] == 4 and torch.equal(x, x2) and torch.equal(m, m2)
    with pytest.raises(ValueError, match="workers"):
        PrefetchedBatches(source, 0)
    train(tiny_config(images, 3), str(tmp_path / "a"), progress=False)
    train(tiny_config(images, 3), str(tmp_path / "b"), progress=False, workers=2)
    assert read_losses(tmp_path / "a") == read_losses(tmp_path / "b")
    ga, gb = load_checkpoint(tmp_path / "a" / "last.pt"), load_checkpoint(tmp_path / "b" / "last.pt")
    assert all(torch.equal(ga["generator"][k], gb["generator"][k]) for k in ga["generator"])


STOP_DURING_WORKER_START = """
import os, signal, sys, threading
import torch
from training.config import DataConfig, MaskConfig
from training.data import BatchSource, PrefetchedBatches
stops = []
signal.signal(signal.SIGINT, lambda *_: stops.append(1))
source = BatchSource(DataConfig(root=sys.argv[1], size=64), MaskConfig(), 2, seed=3)
with PrefetchedBatches(source, 2) as batches:
    # 0.3 s after the workers are spawned: they are still importing torch
    threading.Timer(0.3, os.killpg, (0, signal.SIGINT)).start()
    for step in range(4):
        (x, m), (x2, m2) = batches.batch(step), source.batch(step)
        assert torch.equal(x, x2) and torch.equal(m, m2)
print("stops", len(stops))
"""


@pytest.mark.slow  # starts processes
def test_stop_signal_while_workers_start_reaches_only_the_trainer(images):
    """Ctrl-C to the process group while the batch workers are still starting
    (importing torch, before they can ignore it) neither kills a worker nor
    is lost: the trainer's handler gets it, the batches still come."""
    proc = subprocess.run([sys.executable, "-c", STOP_DURING_WORKER_START, str(images)], cwd=REPO,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120,
                          start_new_session=True)
    assert proc.returncode == 0 and proc.stdout.strip().endswith("stops 1"), proc.stdout


@pytest.mark.slow  # trains (trained_run)
def test_run_dir_is_never_overwritten(trained_run, images, tmp_path):
    with pytest.raises(RunDirError, match="already has checkpoints"):
        train(tiny_config(images, 3), str(trained_run), progress=False)
    with pytest.raises(RunDirError, match="no last.pt"):
        train(tiny_config(images, 3), str(tmp_path / "fresh"), resume=True, progress=False)
    assert (trained_run / "config.yaml").is_file()
    stored = load_config(str(trained_run / "config.yaml"))
    assert stored == dataclasses.replace(tiny_config(images, 2), shards=1)  # one shard: one process


@pytest.mark.slow  # starts a training process
@pytest.mark.parametrize("workers", [0, 2])
def test_ctrl_c_saves_and_resume_continues(images, tmp_path, workers):
    """Ctrl-C (SIGINT to the whole process group, batch workers included)
    saves, records the clean stop and exits 0; --resume continues."""
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "training", "train", "--data", str(images), "--out", str(run), "--size", "64",
           "--batch", "1", "--iters", "100000", "--threads", "1", "--adv-weight", "0", "--no-progress",
           "--workers", str(workers)]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    log = run / "losses.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and not (log.exists() and log.read_text().count("\n") >= 2):
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, output
    steps = len(log.read_text().splitlines())
    assert "Traceback" not in output and f"stopped by SIGINT after step {steps}" in output
    assert load_checkpoint(run / "last.pt")["step"] == steps >= 2
    stop = json.loads((run / "stop.json").read_text())
    assert (stop["reason"], stop["signal"], stop["step"]) == ("signal", "SIGINT", steps)
    # Resuming with a changed learning rate is refused; more iterations are fine.
    with pytest.raises(SystemExit, match="cannot change --lr"):
        main(["train", "--out", str(run), "--resume", "--lr", "0.1"])
    assert main(["train", "--out", str(run), "--resume", "--iters", str(steps + 1), "--no-progress"]) == 0
    assert load_checkpoint(run / "last.pt")["step"] == steps + 1
    assert json.loads((run / "stop.json").read_text())["reason"] == "finished"


@pytest.mark.slow  # trains
def test_init_starts_a_new_run_from_checkpoint_weights(trained_run, images, tmp_path):
    train(tiny_config(images, 0), str(tmp_path / "new"), init=str(trained_run / "last.pt"), progress=False)
    old, new = load_checkpoint(trained_run / "last.pt"), load_checkpoint(tmp_path / "new" / "last.pt")
    assert new["step"] == 0 and new["init_from"]["step"] == 2
    for key in ("generator", "discriminator"):
        assert all(torch.equal(old[key][k], new[key][k]) for k in old[key])
    assert not new["optim_g"]["state"]  # fresh optimiser


@pytest.mark.slow  # trains
def test_total_steps_add_up_over_a_chain_of_init_runs(trained_run, images, tmp_path):
    second, third = tmp_path / "second", tmp_path / "third"
    train(tiny_config(images, 1), str(second), init=str(trained_run / "last.pt"), progress=False)
    train(tiny_config(images, 1), str(third), init=str(second / "last.pt"), progress=False)
    assert total_steps(load_checkpoint(second / "last.pt")) == 1 + 2
    _, meta = load_generator(third / "last.pt")
    assert meta["step"] == 1 and meta["total_steps"] == 1 + 1 + 2


@pytest.mark.slow  # trains
def test_config_file_and_flags_override_defaults(images, tmp_path):
    yaml_file = tmp_path / "over.yaml"
    yaml_file.write_text("optim: {lr: 0.0005, d_steps: 1}\nmask: {hole_ratio: [0.1, 0.2]}\nimage_every: 1\n"
                         "val_every: 1\nval_count: 2\n")
    run = tmp_path / "run"
    assert main(["train", "--data", str(images), "--out", str(run), "--size", "64", "--batch", "1",
                 "--iters", "1", "--config", str(yaml_file), "--d-steps", "2", "--val-data", str(images),
                 "--no-progress"]) == 0
    cfg = load_config(str(run / "config.yaml"))
    assert cfg.optim.lr == 0.0005 and cfg.optim.d_steps == 2 and cfg.mask.hole_ratio == (0.1, 0.2)
    val = json.loads((run / "val.jsonl").read_text())
    assert val["step"] == 1 and val["count"] == 2 and set(METRICS) <= set(val)
    grid = cv2.imread(str(run / "samples" / "step_00000001.jpg"))
    assert grid.shape == (SIZE, 4 * SIZE, 3)
    assert any((run / "tb").iterdir())
    yaml_file.write_text("optim: {learning_rate: 1}\n")
    with pytest.raises(ValueError, match="unknown key.*learning_rate"):
        load_config(str(yaml_file))


def test_amp_on_cpu_is_a_no_op_with_a_warning():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert autocast_dtype(torch.device("cpu"), True) is None
    assert any("--amp" in str(w.message) for w in caught)
    assert autocast_dtype(torch.device("cpu"), False) is None


@pytest.mark.slow  # training steps
def test_bf16_autocast_step_matches_float32(images):
    """The --amp path (bf16 autocast, run on CUDA) exercised here through
    CPU autocast: generator, critic and gradient penalty run under it, and
    one step's losses agree with float32."""
    cfg = tiny_config(images, 1, batch_size=1, loss=LossConfig(adv_weight=0.001), optim=OptimConfig(d_steps=1))
    batch = BatchSource(cfg.data, cfg.mask, 1, seed=0).batch(0)
    losses = []
    for dtype in (None, torch.bfloat16):
        trainer = Trainer(cfg, torch.device("cpu"))
        trainer.amp_dtype = dtype
        losses.append(trainer.train_step(*batch))
    fp32, bf16 = losses
    assert set(fp32) == set(bf16) >= {"l1", "ae", "g_adv", "d", "gp", "total"}
    assert any(bf16[key] != fp32[key] for key in fp32)  # autocast did run in bf16
    for key in ("l1", "ae", "total", "d"):
        assert bf16[key] == pytest.approx(fp32[key], rel=2e-2), key


# ---------------------------------------------------------------- evaluation

@pytest.mark.slow  # trains (trained_run)
def test_evaluate_is_deterministic_and_writes_json(trained_run, images, tmp_path, capsys):
    outs = [tmp_path / "a.json", tmp_path / "b.json"]
    for out in outs:
        assert main(["evaluate", "--checkpoint", str(trained_run / "last.pt"), "--data", str(images),
                     "--size", "64", "--count", "3", "--seed", "5", "--json", str(out)]) == 0
    a, b = (json.loads(p.read_text()) for p in outs)
    assert a == b
    assert set(METRICS) <= set(a) and a["count"] == 3 and a["step"] == 2 and a["ms_ssim_scales"] == 3
    assert 0 < a["l1"] < a["l1_hole"] < 1 and 0 < a["ssim"] < 1 and 0 < a["ms_ssim"] < 1 and a["psnr"] > 0
    table = capsys.readouterr().out
    assert "L1 in hole" in table and "MS-SSIM" in table and "PSNR" in table
    other = tmp_path / "c.json"
    main(["evaluate", "--checkpoint", str(trained_run / "last.pt"), "--data", str(images), "--size", "64",
          "--count", "3", "--seed", "6", "--json", str(other)])
    assert json.loads(other.read_text())["l1_hole"] != a["l1_hole"]


@pytest.mark.slow  # trains (trained_run)
def test_evaluate_host_baselines_on_the_same_samples(trained_run, images, tmp_path):
    results = {}
    for name in ("navier_stokes", "telea", "patches"):
        out = tmp_path / f"{name}.json"
        assert main(["evaluate", "--baseline", name, "--data", str(images), "--size", "64", "--count", "3",
                     "--seed", "5", "--json", str(out)]) == 0
        results[name] = json.loads(out.read_text())
    ns, telea, patches = results["navier_stokes"], results["telea"], results["patches"]
    assert ns["baseline"] == "navier_stokes" and "checkpoint" not in ns
    assert 0 < ns["l1_hole"] < 0.5 and ns["l1_hole"] != telea["l1_hole"] != patches["l1_hole"]
    for result in results.values():  # the distribution and edge scores of the hole
        assert result["swd"] > 0 and 0 <= result["edge_f1"] <= 1
    # a checkpoint and a baseline are exclusive, and one of them is needed
    with pytest.raises(SystemExit):
        main(["evaluate", "--baseline", "telea", "--checkpoint", str(trained_run / "last.pt"), "--data", str(images)])
    with pytest.raises(SystemExit):
        main(["evaluate", "--data", str(images)])

"""Median training-step time of the HiFill trainer.

One step = the configured critic steps (``--d-steps``, default 3) plus one
generator step, as ``training.train.Trainer.train_step`` runs it; data loading
is excluded (a fixed random batch). For every size and batch size it times
the default recipe (adversarial weight 0.001) and ``--adv-weight 0`` (no
critic), and prints the medians and their ratio, measured in the same run.

    nice -n 10 .venv/bin/python scripts/bench_train_step.py [--sizes 256 512] [--batches 1 4]
        [--steps 3] [--warmup 1] [--threads N] [--device cpu|cuda] [--amp]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.config import DataConfig, LossConfig, OptimConfig, TrainConfig  # noqa: E402
from training.masks import rectangle_mask  # noqa: E402
from training.train import Trainer  # noqa: E402


def median_step(size: int, batch: int, adv: float, d_steps: int, steps: int, warmup: int, device: str,
                amp: bool) -> float:
    """Median seconds of ``steps`` timed train steps after ``warmup`` untimed ones."""
    cfg = TrainConfig(data=DataConfig(size=size), batch_size=batch, loss=LossConfig(adv_weight=adv),
                      optim=OptimConfig(d_steps=d_steps), amp=amp)
    trainer = Trainer(cfg, torch.device(device))
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(batch, 3, size, size, generator=gen) * 2 - 1
    mask = torch.from_numpy(np.stack([rectangle_mask(np.random.default_rng(i), size, 0.2, 0.3)
                                      for i in range(batch)])[:, None])
    times = []
    for i in range(warmup + steps):
        if device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        trainer.train_step(x, mask)
        if device == "cuda":
            torch.cuda.synchronize()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    p.add_argument("--batches", type=int, nargs="+", default=[1, 4])
    p.add_argument("--steps", type=int, default=3, help="timed steps per case (median reported)")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--d-steps", type=int, default=3)
    p.add_argument("--adv-weight", type=float, default=0.001, help="weight of the critic case")
    p.add_argument("--threads", type=int, help="torch.set_num_threads")
    p.add_argument("--device", default="cpu")
    p.add_argument("--amp", action="store_true")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"device {args.device}, torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"d_steps {args.d_steps}, amp {args.amp}, {args.steps} timed steps after {args.warmup} warm-up")
    print(f"{'size':>5} {'batch':>5} {'adv=' + str(args.adv_weight) + ' s':>14} {'adv=0 s':>9} {'ratio':>6}")
    for size in args.sizes:
        for batch in args.batches:
            with_d = median_step(size, batch, args.adv_weight, args.d_steps, args.steps, args.warmup,
                                 args.device, args.amp)
            no_d = median_step(size, batch, 0.0, args.d_steps, args.steps, args.warmup, args.device, args.amp)
            print(f"{size:>5} {batch:>5} {with_d:>14.3f} {no_d:>9.3f} {with_d / no_d:>6.2f}", flush=True)


if __name__ == "__main__":
    main()

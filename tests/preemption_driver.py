"""``python -m training`` with faults placed exactly, for tests/test_preemption.py
(run as a script, by torchrun too, with the repository on PYTHONPATH).

Environment (all optional):
  DRIVER_DIR        each process writes its pid into DIR/pid<RANK>
  DRIVER_CRASH_AT   N: rank 1 of torchrun's first start dies by SIGKILL as
                    it begins the step after step N (restarts do not)
  DRIVER_HOLD_SAVE  1: rank 0 writes DIR/saving as its first checkpoint
                    write begins, and finishes it once DIR/go exists
"""
import os
import signal
import sys
import time
from pathlib import Path

import torch

from training import train
from training.__main__ import main

folder = Path(os.environ.get("DRIVER_DIR", "."))
rank = os.environ.get("RANK", "0")
if "DRIVER_DIR" in os.environ:
    (folder / f"pid{rank}").write_text(str(os.getpid()))

crash_at = os.environ.get("DRIVER_CRASH_AT")
if crash_at and rank == "1" and os.environ.get("TORCHELASTIC_RESTART_COUNT") == "0":
    train_step = train.Trainer.train_step

    def crashing_step(self, x, mask):
        if self.step == int(crash_at):
            os.kill(os.getpid(), signal.SIGKILL)
        return train_step(self, x, mask)

    train.Trainer.train_step = crashing_step

if os.environ.get("DRIVER_HOLD_SAVE") and rank == "0":
    save = torch.save
    held = []

    def held_save(obj, f, *args, **kwargs):
        save(obj, f, *args, **kwargs)  # written to the temporary file; not yet renamed into place
        if not held:
            held.append(1)
            (folder / "saving").write_text("")
            deadline = time.monotonic() + 300
            while not (folder / "go").exists() and time.monotonic() < deadline:
                time.sleep(0.01)

    torch.save = held_save

sys.exit(main(sys.argv[1:]))

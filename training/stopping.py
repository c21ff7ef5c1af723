"""Stopping a training run cleanly: SIGINT/SIGTERM, and the record of a clean end.

A stop signal (Ctrl-C, a scheduler's or a spot machine's SIGTERM, torchrun
passing one on) only sets a flag: the trainer finishes its step, every
process of a data-parallel run agreeing on the same one, rank 0 saves
RUN_DIR/last.pt, and each process returns normally (the CLI exits 0).
Further signals meanwhile change nothing, so a save is never cut short
(checkpoints are atomic besides: even SIGKILL leaves the previous one).

``RUN_DIR/stop.json`` records a clean end, written after the last save::

    {"reason": "signal" or "finished", "signal": "SIGTERM" or null, "step": 120,
     "iters": 300000, "processes": 2, "checkpoint": "last.pt", "time": "...Z"}

and removed when a run starts or resumes: without it the run is running,
or ended otherwise (a crash, SIGKILL), whatever a launcher's exit status says.
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterator, Optional

from edge_app.atomic import atomic_path

STOP_RECORD = "stop.json"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _say(text: str) -> None:
    """One line on stderr from a signal handler: unbuffered, no lock a
    half-done print in the interrupted code could hold."""
    with contextlib.suppress(OSError):
        os.write(2, (text + "\n").encode())


def signal_name(signum: int) -> Optional[str]:
    """``SIGTERM`` for 15; None for 0 (no signal)."""
    return signal.Signals(signum).name if signum else None


class StopSignals:
    """SIGINT/SIGTERM set ``signum`` (the first one's number), read between steps."""

    def __init__(self) -> None:
        self.signum = 0
        self._old: Dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        name = signal_name(signum)
        if self.signum:
            _say(f"{name}: already stopping after this step and saving; wait for the save "
                 "(SIGKILL would abort: the last saved checkpoint stays)")
            return
        self.signum = signum
        _say(f"{name}: stopping after this step and saving")

    @contextlib.contextmanager
    def installed(self) -> Iterator["StopSignals"]:
        """The handlers meanwhile (main thread only: elsewhere signals keep their handlers)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        for sig in STOP_SIGNALS:
            self._old[sig] = signal.signal(sig, self._handle)
        try:
            yield self
        finally:
            for sig, old in self._old.items():
                signal.signal(sig, old)


def clear_stop_record(run_dir: Path) -> None:
    """Remove RUN_DIR/stop.json: a run (re)starting has not ended cleanly yet."""
    with contextlib.suppress(FileNotFoundError):
        (run_dir / STOP_RECORD).unlink()


def write_stop_record(run_dir: Path, step: int, iters: int, signame: Optional[str], processes: int,
                      checkpoint: str) -> Path:
    """Record a clean end (after the save of ``checkpoint``), atomically."""
    record = {"reason": "signal" if signame else "finished", "signal": signame, "step": step, "iters": iters,
              "processes": processes, "checkpoint": checkpoint,
              "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    path = run_dir / STOP_RECORD
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(record) + "\n")
    return path

"""Data-parallel training on PyTorch's own engine: torchrun and DistributedDataParallel.

``torchrun --nproc_per_node N -m training train ...`` starts N processes
(several machines: torchrun's rendezvous flags on each); :func:`joined`
reads the variables torchrun sets (RANK, WORLD_SIZE, LOCAL_RANK,
MASTER_ADDR, MASTER_PORT) and joins the process group: ``nccl`` on CUDA,
each process on its ``cuda:LOCAL_RANK``, ``gloo`` on the CPU. Without them
(or with one process) it is a plain one-process run.

Each step's batch is ``TrainConfig.shards`` shards of ``batch_size``
samples, shard r drawn from the seed on its own (training/data.py): process
r computes shard r, and DistributedDataParallel averages the gradients, so
the effective batch is ``batch_size x shards``. A single process can
compute every shard of a step itself (:meth:`Group.shards`), which is how a
checkpoint of an N-process run continues on one. Every random draw of a
step comes from (seed, step, shard) generators: no process has RNG state
of its own to save. Rank 0 alone writes the run folder.

torchrun ``--max-restarts N`` starts every process again when one fails;
:func:`torchrun_restart_count` tells a restarted process so (the CLI then
continues the run's own last checkpoint, see training/__main__.py), and
:func:`torchrun_run_id` names the launch a checkpoint was written under.

``HIFILL_TRAIN_TRACE=DIR`` (a debugging aid, off by default) makes every
process append one JSON line per step to DIR/rank<R>.jsonl (:class:`StepTrace`).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, Optional, Sequence, Tuple

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

TRACE_ENV = "HIFILL_TRAIN_TRACE"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Group:
    """This process's place in a data-parallel run (the default: the only process)."""

    rank: int = 0
    world_size: int = 1
    backend: str = ""

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes checkpoints, logs, samples and validation."""
        return self.rank == 0

    def shards(self, total: int) -> range:
        """The shards of each step this process computes: its own of ``total``
        (one per process), or all of them when it is the only process."""
        if total < 1:
            raise ValueError(f"shards must be >= 1, got {total}")
        if total == self.world_size:
            return range(self.rank, self.rank + 1)
        if self.world_size == 1:
            return range(total)
        raise ValueError(f"a run of {total} shards per step runs on {total} processes or on 1, "
                         f"not on {self.world_size}")

    def wrap(self, module: nn.Module, device: torch.device) -> nn.Module:
        """``module`` in DistributedDataParallel when there are several processes, else itself."""
        if self.world_size == 1:
            return module
        return DistributedDataParallel(module, device_ids=[device.index] if device.type == "cuda" else None)

    def mean(self, values: Dict[str, float], device: torch.device) -> Dict[str, float]:
        """The mean of every process's ``values`` (the same keys on each)."""
        if self.world_size == 1:
            return values
        keys = sorted(values)
        t = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=device)
        dist.all_reduce(t)
        return {k: v / self.world_size for k, v in zip(keys, t.tolist())}

    def largest(self, value: int, device: torch.device) -> int:
        """The largest of every process's ``value``, on every process (a stop
        signal's number, 0 for none: one process's signal stops them all)."""
        if self.world_size == 1:
            return value
        t = torch.tensor([value], dtype=torch.int64, device=device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return int(t.item())

    def describe(self, batch_size: int, shards: int) -> str:
        """The effective batch in words, for the log."""
        total = batch_size * shards
        if self.world_size > 1:
            return (f"effective batch {total} = {batch_size} per process x {self.world_size} processes "
                    f"({self.backend})")
        if shards > 1:
            return (f"effective batch {total} = {batch_size} per shard x {shards} shards, all in this "
                    f"process (their gradients averaged)")
        return f"effective batch {total} (one process)"


@contextmanager
def joined(device: str) -> Iterator[Tuple[Group, torch.device]]:
    """The process group torchrun's environment describes, and this process's device.

    One process (no WORLD_SIZE, or 1): no group, ``device`` as given.
    Several: ``--device cuda`` means ``cuda:LOCAL_RANK`` (an explicit index
    is refused), the group is ``nccl``; on the CPU ``gloo``.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    dev = torch.device(device)
    if world <= 1:
        yield Group(), dev
        return
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    backend = "gloo"
    if dev.type == "cuda":
        if dev.index is not None:
            raise ValueError(f"--device {device}: with several processes each takes cuda:LOCAL_RANK; "
                             "pass --device cuda")
        if local >= torch.cuda.device_count():
            raise ValueError(f"LOCAL_RANK {local}: this machine has {torch.cuda.device_count()} CUDA device(s)")
        dev, backend = torch.device("cuda", local), "nccl"
        torch.cuda.set_device(dev)
    if rank == 0 and torchrun_restart_count() == 0 and _restarts_share_a_store():
        log.warning("torchrun --max-restarts with its shared rendezvous store: a restart may fail to connect "
                    "(a store of the first start's addresses); start torchrun with "
                    "TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1 (README, Train)")
    dist.init_process_group(backend)
    try:
        yield Group(rank, world, backend), dev
    finally:
        dist.destroy_process_group()


def _restarts_share_a_store() -> bool:
    """Restarts allowed, and torchrun's workers on the store its agent keeps
    from one start to the next (PyTorch 2.13 here: restarts then failed to
    connect 8 times in 12, and never in 17 with the store not shared)."""
    return int(os.environ.get("TORCHELASTIC_MAX_RESTARTS") or 0) > 0 and \
        os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True"


def torchrun_restart_count() -> int:
    """How often torchrun has restarted this process's group (0: its first start, or no torchrun)."""
    return int(os.environ.get("TORCHELASTIC_RESTART_COUNT") or 0)


def torchrun_run_id() -> Optional[str]:
    """torchrun's id of this launch (a fresh one per ``--standalone`` launch,
    ``--rdzv-id`` otherwise); None outside torchrun."""
    return os.environ.get("TORCHELASTIC_RUN_ID") or None


def _digest(tensors: Sequence[torch.Tensor]) -> str:
    h = hashlib.sha256()
    for t in tensors:
        h.update(t.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


class StepTrace:
    """One JSON line per step of this process in ``$HIFILL_TRAIN_TRACE/rank<R>.jsonl``:
    ``step``, ``rank``, ``batches`` (shard -> sha256 of its images and masks)
    and ``weights`` (sha256 of the generator's and critic's parameters after
    the step). Shows which samples each process trained on and that the
    processes keep identical weights. ``None`` from :meth:`from_env` when unset."""

    def __init__(self, folder: Path, rank: int) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"rank{rank}.jsonl"
        self.rank = rank

    @classmethod
    def from_env(cls, group: Group) -> Optional["StepTrace"]:
        folder = os.environ.get(TRACE_ENV)
        return cls(Path(folder), group.rank) if folder else None

    def record(self, step: int, shards: Sequence[int], x: torch.Tensor, mask: torch.Tensor,
               modules: Sequence[Optional[nn.Module]]) -> None:
        """``x``, ``mask``: the step's batch of this process, its ``shards`` one after the other."""
        parts = zip(shards, x.chunk(len(shards)), mask.chunk(len(shards)))
        line = {"step": step, "rank": self.rank, "batches": {str(s): _digest([xs, ms]) for s, xs, ms in parts},
                "weights": _digest([p for m in modules if m is not None for p in m.parameters()])}
        with open(self.path, "a") as f:
            f.write(json.dumps(line) + "\n")

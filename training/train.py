"""The training loop: WGAN-GP inpainting training of the HiFill generator.

One G step (``cfg.optim.d_steps`` critic updates then one generator update)
per batch. To save compute, the critic steps reuse the batch and the
generator's forward pass of that step (the fake is detached): one generator
forward per step instead of ``d_steps + 1``. With ``loss.adv_weight == 0``
there is no critic at all.

Run directory layout::

    RUN_DIR/config.yaml        the full TrainConfig of the run
    RUN_DIR/last.pt            latest checkpoint (atomic), what --resume reads
    RUN_DIR/step_XXXXXXXX.pt   snapshots every cfg.snapshot_every steps
    RUN_DIR/stop.json          written on a clean end (finished, or a stop signal), see stopping.py
    RUN_DIR/losses.jsonl       one JSON line per logged step
    RUN_DIR/val.jsonl          validation metrics (with --val-data)
    RUN_DIR/samples/*.jpg      input with hole | coarse | refined | truth
    RUN_DIR/tb/                TensorBoard scalars and image grids

A batch is a function of (seed, step) and every random draw of a step comes
from per-step generators, so a resumed run reproduces the uninterrupted one.
Under torchrun every process trains its shard of each step's batch through
DistributedDataParallel and rank 0 alone writes the run directory
(training/distributed.py). SIGINT/SIGTERM stop every process after the same
step, with a save (training/stopping.py).
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import random
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import cv2
import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from .checkpoint import load_checkpoint, model_config_from, save_checkpoint, total_steps
from .config import TrainConfig, config_to_yaml
from .data import BatchSource, PrefetchedBatches, step_rng
from .discriminator import Discriminator
from .distributed import Group, StepTrace, torchrun_run_id
from .losses import attention_losses, critic_loss, generator_losses
from .model import build_generator
from .stopping import StopSignals, clear_stop_record, signal_name, write_stop_record

log = logging.getLogger(__name__)

LAST = "last.pt"
#: Generator parameters a checkpoint may lack, by name prefix: the learned
#: softmax scale and the attention head start where the network is the one
#: without them (see Trainer.load_weights); also what stage "attention" trains.
ATTENTION_PARAMETERS = ("refine.acm.scale_logit", "refine.acm.embed.")
STAGES = ("all", "attention")


class RunDirError(RuntimeError):
    """A run directory that cannot be used as asked (overwrite, missing resume)."""


def existing_checkpoints(run_dir: Path) -> List[Path]:
    """Checkpoint files already in ``run_dir``."""
    return sorted(run_dir.glob("*.pt")) if run_dir.is_dir() else []


def autocast_dtype(device: torch.device, amp: bool) -> Optional[torch.dtype]:
    """bf16 autocast on a CUDA device with bf16, None (fp32) otherwise.

    ``amp`` on the CPU is a no-op with a warning; on a GPU without bf16 it is
    an error (fp16 would need loss scaling through the gradient penalty).
    """
    if not amp:
        return None
    if device.type != "cuda":
        warnings.warn("--amp has no effect on the CPU; training in float32")
        return None
    if not torch.cuda.is_bf16_supported():
        raise RuntimeError("--amp needs a GPU with bfloat16 support (Ampere or newer)")
    return torch.bfloat16


class _AttentionPass(nn.Module):
    """Stage "attention"'s pass of a generator as a module's forward (what DDP wraps)."""

    def __init__(self, g: nn.Module) -> None:
        super().__init__()
        self.g = g

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.g.attention(x, mask)


class Trainer:
    """Generator, optional critic, their optimisers, and one training step.

    ``g`` and ``d`` are the plain modules (checkpoints, validation); the
    step runs them through ``g_step`` and ``d_step``, their DDP wrappers
    under torchrun. The critic in the generator's loss is the plain one:
    its weights do not move there, nothing of it is all-reduced."""

    def __init__(self, cfg: TrainConfig, device: torch.device, group: Group = Group()) -> None:
        cfg = dataclasses.replace(cfg, shards=cfg.shards or group.world_size)
        self.cfg = cfg
        self.device = device
        self.group = group
        self.shards = group.shards(cfg.shards)
        torch.manual_seed(cfg.seed)
        if cfg.stage not in STAGES:
            raise ValueError(f"stage must be one of {', '.join(STAGES)}, got {cfg.stage!r}")
        self.g = build_generator(cfg.model).to(device)
        self.attention_only = cfg.stage == "attention"
        if self.attention_only:
            trained = [p for n, p in self.g.named_parameters() if n.startswith(ATTENTION_PARAMETERS)]
            if not trained or cfg.loss.attention_weight <= 0:
                raise ValueError("stage 'attention' needs the attention head or learned scale "
                                 "and loss.attention_weight > 0")
            self.g.requires_grad_(False)
            for p in trained:
                p.requires_grad_(True)
        self.d = (Discriminator(cfg.data.size, cfg.disc).to(device)
                  if cfg.loss.adv_weight > 0 and not self.attention_only else None)
        o = cfg.optim
        self.opt_g = torch.optim.Adam([p for p in self.g.parameters() if p.requires_grad], lr=o.lr,
                                      betas=tuple(o.betas))
        self.opt_d = (torch.optim.Adam(self.d.parameters(), lr=o.lr_d or o.lr, betas=tuple(o.betas))
                      if self.d is not None else None)
        self.g_step = group.wrap(_AttentionPass(self.g) if self.attention_only else self.g, device)
        self.d_step = group.wrap(self.d, device) if self.d is not None else None
        self.amp_dtype = autocast_dtype(device, cfg.amp)
        self.step = 0
        self.last: Dict[str, torch.Tensor] = {}

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def _gp_generator(self, step: int, shard: int) -> torch.Generator:
        seed = int(step_rng(self.cfg.seed, step, 2, shard).integers(0, 2**62))
        return torch.Generator().manual_seed(seed)

    def _shard_mean(self, losses: Callable[..., Dict[str, torch.Tensor]],
                    *tensors: torch.Tensor) -> Dict[str, torch.Tensor]:
        """``losses(i, *parts)`` of each of this process's shards (``tensors``
        split along the batch), averaged: the mean of the shards' gradients,
        as DDP's average over processes."""
        k = len(self.shards)
        if k == 1:
            return losses(0, *tensors)
        parts = [losses(i, *chunk) for i, chunk in enumerate(zip(*(t.chunk(k) for t in tensors)))]
        return {key: sum(p[key] for p in parts) / k for key in parts[0]}

    def _attention_step(self, x: torch.Tensor, mask: torch.Tensor) -> Dict[str, float]:
        """Stage "attention": the attention term alone, through the cheap attention pass."""
        self.opt_g.zero_grad(set_to_none=True)
        cell, loss = self.cfg.model.attention_cell, self.cfg.loss
        with self._autocast():
            attention = self.g_step(x, mask)
            terms = self._shard_mean(lambda i, xs, ms, att: attention_losses(xs, ms, att, cell, loss),
                                     x, mask, attention)
        terms["total"] = self.cfg.loss.attention_weight * terms["att"]
        terms["total"].backward()
        self.opt_g.step()
        return {k: float(v.detach()) for k, v in terms.items()}

    def train_step(self, x: torch.Tensor, mask: torch.Tensor) -> Dict[str, float]:
        """One G step (after ``d_steps`` critic steps) on this process's batch
        (its shards one after the other); returns the step's losses (the
        mean over every shard of every process)."""
        x, mask = x.to(self.device), mask.to(self.device)
        if self.attention_only:
            logs = self._attention_step(x, mask)
            return self._finish_step(logs, x, mask, None, None)
        with self._autocast():
            coarse, refined, attention = self.g_step(x, mask)
        logs: Dict[str, float] = {}
        if self.d is not None:
            fake = (refined * mask + x * (1.0 - mask)).detach()
            gens = [self._gp_generator(self.step, shard) for shard in self.shards]
            gp_weight = self.cfg.loss.gp_weight
            sums: Dict[str, float] = {}
            for _ in range(self.cfg.optim.d_steps):
                self.opt_d.zero_grad(set_to_none=True)
                with self._autocast():
                    dl = self._shard_mean(lambda i, xs, fs: critic_loss(self.d_step, xs, fs, gp_weight, gens[i]),
                                          x, fake)
                dl["d"].backward()
                self.opt_d.step()
                for k, v in dl.items():
                    sums[k] = sums.get(k, 0.0) + float(v.detach())
            logs.update({k: v / max(1, self.cfg.optim.d_steps) for k, v in sums.items()})
            self.d.requires_grad_(False)
        self.opt_g.zero_grad(set_to_none=True)
        with self._autocast():
            cell, loss = self.cfg.model.attention_cell, self.cfg.loss
            gl = self._shard_mean(
                lambda i, xs, cs, rs, ms, att: generator_losses(xs, cs, rs, ms, loss, self.d, att, cell),
                x, coarse, refined, mask, attention)
        gl["total"].backward()
        self.opt_g.step()
        if self.d is not None:
            self.d.requires_grad_(True)
        logs.update({k: float(v.detach()) for k, v in gl.items()})
        return self._finish_step(logs, x, mask, coarse, refined)

    def _finish_step(self, logs: Dict[str, float], x: torch.Tensor, mask: torch.Tensor,
                     coarse: Optional[torch.Tensor], refined: Optional[torch.Tensor]) -> Dict[str, float]:
        if self.cfg.model.learned_scale:
            logs["att_scale"] = float(self.g.refine.acm.scale().detach())
        logs = self.group.mean(logs, self.device)
        if not np.isfinite(logs["total"]):
            raise FloatingPointError(f"non-finite generator loss at step {self.step + 1}: {logs}")
        self.last = {"x": x.detach(), "mask": mask.detach()}
        if refined is not None:
            self.last.update(coarse=coarse.detach(), refined=refined.detach())
        self.step += 1
        return logs

    def state_dict(self, extra: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """Everything needed to resume exactly (see module docstring)."""
        rng = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state_all()
        state = {
            "generator": self.g.state_dict(),
            "step": self.step,
            "config": dataclasses.asdict(self.cfg),
            "optim_g": self.opt_g.state_dict(),
            "rng": rng,
            "format": 1,
        }
        if self.d is not None:
            state["discriminator"] = self.d.state_dict()
            state["optim_d"] = self.opt_d.state_dict()
        state.update(extra or {})
        return state

    def load_weights(self, state: Dict[str, Any]) -> None:
        """Generator (and critic, when both sides have one) weights only.

        A generator without a learned softmax scale loads into one with it
        (the scale then starts at the fixed value it had: the same network)."""
        missing, unexpected = self.g.load_state_dict(state["generator"], strict=False)
        if unexpected or [k for k in missing if not k.startswith(ATTENTION_PARAMETERS)]:
            raise RuntimeError(f"generator weights do not fit: missing {missing}, unexpected {unexpected}")
        if self.d is not None and "discriminator" in state:
            try:
                self.d.load_state_dict(state["discriminator"])
            except RuntimeError as exc:
                warnings.warn(f"critic weights not loaded (different shape): {exc}")

    def load_state(self, state: Dict[str, Any]) -> None:
        """Restore a full training state written by ``state_dict``."""
        self.load_weights(state)
        if (self.d is None) != ("discriminator" not in state):
            raise ValueError("checkpoint and config disagree on having a discriminator")
        self.opt_g.load_state_dict(state["optim_g"])
        if self.opt_d is not None:
            self.opt_d.load_state_dict(state["optim_d"])
        self.step = int(state["step"])
        rng = state.get("rng") or {}
        if "torch" in rng:
            torch.set_rng_state(rng["torch"])
        if "numpy" in rng:
            np.random.set_state(rng["numpy"])
        if "python" in rng:
            random.setstate(rng["python"])
        if "cuda" in rng and self.device.type == "cuda":
            torch.cuda.set_rng_state_all(rng["cuda"])


def image_grid(last: Dict[str, torch.Tensor], rows: int = 4) -> np.ndarray:
    """uint8 BGR grid: rows of (input with white hole | coarse | refined | truth)."""
    x, m = last["x"][:rows].float(), last["mask"][:rows].float()
    refined = last["refined"][:rows].float() * m + x * (1 - m)
    cols = [x * (1 - m) + m, last["coarse"][:rows].float(), refined, x]
    grid = torch.cat([torch.cat([c[i] for c in cols], dim=2) for i in range(x.shape[0])], dim=1)
    arr = ((grid.clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).cpu().numpy()
    return np.ascontiguousarray(arr)


def _truncate_log(path: Path, step: int) -> None:
    """Drop lines after ``step``: logged after the checkpoint a run starts
    from (a resume, or a restart before the first save), they come again."""
    if not path.exists():
        return
    lines = [line for line in path.read_text().splitlines() if line]
    keep = [line for line in lines if json.loads(line).get("step", 0) <= step]
    if len(keep) < len(lines):
        log.info("%s: dropped %d line(s) after step %d (no checkpoint holds them)", path, len(lines) - len(keep), step)
        path.write_text("".join(line + "\n" for line in keep))


def check_run_dir(run_dir: Path, resume: bool) -> None:
    """Refuse to overwrite a run; require a checkpoint to resume."""
    if resume:
        if not (run_dir / LAST).is_file():
            raise RunDirError(f"--resume: no {LAST} in {run_dir}")
    elif existing_checkpoints(run_dir):
        raise RunDirError(f"{run_dir} already has checkpoints: use --resume (or --resume auto), "
                          "or choose another --out")


def init_config(cfg: TrainConfig, init_state: Dict[str, Any]) -> TrainConfig:
    """``cfg`` of a run started with ``--init``: the checkpoint's architecture,
    with the run's choice of attention head and learned scale."""
    stored_model = dataclasses.replace(model_config_from(init_state), learned_scale=cfg.model.learned_scale,
                                       max_softmax_scale=cfg.model.max_softmax_scale,
                                       attention_head=cfg.model.attention_head)
    return dataclasses.replace(cfg, model=stored_model)


def train(cfg: TrainConfig, run_dir: str, device: str = "cpu", resume: bool = False,
          init: Optional[str] = None, progress: bool = True, workers: int = 0, group: Group = Group()) -> int:
    """Train into ``run_dir``; returns the step reached.

    ``resume``: continue RUN_DIR/last.pt exactly (its stored config is used as
    given: the caller merges any allowed overrides). ``init``: a new run
    starting from the weights of another checkpoint (fresh optimisers, step 0;
    the model config is taken from that checkpoint).
    SIGINT/SIGTERM (Ctrl-C) stop every process after the same step; rank 0
    saves and records the stop (training/stopping.py), and all return
    normally (the returned step is then below ``cfg.iters``); further
    signals wait for the save. ``workers`` > 0 prepares the batches ahead
    in that many processes (the same batches; for a GPU the CPU cannot feed).
    ``group``: this process's place in a data-parallel run (see
    training/distributed.py); every process calls this, rank 0 writes.
    """
    out = Path(run_dir)
    check_run_dir(out, resume)
    dev = torch.device(device)
    init_state = None
    if init is not None:
        init_state = load_checkpoint(init)
        if init_config(cfg, init_state) != cfg:
            log.warning("--init: using the model config stored in %s", init)
            cfg = init_config(cfg, init_state)
    source = BatchSource(cfg.data, cfg.mask, cfg.batch_size, cfg.seed)
    val_source = None
    if cfg.val_data and group.is_main:
        val_source = BatchSource(cfg.data, cfg.mask, 1, cfg.seed + 1, root=cfg.val_data)
    trainer = Trainer(cfg, dev, group)
    cfg = trainer.cfg  # with its number of shards
    extra: Dict[str, Any] = {}
    if resume:
        state = load_checkpoint(out / LAST)
        trainer.load_state(state)
        extra = {k: state[k] for k in ("init_from",) if k in state}
    elif init_state is not None:
        trainer.load_weights(init_state)
        extra = {"init_from": {"path": str(init), "step": int(init_state.get("step", 0)),
                               "total_steps": total_steps(init_state)}}
    if torchrun_run_id() is not None:  # a torchrun restart resumes only its own launch's checkpoints
        extra["torchrun_run_id"] = torchrun_run_id()
    if group.is_main:
        out.mkdir(parents=True, exist_ok=True)
        clear_stop_record(out)
        (out / "config.yaml").write_text(config_to_yaml(cfg))
        log.info("%s", group.describe(cfg.batch_size, cfg.shards))

    saved = trainer.step
    stop, signum = StopSignals(), 0
    trace = StepTrace.from_env(group)

    def save() -> None:
        nonlocal saved
        save_checkpoint(out / LAST, trainer.state_dict(extra))
        saved = trainer.step

    cv2.setNumThreads(max(1, torch.get_num_threads()))
    bar = tqdm(total=cfg.iters, initial=trainer.step, disable=not (progress and group.is_main), dynamic_ncols=True)
    with stop.installed():  # until the stop is recorded: a signal meanwhile does not cut the save short
        try:
            with contextlib.ExitStack() as stack:
                if group.is_main:  # from a fresh start too: lines of a start that never saved go
                    run_log = stack.enter_context(_RunLog(out, cfg, start_step=trainer.step))
                batches = stack.enter_context(PrefetchedBatches(source, workers)) if workers else source
                while trainer.step < cfg.iters:
                    signum = group.largest(stop.signum, dev)  # a signal to any process stops all after the same step
                    if signum:
                        break
                    t0 = time.perf_counter()
                    x, mask = batches.batch(trainer.step, trainer.shards)
                    logs = trainer.train_step(x, mask)
                    step = trainer.step
                    if trace is not None:
                        trace.record(step, trainer.shards, x, mask, (trainer.g, trainer.d))
                    if not group.is_main:  # the other processes only train
                        continue
                    bar.update(1)
                    bar.set_postfix({k: f"{v:.4g}" for k, v in logs.items() if k in ("total", "l1", "ae", "att_kl", "att_top", "g_adv", "d")})
                    run_log.step(step, logs, time.perf_counter() - t0, trainer)
                    if val_source is not None and cfg.val_every and step % cfg.val_every == 0:
                        run_log.validation(step, _validate(trainer, val_source, cfg))
                    snapshot = cfg.snapshot_every and step % cfg.snapshot_every == 0
                    if (cfg.save_every and step % cfg.save_every == 0) or snapshot:  # last.pt: the newest state
                        save()
                    if snapshot:
                        save_checkpoint(out / f"step_{step:08d}.pt", trainer.state_dict(extra))
        finally:
            bar.close()
        if group.is_main:
            if trainer.step != saved or not (out / LAST).exists():
                save()
            record = write_stop_record(out, trainer.step, cfg.iters, signal_name(signum), group.world_size, LAST)
            if signum:
                print(f"stopped by {signal_name(signum)} after step {trainer.step}: saved {out / LAST}, "
                      f"recorded in {record} (--resume, or the same command with --resume auto, continues)")
    return trainer.step


class _RunLog:
    """losses.jsonl, val.jsonl, TensorBoard scalars/images and samples/*.jpg of a run."""

    def __init__(self, out: Path, cfg: TrainConfig, start_step: int) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.out, self.cfg = out, cfg
        _truncate_log(out / "losses.jsonl", start_step)  # drop what was logged after the checkpoint
        _truncate_log(out / "val.jsonl", start_step)
        self.writer = SummaryWriter(str(out / "tb"), purge_step=start_step + 1)
        self.losses = open(out / "losses.jsonl", "a")

    def __enter__(self) -> "_RunLog":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.losses.close()
        self.writer.close()

    def step(self, step: int, logs: Dict[str, float], secs: float, trainer: Trainer) -> None:
        """Log the losses of ``step`` and, every ``image_every`` steps (and at step 1), a sample grid."""
        cfg = self.cfg
        lr = trainer.opt_g.param_groups[0]["lr"]
        if step % cfg.log_every == 0:
            self.losses.write(json.dumps({"step": step, **logs, "lr": lr, "sec": round(secs, 4)}) + "\n")
            self.losses.flush()
            for k, v in logs.items():
                self.writer.add_scalar(f"loss/{k}", v, step)
            self.writer.add_scalar("lr/g", lr, step)
            self.writer.add_scalar("time/step_sec", secs, step)
        if cfg.image_every and (step % cfg.image_every == 0 or step == 1) and "refined" in trainer.last:
            grid = image_grid(trainer.last)
            (self.out / "samples").mkdir(exist_ok=True)
            cv2.imwrite(str(self.out / "samples" / f"step_{step:08d}.jpg"), grid)
            self.writer.add_image("samples", grid[..., ::-1].copy(), step, dataformats="HWC")

    def validation(self, step: int, metrics: Dict[str, Any]) -> None:
        with open(self.out / "val.jsonl", "a") as f:
            f.write(json.dumps({"step": step, **metrics}) + "\n")
        for k, v in metrics.items():
            if isinstance(v, float):
                self.writer.add_scalar(f"val/{k}", v, step)


def _validate(trainer: Trainer, source: BatchSource, cfg: TrainConfig) -> Dict[str, Any]:
    """Metrics of the current generator on the fixed validation crops."""
    from .evaluate import evaluate_generator

    metrics = evaluate_generator(trainer.g, source, cfg.val_count, trainer.device)
    trainer.g.train()
    return metrics

"""Command line: ``python -m training {train,evaluate} ...`` (see --help)."""
from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import torch

from .checkpoint import load_checkpoint
from .config import TrainConfig, load_config, merge_config, stored_config
from .evaluate import BASELINES

# Flags that may change when resuming (the rest of the stored config is kept,
# so that a resumed run continues the same experiment exactly).
RESUMABLE = ("data", "iters", "save_every", "val_data", "amp")


def _resume_value(text: str) -> str:
    if text != "auto":
        raise argparse.ArgumentTypeError(f"expected no value or 'auto', got {text!r}")
    return text


def _train_parser(sub: Any) -> None:
    d = TrainConfig()  # the help texts quote the defaults of the one config
    p = sub.add_parser(
        "train", help="train the generator on a folder of photos",
        description="Train the HiFill generator (WGAN-GP, spec section 5) on random crops of a "
                    "folder of photos. Writes RUN_DIR/{config.yaml,last.pt,losses.jsonl,samples/,tb/}. "
                    "Ctrl-C or SIGTERM: every process finishes its step, RUN_DIR/last.pt is saved, "
                    "RUN_DIR/stop.json records the clean stop (also written when the run finishes; "
                    "removed when it starts) and the status is 0; --resume continues exactly. "
                    "Data-parallel on several GPUs (or CPU processes): torchrun --nproc_per_node N -m "
                    "training train ... (--batch is per process; rank 0 writes RUN_DIR); a process "
                    "restarted by torchrun --max-restarts continues its run's last.pt by itself.")
    p.add_argument("--data", help="folder of training photos (recursive; jpg/jpeg/png/webp/bmp)")
    p.add_argument("--out", required=True, help="run directory (refused if it has checkpoints, unless --resume)")
    p.add_argument("--config", help="YAML file overriding any TrainConfig field (nested sections)")
    p.add_argument("--size", type=int, help=f"training crop size, multiple of 32 (default {d.data.size}; 256 allowed)")
    p.add_argument("--batch", type=int, help=f"batch size of each process (default {d.batch_size})")
    p.add_argument("--iters", type=int, help=f"train until this many generator steps (default {d.iters})")
    p.add_argument("--lr", type=float, help=f"Adam learning rate of G and D (default {d.optim.lr:g})")
    p.add_argument("--d-steps", type=int, help=f"critic steps per generator step (default {d.optim.d_steps})")
    p.add_argument("--adv-weight", type=float,
                   help=f"adversarial loss weight (default {d.loss.adv_weight:g}); 0 disables the critic entirely")
    p.add_argument("--attention-weight", type=float,
                   help=f"weight of the attention term (default {d.loss.attention_weight:g}): the hole's "
                        "attention rows trained towards the context cells that look like the truth, "
                        "so CRA copies the right texture; 0 disables it")
    p.add_argument("--stage", choices=("all", "attention"),
                   help=f"what trains (default {d.stage}): 'all' every loss and parameter; 'attention' "
                        "only the attention head and softmax scale on the attention term, through a "
                        "pass without the decoder (about 4x cheaper per image)")
    p.add_argument("--save-every", type=int, help=f"write RUN_DIR/last.pt every N steps (default {d.save_every})")
    p.add_argument("--val-data", help="folder of validation photos: metrics every val_every steps")
    p.add_argument("--seed", type=int, help=f"seed of weights, crops and masks (default {d.seed})")
    p.add_argument("--device", default="cpu",
                   help="cpu or cuda (default cpu); under torchrun, cuda is each process's cuda:LOCAL_RANK")
    p.add_argument("--amp", action="store_true", default=None,
                   help="bf16 autocast on CUDA (a no-op with a warning on the CPU)")
    p.add_argument("--threads", type=int, help="torch.set_num_threads(N)")
    p.add_argument("--workers", type=int, default=0,
                   help="processes preparing batches ahead, for a GPU the training process alone "
                        "cannot feed (default 0: none); the batches are the same either way, so it "
                        "may change on --resume")
    p.add_argument("--resume", nargs="?", const=True, default=False, type=_resume_value, metavar="auto",
                   help="continue RUN_DIR/last.pt exactly (stored config; only --iters, --save-every, "
                        "--val-data, --amp and --data (the same photos moved elsewhere) may change). "
                        "'--resume auto': the same command starts the run or continues it (after a "
                        "preemption): it continues RUN_DIR/last.pt when that is of the config this "
                        "command gives (those five may differ), starts a new run when RUN_DIR has no "
                        "checkpoint, and refuses another config")
    p.add_argument("--init", metavar="CKPT",
                   help="start a NEW run (step 0, fresh optimisers) from the generator/critic weights of CKPT")
    p.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")


def _eval_parser(sub: Any) -> None:
    p = sub.add_parser(
        "evaluate", help="metrics of a checkpoint on fixed seeded crops and masks",
        description="Inpaint a fixed, seeded set of crops and masks (the same every run) with a "
                    "checkpoint's generator, or with OpenCV's inpainting (--baseline), and print L1 "
                    "(0..1 scale, in the hole and over the whole image), PSNR, SSIM and MS-SSIM of the "
                    "composited result; optionally as JSON.")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--checkpoint", help="checkpoint file (e.g. RUN_DIR/last.pt)")
    which.add_argument("--baseline", choices=sorted(BASELINES),
                       help="measure cv2.inpaint (radius 3) on the same crops and masks instead")
    p.add_argument("--data", required=True, help="folder of evaluation photos")
    p.add_argument("--size", type=int, default=512, help="crop size, multiple of 32 (default 512)")
    p.add_argument("--count", type=int, default=100, help="number of crops (default 100)")
    p.add_argument("--seed", type=int, default=1234, help="seed of the crops and masks (default 1234)")
    p.add_argument("--batch", type=int, default=4, help="images per forward pass (default 4)")
    p.add_argument("--json", metavar="OUT", help="also write the metrics to this JSON file")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--threads", type=int, help="torch.set_num_threads(N)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m training",
        description="HiFill (CRA inpainting) training tools. 'train' trains the generator on a folder "
                    "of photos; 'evaluate' measures a checkpoint on fixed seeded crops and masks. "
                    "Run 'python -m training SUBCOMMAND --help' for the flags of each.")
    sub = parser.add_subparsers(dest="command", required=True)
    _train_parser(sub)
    _eval_parser(sub)
    return parser


# flag -> (config section or None for top level, field)
_FLAG_TABLE = {
    "data": ("data", "root"), "size": ("data", "size"), "batch": (None, "batch_size"),
    "iters": (None, "iters"), "lr": ("optim", "lr"), "d_steps": ("optim", "d_steps"),
    "adv_weight": ("loss", "adv_weight"), "attention_weight": ("loss", "attention_weight"),
    "stage": (None, "stage"), "save_every": (None, "save_every"),
    "val_data": (None, "val_data"), "seed": (None, "seed"), "amp": (None, "amp"),
}


def _flag_overrides(args: argparse.Namespace) -> Dict[str, Any]:
    """Nested config overrides from the flags actually given."""
    out: Dict[str, Any] = {}
    for flag, (section, key) in _FLAG_TABLE.items():
        value = getattr(args, flag)
        if value is None:
            continue
        (out.setdefault(section, {}) if section else out)[key] = value
    return out


def _resume_config(args: argparse.Namespace) -> TrainConfig:
    """The stored config of RUN_DIR/last.pt with the flags allowed on resume."""
    from .train import LAST

    state = load_checkpoint(Path(args.out) / LAST)
    stored = stored_config(state["config"])
    for flag, (section, key) in _FLAG_TABLE.items():  # repeating a stored value is fine
        if getattr(args, flag) == getattr(getattr(stored, section) if section else stored, key):
            setattr(args, flag, None)
    given = [k for k, v in vars(args).items() if k in _FLAG_TABLE and v is not None]
    bad = [k for k in given if k not in RESUMABLE] + [k for k in ("config", "init") if getattr(args, k)]
    if bad:
        names = ", ".join("--" + k.replace("_", "-") for k in sorted(bad))
        raise SystemExit(f"error: --resume keeps the stored config; cannot change {names}")
    return merge_config(stored, _flag_overrides(args))


def _new_config(args: argparse.Namespace) -> TrainConfig:
    """The config a new run of these flags trains with (defaults, --config, flags)."""
    return merge_config(load_config(args.config), _flag_overrides(args))


def _differences(stored: Dict[str, Any], given: Dict[str, Any], where: str = "") -> List[str]:
    """'field: stored -> given' for each leaf of two nested config dicts that differs."""
    out: List[str] = []
    for key, value in stored.items():
        name = f"{where}.{key}".lstrip(".")
        if isinstance(value, dict):
            out += _differences(value, given[key], name)
        elif value != given[key]:
            out.append(f"{name}: {value!r} -> {given[key]!r}")
    return out


def _same_file(a: Optional[str], b: Optional[str]) -> bool:
    return a == b or (a is not None and b is not None and os.path.realpath(a) == os.path.realpath(b))


def _auto_resume_config(args: argparse.Namespace, restarted: bool) -> Optional[TrainConfig]:
    """``--resume auto`` or a torchrun restart: the config that continues
    RUN_DIR/last.pt, when this command would start that very run (its config
    but for RESUMABLE, the same --init); None when there is no last.pt (the
    command starts the run). A restart (``restarted``, without --resume)
    continues only a checkpoint of its own launch, as its first start would
    have refused any other. Refusals are one line, before anything is written."""
    from .distributed import torchrun_run_id
    from .train import LAST, init_config

    last = Path(args.out) / LAST
    if not last.is_file():
        return None
    state = load_checkpoint(last)
    if restarted and state.get("torchrun_run_id") != torchrun_run_id():
        raise SystemExit(f"error: {args.out} already has checkpoints of another launch: use --resume "
                         "(or --resume auto), or choose another --out")
    stored, fresh = stored_config(state["config"]), _new_config(args)
    if args.init:
        fresh = init_config(fresh, load_checkpoint(args.init))
    resumable = {}  # what the command sets anew: the stored config's fields otherwise
    for flag in RESUMABLE:
        section, key = _FLAG_TABLE[flag]
        value = getattr(getattr(fresh, section) if section else fresh, key)
        if flag == "data" and not value:  # no --data: the stored photos
            value = stored.data.root
        (resumable.setdefault(section, {}) if section else resumable)[key] = value
    if fresh.shards is None:  # as many as processes: the stored run's count
        resumable["shards"] = stored.shards
    differ = _differences(dataclasses.asdict(merge_config(stored, resumable)),
                          dataclasses.asdict(merge_config(fresh, resumable)))
    origin = (state.get("init_from") or {}).get("path")
    if not _same_file(origin, args.init):
        differ.append(f"--init: {origin!r} -> {args.init!r}")
    if differ:
        raise SystemExit(f"error: {args.out} holds a run of another config ({'; '.join(differ)}): choose "
                         "another --out, or --resume to continue it with its stored config")
    return merge_config(stored, resumable)


def _run_config(args: argparse.Namespace, restarted: bool) -> Tuple[TrainConfig, bool]:
    """The config to train with, and whether it continues RUN_DIR/last.pt."""
    if args.resume is True:
        return _resume_config(args), True
    if args.resume == "auto" or restarted:
        cfg = _auto_resume_config(args, restarted=args.resume != "auto")
        if cfg is not None:
            return cfg, True
    cfg = _new_config(args)
    if not cfg.data.root:
        raise SystemExit("error: --data DIR is required (or data.root in --config)")
    return cfg, False


def _run_train(args: argparse.Namespace) -> int:
    from .distributed import joined, torchrun_restart_count
    from .train import RunDirError, train

    try:
        with joined(args.device) as (group, device):  # torchrun's processes, or this one alone
            # torchrun counts restarts per machine: a restart is one wherever a process knows it
            cfg, resume = _run_config(args, restarted=group.largest(torchrun_restart_count(), device) > 0)
            train(cfg, args.out, device=str(device), resume=resume, init=None if resume else args.init,
                  progress=not args.no_progress, workers=args.workers, group=group)
    except RunDirError as exc:
        raise SystemExit(f"error: {exc}")
    return 0  # finished, or stopped by a signal and saved (RUN_DIR/stop.json says which)


def _run_evaluate(args: argparse.Namespace) -> int:
    from .evaluate import run_evaluation

    run_evaluation(args.checkpoint, args.data, size=args.size, count=args.count, seed=args.seed,
                   batch=args.batch, json_path=args.json, device=args.device, baseline=args.baseline)
    return 0


def _check_device(name: str) -> None:
    """One-line error for a device this machine does not have."""
    try:
        dev = torch.device(name)
    except RuntimeError as exc:
        raise ValueError(f"--device {name}: {exc}") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: no CUDA device available (this torch: {torch.__version__})")
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"--device {name}: expected cpu or cuda")


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        _check_device(args.device)
        if args.command == "train":
            return _run_train(args)
        return _run_evaluate(args)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

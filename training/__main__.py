"""Command line: ``python -m training {train,evaluate} ...`` (see --help)."""
from __future__ import annotations

import argparse
import logging
import sys
from typing import Any, Dict, List, Optional

import torch

from .checkpoint import load_checkpoint
from .config import TrainConfig, load_config, merge_config, stored_config
from .evaluate import BASELINES

# Flags that may change when resuming (the rest of the stored config is kept,
# so that a resumed run continues the same experiment exactly).
RESUMABLE = ("data", "iters", "save_every", "val_data", "amp")


def _train_parser(sub: Any) -> None:
    d = TrainConfig()  # the help texts quote the defaults of the one config
    p = sub.add_parser(
        "train", help="train the generator on a folder of photos",
        description="Train the HiFill generator (WGAN-GP, spec section 5) on random crops of a "
                    "folder of photos. Writes RUN_DIR/{config.yaml,last.pt,losses.jsonl,samples/,tb/}. "
                    "Ctrl-C saves RUN_DIR/last.pt and exits with status 130; --resume continues exactly. "
                    "Data-parallel on several GPUs (or CPU processes): torchrun --nproc_per_node N -m "
                    "training train ... (--batch is per process; rank 0 writes RUN_DIR).")
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
    p.add_argument("--resume", action="store_true",
                   help="continue RUN_DIR/last.pt exactly (stored config; only --iters, --save-every, "
                        "--val-data, --amp and --data (the same photos moved elsewhere) may change)")
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
    from pathlib import Path

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


def _run_train(args: argparse.Namespace) -> int:
    from .distributed import joined
    from .train import RunDirError, train

    if args.resume:
        cfg = _resume_config(args)
    else:
        cfg = merge_config(load_config(args.config), _flag_overrides(args))
        if not cfg.data.root:
            raise SystemExit("error: --data DIR is required (or data.root in --config)")
    try:
        with joined(args.device) as (group, device):  # torchrun's processes, or this one alone
            step = train(cfg, args.out, device=str(device), resume=args.resume, init=args.init,
                         progress=not args.no_progress, workers=args.workers, group=group)
    except RunDirError as exc:
        raise SystemExit(f"error: {exc}")
    return 0 if step >= cfg.iters else 130


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

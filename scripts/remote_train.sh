#!/usr/bin/env bash
# Continue training the bundled model on a GPU machine (one reached over ssh,
# or any machine where a copy of this repository is placed), in three steps:
# prepare (here), run (there), collect (here). Usage: see usage() below, or
# run the script without arguments.
set -euo pipefail

usage() {
  cat >&2 <<'EOF'
usage: bash scripts/remote_train.sh prepare TRAIN_DIR VAL_DIR [PACK_DIR]
       bash scripts/remote_train.sh run SECONDS OUT_DIR [BATCH] [WORKERS]
       bash scripts/remote_train.sh collect OUT_DIR RUN_DIR

Continue training the bundled model (edge_app/models/hifill_train_state.pt)
on a GPU machine where a copy of this repository is placed. The script never
contacts another machine: the copies are yours to make (rsync, scp, a shared
disk).

prepare TRAIN_DIR VAL_DIR [PACK_DIR]    on your machine
    The training photos downscaled to short side 512 (JPEG 95: the 256
    training crops read no more than that) and the validation photos as they
    are, into PACK_DIR/{train,val} (default: remote/photos in the repository,
    ignored by git). A PACK_DIR made by an earlier prepare is replaced; any
    other folder that is not empty is refused.
run SECONDS OUT_DIR [BATCH] [WORKERS]   on the GPU machine, in the copy
    A new run from the bundled weights (--init), bf16 autocast (--amp) on
    CUDA, batches of BATCH (default 32) 256x256 crops prepared by WORKERS
    processes (default 8), stopped with one SIGINT after SECONDS (the trainer
    finishes its step and saves; Ctrl-C stops it earlier the same way), then
    `python -m training evaluate` at 512 on the validation photos. run.txt
    says how training ended, from the trainer's record of a clean stop
    (whatever torchrun's own status). With GPUS=N (N > 1) the run
    is data-parallel under torchrun: N processes, one per GPU, each with its
    own BATCH and WORKERS (an effective batch of N x BATCH). Writes into
    OUT_DIR: last.pt, losses.jsonl, config.yaml, evaluate_512.json,
    train.log and run.txt (GPU, settings, sha256 of last.pt); refused if
    OUT_DIR already holds any of them.
collect OUT_DIR RUN_DIR                 on your machine, OUT_DIR copied back
    Checks OUT_DIR/last.pt against the sha256 in OUT_DIR/run.txt and copies
    the files into RUN_DIR (refused if RUN_DIR already holds any of them);
    then --resume, evaluate and export as usual (README, "Train").

Environment: PHOTOS (run: the prepared folder, default remote/photos),
PYTHON (default .venv/bin/python for prepare, python3 for run), DEVICE (run:
cuda, cuda:N or cpu; default cuda), GPUS (run: GPUs to train on, default 1;
above 1 DEVICE is cuda, each process on its own GPU, or cpu for as many CPU
processes), EVAL_COUNT (run: validation crops, default 100). DEVICE=cpu
EVAL_COUNT=2 tries `run` on a machine without a GPU.

Example (adapt the host and the folders), from the repository root:
  bash scripts/remote_train.sh prepare ~/hifill-photos ~/hifill-val
  rsync -a --exclude .venv --exclude /runs ./ user@gpu-host:hifill-edge/
  ssh user@gpu-host 'cd hifill-edge && bash scripts/remote_train.sh run 3600 remote/out-1'
  rsync -a user@gpu-host:hifill-edge/remote/out-1 remote/
  bash scripts/remote_train.sh collect remote/out-1 runs/gpu-1
(for a long run, start it in tmux or screen there: a dropped ssh connection
would stop it)
EOF
  exit 2
}

die() { echo "error: $*" >&2; exit 2; }

here=$PWD
top="$(cd "$(dirname "$0")/.." && pwd -P)"
cd "$top"

# A path given by the user, relative to where the script was started.
absolute() { case $1 in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$here/$1" ;; esac; }

whole() {  # NAME VALUE MIN: VALUE must be a whole number >= MIN
  [[ $2 =~ ^[0-9]+$ ]] && [ "$2" -ge "$3" ] || die "$1 must be a whole number >= $3, got '$2'"
}

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  else
    shasum -a 256 "$1" | cut -d' ' -f1
  fi
}

# What `run` writes, and `collect` copies.
RESULTS=(last.pt losses.jsonl config.yaml evaluate_512.json train.log run.txt)

refuse_existing() {  # DIR WHAT: refuse a DIR that holds any of RESULTS
  local f
  for f in "${RESULTS[@]}"; do
    if [ -e "$1/$f" ]; then die "$1/$f exists: nothing is overwritten, choose a new $2"; fi
  done
}

case "${1:-}" in
  prepare)
    { [ $# -ge 3 ] && [ $# -le 4 ]; } || usage
    train=$(absolute "$2") val=$(absolute "$3")
    pack=$top/remote/photos
    if [ $# -eq 4 ]; then pack=$(absolute "$4"); fi
    [ -d "$train" ] || die "training photos: no folder $train"
    [ -d "$val" ] || die "validation photos: no folder $val"
    python=${PYTHON:-.venv/bin/python}
    command -v "$python" >/dev/null 2>&1 || die "$python not found (run scripts/setup.sh, or set PYTHON)"
    if [ -d "$pack" ] && [ -n "$(ls -A "$pack")" ] && [ ! -f "$pack/prepared.txt" ]; then
      die "$pack is not empty and was not made by prepare: choose another PACK_DIR"
    fi
    mkdir -p "$pack"
    pack=$(cd "$pack" && pwd -P)
    rm -rf "$pack/.partial"
    trap 'rm -rf "$pack/.partial"' EXIT  # a failed prepare leaves the earlier one as it was
    "$python" - "$train" "$val" "$pack/.partial" <<'EOF'
import shutil
import sys
from pathlib import Path

import cv2

from training.data import list_images

for source, name in ((sys.argv[1], "train"), (sys.argv[2], "val")):
    dest = Path(sys.argv[3]) / name
    paths = list_images(source)
    if not paths:
        sys.exit(f"error: no photos (jpg/jpeg/png/webp/bmp) in {source}")
    for path in paths:
        rel = path.relative_to(source)  # subfolders are kept: equal names in two of them stay apart
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        if name == "val":  # as they are: evaluate_512.json is measured on these files
            shutil.copyfile(path, dest / rel)
            continue
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            sys.exit(f"error: cannot read {path}")
        scale = 512.0 / min(img.shape[:2])
        if scale < 1.0:
            img = cv2.resize(img, (round(img.shape[1] * scale), round(img.shape[0] * scale)),
                             interpolation=cv2.INTER_AREA)
        # the suffix is kept in the name (a.png -> a.png.jpg): a.png and a.jpg stay apart
        if not cv2.imwrite(str(dest / rel.parent / (rel.name + ".jpg")), img, [cv2.IMWRITE_JPEG_QUALITY, 95]):
            sys.exit(f"error: cannot write into {dest / rel.parent}")
    print(f"{len(paths)} photos from {source} -> {Path(sys.argv[3]).parent / name}")
EOF
    rm -rf "$pack/train" "$pack/val"
    mv "$pack/.partial/train" "$pack/.partial/val" "$pack/"
    {
      echo "prepared: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
      echo "train: $train (short side 512, JPEG 95)"
      echo "val: $val (as they are)"
    } >"$pack/prepared.txt"
    echo "$(du -sh "$pack" | cut -f1) in $pack"
    photos_env=""
    case $pack in
      "$top/remote/photos") ;;
      "$top"/*) photos_env="PHOTOS=${pack#"$top"/} " ;;
      *) photos_env="PHOTOS=<where you copy $pack> "
         echo "note: $pack is outside the repository: copy it to the GPU machine as well" ;;
    esac
    cat <<EOF
next (an example: adapt the host and the folders), from the repository root $top:
  rsync -a --exclude .venv --exclude /runs ./ user@gpu-host:hifill-edge/
  ssh user@gpu-host 'cd hifill-edge && ${photos_env}bash scripts/remote_train.sh run 3600 remote/out-1'
  rsync -a user@gpu-host:hifill-edge/remote/out-1 remote/
  bash scripts/remote_train.sh collect remote/out-1 runs/gpu-1
EOF
    ;;

  run)
    { [ $# -ge 3 ] && [ $# -le 5 ]; } || usage
    seconds=$2 out_dir=$(absolute "$3") batch=${4:-32} workers=${5:-8}
    eval_count=${EVAL_COUNT:-100} device=${DEVICE:-cuda} python=${PYTHON:-python3} gpus=${GPUS:-1}
    whole SECONDS "$seconds" 1
    whole BATCH "$batch" 1
    whole WORKERS "$workers" 0
    whole EVAL_COUNT "$eval_count" 1
    whole GPUS "$gpus" 1
    [[ $device =~ ^(cpu|cuda|cuda:[0-9]+)$ ]] || die "DEVICE must be cuda, cuda:N or cpu, got '$device'"
    if [ "$gpus" -gt 1 ] && [ "$device" != cuda ] && [ "$device" != cpu ]; then
      die "GPUS=$gpus takes DEVICE=cuda (each process on its own GPU) or cpu, not $device"
    fi
    photos=remote/photos  # relative to the repository root: the same path on both machines
    if [ -n "${PHOTOS:-}" ]; then photos=$(absolute "$PHOTOS"); fi
    [ -f "$photos/prepared.txt" ] && [ -d "$photos/train" ] && [ -d "$photos/val" ] ||
      die "no prepared photos in $photos (run prepare on your machine and copy the folder with the repository; PHOTOS=DIR for another place)"
    command -v "$python" >/dev/null 2>&1 || die "$python not found (set PYTHON to a python3 with PyTorch)"
    if [ -e "$out_dir" ] && [ ! -d "$out_dir" ]; then die "$out_dir is not a folder"; fi
    refuse_existing "$out_dir" OUT_DIR
    amp=() amp_text=off
    if [ "$device" != cpu ]; then amp=(--amp) amp_text=bf16; fi
    # what this machine is (and a clear error where PyTorch or CUDA is missing)
    machine=$("$python" - "$device" "$gpus" <<'EOF'
import sys

try:
    import torch
except ImportError:
    sys.exit(f"error: no PyTorch in {sys.executable} (set PYTHON to a python3 with PyTorch)")
dev, gpus = torch.device(sys.argv[1]), int(sys.argv[2])
if dev.type == "cuda":
    if not torch.cuda.is_available():
        sys.exit(f"error: no CUDA GPU visible to PyTorch {torch.__version__} (DEVICE=cpu runs without one)")
    if torch.cuda.device_count() < gpus:
        sys.exit(f"error: GPUS={gpus}, but PyTorch sees {torch.cuda.device_count()} GPU(s)")
    props = torch.cuda.get_device_properties(dev)
    print(f"gpu: {props.name}, {props.total_memory / 2 ** 30:.0f} GiB" + (f", {gpus} of them" if gpus > 1 else ""))
else:
    print("device: cpu")
print(f"torch: {torch.__version__}, python: {sys.version.split()[0]}")
EOF
    ) || exit 2
    mkdir -p "$out_dir"
    work=$(mktemp -d "${TMPDIR:-/tmp}/remote_train.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    launch=("$python")  # GPUS > 1: torchrun's processes, one per GPU (rank 0 writes the run)
    if [ "$gpus" -gt 1 ]; then launch=("$python" -m torch.distributed.run --standalone --nproc_per_node "$gpus"); fi
    cmd=("${launch[@]}" -m training train --data "$photos/train" --out "$work/run"
         --init edge_app/models/hifill_train_state.pt --device "$device" ${amp[@]+"${amp[@]}"}
         --size 256 --batch "$batch" --lr 1e-4 --adv-weight 0 --iters 100000000 --save-every 500
         --seed 4 --workers "$workers" --no-progress)
    {
      echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
      echo "host: ${HOSTNAME:-unknown}"
      echo "commit: $(GIT_OPTIONAL_LOCKS=0 git rev-parse HEAD 2>/dev/null || echo unknown)"
      echo "$machine"
      echo "seconds: $seconds, processes: $gpus, batch: $batch per process ($((batch * gpus)) in all)," \
           "workers: $workers per process, crops: 256, amp: $amp_text, eval_count: $eval_count"
      echo "photos: $photos"
      sed 's/^/  /' "$photos/prepared.txt"
      echo "command: ${cmd[*]}"
    } >"$out_dir/run.txt"
    echo "training for $seconds s on $device, $gpus process(es) (log: $out_dir/train.log)"
    status=0
    # One SIGINT reaches the trainer (torchrun passes it on to its processes), from timeout after
    # SECONDS or on a Ctrl-C here (--foreground: timeout gets Ctrl-C); in a session of its own
    # (setsid) the trainer does not get the terminal's Ctrl-C a second time.
    detach=()
    if command -v setsid >/dev/null 2>&1; then detach=(setsid); fi
    timeout --foreground -s INT -k 60 "$seconds" ${detach[@]+"${detach[@]}"} "${cmd[@]}" >"$out_dir/train.log" 2>&1 ||
      status=$?
    tail -5 "$out_dir/train.log"
    # How it ended, from the trainer's record of a clean end (torchrun exits 1 after passing a signal on)
    reason="" step="" signame=""
    if [ -f "$work/run/stop.json" ]; then
      reason=$(sed -n 's/.*"reason": "\([a-z]*\)".*/\1/p' "$work/run/stop.json")
      step=$(sed -n 's/.*"step": \([0-9]*\).*/\1/p' "$work/run/stop.json")
      signame=$(sed -n 's/.*"signal": "\([A-Z]*\)".*/\1/p' "$work/run/stop.json")
    fi
    case $reason in
      finished) how="finished" ;;
      signal) how="stopped by $signame"
              if [ "$status" = 124 ]; then how="stopped after $seconds s"; fi
              how="$how; clean stop saved at step $step" ;;
      *) how="failed: no record of a clean stop" ;;
    esac
    echo "training exit status: $status ($how)" >>"$out_dir/run.txt"
    for f in last.pt losses.jsonl config.yaml; do  # out of the temporary run folder
      if [ -f "$work/run/$f" ]; then mv "$work/run/$f" "$out_dir/$f"; fi
    done
    if [ -z "$reason" ]; then
      if [ "$status" = 124 ] && [ ! -f "$out_dir/last.pt" ]; then
        echo "error: training stopped before its first step: no last.pt (more SECONDS?)" >&2
      else
        echo "error: training exited with status $status, with no record of a clean stop (see $out_dir/train.log)" >&2
      fi
      exit 1
    fi
    echo "last.pt sha256: $(sha256 "$out_dir/last.pt")" >>"$out_dir/run.txt"
    echo "training $how; last.pt, losses.jsonl and config.yaml are in $out_dir; evaluating at 512"
    "$python" -m training evaluate --checkpoint "$out_dir/last.pt" --data "$photos/val" --size 512 \
      --count "$eval_count" --device "$device" --json "$out_dir/evaluate_512.json" 2>&1 | tee -a "$out_dir/train.log" | tail -8
    ls -l "$out_dir"
    echo "next, on your machine: copy $out_dir back, then: bash scripts/remote_train.sh collect OUT_DIR RUN_DIR"
    ;;

  collect)
    [ $# -eq 3 ] || usage
    src=$(absolute "$2") dest=$(absolute "$3")
    [ -f "$src/last.pt" ] || die "no $src/last.pt (copy OUT_DIR back from the GPU machine first)"
    [ -f "$src/run.txt" ] || die "no $src/run.txt"
    want=$(sed -n 's/^last\.pt sha256: \([0-9a-f]\{64\}\)$/\1/p' "$src/run.txt")
    [ -n "$want" ] || die "$src/run.txt has no 'last.pt sha256:' line (did the run finish?)"
    refuse_existing "$dest" RUN_DIR
    if [ "$(sha256 "$src/last.pt")" != "$want" ]; then
      echo "error: $src/last.pt does not match the sha256 in $src/run.txt (an incomplete copy? copy it again)" >&2
      exit 1
    fi
    mkdir -p "$dest"
    cp "$src/last.pt" "$dest/last.pt.partial"
    if [ "$(sha256 "$dest/last.pt.partial")" != "$want" ]; then
      rm -f "$dest/last.pt.partial"
      echo "error: the copy $dest/last.pt does not match the sha256 in $src/run.txt" >&2
      exit 1
    fi
    mv "$dest/last.pt.partial" "$dest/last.pt"
    copied=(last.pt)
    for f in "${RESULTS[@]}"; do
      if [ "$f" != last.pt ] && [ -f "$src/$f" ]; then cp "$src/$f" "$dest/"; copied+=("$f"); fi
    done
    echo "$dest: ${copied[*]}"
    if [ -f "$dest/evaluate_512.json" ]; then
      echo "measured there at 512: $(tr -d '\n' <"$dest/evaluate_512.json" | sed -n 's/.*"l1_hole": \([0-9.e-]*\).*"step": \([0-9]*\).*/L1 in the hole \1 after \2 steps/p')"
    fi
    data=$(sed -n 's/^  root: //p' "$dest/config.yaml" 2>/dev/null | head -1)
    case $data in
      /*|"") data="TRAIN_DIR_AS_PREPARED" ;;  # a folder given by PHOTOS there: the same photos, here
    esac
    cat <<EOF
next (README, "Train"), from the repository root:
  python -m training train --data $data --out $dest --resume --iters N
  python -m training evaluate --checkpoint $dest/last.pt --data VAL_DIR --json eval.json
  python -m convert export --checkpoint $dest/last.pt --out model.onnx
EOF
    ;;

  *) usage ;;
esac

#!/usr/bin/env bash
# Continue training the bundled model on a lent GPU machine (the `device`
# tool of the development workplace: one short call, files back through $OUT).
#
#   bash scripts/device_train.sh prepare TRAIN_DIR VAL_DIR
#       here: the training photos at short side 512 (what 256 training crops
#       read anyway; JPEG 95, so the working tree that travels stays under
#       64 MiB) and the validation photos as they are, into
#       .device/photos/{train,val} (ignored by git; name .device in `carry`)
#   bash scripts/device_train.sh run SECONDS [BATCH] [WORKERS]
#       there (python3 with CUDA PyTorch): a new run from the bundled weights
#       (--init), bf16, batch BATCH (default 32) of 256 crops, batches made by
#       WORKERS processes (default 8), stopped with SIGINT after SECONDS (it
#       saves); then `training evaluate` at 512 on the validation photos; into
#       $OUT: the training state in 15 MiB parts, losses, config, metrics, log
#       (DEVICE=cpu and EVAL_COUNT=N try it without a GPU, as the tests do)
#   bash scripts/device_train.sh collect FILES_DIR RUN_DIR
#       here: joins the parts into RUN_DIR/last.pt (then --resume, evaluate,
#       export as in MODEL_CARD.md)
set -euo pipefail

top="$(cd "$(dirname "$0")/.." && pwd -P)"
cd "$top"
photos=${DEVICE_PHOTOS:-.device/photos}  # (tests point it elsewhere)
usage() { sed -n '2,21p' "$0" >&2; exit 2; }

case "${1:-}" in
  prepare)
    [ $# -eq 3 ] || usage
    python=.venv/bin/python
    [ -x "$python" ] || { echo "error: $python not found (run scripts/setup.sh)" >&2; exit 2; }
    rm -rf "$photos/train" "$photos/val"
    "$python" - "$2" "$3" "$photos" <<'EOF'
import shutil
import sys
from pathlib import Path

import cv2

from training.data import list_images

for source, name in ((sys.argv[1], "train"), (sys.argv[2], "val")):
    dest = Path(sys.argv[3]) / name
    dest.mkdir(parents=True)
    paths = list_images(source)
    for path in paths:
        if name == "val":  # as they are: the model card's 512 figures come from these files
            shutil.copyfile(path, dest / path.name)
            continue
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            sys.exit(f"error: cannot read {path}")
        scale = 512.0 / min(img.shape[:2])
        if scale < 1.0:
            img = cv2.resize(img, (round(img.shape[1] * scale), round(img.shape[0] * scale)),
                             interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(dest / (path.stem + ".jpg")), img, [cv2.IMWRITE_JPEG_QUALITY, 95])
    print(f"{len(paths)} photos from {source} -> {dest}")
EOF
    du -sh "$photos"
    echo "next: device run with carry [\".device\"] and: bash scripts/device_train.sh run 420"
    ;;
  run)
    [ $# -ge 2 ] && [ $# -le 4 ] || usage
    seconds=$2 batch=${3:-32} workers=${4:-8}
    out=${OUT:?OUT (the folder whose files come back) is not set}
    [ -d "$photos/train" ] && [ -d "$photos/val" ] || { echo "error: no $photos (run prepare here, carry .device)" >&2; exit 2; }
    python=${PYTHON:-python3} device=${DEVICE:-cuda}
    amp=()
    [ "$device" = cuda ] && amp=(--amp)
    run=$(mktemp -d)/run
    # $OUT brings back at most 8 files: run.txt, train.log, losses.jsonl, config.yaml,
    # evaluate_512.json and the state in 3 parts (33 MB)
    if [ "$device" = cuda ]; then
      echo "device: $(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || echo unknown GPU)" >"$out/run.txt"
    else
      echo "device: $device" >"$out/run.txt"
    fi
    echo "seconds: $seconds, batch: $batch, workers: $workers" >>"$out/run.txt"
    status=0
    timeout -s INT -k 60 "$seconds" "$python" -m training train --data "$photos/train" --out "$run" \
      --init edge_app/models/hifill_train_state.pt --device "$device" ${amp[@]+"${amp[@]}"} --size 256 \
      --batch "$batch" --lr 1e-4 --adv-weight 0 --iters 100000000 --save-every 500 --seed 4 \
      --no-progress --workers "$workers" >"$out/train.log" 2>&1 || status=$?
    tail -5 "$out/train.log"
    case $status in 0|124|130) ;; *) echo "error: training exited with status $status" >&2; exit "$status" ;; esac
    cp "$run/losses.jsonl" "$run/config.yaml" "$out/"
    "$python" -m training evaluate --checkpoint "$run/last.pt" --data "$photos/val" --size 512 \
      --count "${EVAL_COUNT:-100}" --device "$device" --json "$out/evaluate_512.json" | tail -8
    split -b 15M -d "$run/last.pt" "$out/state.part-"
    echo "state sha256: $(sha256sum "$run/last.pt" | cut -d' ' -f1)" >>"$out/run.txt"
    [ "$(ls "$out" | wc -l)" -le 8 ] || echo "warning: more than 8 files in $OUT: not all come back" >&2
    ls -la "$out"
    ;;
  collect)
    [ $# -eq 3 ] || usage
    files=$2 dest=$3
    [ -s "$files/state.part-00" ] || { echo "error: no state.part-* in $files" >&2; exit 2; }
    [ -e "$dest/last.pt" ] && { echo "error: $dest/last.pt exists (choose a new RUN_DIR)" >&2; exit 2; }
    mkdir -p "$dest"
    cat "$files"/state.part-* >"$dest/last.pt.partial"
    if [ "state sha256: $(sha256sum "$dest/last.pt.partial" | cut -d' ' -f1)" != "$(grep '^state sha256:' "$files/run.txt")" ]; then
      rm -f "$dest/last.pt.partial"
      echo "error: the joined state does not match the sha256 in $files/run.txt" >&2; exit 1
    fi
    mv "$dest/last.pt.partial" "$dest/last.pt"
    for f in run.txt losses.jsonl config.yaml evaluate_512.json train.log; do
      if [ -e "$files/$f" ]; then cp "$files/$f" "$dest/"; fi
    done
    echo "wrote $dest/last.pt ($(tail -1 "$dest/losses.jsonl" | cut -c1-60)...)"
    ;;
  *) usage ;;
esac

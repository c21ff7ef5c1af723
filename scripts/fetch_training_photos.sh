#!/usr/bin/env bash
# Usage: scripts/fetch_training_photos.sh DIR
#
# Fill DIR (outside the repository) with the smoke-training photo pool:
# the raster wallpapers of the Debian packages lomiri-wallpapers-16.04 and
# gnome-backgrounds (downloaded with apt-get, unpacked with dpkg -x; SVGs are
# skipped) and the colour photos bundled with scikit-image. The packages
# reserved for evaluation are never fetched here.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 DIR" >&2
  exit 2
fi
top="$(cd "$(dirname "$0")/.." && pwd -P)"
dest="$(realpath -m "$1")"
case "$dest/" in
  "$top"/*) echo "error: $dest is inside the repository $top; choose a folder outside it" >&2; exit 2 ;;
esac
python="$top/.venv/bin/python"
[ -x "$python" ] || { echo "error: $python not found (run scripts/setup.sh)" >&2; exit 2; }

mkdir -p "$dest"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"  # apt's sandbox user must be able to write the .debs here

(cd "$tmp" && apt-get download lomiri-wallpapers-16.04 gnome-backgrounds)
for deb in "$tmp"/*.deb; do
  dpkg -x "$deb" "$tmp/root"
done

# Flatten into DEST; names are prefixed with their parent folder to stay unique.
debs=0
while IFS= read -r -d '' f; do
  cp "$f" "$dest/$(basename "$(dirname "$f")")_$(basename "$f")"
  debs=$((debs + 1))
done < <(find "$tmp/root" -type f \( -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.png' -o -iname '*.webp' \) -print0)

# Colour photographs bundled with scikit-image (not its charts, logos or grey images).
photos=$("$python" - "$dest" <<'PY'
import shutil
import sys
from pathlib import Path

import skimage.data

PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "hubble_deep_field.jpg", "ihc.png",
          "motorcycle_left.png", "motorcycle_right.png", "retina.jpg", "rocket.jpg")
src = Path(skimage.data.__file__).parent
copied = 0
for name in PHOTOS:
    if (src / name).is_file():
        shutil.copy(src / name, Path(sys.argv[1]) / f"skimage_{name}")
        copied += 1
print(copied)
PY
)
echo "wrote $((debs + photos)) images to $dest ($debs wallpapers, $photos scikit-image photos)"

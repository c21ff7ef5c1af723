#!/usr/bin/env bash
# Usage: scripts/fetch_training_photos.sh TRAIN_DIR [VAL_DIR]
#
# Fill TRAIN_DIR (outside the repository) with the smoke-training photo pool
# of the bundled model (MODEL_CARD.md): the photos of the Debian package
# lomiri-wallpapers-16.04 and the textures of gnome-backgrounds (downloaded
# with apt-get, unpacked with dpkg -x; SVGs and the 256 px vnc-* tiles are
# skipped), eight photos among the wallpapers of lxqt-themes (see below;
# added after the bundled model's runs A-D, which used the other 34 images:
# MODEL_CARD.md) and nine colour images bundled with scikit-image. The four
# validation photos of the model card are never put in TRAIN_DIR; with
# VAL_DIR they go there. The packages reserved for evaluation are never
# fetched here.
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: $0 TRAIN_DIR [VAL_DIR]" >&2
  exit 2
fi
top="$(cd "$(dirname "$0")/.." && pwd -P)"
dest="$(realpath -m "$1")"
val="${2:+$(realpath -m "$2")}"
for dir in "$dest" ${val:+"$val"}; do
  case "$dir/" in
    "$top"/*) echo "error: $dir is inside the repository $top; choose a folder outside it" >&2; exit 2 ;;
  esac
done
# The validation split of MODEL_CARD.md (also the bundled sample's photo).
VALIDATION="Bridge_by_Sander_Klootwijk.jpg aitzgorri_by_Aitzol_Berasategi.jpg life_by_Aitzol_Berasategi.jpg Picture_0B_by_freespace.jpg"
# The photographs among lxqt-themes' wallpapers that its License file
# credits to an LXQt author (CC-BY-SA-3.0); its other three photos (one by a
# KDE designer, two uncredited) are left out, as they might also ship in the
# reserved plasma-workspace-wallpapers.
LXQT_PHOTOS="after-the-rain.jpg appleflower.png beam.png butterfly.png drop.png flowers.png fog.jpg this-is-not-windows.jpg"
python="$top/.venv/bin/python"
[ -x "$python" ] || { echo "error: $python not found (run scripts/setup.sh)" >&2; exit 2; }

mkdir -p "$dest" ${val:+"$val"}
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"  # apt's sandbox user must be able to write the .debs here

(cd "$tmp" && apt-get download lomiri-wallpapers-16.04 gnome-backgrounds lxqt-themes)
for deb in "$tmp"/lomiri-wallpapers-16.04_*.deb "$tmp"/gnome-backgrounds_*.deb; do
  dpkg -x "$deb" "$tmp/root"
done
dpkg -x "$tmp"/lxqt-themes_*.deb "$tmp/lxqt"

# Flatten into TRAIN_DIR (gnome textures prefixed gnome_); validation photos to VAL_DIR or nowhere.
debs=0
held=0
while IFS= read -r -d '' f; do
  name="$(basename "$f")"
  case "$name" in vnc-*) continue ;; esac
  if [[ " $VALIDATION " == *" $name "* ]]; then
    [ -n "$val" ] && cp "$f" "$val/$name"
    held=$((held + 1))
    continue
  fi
  case "$(basename "$(dirname "$f")")" in gnome) name="gnome_$name" ;; esac
  cp "$f" "$dest/$name"
  debs=$((debs + 1))
done < <(find "$tmp/root" -type f \( -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.png' -o -iname '*.webp' \) -print0)

for name in $LXQT_PHOTOS; do
  cp "$tmp/lxqt/usr/share/lxqt/wallpapers/$name" "$dest/lxqt_$name"
  debs=$((debs + 1))
done

# Colour images bundled with scikit-image (skimage.data loaders), as PNG.
photos=$("$python" - "$dest" <<'PY'
import sys

import cv2
import skimage.data

NAMES = ("astronaut", "cat", "chelsea", "coffee", "colorwheel", "hubble_deep_field",
         "immunohistochemistry", "retina", "rocket")
for name in NAMES:
    rgb = getattr(skimage.data, name)()[..., :3]
    cv2.imwrite(f"{sys.argv[1]}/skimage_{name}.png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
print(len(NAMES))
PY
)
echo "wrote $((debs + photos)) images to $dest ($debs wallpapers, $photos scikit-image images)"
if [ -n "$val" ]; then
  echo "wrote the $held validation photos to $val"
else
  echo "held out the $held validation photos (pass VAL_DIR to keep them)"
fi

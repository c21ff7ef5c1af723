#!/usr/bin/env bash
# Deploy a bundle (python -m convert bundle) to the board and run its smoke test:
# copy, unpack, verify the checksums, run board_check.sh, then run.sh.
#
#   scripts/deploy_board.sh BUNDLE [user@host] [--dest DIR] [--backend B] [--dry-run]
#   scripts/deploy_board.sh BUNDLE --local DIR [--dry-run]
#
# user@host defaults to HwHiAiUser@192.168.1.2 (the Atlas 200 DK over USB;
# 192.168.0.2 over Ethernet). --dest is relative to the remote home unless
# absolute (default hifill_edge). --local DIR does the same steps into a local
# directory with cp/tar/bash, without any network. --dry-run prints the
# commands without running them. --backend sets BACKEND for run.sh (acl by
# default; onnxruntime needs a bundle built with --onnx).
set -euo pipefail

usage() { sed -n '2,13s/^# \{0,1\}//p' "$0"; exit "${1:-2}"; }
die() { echo "deploy_board.sh: $*" >&2; exit 2; }

bundle="" target="" dest="hifill_edge" local_dir="" dry_run=0 backend="${BACKEND:-}"
while [ $# -gt 0 ]; do
  case "$1" in
    --dest) [ $# -ge 2 ] || die "--dest needs a directory"; dest="$2"; shift 2 ;;
    --local) [ $# -ge 2 ] || die "--local needs a directory"; local_dir="$2"; shift 2 ;;
    --backend) [ $# -ge 2 ] || die "--backend needs a name"; backend="$2"; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    -h|--help) usage 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *)
      if [ -z "$bundle" ]; then bundle="$1"
      elif [ -z "$target" ]; then target="$1"
      else die "unexpected argument $1"; fi
      shift ;;
  esac
done
[ -n "$bundle" ] || usage 2
[ -f "$bundle" ] || die "bundle not found: $bundle"
if [ -n "$local_dir" ] && [ -n "$target" ]; then die "give either user@host or --local DIR, not both"; fi
target="${target:-HwHiAiUser@192.168.1.2}"
case "$target" in *@*) ;; *) die "target must be user@host, got $target" ;; esac
name="$(basename "$bundle")"

# One word as the shell would need it typed: bare, or in single quotes.
quote() {
  case "$1" in
    ''|*[!A-Za-z0-9_./:@=%+,-]*) printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")" ;;
    *) printf '%s' "$1" ;;
  esac
}

# Print a command (copy-pasteable), then run it unless --dry-run.
step() {
  printf '+'; for word in "$@"; do printf ' %s' "$(quote "$word")"; done; printf '\n'
  if [ "$dry_run" -eq 0 ]; then "$@"; fi
}

# The commands run inside the unpacked bundle, on the board or locally.
remote_script() {
  local dir="$1" archive="$2" env=""
  [ -n "$backend" ] && env="BACKEND=$(printf '%q' "$backend") "
  printf 'set -e; mkdir -p %q && tar -xzf %q -C %q && cd %q && sha256sum -c --quiet SHA256SUMS && echo "checksums OK" && bash board_check.sh && %sbash run.sh' \
    "$dir" "$archive" "$dir" "$dir" "$env"
}

if [ -n "$local_dir" ]; then
  staging="${TMPDIR:-/tmp}/deploy_board.$$"
  step mkdir -p "$staging"
  step cp "$bundle" "$staging/$name"
  step bash -c "$(remote_script "$local_dir" "$staging/$name")"
  step rm -rf "$staging"
  done_msg="deployed to $local_dir"
else
  remote_archive="/tmp/$name"
  step scp -o ConnectTimeout=10 "$bundle" "$target:$remote_archive"
  step ssh -o ConnectTimeout=10 "$target" "$(remote_script "$dest" "$remote_archive"); rm -f $(printf '%q' "$remote_archive")"
  done_msg="deployed to $target:$dest"
fi
if [ "$dry_run" -eq 1 ]; then echo "dry run: nothing was copied or run"; else echo "$done_msg"; fi

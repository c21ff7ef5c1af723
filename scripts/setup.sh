#!/usr/bin/env bash
# Create .venv beside the repository's top and install requirements.txt into it.
# Idempotent: re-running only installs what is missing.
set -euo pipefail
top="$(cd "$(dirname "$0")/.." && pwd)"
cd "$top"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt

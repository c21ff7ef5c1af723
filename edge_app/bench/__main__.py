"""``python -m edge_app.bench``: see edge_app/bench/cli.py."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())

"""``python -m edge_app``: see edge_app/cli.py."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())

"""Freed memory given back to the system after each inpaint (glibc's malloc_trim).

An inpaint of a large photo allocates and frees hundreds of megabytes
(decoded copies, CRA buffers, the result's PNG) in the request's thread and
the model's. glibc keeps much of what is freed in its per-thread heaps, so
the server's resident memory stays well above what it holds. Measured with
scripts/serve_memory.py (4K photos, a 256 MB store, 60 inpaints, both runs
side by side): 1190 to 1320 MB without trimming, 870 to 930 MB with it
(peaks 1490 and 1190 MB). Elsewhere than glibc this does nothing.
"""
import ctypes
from typing import Any, Optional


def _malloc_trim() -> Optional[Any]:
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None


_TRIM = _malloc_trim()


def release_free_memory() -> None:
    """Give the free pages of every heap back to the system, where the C library can."""
    if _TRIM is not None:
        _TRIM(0)

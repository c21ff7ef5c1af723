"""Test-only inspection and settings of the stand-in (not part of pyACL).

A fresh process, as far as the stand-in can tell, is a fresh import of ``acl``.
"""
from . import util
from ._core import STATE


def outstanding():
    """Everything created and not yet released (init, devices, memory, handles)."""
    with STATE.lock:
        return STATE.outstanding()


def set_run_mode(mode: int) -> None:
    """0 = ACL_DEVICE (the board, default), 1 = ACL_HOST (x86 + card)."""
    STATE.run_mode = mode


def use_util_api(api: str) -> None:
    """The acl.util functions of one CANN release: "bytes" (bytes_to_ptr /
    ptr_to_bytes) or "numpy" (numpy_to_ptr / ptr_to_numpy, CANN 5.0.x)."""
    util._expose(api)


def memcpy_log():
    """(kind, count) of every successful memcpy (the last 10000 calls logged)."""
    return [entry[1:] for entry in STATE.log if entry[0] == "memcpy"]

"""Test-only inspection of the stand-in (not part of pyACL)."""
from ._core import STATE


def outstanding():
    """Everything created and not yet released (init, devices, memory, handles)."""
    with STATE.lock:
        return STATE.outstanding()


def reset() -> None:
    """Forget all state: a fresh process, as far as the stand-in can tell."""
    STATE.reset()


def set_run_mode(mode: int) -> None:
    """0 = ACL_DEVICE (the board, default), 1 = ACL_HOST (x86 + card)."""
    STATE.run_mode = mode


def memcpy_log():
    """(kind, count) of every successful memcpy since the last reset."""
    return [entry[1:] for entry in STATE.log if entry[0] == "memcpy"]

"""How the machine's cores are split between the network and the frame path.

Where frames are composed while the network runs (the stream's two threads,
a network run on its own thread beside the frames of a mask: the stream,
the serve page's live preview, the bench), an onnxruntime session with a
thread per core and compose's threads fight for the same cores (on a busy
2-core machine the network's time per frame rose to 4x its quiet figure).
There the network gets the cores the frame path leaves (one thread for it),
and compose at most what the network leaves. A photo alone (``inpaint``)
keeps the runtime's default, every core.
"""
import os
from typing import Optional

from .config import AppConfig
from .cra import default_threads


def cores() -> int:
    """The CPU count (at least 1)."""
    return os.cpu_count() or 1


def network_threads(config: AppConfig, beside_frames: bool, count: Optional[int] = None) -> int:
    """The network's intra-op threads: ``config.network_threads`` when set;
    else 0 (the runtime's default) for a network that runs alone, and the
    cores minus the frame path's one thread (at least 1) for one that runs
    ``beside_frames``."""
    if config.network_threads or not beside_frames:
        return config.network_threads
    return max(1, (count or cores()) - 1)


def compose_threads(config: AppConfig, height: int, width: int, count: Optional[int] = None) -> int:
    """Compose's worker threads for a frame: ``config.cra_threads`` when set;
    else ``cra.default_threads``, capped at the cores the network leaves when
    its threads are set (``network_threads``)."""
    if config.cra_threads:
        return config.cra_threads
    threads = default_threads(height, width)
    if config.network_threads:
        threads = min(threads, max(1, (count or cores()) - config.network_threads))
    return threads


#: The commands whose frames are composed while the network runs.
BESIDE_FRAMES = ("stream", "serve", "bench")


def for_command(config: AppConfig, command: str) -> AppConfig:
    """``config`` with the network's threads of ``command`` (``network_threads``)."""
    return config.with_options(network_threads=network_threads(config, command in BESIDE_FRAMES))

"""The page's photos and results, by random id, in memory within a byte budget.

What a user uploaded stays while they work on it: when the budget is full
the least recently used entries are dropped, never one in use (an inpaint
in flight) or made within ``recent`` seconds; a new photo that still does
not fit is refused (503, with Retry-After: when the first protected entry
may go), so that the uploads of the people already at work are kept. A
result is always kept: its inpaint is done. An id that was dropped answers
410 with the kind's message (upload or inpaint again), an unknown one 404.
"""
import math
import secrets
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, NamedTuple

from .. import fileio
from .errors import HttpError
from .uploads import encode_png

#: Dropped ids remembered (for 410 rather than 404), the oldest forgotten first.
REMEMBER_DROPPED = 4096
#: Retry-After, in seconds, when only entries in use block an upload (an inpaint takes seconds).
IN_USE_RETRY = 5


class Photo:
    """An uploaded photo or a grabbed frame (a SourceImage)."""

    def __init__(self, source: fileio.SourceImage):
        self.source = source
        #: the model's uint8 BGR copy
        self.image = source.bgr

    @property
    def nbytes(self) -> int:
        """The memory its pixels take (the file's and the model's copies)."""
        source = self.source
        arrays = {id(a): a.nbytes for a in (source.colour, source.bgr, source.alpha) if a is not None}
        return sum(arrays.values())

    def png(self) -> bytes:
        """The photo as it was uploaded (its depth, grey and alpha), PNG."""
        return encode_png(self.source.restore(self.image))


class Result(NamedTuple):
    """An inpaint's result and its mask, PNG."""

    png: bytes
    mask_png: bytes

    @property
    def nbytes(self) -> int:
        return len(self.png) + len(self.mask_png)


#: kind: (the message of a dropped id, of an unknown one)
MESSAGES = {
    "photo": ("this photo was removed from the server's memory to make room for newer uploads: upload it again "
              "(or take a new frame)",
              "photo not found (the server keeps photos in memory only: was it restarted?): upload it again"),
    "result": ("this result was removed from the server's memory to make room for newer ones: inpaint again",
               "result not found (the server keeps results in memory only: was it restarted?): inpaint again"),
}


class _Entry:
    __slots__ = ("kind", "item", "size", "made", "users")

    def __init__(self, kind: str, item: Any, made: float):
        self.kind, self.item, self.size, self.made, self.users = kind, item, item.nbytes, made, 0


class Store:
    """Photos and results (items with ``nbytes``) within ``budget`` bytes, protected for ``recent`` seconds."""

    def __init__(self, budget: int, recent: float, clock: Callable[[], float] = time.monotonic):
        self.budget, self.recent, self.clock = budget, recent, clock
        self._entries = OrderedDict()  # type: OrderedDict  # least recently used first
        self._dropped = OrderedDict()  # type: OrderedDict
        self._bytes = 0
        self._lock = threading.Lock()

    def add(self, kind: str, item: Any) -> str:
        """Keep ``item`` and return its id, dropping the least recently used
        entries that may go to make room; a photo that does not fit even so
        is HttpError 503 (413 when larger than the whole budget)."""
        entry = _Entry(kind, item, self.clock())
        if kind == "photo" and entry.size > self.budget:
            raise HttpError(413, "the photo takes {:.0f} MB in memory, more than the {:.0f} MB the server keeps "
                                 "for photos and results (--serve-keep-bytes)".format(entry.size / 2.0 ** 20,
                                                                                      self.budget / 2.0 ** 20))
        key = secrets.token_hex(8)
        with self._lock:
            self._make_room(entry.size, entry.made)
            if kind == "photo" and self._bytes + entry.size > self.budget:
                wait = self._retry_after(entry.made)
                raise HttpError(503, "the server's memory for photos is full ({:.0f} MB, kept for the people who "
                                     "uploaded or inpainted in the last {:.0f} s): try again in {} s".format(
                                         self.budget / 2.0 ** 20, self.recent, wait), {"Retry-After": str(wait)})
            self._entries[key] = entry
            self._bytes += entry.size
        return key

    def get(self, kind: str, key: str) -> Any:
        """The item of ``key`` (now the most recently used); 410 once dropped, 404 if unknown."""
        with self._lock:
            return self._find(kind, key).item

    @contextmanager
    def held(self, kind: str, key: str) -> Iterator[Any]:
        """The item of ``key`` (as ``get``), never dropped while the block runs (an inpaint in flight)."""
        with self._lock:
            entry = self._find(kind, key)
            entry.users += 1
        try:
            yield entry.item
        finally:
            with self._lock:
                entry.users -= 1

    def usage(self) -> Dict[str, int]:
        """What is kept: bytes, photos, results, and the budget."""
        with self._lock:
            kinds = [entry.kind for entry in self._entries.values()]
            return {"bytes": self._bytes, "budget": self.budget, "photos": kinds.count("photo"),
                    "results": kinds.count("result")}

    def _find(self, kind: str, key: str) -> _Entry:
        entry = self._entries.get(key)
        if entry is None or entry.kind != kind:
            gone = self._dropped.get(key) == kind
            raise HttpError(410 if gone else 404, MESSAGES[kind][0 if gone else 1])
        self._entries.move_to_end(key)
        return entry

    def _may_go(self, entry: _Entry, now: float) -> bool:
        return entry.users == 0 and now - entry.made >= self.recent

    def _make_room(self, size: int, now: float) -> None:
        for key in [k for k, e in self._entries.items() if self._may_go(e, now)]:
            if self._bytes + size <= self.budget:
                return
            entry = self._entries.pop(key)
            self._bytes -= entry.size
            self._dropped[key] = entry.kind
            while len(self._dropped) > REMEMBER_DROPPED:
                self._dropped.popitem(last=False)

    def _retry_after(self, now: float) -> int:
        """Seconds until the first entry kept for being recent may go (or an in-use one may be done)."""
        waits = [entry.made + self.recent - now if entry.users == 0 else IN_USE_RETRY
                 for entry in self._entries.values()]
        return max(1, int(math.ceil(min(waits, default=IN_USE_RETRY))))

"""The page's photos and results, the newest few by random id, in memory."""
import secrets
import threading
from collections import OrderedDict
from typing import Any, Optional

from .. import fileio
from .errors import HttpError
from .uploads import encode_png


class Photo:
    """An uploaded photo or a grabbed frame (a SourceImage), with its PNG once asked for."""

    def __init__(self, source: fileio.SourceImage):
        self.source = source
        #: the model's uint8 BGR copy
        self.image = source.bgr
        self._png = None  # type: Optional[bytes]

    def png(self) -> bytes:
        """The photo as it was uploaded (its depth, grey and alpha), PNG."""
        if self._png is None:
            self._png = encode_png(self.source.restore(self.image))
        return self._png


class Store:
    """The newest ``keep`` items by random id (older ones are dropped);
    a missing id is HttpError 404 with the ``missing`` message."""

    def __init__(self, keep: int, missing: str):
        self.keep, self.missing = max(1, keep), missing
        self._items = OrderedDict()  # type: OrderedDict
        self._lock = threading.Lock()

    def add(self, item: Any) -> str:
        key = secrets.token_hex(8)
        with self._lock:
            self._items[key] = item
            while len(self._items) > self.keep:
                self._items.popitem(last=False)
        return key

    def get(self, key: str) -> Any:
        with self._lock:
            item = self._items.get(key)
        if item is None:
            raise HttpError(404, self.missing.format(self.keep))
        return item

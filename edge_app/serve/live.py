"""The live preview: the source's newest frame inpainted with the stream's mask."""
import threading
import time
from collections import deque
from typing import Optional, Tuple

import cv2
import numpy as np

from ..config import AppConfig
from ..errors import InpaintError
from ..pipeline import Inpainter, MaskFrames
from ..stream import LatestFrame

#: Frames the preview's frames-per-second figure is taken over.
FPS_WINDOW = 25


class LivePreview:
    """The newest frame of ``source`` through the Inpainter's one path for a
    frame (the stream mask's MaskFrames, kept while the mask stays: the
    network's outputs are reused as in the stream, edge_app.reuse), as
    JPEG; made on the model's thread only while someone watches."""

    def __init__(self, source: LatestFrame, config: AppConfig, hole: Optional[np.ndarray]):
        self.source, self.config = source, config
        self._lock = threading.Lock()
        self._hole, self._frames = hole, None  # type: Optional[np.ndarray], Optional[MaskFrames]
        self._seen = 0
        self._jpeg, self._note = None, ""  # type: Optional[bytes], str
        self._times = deque(maxlen=FPS_WINDOW)  # type: deque
        self._watched = -float("inf")

    @property
    def hole(self) -> Optional[np.ndarray]:
        return self._hole

    def set_hole(self, hole: np.ndarray) -> None:
        with self._lock:
            old, self._hole, self._frames = self._frames, hole, None
        if old is not None:
            old.close()  # no more network runs for the old mask

    def watched(self) -> bool:
        return time.monotonic() - self._watched < self.config.serve_preview_idle

    def latest(self) -> Tuple[bytes, float, str]:
        """The newest preview JPEG, its frames per second and a note; marks the preview watched."""
        with self._lock:
            if not self.watched():
                self._times.clear()
            self._watched = time.monotonic()
            jpeg, note, times = self._jpeg, self._note, list(self._times)
        if jpeg is None:
            jpeg, note = self._encode(self.source.latest()[0]), "starting"
        fps = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0
        return jpeg, fps, note

    def step(self, inpainter: Inpainter) -> None:
        """Inpaint the newest frame if it is new (called on the model's thread)."""
        frame, number = self.source.latest()
        if number == self._seen:
            return
        self._seen = number
        with self._lock:
            hole, frames = self._hole, self._frames
        out, note = frame, "no mask for the stream yet: the source's frames as they are"
        if hole is not None:
            try:
                frames = frames or inpainter.for_mask(hole)
                out = frames.inpaint(frame)
                note = ""
            except InpaintError as exc:
                note = "frame shown as it is: {}".format(exc)
        jpeg = self._encode(out)
        with self._lock:
            if self._hole is hole:
                self._frames = frames
            elif frames is not None:
                frames.close()  # the mask changed meanwhile
            self._jpeg, self._note = jpeg, note
            self._times.append(time.monotonic())

    def _encode(self, frame: np.ndarray) -> bytes:
        scale = self.config.serve_preview_side / float(max(frame.shape[:2]))
        if scale < 1:
            frame = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        return cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, self.config.serve_preview_quality])[1].tobytes()

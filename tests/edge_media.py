"""Shared test helpers for edge_app's media: reading a video back, and a
serve page on a loopback port for the length of a ``with`` block."""
import threading
from contextlib import contextmanager
from typing import Iterator, List

import cv2
import numpy as np

from edge_app.serve import EdgeServer


def read_video(path) -> List[np.ndarray]:
    """Every frame of a video file, as OpenCV decodes it."""
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


@contextmanager
def serving(inpainter) -> Iterator[EdgeServer]:
    """An EdgeServer on 127.0.0.1 (a free port) in a thread, shut down after."""
    server = EdgeServer(inpainter, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.close()
        thread.join(timeout=10)

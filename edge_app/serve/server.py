"""The page's HTTP server around one Inpainter, and ``run_server`` (the CLI's ``serve``)."""
import http.server
import os
import secrets
import shlex
import socket
from typing import Any, Optional

import numpy as np

from .. import masks
from ..config import AppConfig
from ..errors import InpaintError
from ..pipeline import Inpainter
from ..stream import LatestFrame
from .access import needs_token
from .addresses import reachable_urls
from .api import ApiHandler
from .live import LivePreview
from .model_thread import ModelThread
from .store import Store

PAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "static", "index.html")


class EdgeServer(http.server.ThreadingHTTPServer):
    """The page's HTTP server around one Inpainter (which it does not close),
    with the Inpainter's settings (``serve_*``, the mask convention, and
    ``overwrite`` for the stream's mask file).

    ``token``: required on every request when set. ``source``: a camera
    index, URL or video file for "current frame" and the live preview;
    ``stream_mask``: the mask file of the stream (loaded when it exists;
    replaced from the page only if it did not exist or ``overwrite``).
    Run ``serve_forever()``; ``shutdown()`` then ``close()`` to stop.
    """

    daemon_threads = True

    def __init__(self, inpainter: Inpainter, host: str = "127.0.0.1", port: int = 0, token: Optional[str] = None,
                 source: Optional[str] = None, stream_mask: Optional[str] = None, log_timings: bool = False):
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.inpainter, self.config = inpainter, inpainter.config  # type: Inpainter, AppConfig
        self.token, self.log_timings = token, log_timings
        try:
            with open(PAGE, "rb") as f:
                self.page = f.read()
        except OSError as exc:
            raise InpaintError("cannot read the page: {}".format(exc.strerror), PAGE)
        self.store = Store(self.config.serve_keep_bytes, self.config.serve_keep_recent)
        self.source = self.live = self.model = None  # type: Any
        self.stream_mask = os.path.abspath(stream_mask) if source and stream_mask else None
        self.may_replace = self.config.overwrite or not (self.stream_mask and os.path.exists(self.stream_mask))
        super().__init__((host, port), ApiHandler)
        try:
            if source is not None:
                self.source = LatestFrame(source, self.config)
                self.live = LivePreview(self.source, self.config, self._initial_stream_hole())
            self.model = ModelThread(inpainter, self.config.serve_wait, self.live)
        except BaseException:
            self.close()
            raise

    def _initial_stream_hole(self) -> Optional[np.ndarray]:
        if not self.stream_mask or not os.path.exists(self.stream_mask):
            return None
        hole = masks.read_hole(self.stream_mask, self.config)
        masks.check_size(hole, self.source.shape, self.stream_mask, "a frame of the source")
        return hole

    def url(self, host: Optional[str] = None) -> str:
        """The page's URL on ``host`` (default: the bound address), with the token."""
        host = host or self.server_address[0]
        if ":" in host:
            host = "[{}]".format(host)
        query = "?token=" + self.token if self.token else ""
        return "http://{}:{}/{}".format(host, self.server_address[1], query)

    def stream_command(self) -> Optional[str]:
        """The ``stream`` command reading the stream's mask file (with its convention)."""
        if self.source is None:
            return None
        convention = self.config.mask_convention
        return "python -m edge_app stream --source {} --mask {}{} -o out.mp4".format(
            shlex.quote(self.source.spec), shlex.quote(self.stream_mask or "MASK.png"),
            "" if convention == AppConfig.mask_convention else " --mask-convention " + convention)

    def close(self) -> None:
        """Stop the model's thread and the source, release the socket."""
        if self.model is not None:
            self.model.stop()
        if self.source is not None:
            self.source.close()
        self.server_close()


def run_server(inpainter: Inpainter, host: str, port: int, source: Optional[str] = None,
               stream_mask: Optional[str] = None, log_timings: bool = False) -> int:
    """Serve the page until Ctrl-C (the CLI's ``serve``); 0 when stopped."""
    token = secrets.token_urlsafe(16) if needs_token(host) else None
    try:
        server = EdgeServer(inpainter, host, port, token, source, stream_mask, log_timings)
    except OSError as exc:
        raise InpaintError("cannot listen on {} port {}: {}".format(host, port, exc.strerror or exc))
    try:
        if token:
            print("Open the page from a browser on this network (the token is required):")
        else:
            print("Open the page in a browser on this machine (or add --host 0.0.0.0 to reach it from others):")
        for url in reachable_urls(server):
            print("  " + url)
        print("{} backend{}; Ctrl-C to stop".format(
            inpainter.backend.name, ", source " + source if source else ""), flush=True)
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped")
    finally:
        server.close()
    return 0

"""``python -m edge_app serve``: a web page to draw the mask and see the result.

For a board without a screen: a browser on the same network loads one static
page (edge_app/static/index.html: no internet needed), paints the hole over
an uploaded photo or the current frame of ``--source``, and gets the result,
its stage timings and the backend's name. Standard library HTTP server,
numpy and OpenCV only.

Safety: the CLI binds 127.0.0.1 unless told otherwise; bound to another
address every request needs the random token of the printed URL (403
without it). Uploads stay in memory, limited in bytes and pixels
(``AppConfig.serve_*``); no path from a request reaches the file system: the
only file written is the stream mask named on the command line. One thread
runs the model: page requests in turn (a request that waits longer than
``serve_wait`` seconds gets 503), live preview frames while none waits.

API (bad input: a 4xx status and ``{"error": "..."}``; masks are PNG or
JPEG, white = hole):

    GET  /                     the page
    GET  /api/info             backend, limits, source, stream mask
    POST /api/image            body: a PNG or JPEG photo -> {"id", "width", "height"}
    POST /api/frame            the source's current frame -> the same
    GET  /api/image/ID         that photo as decoded, PNG
    POST /api/mask/ID          body: a mask file (read with --mask-convention) -> PNG, white = hole
    POST /api/inpaint/ID       body: the mask -> {"result", "backend", "timings_ms", ...}
    GET  /api/result/ID        the result PNG (``?download=1``: as a file)
    GET  /api/result/ID/mask   its mask PNG
    GET  /api/stream-mask      the mask of the stream PNG (404 when none)
    POST /api/stream-mask/ID   body: the mask -> written where ``stream --mask`` reads it
    GET  /api/live             the newest inpainted frame, JPEG (header X-Frames-Per-Second)
"""
import hmac
import http.server
import ipaddress
import json
import os
import queue
import re
import secrets
import shlex
import socket
import struct
import sys
import threading
import time
import traceback
from collections import OrderedDict, deque
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import parse_qs, urlsplit

import cv2
import numpy as np

from . import fileio, masks
from .atomic import atomic_path
from .config import AppConfig
from .errors import InpaintError
from .pipeline import Inpainter
from .stream import open_source

PAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static", "index.html")
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
#: JPEG start-of-frame markers (they hold the size); C4, C8 and CC are not frames.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_NO_LENGTH = frozenset(range(0xD0, 0xD9)) | {0x01}
_ID = "([0-9a-f]{16})"
#: (method, path pattern, handler method of _Handler)
ROUTES = [(m, re.compile(p + "$"), h) for m, p, h in (
    ("GET", "/api/info", "get_info"),
    ("POST", "/api/image", "post_image"),
    ("POST", "/api/frame", "post_frame"),
    ("GET", "/api/image/" + _ID, "get_image"),
    ("POST", "/api/mask/" + _ID, "post_mask"),
    ("POST", "/api/inpaint/" + _ID, "post_inpaint"),
    ("GET", "/api/result/" + _ID, "get_result"),
    ("GET", "/api/result/" + _ID + "/mask", "get_result_mask"),
    ("GET", "/api/stream-mask", "get_stream_mask"),
    ("POST", "/api/stream-mask/" + _ID, "post_stream_mask"),
    ("GET", "/api/live", "get_live"),
)]


class HttpError(Exception):
    """A refused request: its HTTP status and a message for the page."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def needs_token(host: str) -> bool:
    """True unless ``host`` is a loopback address or "localhost" (only this machine can connect)."""
    if host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: whoever it resolves for can connect
        return True


def header_size(data: bytes) -> Tuple[str, int, int]:
    """("png" or "jpeg", width, height) from the file's header, without decoding it."""
    if data[:8] == _PNG_MAGIC and data[12:16] == b"IHDR" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return "png", width, height
    if data[:3] == b"\xff\xd8\xff":
        i = 2
        while i + 4 <= len(data) and data[i] == 0xFF:
            marker = data[i + 1]
            if marker == 0xFF:  # fill byte
                i += 1
            elif marker in _JPEG_NO_LENGTH:
                i += 2
            elif marker in _JPEG_SOF:
                if i + 9 > len(data):
                    break
                height, width = struct.unpack(">HH", data[i + 5:i + 9])
                return "jpeg", width, height
            else:
                i += 2 + struct.unpack(">H", data[i + 2:i + 4])[0]
    raise HttpError(415, "not an image: send a PNG or JPEG file")


def _host_only(host: str) -> str:
    """The name or address of a Host header, without its port."""
    if host.startswith("["):  # [::1]:8000
        return host[1:host.find("]")]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def decode_upload(data: bytes, config: AppConfig, what: str, mask: bool = False) -> np.ndarray:
    """An uploaded PNG or JPEG: uint8 BGR (H, W, 3), or with ``mask`` grey / BGRA
    as ``masks.hole_from_file_array`` reads it. The size is checked before decoding."""
    kind, width, height = header_size(data)
    if width * height > config.serve_max_pixels:
        raise HttpError(413, "the {} is {}x{} ({:.1f} megapixels); the limit is {:.1f} megapixels".format(
            what, width, height, width * height / 1e6, config.serve_max_pixels / 1e6))
    if kind == "jpeg":
        flags = cv2.IMREAD_GRAYSCALE if mask else cv2.IMREAD_COLOR  # EXIF orientation applied
    else:
        flags = cv2.IMREAD_UNCHANGED
    try:
        arr = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    except cv2.error:
        arr = None
    if arr is None or arr.size == 0:
        raise HttpError(415, "the {} cannot be decoded: a damaged {} file?".format(what, kind.upper()))
    arr = fileio.to_uint8(arr, what)
    if arr.ndim == 2:
        return arr if mask else cv2.cvtColor(arr, cv2.COLOR_GRAY2BGR)
    if arr.shape[2] == 4:
        return arr if mask else cv2.cvtColor(arr, cv2.COLOR_BGRA2BGR)
    return cv2.cvtColor(arr, cv2.COLOR_BGR2GRAY) if mask else arr


def check_size(hole: np.ndarray, image_shape: Tuple[int, ...], what: str = "the image") -> None:
    """HttpError 400 unless the mask has the image's size."""
    if hole.shape != tuple(image_shape[:2]):
        raise HttpError(400, "the mask is {}x{} but {} is {}x{}: use a mask of that size".format(
            hole.shape[1], hole.shape[0], what, image_shape[1], image_shape[0]))


def check_mask(image_shape: Tuple[int, ...], hole: np.ndarray, config: AppConfig) -> List[str]:
    """HttpError 400 for a mask of another size, an empty or a full one; notes on a suspicious one."""
    check_size(hole, image_shape)
    count = int(np.count_nonzero(hole))
    if count == 0:
        raise HttpError(400, "the mask is empty: paint over what should be removed")
    if count == hole.size:
        raise HttpError(400, "the mask covers the whole image: nothing is left to fill the hole from")
    fraction = count / float(hole.size)
    if fraction > config.inverted_mask_fraction:
        return ["the mask covers {:.0%} of the image: is it inverted (white = hole)?".format(fraction)]
    return []


def encode_png(image: np.ndarray) -> bytes:
    """PNG bytes, fast compression (the page shows and downloads them)."""
    return cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 1])[1].tobytes()


def _mask_png(hole: np.ndarray) -> bytes:
    return encode_png((hole != 0).astype(np.uint8) * 255)


class _Photo:
    """An uploaded photo or a grabbed frame, with its PNG once asked for."""

    def __init__(self, image: np.ndarray):
        self.image = image
        self._png = None  # type: Optional[bytes]

    def png(self) -> bytes:
        if self._png is None:
            self._png = encode_png(self.image)
        return self._png


class _Store:
    """The newest ``keep`` items by random id, in memory (older ones are dropped)."""

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


class _Source:
    """The newest frame of a camera, URL or video file, read by its own thread
    (a file is looped at its frame rate, like a live camera)."""

    def __init__(self, spec: str, config: AppConfig):
        self.spec = spec
        self._cap = open_source(spec)
        ok, frame = self._cap.read()
        if not ok or frame is None:
            self._cap.release()
            raise InpaintError("no readable frame", spec)
        self._looped = os.path.isfile(spec)
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self._period = 1.0 / (fps if fps and 0 < fps < 1000 else config.stream_default_fps)
        self._frame, self._count = frame, 1
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="edge_app-source", daemon=True)
        self._thread.start()

    @property
    def shape(self) -> Tuple[int, ...]:
        return self._frame.shape

    def latest(self) -> Tuple[np.ndarray, int]:
        """The newest frame and its number."""
        with self._lock:
            return self._frame, self._count

    def _read(self) -> None:
        due = time.monotonic()
        while not self._stop.is_set():
            ok, frame = self._cap.read()
            if not ok or frame is None:
                if self._looped:
                    self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                self._stop.wait(self._period)
                continue
            with self._lock:
                self._frame, self._count = frame, self._count + 1
            if self._looped:
                due = max(due + self._period, time.monotonic() - 1.0)
                self._stop.wait(due - time.monotonic())

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._cap.release()


class _Live:
    """The live preview: the source's newest frame inpainted with the stream's
    mask, as JPEG; made on the model's thread only while someone watches."""

    def __init__(self, source: _Source, config: AppConfig, hole: Optional[np.ndarray]):
        self.source, self.config = source, config
        self._lock = threading.Lock()
        self._hole, self._prepared = hole, None
        self._seen = 0
        self._jpeg, self._note = None, ""  # type: Optional[bytes], str
        self._times = deque(maxlen=25)  # type: deque
        self._watched = -float("inf")

    @property
    def hole(self) -> Optional[np.ndarray]:
        return self._hole

    def set_hole(self, hole: np.ndarray) -> None:
        with self._lock:
            self._hole, self._prepared = hole, None

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
            hole, prepared = self._hole, self._prepared
        out, note = frame, "no mask for the stream yet: the source's frames as they are"
        if hole is not None:
            try:
                prepared = prepared or inpainter.prepare(hole)
                out = inpainter.finish(frame, prepared, inpainter.infer(frame, prepared))
                note = ""
            except InpaintError as exc:
                note = "frame shown as it is: {}".format(exc)
        jpeg = self._encode(out)
        with self._lock:
            if self._hole is hole:
                self._prepared = prepared
            self._jpeg, self._note = jpeg, note
            self._times.append(time.monotonic())

    def _encode(self, frame: np.ndarray) -> bytes:
        scale = self.config.serve_preview_side / float(max(frame.shape[:2]))
        if scale < 1:
            frame = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        return cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, self.config.serve_preview_quality])[1].tobytes()


class _Job:
    def __init__(self, work: Callable[[], Any]):
        self.work = work
        self.done = threading.Event()
        self.result = None  # type: Any
        self.error = None  # type: Optional[BaseException]

    def run(self) -> None:
        try:
            self.result = self.work()
        except Exception as exc:  # handed to the request's thread
            self.error = exc
        finally:
            self.done.set()


class _Engine:
    """The one thread that runs the model: requests in turn, live frames between them."""

    def __init__(self, inpainter: Inpainter, wait: float, live: Optional[_Live]):
        self.inpainter, self.wait, self.live = inpainter, wait, live
        self._turn = threading.Lock()
        self._jobs = queue.Queue()  # type: queue.Queue
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="edge_app-model", daemon=True)
        self._thread.start()

    def run(self, work: Callable[[], Any]) -> Any:
        """``work()`` on the model's thread once the requests before it are done;
        HttpError 503 when that takes longer than ``wait`` seconds."""
        if not self._turn.acquire(timeout=self.wait):
            raise HttpError(503, "busy: another inference is running; try again in a moment")
        try:
            job = _Job(work)
            self._jobs.put(job)
            job.done.wait()
        finally:
            self._turn.release()
        if job.error is not None:
            raise job.error
        return job.result

    def _loop(self) -> None:
        self.inpainter.backend.bind_thread()
        while not self._stop.is_set():
            live = self.live is not None and self.live.watched()
            try:
                job = self._jobs.get(timeout=0.005 if live else 0.2)
            except queue.Empty:
                job = None
            if job is not None:
                job.run()
            elif live:
                try:
                    self.live.step(self.inpainter)
                except Exception:  # the preview must not stop the model's thread
                    traceback.print_exc()
                    self._stop.wait(1.0)
        while not self._jobs.empty():  # answer the requests left
            job = self._jobs.get()
            job.error = HttpError(503, "the server is stopping")
            job.done.set()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


class EdgeServer(http.server.ThreadingHTTPServer):
    """The page's HTTP server around one Inpainter (which it does not close).

    ``token``: required on every request when set. ``source``: a camera
    index, URL or video file for "current frame" and the live preview;
    ``stream_mask``: the mask file of the stream (loaded when it exists;
    replaced from the page only if it did not exist or ``overwrite``).
    Run ``serve_forever()``; ``shutdown()`` then ``close()`` to stop.
    """

    daemon_threads = True

    def __init__(self, inpainter: Inpainter, host: str = "127.0.0.1", port: int = 0, token: Optional[str] = None,
                 source: Optional[str] = None, stream_mask: Optional[str] = None, overwrite: bool = False,
                 log_timings: bool = False):
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.inpainter, self.config = inpainter, inpainter.config
        self.token, self.log_timings = token, log_timings
        try:
            with open(PAGE, "rb") as f:
                self.page = f.read()
        except OSError as exc:
            raise InpaintError("cannot read the page: {}".format(exc.strerror), PAGE)
        self.images = _Store(self.config.serve_keep, "photo not found (the server keeps the newest {}): "
                                                     "upload it again or take a new frame")
        self.results = _Store(self.config.serve_keep, "result not found (the server keeps the newest {}): "
                                                      "inpaint again")
        self.source = self.live = None  # type: Any
        self.stream_mask = os.path.abspath(stream_mask) if source and stream_mask else None
        self.may_replace = overwrite or not (self.stream_mask and os.path.exists(self.stream_mask))
        super().__init__((host, port), _Handler)
        try:
            if source is not None:
                self.source = _Source(source, self.config)
                self.live = _Live(self.source, self.config, self._initial_stream_hole())
            self.engine = _Engine(inpainter, self.config.serve_wait, self.live)
        except BaseException:
            self.close()
            raise

    def _initial_stream_hole(self) -> Optional[np.ndarray]:
        if not self.stream_mask or not os.path.exists(self.stream_mask):
            return None
        cfg = self.config
        hole = masks.read_hole(self.stream_mask, cfg.mask_convention, cfg.mask_threshold, cfg.alpha_threshold)
        height, width = self.source.shape[:2]
        if hole.shape != (height, width):
            raise InpaintError("mask is {}x{} but the source's frames are {}x{}".format(
                hole.shape[1], hole.shape[0], width, height), self.stream_mask)
        return hole

    def url(self, host: Optional[str] = None) -> str:
        """The page's URL on ``host`` (default: the bound address), with the token."""
        host = host or self.server_address[0]
        if ":" in host:
            host = "[{}]".format(host)
        query = "?token=" + self.token if self.token else ""
        return "http://{}:{}/{}".format(host, self.server_address[1], query)

    def stream_command(self) -> Optional[str]:
        """The ``stream`` command reading the stream's mask file."""
        if self.source is None:
            return None
        return "python -m edge_app stream --source {} --mask {} -o out.mp4".format(
            shlex.quote(self.source.spec), shlex.quote(self.stream_mask or "MASK.png"))

    def close(self) -> None:
        """Stop the model's thread and the source, release the socket."""
        engine = getattr(self, "engine", None)
        if engine is not None:
            engine.stop()
        if self.source is not None:
            self.source.close()
        self.server_close()


class _Handler(http.server.BaseHTTPRequestHandler):
    server = None  # type: EdgeServer
    server_version = "HiFill-Edge"
    timeout = 60  # seconds without a byte before a connection is dropped

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        try:
            self._check_access(query)
            if self.command == "GET" and url.path == "/":
                return self._send(200, self.server.page, "text/html; charset=utf-8", {
                    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; "
                                               "script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                                               "frame-ancestors 'none'"})
            for method, pattern, name in ROUTES:
                match = pattern.match(url.path)
                if match and method == self.command:
                    return getattr(self, name)(*match.groups(), query=query)
                if match:
                    raise HttpError(405, "use {} for {}".format(method, url.path))
            raise HttpError(404, "no such page or API call")
        except HttpError as exc:
            self._send_json({"error": exc.message}, exc.status)
        except InpaintError as exc:
            self._send_json({"error": exc.problem}, 400)
        except (ConnectionError, socket.timeout):
            self.close_connection = True
        except Exception as exc:
            traceback.print_exc()
            self._send_json({"error": "internal error ({}); the server keeps running".format(
                type(exc).__name__)}, 500)

    # --- plumbing -----------------------------------------------------------
    def _check_access(self, query: Dict[str, List[str]]) -> None:
        token = self.server.token
        host = self.headers.get("Host", "")
        if token is not None:
            given = query.get("token", [""])[0]
            if not hmac.compare_digest(given.encode("utf-8"), token.encode("utf-8")):
                raise HttpError(403, "forbidden: open the page with the URL and token that the server printed")
        elif host and needs_token(_host_only(host)):
            raise HttpError(403, "forbidden: this server answers only to 127.0.0.1 or localhost")
        origin = self.headers.get("Origin")
        if self.command == "POST" and origin and origin != "null" and urlsplit(origin).netloc != host:
            raise HttpError(403, "forbidden: request from another site")

    def _send(self, status: int, body: bytes, content_type: str, headers: Optional[Dict[str, str]] = None) -> None:
        self.send_response(status)
        for key, value in [("Content-Type", content_type), ("Content-Length", str(len(body))),
                           ("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff"),
                           ("Referrer-Policy", "no-referrer")] + sorted((headers or {}).items()):
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _send_json(self, obj: Dict[str, Any], status: int = 200) -> None:
        self._send(status, json.dumps(obj).encode("utf-8"), "application/json")

    def _send_png(self, png: bytes, query: Dict[str, List[str]], filename: str) -> None:
        headers = {}
        if query.get("download", ["0"])[0] == "1":
            headers["Content-Disposition"] = 'attachment; filename="{}"'.format(filename)
        self._send(200, png, "image/png", headers)

    def _body(self) -> bytes:
        limit = self.server.config.serve_max_upload
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            raise HttpError(411, "the upload needs a Content-Length")
        if length > limit:
            self.close_connection = True
            left = length  # read it away, so the client gets the answer
            while left > 0:
                chunk = self.rfile.read(min(left, 1 << 16))
                if not chunk:
                    break
                left -= len(chunk)
            raise HttpError(413, "the upload is {:.1f} MB; the limit is {:.0f} MB".format(
                length / 2.0 ** 20, limit / 2.0 ** 20))
        if length <= 0:
            raise HttpError(400, "empty upload: send a PNG or JPEG file")
        data = self.rfile.read(length)
        if len(data) != length:
            raise HttpError(400, "the upload was cut short")
        return data

    def _read_hole(self, convention: str = "white-hole") -> np.ndarray:
        cfg = self.server.config
        raw = decode_upload(self._body(), cfg, "mask", mask=True)
        return masks.hole_from_file_array(raw, convention, cfg.mask_threshold, cfg.alpha_threshold)

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        if isinstance(code, int) and code >= 400:  # successful requests are not logged
            super().log_request(code, size)

    def log_message(self, format: str, *args: Any) -> None:
        message = format % args
        if self.server.token:
            message = message.replace(self.server.token, "TOKEN")
        sys.stderr.write("{} - {}\n".format(self.address_string(), message))

    # --- the API --------------------------------------------------------------
    def get_info(self, query: Dict[str, List[str]]) -> None:
        server, cfg = self.server, self.server.config
        source = server.source
        self._send_json({
            "backend": server.inpainter.backend.name,
            "model": os.path.basename(server.inpainter.backend.model_path),
            "source": source.spec if source else None,
            "frame": [source.shape[1], source.shape[0]] if source else None,
            "stream_mask": server.stream_mask,
            "stream_mask_set": bool(server.live and server.live.hole is not None),
            "stream_command": server.stream_command(),
            "max_upload_bytes": cfg.serve_max_upload,
            "max_pixels": cfg.serve_max_pixels,
        })

    def _add_photo(self, image: np.ndarray) -> None:
        key = self.server.images.add(_Photo(image))
        self._send_json({"id": key, "width": image.shape[1], "height": image.shape[0]})

    def post_image(self, query: Dict[str, List[str]]) -> None:
        self._add_photo(decode_upload(self._body(), self.server.config, "photo"))

    def post_frame(self, query: Dict[str, List[str]]) -> None:
        if self.server.source is None:
            raise HttpError(404, "no video source: start the server with --source")
        self._add_photo(self.server.source.latest()[0])

    def get_image(self, key: str, query: Dict[str, List[str]]) -> None:
        self._send(200, self.server.images.get(key).png(), "image/png")

    def post_mask(self, key: str, query: Dict[str, List[str]]) -> None:
        image = self.server.images.get(key).image
        hole = self._read_hole(self.server.config.mask_convention)
        check_size(hole, image.shape)
        self._send(200, _mask_png(hole), "image/png")

    def post_inpaint(self, key: str, query: Dict[str, List[str]]) -> None:
        server = self.server
        image = server.images.get(key).image
        t0 = time.perf_counter()
        hole = self._read_hole()
        notes = check_mask(image.shape, hole, server.config)
        decode = time.perf_counter() - t0
        inpainter = server.inpainter

        def work() -> Tuple[np.ndarray, Dict[str, float], float]:
            started = time.perf_counter()
            prepared = inpainter.prepare(hole)
            inferred = inpainter.infer(image, prepared)
            return inpainter.finish(image, prepared, inferred), dict(inferred.timings), started

        t_queued = time.perf_counter()
        out, timings, started = server.engine.run(work)
        t0 = time.perf_counter()
        result = server.results.add((encode_png(out), _mask_png(hole)))
        stages = [("decode", decode)] + list(timings.items()) + [("encode", time.perf_counter() - t0)]
        total = sum(seconds for _, seconds in stages)
        backend = inpainter.backend.name
        if server.log_timings:
            sys.stderr.write("inpaint {}x{}, hole {:.1%}, {}: {} ms ({})\n".format(
                image.shape[1], image.shape[0], hole.mean(), backend, round(1000 * total, 1),
                ", ".join("{} {:.1f}".format(k, 1000 * s) for k, s in stages)))
        self._send_json({
            "result": result, "width": image.shape[1], "height": image.shape[0], "backend": backend,
            "hole": float(hole.mean()), "timings_ms": [[k, round(1000 * s, 2)] for k, s in stages],
            "total_ms": round(1000 * total, 2), "waited_ms": round(1000 * (started - t_queued), 2),
            "notes": notes,
        })

    def get_result(self, key: str, query: Dict[str, List[str]]) -> None:
        self._send_png(self.server.results.get(key)[0], query, "inpainted-{}.png".format(key[:8]))

    def get_result_mask(self, key: str, query: Dict[str, List[str]]) -> None:
        self._send_png(self.server.results.get(key)[1], query, "mask-{}.png".format(key[:8]))

    def _live(self) -> _Live:
        if self.server.live is None:
            raise HttpError(404, "no video source: start the server with --source")
        return self.server.live

    def get_stream_mask(self, query: Dict[str, List[str]]) -> None:
        hole = self._live().hole
        if hole is None:
            raise HttpError(404, "no mask for the stream yet")
        self._send_png(_mask_png(hole), query, "stream_mask.png")

    def post_stream_mask(self, key: str, query: Dict[str, List[str]]) -> None:
        server, live = self.server, self._live()
        hole = self._read_hole()
        check_mask(server.images.get(key).image.shape, hole, server.config)
        check_size(hole, server.source.shape, "the source's frames")
        if server.stream_mask is None:
            raise HttpError(404, "no mask file for the stream: start the server with --mask FILE")
        if not server.may_replace:
            raise HttpError(409, "{} existed before the server started: restart it with --overwrite to replace "
                                 "that file".format(server.stream_mask))
        try:
            with atomic_path(server.stream_mask) as tmp:
                with open(tmp, "wb") as f:
                    f.write(_mask_png(hole))
        except OSError as exc:
            raise HttpError(500, "cannot write {}: {}".format(server.stream_mask, exc.strerror))
        live.set_hole(hole)
        self._send_json({"path": server.stream_mask, "command": server.stream_command()})

    def get_live(self, query: Dict[str, List[str]]) -> None:
        jpeg, fps, note = self._live().latest()
        self._send(200, jpeg, "image/jpeg", {"X-Frames-Per-Second": "{:.2f}".format(fps),
                                             "X-Preview-Note": note.encode("ascii", "replace").decode("ascii")})


def network_addresses() -> List[str]:
    """This machine's IPv4 addresses other than loopback, read from its network
    interfaces (Linux; nothing is sent). Empty where they cannot be read."""
    try:
        import fcntl
        names = [name for _, name in socket.if_nameindex()]
    except (ImportError, AttributeError, OSError):
        return []
    found = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        for name in names:
            try:  # SIOCGIFADDR: the interface's address
                request = struct.pack("256s", name[:15].encode("utf-8"))
                packed = fcntl.ioctl(probe.fileno(), 0x8915, request)[20:24]
            except OSError:  # no IPv4 address
                continue
            address = socket.inet_ntoa(packed)
            if not ipaddress.ip_address(address).is_loopback:
                found.append(address)
    return found


def reachable_urls(server: Any) -> List[str]:
    """The page's URLs: the bound address; for 0.0.0.0 or :: this machine's
    addresses and its name."""
    host = server.server_address[0]
    if host not in ("0.0.0.0", "::"):
        return [server.url()]
    return [server.url(a) for a in network_addresses()] + [server.url(socket.gethostname())]


def run_server(inpainter: Inpainter, host: str, port: int, source: Optional[str] = None,
               stream_mask: Optional[str] = None, overwrite: bool = False, log_timings: bool = False) -> int:
    """Serve the page until Ctrl-C (the CLI's ``serve``); 0 when stopped."""
    token = secrets.token_urlsafe(16) if needs_token(host) else None
    try:
        server = EdgeServer(inpainter, host, port, token, source, stream_mask, overwrite, log_timings)
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

"""HTTP plumbing of the page: routing, access, bodies, answers, logging.

``Handler`` answers ``GET /`` with the page and sends every other request
to the method its subclass's ``ROUTES`` name; a refused request is a 4xx
and ``{"error": "..."}``, an unexpected failure a 500 that names its type
(the traceback goes to the server's stderr, never to the browser).
"""
import http.server
import json
import re
import socket
import sys
import traceback
from typing import Any, Dict, List, Optional, Pattern, Sequence, Tuple
from urllib.parse import parse_qs, urlsplit

from ..errors import InpaintError
from .access import check_access
from .errors import HttpError

#: The page's policy: nothing from elsewhere, no framing.
PAGE_POLICY = ("default-src 'self'; img-src 'self' blob: data:; script-src 'unsafe-inline'; "
               "style-src 'unsafe-inline'; frame-ancestors 'none'")


def routes(table: Sequence[Tuple[str, str, str]]) -> List[Tuple[str, Pattern, str]]:
    """(method, compiled whole-path pattern, handler method name) from (method, pattern, name)."""
    return [(method, re.compile(pattern + "$"), name) for method, pattern, name in table]


class Handler(http.server.BaseHTTPRequestHandler):
    """One request to an EdgeServer (``self.server``: its page, config and token)."""

    server_version = "HiFill-Edge"
    ROUTES = []  # type: List[Tuple[str, Pattern, str]]

    def setup(self) -> None:
        self.timeout = self.server.config.serve_socket_timeout  # seconds without a byte: dropped
        super().setup()

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        try:
            check_access(self.server.token, self.command, self.headers, query)
            if self.command == "GET" and url.path == "/":
                return self.send(200, self.server.page, "text/html; charset=utf-8",
                                 {"Content-Security-Policy": PAGE_POLICY})
            for method, pattern, name in self.ROUTES:
                match = pattern.match(url.path)
                if match and method == self.command:
                    return getattr(self, name)(*match.groups(), query=query)
                if match:
                    raise HttpError(405, "use {} for {}".format(method, url.path))
            raise HttpError(404, "no such page or API call")
        except HttpError as exc:
            self.send_json({"error": exc.message}, exc.status, exc.headers)
        except InpaintError as exc:
            self.send_json({"error": exc.problem}, 400)
        except (ConnectionError, socket.timeout):
            self.close_connection = True
        except Exception as exc:
            traceback.print_exc()
            self.send_json({"error": "internal error ({}); the server keeps running".format(
                type(exc).__name__)}, 500)

    def send(self, status: int, body: bytes, content_type: str, headers: Optional[Dict[str, str]] = None) -> None:
        self.send_response(status)
        for key, value in [("Content-Type", content_type), ("Content-Length", str(len(body))),
                           ("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff"),
                           ("Referrer-Policy", "no-referrer")] + sorted((headers or {}).items()):
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def send_json(self, obj: Dict[str, Any], status: int = 200, headers: Optional[Dict[str, str]] = None) -> None:
        self.send(status, json.dumps(obj).encode("utf-8"), "application/json", headers)

    def send_png(self, png: bytes, query: Dict[str, List[str]], filename: str) -> None:
        """A PNG, as a download named ``filename`` with ``?download=1``."""
        headers = {}
        if query.get("download", ["0"])[0] == "1":
            headers["Content-Disposition"] = 'attachment; filename="{}"'.format(filename)
        self.send(200, png, "image/png", headers)

    def body(self) -> bytes:
        """The upload, at most ``serve_max_upload`` bytes (413 above: read away, so the client gets the answer)."""
        limit = self.server.config.serve_max_upload
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            raise HttpError(411, "the upload needs a Content-Length")
        if length > limit:
            self.close_connection = True
            left = length
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

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        if isinstance(code, int) and code >= 400:  # successful requests are not logged
            super().log_request(code, size)

    def log_message(self, format: str, *args: Any) -> None:
        message = format % args
        if self.server.token:
            message = message.replace(self.server.token, "TOKEN")
        sys.stderr.write("{} - {}\n".format(self.address_string(), message))

"""The serve page in a real browser: headless Chromium paints a stroke and runs Inpaint.

Chromium is driven over the DevTools protocol on a pipe (--remote-debugging-pipe:
no extra package); it is Debian's ``chromium`` (.ci/run installs it), and the
test skips, saying why, only where no Chromium is installed. Every request of
the browser outside loopback goes to a closed local proxy port: the page must
work with no network.

The screenshot of the page after Inpaint lands in the test's temporary folder;
``EDGE_APP_SCREENSHOT=docs/images/serve_page.png`` also writes it there (the
README's picture).
"""
import fcntl
import json
import os
import select
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from base64 import b64decode
from pathlib import Path

import cv2
import numpy as np
import pytest

import edge_fakes
from edge_app import Inpainter
from edge_media import serving

ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT / "edge_app" / "samples" / "bridge.jpg"
SIZE = (960, 540)  # the photo, scaled down: width, height
VIEW = (1360, 900)  # the browser window, CSS pixels
#: The stroke, in photo pixels: along the dark cables from the top edge to the bottom edge.
STROKE = [(467 + round(238 * t / 20), round(537 * t / 20)) for t in range(21)]
BRUSH = 56  # page pixels
UNDONE = [(100, 300), (200, 320), (300, 300)]
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def find_chromium():
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def _high_fd(fd):
    """``fd`` moved to a number >= 10 (so that placing two of them on 3 and 4 clobbers neither)."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


class Chromium:
    """Headless Chromium and one page, driven by DevTools protocol commands on a pipe."""

    def __init__(self, binary, profile, timeout=60.0):
        self.timeout = timeout
        to_chrome, self._write = os.pipe()
        self._read, from_chrome = os.pipe()
        to_chrome, from_chrome = _high_fd(to_chrome), _high_fd(from_chrome)

        def child_fds():  # Chromium reads commands on fd 3 and answers on fd 4
            os.dup2(to_chrome, 3)
            os.dup2(from_chrome, 4)

        args = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--remote-debugging-pipe", "--user-data-dir=" + str(profile), "--no-first-run",
                "--no-default-browser-check", "--disable-extensions", "--disable-sync",
                "--disable-background-networking", "--disable-component-update", "--no-pings",
                "--proxy-server=127.0.0.1:9", "--hide-scrollbars", "--force-device-scale-factor=1",
                "--window-size={},{}".format(*VIEW), "about:blank"]
        self.proc = subprocess.Popen(args, preexec_fn=child_fds, close_fds=False, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chrome)
        os.close(from_chrome)
        self._buffer = b""
        self._next_id = 0
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.send("Emulation.setDeviceMetricsOverride", session=True, width=VIEW[0], height=VIEW[1],
                  deviceScaleFactor=1, mobile=False)

    def send(self, method, session=False, **params):
        """Run one command; its result (events in between are skipped)."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError("{}: {}".format(method, reply["error"]))
                return reply.get("result", {})

    def _receive(self, deadline):
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._read], [], [], left)[0]:
                raise TimeoutError("no answer from Chromium")
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed its pipe (exit status {})".format(self.proc.poll()))
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(message)

    def evaluate(self, expression):
        """The value of a JavaScript expression in the page (promises awaited)."""
        reply = self.send("Runtime.evaluate", session=True, expression=expression, returnByValue=True,
                          awaitPromise=True)
        if "exceptionDetails" in reply:
            raise RuntimeError("{}: {}".format(expression, reply["exceptionDetails"]))
        return reply["result"].get("value")

    def wait_for(self, expression, timeout=60.0):
        deadline = time.monotonic() + timeout
        while not self.evaluate(expression):
            if time.monotonic() > deadline:
                raise TimeoutError("{} never became true".format(expression))
            time.sleep(0.1)

    def mouse(self, kind, x, y, buttons=1):
        self.send("Input.dispatchMouseEvent", session=True, type=kind, x=x, y=y, button="left",
                  buttons=buttons, clickCount=1)

    def drag(self, points):
        """A stroke of the left mouse button through ``points`` (CSS pixels of the page)."""
        self.mouse("mousePressed", *points[0])
        for x, y in points[1:]:
            self.mouse("mouseMoved", x, y)
        self.mouse("mouseReleased", *points[-1], buttons=0)

    def click(self, selector):
        box = self.evaluate("(() => {{ const r = document.querySelector({!r}).getBoundingClientRect(); "
                            "return [r.left + r.width / 2, r.top + r.height / 2]; }})()".format(selector))
        self.mouse("mousePressed", *box)
        self.mouse("mouseReleased", *box, buttons=0)

    def set_files(self, selector, paths):
        root = self.send("DOM.getDocument", session=True)["root"]["nodeId"]
        node = self.send("DOM.querySelector", session=True, nodeId=root, selector=selector)["nodeId"]
        self.send("DOM.setFileInputFiles", session=True, nodeId=node, files=[str(p) for p in paths])

    def screenshot(self):
        return b64decode(self.send("Page.captureScreenshot", session=True, format="png")["data"])

    def close(self):
        try:
            self.send("Browser.close")
            self.proc.wait(timeout=10)
        except Exception:
            self.proc.kill()
            self.proc.wait()
        finally:
            os.close(self._write)
            os.close(self._read)


def fetch_png(url):
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(url, timeout=60) as reply:
        assert reply.headers["Content-Type"] == "image/png"
        return cv2.imdecode(np.frombuffer(reply.read(), np.uint8), cv2.IMREAD_UNCHANGED)


def _open_with_photo(browser, server, photo) -> None:
    """The page loaded in ``browser`` and ``photo`` chosen in it."""
    browser.send("Page.navigate", session=True, url=server.url())
    browser.wait_for("document.body && document.body.dataset.status === 'ready'")
    browser.set_files("#photoFile", [photo])
    browser.wait_for("document.body.dataset.status === 'image'")


@pytest.mark.slow
@pytest.mark.parametrize("convention", ["white-hole", "keep-white"])  # the page's masks follow the server's
def test_paint_and_inpaint_in_chromium(tmp_path, convention):
    binary = find_chromium()
    if binary is None:
        pytest.skip("no Chromium: `apt-get install chromium` (.ci/run does) to run the page in a browser")
    image = cv2.resize(cv2.imread(str(PHOTO)), SIZE, interpolation=cv2.INTER_AREA)
    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), image)
    with Inpainter(backend="onnxruntime", mask_convention=convention) as inpainter, serving(inpainter) as server:
        browser = Chromium(binary, tmp_path / "profile")
        try:
            browser.send("Page.enable", session=True)
            browser.send("Page.navigate", session=True, url=server.url())
            browser.wait_for("document.body && document.body.dataset.status === 'ready'")
            assert "onnxruntime" in browser.evaluate("document.getElementById('backend').textContent")

            browser.set_files("#photoFile", [photo])
            browser.wait_for("document.body.dataset.status === 'image'")
            left, top, width, height = browser.evaluate(
                "(() => { const r = document.getElementById('mask').getBoundingClientRect(); "
                "return [r.left, r.top, r.width, r.height]; })()")
            assert width > 300 and abs(width / height - SIZE[0] / SIZE[1]) < 0.02
            browser.evaluate("document.getElementById('brushSize').value = {}; "
                             "document.getElementById('brushSize').dispatchEvent(new Event('input'))".format(BRUSH))
            assert browser.evaluate("document.getElementById('brushValue').textContent") == "{} px".format(BRUSH)
            scale = width / SIZE[0]

            def page(points):
                return [(left + x * scale, top + y * scale) for x, y in points]
            browser.drag(page(UNDONE))  # a stroke taken back
            browser.click("#undo")
            browser.drag(page(STROKE))
            end = "document.getElementById('mask').getContext('2d').getImageData({}, {}, 1, 1).data[3]".format(
                *STROKE[-1])
            assert browser.evaluate(end) == 255  # painted
            browser.click("#modeErase")
            browser.drag(page(STROKE[-1:]))  # one dab of the eraser on the stroke's end ...
            assert browser.evaluate(end) == 0
            browser.click("#undo")  # ... taken back
            assert browser.evaluate(end) == 255
            browser.click("#modePaint")

            browser.click("#inpaint")
            browser.wait_for("['done', 'error'].includes(document.body.dataset.status)", timeout=120)
            message = browser.evaluate("document.getElementById('message').textContent")
            assert browser.evaluate("document.body.dataset.status") == "done", message
            assert "onnxruntime" in browser.evaluate("document.getElementById('timings').textContent")
            assert browser.evaluate("document.getElementById('after').naturalWidth") == SIZE[0]
            result = fetch_png(browser.evaluate("document.getElementById('downloadResult').href"))
            mask = fetch_png(browser.evaluate("document.getElementById('downloadMask').href"))
            shot = browser.screenshot()
        finally:
            browser.close()

    (tmp_path / "serve_page.png").write_bytes(shot)
    if os.environ.get("EDGE_APP_SCREENSHOT"):
        Path(os.environ["EDGE_APP_SCREENSHOT"]).write_bytes(shot)
    assert result.shape == image.shape and mask.shape == SIZE[::-1]
    hole = (mask > 127) if convention == "white-hole" else (mask <= 127)
    assert all(hole[y, x] for x, y in STROKE) and not any(hole[y, x] for x, y in UNDONE)  # the stroke ...
    length = sum(np.hypot(x1 - x0, y1 - y0) for (x0, y0), (x1, y1) in zip(STROKE, STROKE[1:]))
    brush = BRUSH / scale  # in photo pixels
    assert 0.7 * length * brush < hole.sum() < 1.2 * (length + brush) * brush  # ... as wide as the brush
    changed = (result != image).any(axis=2)
    assert changed[hole].mean() > 0.5
    near = cv2.dilate(hole.astype(np.uint8), np.ones((41, 41), np.uint8)) > 0
    assert not changed[~near].any()
    assert cv2.imdecode(np.frombuffer(shot, np.uint8), cv2.IMREAD_COLOR).shape[:2] == VIEW[::-1]


def _state(browser):
    """(status, Inpaint disabled, result marked stale, badge shown) of the page."""
    return tuple(browser.evaluate(
        "(() => { const $ = (id) => document.getElementById(id); return [document.body.dataset.status, "
        "$('inpaint').disabled, $('after').classList.contains('stale'), "
        "!$('staleBadge').classList.contains('hidden')]; })()"))


@pytest.mark.slow
def test_a_result_is_marked_stale_when_the_mask_changes_and_inpaint_waits_for_paint(tmp_path):
    """Inpaint is disabled while nothing is painted (after upload, undo, clear,
    or an eraser stroke alone); once the mask differs from the one of the result
    on screen (a new stroke, Undo, Clear) the result is marked stale, and it is
    fresh again when the mask is the same again (Undo of the new stroke)."""
    binary = find_chromium()
    if binary is None:
        pytest.skip("no Chromium: `apt-get install chromium` (.ci/run does) to run the page in a browser")
    size = (480, 270)
    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), cv2.resize(cv2.imread(str(PHOTO)), size, interpolation=cv2.INTER_AREA))
    model = edge_fakes.fake_hifill(tmp_path / "fake.onnx")
    with Inpainter(model=model, backend="onnxruntime") as inpainter, serving(inpainter) as server:
        browser = Chromium(binary, tmp_path / "profile")
        try:
            _open_with_photo(browser, server, photo)
            assert _state(browser) == ("image", True, False, False)  # nothing painted yet
            left, top, width = browser.evaluate(
                "(() => { const r = document.getElementById('mask').getBoundingClientRect(); "
                "return [r.left, r.top, r.width]; })()")

            def stroke(y):
                browser.drag([(left + width * x / 10, top + y * width / size[0]) for x in (2, 4, 6)])
            stroke(60)
            assert _state(browser)[1] is False
            browser.click("#inpaint")
            browser.wait_for("['done', 'error'].includes(document.body.dataset.status)", timeout=120)
            assert _state(browser) == ("done", False, False, False), \
                browser.evaluate("document.getElementById('message').textContent")
            done = browser.evaluate("document.getElementById('message').textContent")

            stroke(200)  # the mask differs from the result's ...
            assert _state(browser) == ("stale", False, True, True)
            assert "earlier mask" in browser.evaluate("document.getElementById('message').textContent")
            browser.click("#undo")  # ... and is the same again
            assert _state(browser) == ("done", False, False, False)
            assert browser.evaluate("document.getElementById('message').textContent") == done
            browser.click("#undo")  # Undo after Inpaint: nothing painted, the result is of another mask
            assert _state(browser) == ("stale", True, True, True)
            stroke(60)
            browser.click("#clear")
            assert _state(browser) == ("stale", True, True, True)
            browser.click("#modeErase")
            stroke(100)  # an eraser stroke paints no hole
            assert _state(browser)[1] is True
            browser.click("#modePaint")
            stroke(100)
            browser.click("#inpaint")
            browser.wait_for("['done', 'error'].includes(document.body.dataset.status)", timeout=120)
            assert _state(browser) == ("done", False, False, False)
        finally:
            browser.close()


@pytest.mark.slow
def test_the_page_sends_a_dropped_photo_again_and_shows_a_full_servers_message(tmp_path):
    """The server keeps photos by a memory budget: when it dropped the page's
    photo (410), Inpaint sends the same file again and inpaints with the mask
    as painted; when its memory is full of recent uploads, an upload shows the
    server's 503 message. The store's clock is moved by hand."""
    binary = find_chromium()
    if binary is None:
        pytest.skip("no Chromium: `apt-get install chromium` (.ci/run does) to run the page in a browser")
    size = (480, 270)
    photo = tmp_path / "photo.png"
    image = cv2.resize(cv2.imread(str(PHOTO)), size, interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(photo), image)
    other = cv2.imencode(".png", image[::-1])[1].tobytes()
    model = edge_fakes.fake_hifill(tmp_path / "fake.onnx")
    now = [1000.0]
    with Inpainter(model=model, backend="onnxruntime", serve_keep_bytes=int(2.5 * image.nbytes),
                   serve_keep_recent=60) as inpainter, serving(inpainter) as server:
        server.store.clock = lambda: now[0]

        def upload_elsewhere():  # another user's upload, straight to the API
            request = urllib.request.Request(server.url() + "api/image", data=other, method="POST",
                                             headers={"Content-Type": "image/png"})
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            try:
                with opener.open(request, timeout=60) as reply:
                    return reply.status
            except urllib.error.HTTPError as exc:
                return exc.code

        browser = Chromium(binary, tmp_path / "profile")
        try:
            _open_with_photo(browser, server, photo)
            first = browser.evaluate("state.image.id")
            left, top, width = browser.evaluate(
                "(() => { const r = document.getElementById('mask').getBoundingClientRect(); "
                "return [r.left, r.top, r.width]; })()")
            browser.drag([(left + width * x / 10, top + width * 0.25) for x in (3, 5, 7)])
            now[0] += 61
            assert [upload_elsewhere(), upload_elsewhere()] == [200, 200]  # the page's photo made room
            now[0] += 61
            browser.click("#inpaint")
            browser.wait_for("['done', 'error'].includes(document.body.dataset.status)", timeout=120)
            message = browser.evaluate("document.getElementById('message').textContent")
            assert browser.evaluate("document.body.dataset.status") == "done", message
            assert browser.evaluate("state.image.id") != first
            result = fetch_png(browser.evaluate("document.getElementById('downloadResult').href"))
            mask = fetch_png(browser.evaluate("document.getElementById('downloadMask').href"))

            assert upload_elsewhere() == 200  # now the memory is full of recent uploads
            browser.set_files("#photoFile", [photo])
            browser.wait_for("document.getElementById('message').className === 'error'")
            full = browser.evaluate("document.getElementById('message').textContent")
        finally:
            browser.close()
    assert (mask > 127).any() and (result != image).any(axis=2)[mask > 127].mean() > 0.5
    assert "memory for photos is full" in full and "try again in 60 s" in full

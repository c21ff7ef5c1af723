"""Random bad and odd inputs through the CLI and the serve page: a result or a one-line error, never a crash.

A seeded, bounded loop: random sizes (1 to 90 pixels a side), depths
(8-, 16-bit, float, signed), channel counts (grey, grey + alpha, BGR, BGRA),
file formats, masks (empty, full, one pixel, inverted, grey levels, alpha,
16-bit, another size) and damaged files (cut short, bytes flipped, empty,
junk). Every CLI run ends with exit 0 and a readable output of the image's
size, or exit 2, one ``error:`` line and nothing written; every request to
the page gets 200 or a 4xx with a message, and the server still answers
afterwards. The in-process CLI (``main``) keeps it fast; a few cases go
through ``python -m edge_app`` as a user runs it.
"""
import http.client
import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

import edge_fakes
from edge_app import Inpainter
from edge_app.cli import main
from edge_media import serving

ROOT = Path(__file__).resolve().parents[1]
SEED = 2020
CLI_CASES = 110
SERVE_CASES = 110
SUBPROCESS_CASES = 4
IMAGE_EXTENSIONS = (".png", ".png", ".jpg", ".tif", ".bmp", ".webp")
OUTPUT_EXTENSIONS = (".png", ".png", ".jpg", ".tif", ".bmp", ".webp")
MASKS = ("empty", "full", "one", "inverted", "grey levels", "blob", "blob", "blob", "alpha", "16-bit",
         "other size", "jpeg")
DAMAGE = ("none",) * 6 + ("cut short", "flipped bytes", "empty file", "junk")


def png_grey_alpha(pixels: np.ndarray) -> bytes:
    """A PNG of colour type 4 (grey + alpha, 8 or 16 bits), which cv2 does not write."""
    height, width = pixels.shape[:2]
    depth = 16 if pixels.dtype == np.uint16 else 8
    rows = pixels.astype(">u2" if depth == 16 else np.uint8).reshape(height, -1).tobytes()
    stride = len(rows) // height
    raw = b"".join(b"\0" + rows[i * stride:(i + 1) * stride] for i in range(height))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, depth, 4, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def random_image(rng, formats=IMAGE_EXTENSIONS):
    """(file bytes, extension, (height, width)) of a random photo."""
    height, width = (int(v) for v in rng.integers(1, 91, 2))
    dtype = rng.choice(["uint8", "uint8", "uint16", "float32", "int8"])
    channels = int(rng.choice([1, 2, 3, 3, 4]))
    ext = str(rng.choice(formats))
    top = {"uint8": 255, "uint16": 65535, "float32": 1, "int8": 127}[dtype]
    pixels = (rng.random((height, width, channels)) * top).astype(dtype)
    if channels == 2:
        if dtype not in ("uint8", "uint16"):
            pixels = pixels.astype(np.uint8)
        return png_grey_alpha(pixels), ".png", (height, width)
    if ext == ".jpg" or (ext in (".bmp", ".webp") and dtype != "uint8"):
        pixels = (pixels.astype(np.float64) * 255 / top).clip(0, 255).astype(np.uint8)
    ok, data = cv2.imencode(ext, pixels[..., 0] if channels == 1 else pixels)
    assert ok
    return data.tobytes(), ext, (height, width)


def random_mask(rng, shape, formats=(".png", ".jpg")):
    """(mask file bytes, extension, kind) for an image of ``shape``."""
    kind = str(rng.choice(MASKS))
    height, width = shape
    mask = np.zeros(shape, np.uint8)
    if kind == "full":
        mask[:] = 255
    elif kind == "one":
        mask[int(rng.integers(height)), int(rng.integers(width))] = 255
    elif kind == "inverted":
        mask[:] = 255
        mask[:max(1, height // 8)] = 0
    elif kind == "grey levels":
        mask = rng.integers(0, 256, shape).astype(np.uint8)
    elif kind in ("blob", "alpha", "16-bit", "jpeg"):
        cv2.circle(mask, (int(rng.integers(width)), int(rng.integers(height))), int(rng.integers(1, 30)), 255, -1)
    elif kind == "other size":
        mask = np.full((height + 1, width), 255, np.uint8)
        mask[0] = 0
    ext = ".jpg" if kind == "jpeg" and ".jpg" in formats else ".png"
    if kind == "alpha":  # transparent = hole
        mask = np.dstack([np.zeros(shape + (3,), np.uint8), 255 - mask])
    elif kind == "16-bit":
        mask = mask.astype(np.uint16) * 257
    return cv2.imencode(ext, mask)[1].tobytes(), ext, kind


def damage(rng, data: bytes):
    """(bytes, what was done): most files untouched, some cut, flipped, emptied or replaced."""
    how = str(rng.choice(DAMAGE))
    if how == "cut short":
        return data[:int(rng.integers(0, len(data)))], how
    if how == "flipped bytes":
        spoilt = bytearray(data)
        for i in rng.integers(0, len(data), 4):
            spoilt[i] ^= 0xFF
        return bytes(spoilt), how
    if how == "empty file":
        return b"", how
    if how == "junk":
        return rng.bytes(int(rng.integers(1, 400))), how
    return data, how


def cli_case(rng, folder):
    """Files of one random case and the CLI's argv for them."""
    image, ext, shape = random_image(rng)
    image, hurt = damage(rng, image)
    mask, mask_ext, kind = random_mask(rng, shape)
    if rng.random() < 0.1:
        mask, mask_hurt = damage(rng, mask)
        kind += " " + mask_hurt
    (folder / ("photo" + ext)).write_bytes(image)
    (folder / ("mask" + mask_ext)).write_bytes(mask)
    out = folder / ("out" + str(rng.choice(OUTPUT_EXTENSIONS)))
    argv = ["inpaint", str(folder / ("photo" + ext)), str(folder / ("mask" + mask_ext)), "-o", str(out)]
    return argv, out, shape, "{} {}x{} {}, mask {}, {}".format(ext, shape[1], shape[0], hurt, kind, out.suffix)


def check_cli_outcome(code, err, out, shape, case):
    lines = err.strip().splitlines()
    assert "Traceback" not in err, (case, err)
    assert code in (0, 2), (case, code, err)
    errors = [line for line in lines if line.startswith("error: ")]
    if code == 0:
        assert errors == [], (case, err)
        written = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
        assert written is not None and written.shape[:2] == shape, case
        out.unlink()
    else:
        assert len(errors) == 1 and lines[-1] == errors[0] and "\n" not in errors[0], (case, err)
        assert not out.exists(), (case, err)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return edge_fakes.fake_hifill(tmp_path_factory.mktemp("fuzz") / "fake.onnx")


def test_random_inputs_through_the_cli(tmp_path, model, capsys):
    rng = np.random.default_rng(SEED)
    codes = []
    for n in range(CLI_CASES):
        folder = tmp_path / str(n)
        folder.mkdir()
        argv, out, shape, case = cli_case(rng, folder)
        code = main(argv + ["--model", model, "--backend", "onnxruntime"])
        check_cli_outcome(code, capsys.readouterr().err, out, shape, case)
        codes.append(code)
    assert 0.2 < codes.count(0) / len(codes) < 0.8  # both outcomes are exercised


@pytest.mark.slow
def test_random_inputs_through_the_command_as_typed(tmp_path, model):
    rng = np.random.default_rng(SEED + 1)
    for n in range(SUBPROCESS_CASES):
        folder = tmp_path / str(n)
        folder.mkdir()
        argv, out, shape, case = cli_case(rng, folder)
        run = subprocess.run([sys.executable, "-m", "edge_app"] + argv + ["--model", model], cwd=ROOT,
                             capture_output=True, text=True, timeout=120)
        check_cli_outcome(run.returncode, run.stderr, out, shape, case)


def _request(port, method, path, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "application/octet-stream"})
        reply = conn.getresponse()
        return reply.status, reply.getheader("Content-Type"), reply.read()
    finally:
        conn.close()


def _check_reply(status, kind, data, case):
    assert status == 200 or 400 <= status < 500, (case, status, data[:300])
    assert b"Traceback" not in data, case
    if status != 200:
        assert kind == "application/json" and json.loads(data)["error"], (case, data[:300])


def test_random_uploads_to_the_page(model):
    rng = np.random.default_rng(SEED + 2)
    answered = {"photo": set(), "inpaint": set()}
    with Inpainter(model=model, backend="onnxruntime", serve_max_pixels=6000) as inpainter, \
            serving(inpainter) as server:
        port = server.server_address[1]
        for n in range(SERVE_CASES):
            image, ext, shape = random_image(rng, (".png", ".png", ".jpg"))
            image, hurt = damage(rng, image)
            case = "{} {}x{} {}".format(ext, shape[1], shape[0], hurt)
            status, kind, data = _request(port, "POST", "/api/image", image)
            _check_reply(status, kind, data, case)
            answered["photo"].add(status)
            if status != 200:
                continue
            key = json.loads(data)["id"]
            mask, _, mask_kind = random_mask(rng, shape)
            if rng.random() < 0.1:
                mask, mask_hurt = damage(rng, mask)
                mask_kind += " " + mask_hurt
            status, kind, data = _request(port, "POST", "/api/inpaint/" + key, mask)
            _check_reply(status, kind, data, case + ", mask " + mask_kind)
            answered["inpaint"].add(status)
            if status == 200:
                result = json.loads(data)["result"]
                assert _request(port, "GET", "/api/result/" + result)[0] == 200
        assert _request(port, "GET", "/api/info")[0] == 200  # still answering
    assert {200, 413, 415} <= answered["photo"] and {200, 400} <= answered["inpaint"], answered

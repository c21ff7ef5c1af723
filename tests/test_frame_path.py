"""One path for a frame: the CLI, the stream and the serve page give the
Inpainter's result bit for bit for the same frame, mask and options, and a
mask's frames keep their CRA plan while it holds."""
import http.client
import json

import cv2
import numpy as np
import pytest

import edge_fakes
from edge_media import read_video, serving
from edge_app import Inpainter, cra
from edge_app.cli import build_parser, main, open_inpainter
from edge_app.options import parse

SIZE = (320, 240)  # width, height
#: Options away from the defaults, given to every command; the mask files are keep-white.
OPTIONS = ["--mask-convention", "keep-white", "--feather", "5", "--roi", "on", "--min-known", "0.7",
           "--thin-width", "9", "--soft-floor", "0.01"]
SETTINGS = dict(mask_convention="keep-white", blend_feather=5, roi="on", min_known=0.7, thin_width=9, soft_floor=0.01)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return edge_fakes.fake_hifill(tmp_path_factory.mktemp("path") / "fake.onnx")


def frame_and_hole(seed=0):
    rng = np.random.default_rng(seed)
    width, height = SIZE
    image = cv2.resize(rng.integers(0, 256, (9, 12, 3), dtype=np.uint8), SIZE, interpolation=cv2.INTER_CUBIC)
    image = np.clip(image.astype(int) + rng.integers(-20, 20, image.shape), 0, 255).astype(np.uint8)
    hole = np.zeros((height, width), np.uint8)
    hole[90:130, 140:200] = 1
    cv2.line(hole, (10, 200), (300, 170), 1, 2)  # a wire: the thin-hole fill
    return image, hole


def keep_white_file(path, hole):
    cv2.imwrite(str(path), (hole == 0).astype(np.uint8) * 255)
    return str(path)


def lossless_video(path, frames):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"FFV1"), 10, SIZE)
    if not writer.isOpened():
        pytest.skip("this OpenCV cannot write FFV1 video (lossless)")
    for frame in frames:
        writer.write(frame)
    writer.release()
    return str(path)


def request(port, method, path, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "image/png"})
        reply = conn.getresponse()
        data = reply.read()
        assert reply.status == 200, data
        return data
    finally:
        conn.close()


def test_cli_stream_and_serve_give_the_inpainters_result(model, tmp_path, capsys):
    image, hole = frame_and_hole()
    with Inpainter(model=model, backend="onnxruntime", **SETTINGS) as inpainter:
        expected = inpainter.inpaint(image, hole)
    assert (expected != image).any(axis=2)[hole != 0].mean() > 0.5
    mask_path = keep_white_file(tmp_path / "mask.png", hole)
    cv2.imwrite(str(tmp_path / "frame.png"), image)
    base = ["--model", model, "--backend", "onnxruntime"] + OPTIONS

    assert main(["inpaint", str(tmp_path / "frame.png"), mask_path, "-o", str(tmp_path / "cli.png")] + base) == 0
    assert np.array_equal(cv2.imread(str(tmp_path / "cli.png")), expected), "inpaint"

    video = lossless_video(tmp_path / "in.avi", [image] * 3)
    assert main(["stream", "--source", video, "--mask", mask_path, "-o", str(tmp_path / "out.avi"),
                 "--stream-fourcc", "FFV1"] + base) == 0
    streamed = read_video(tmp_path / "out.avi")
    assert len(streamed) == 3 and all(np.array_equal(f, expected) for f in streamed), "stream"

    args = parse(build_parser(), ["serve"] + base)
    with open_inpainter(args) as inpainter, serving(inpainter) as server:
        port = server.server_address[1]
        key = json.loads(request(port, "POST", "/api/image", cv2.imencode(".png", image)[1].tobytes()))["id"]
        with open(mask_path, "rb") as f:
            reply = json.loads(request(port, "POST", "/api/inpaint/" + key, f.read()))
        served = cv2.imdecode(np.frombuffer(request(port, "GET", "/api/result/" + reply["result"]), np.uint8),
                              cv2.IMREAD_UNCHANGED)
    assert np.array_equal(served, expected), "serve"
    capsys.readouterr()


def test_a_masks_frames_keep_their_plan_while_the_blend_holds(model, monkeypatch):
    """One CRA plan for frames sharing the mask and the network's blend mask;
    a new one when the blend changes, and each frame's result is the one a
    fresh Inpainter gives (--every-frame: each frame runs the network)."""
    built = []

    class CountedPlan(cra.CraPlan):
        def __init__(self, *args, **kwargs):
            built.append(1)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(cra, "CraPlan", CountedPlan)
    image, hole = frame_and_hole()
    other, _ = frame_and_hole(seed=3)
    with Inpainter(model=model, backend="onnxruntime", reuse_network=False) as inpainter:
        frames = inpainter.for_mask(hole)
        first, second = frames.inpaint(image), frames.inpaint(other)
        assert len(built) == 1
        assert np.array_equal(first, Inpainter(model=model, backend="onnxruntime").inpaint(image, hole))
        assert np.array_equal(second, Inpainter(model=model, backend="onnxruntime").inpaint(other, hole))
        run = inpainter.backend.run

        def softer(img, mask):  # a network whose blend mask depends on the frame
            inpainted, attention, blend = run(img, mask)
            return inpainted, attention, blend * 0.5

        built.clear()
        inpainter.backend.run = softer
        halved = frames.inpaint(image)
        assert len(built) == 1, "the plan is rebuilt for the new blend"
        fresh = inpainter.for_mask(hole).inpaint(image)
        assert np.array_equal(halved, fresh) and not np.array_equal(halved, first)

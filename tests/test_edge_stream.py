"""The stream loop: a fixed mask over a short generated video, its frames the Inpainter's."""
import os
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

import edge_fakes
from edge_media import read_video
from edge_app import Inpainter
from edge_app.errors import InpaintError
from edge_app.stream import _Reader, run_stream

SIZE = (160, 120)  # width, height


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return edge_fakes.fake_hifill(tmp_path_factory.mktemp("stream") / "fake.onnx")


@pytest.fixture(scope="module")
def inpainter(model):
    with Inpainter(model=model, backend="onnxruntime") as ip:
        yield ip


@pytest.fixture
def video(tmp_path):
    path = str(tmp_path / "in.mp4")
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), 10, SIZE)
    for i in range(12):
        frame = np.full((SIZE[1], SIZE[0], 3), 40 + i * 15, np.uint8)
        cv2.putText(frame, str(i), (40, 80), cv2.FONT_HERSHEY_SIMPLEX, 2, (255, 255, 255), 3)
        writer.write(frame)
    writer.release()
    return path


def fixed_mask():
    """Over the frame number's first digit: a fill (the plain background) differs from the frame."""
    mask = np.zeros((SIZE[1], SIZE[0]), np.uint8)
    mask[45:88, 35:82] = 1
    return mask


def count_frames(path):
    cap = cv2.VideoCapture(path)
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return n


def test_stream_writes_every_frame(inpainter, video, tmp_path):
    out = str(tmp_path / "out.mp4")
    seen = []
    report = run_stream(inpainter, video, fixed_mask(), out, progress=seen.append)
    assert (report.written, report.dropped, report.unreadable) == (12, 0, 0)
    assert seen == list(range(1, 13)) and report.fps > 0
    assert count_frames(out) == 12
    assert {"preprocess", "inference", "cra", "blend", "encode"} <= set(report.timings)
    assert "12 frames written" in report.summary()


def test_stream_frames_are_the_inpainters_frames(model, video, tmp_path):
    """With --every-frame, each written frame (a lossless video) equals
    Inpainter.inpaint of the frame as read from the source: the frames
    differ, so a raw frame, one written twice or out of order shows."""
    out = tmp_path / "out.avi"
    with Inpainter(model=model, backend="onnxruntime", stream_fourcc="FFV1", reuse_network=False) as inpainter:
        handed = []
        report = run_stream(inpainter, video, fixed_mask(), str(out), on_frame=lambda f: handed.append(f.copy()))
        read = read_video(video)
        expected = [inpainter.inpaint(frame, fixed_mask()) for frame in read]
    written = read_video(out)
    if report.written and not written:
        pytest.skip("this OpenCV cannot read back FFV1 video")
    assert report.written == len(written) == len(read) == len(handed) == 12
    assert all(np.array_equal(a, b) for a, b in zip(handed, written))  # on_frame: each frame as encoded
    for n, (got, want, raw) in enumerate(zip(written, expected, read)):
        assert not np.array_equal(want, raw), n
        assert np.array_equal(got, want), "frame {}".format(n)


def test_stream_reuses_the_network_and_reports_its_runs(tmp_path, capsys):
    """A fixed camera whose light rises 12 grey levels a frame: with reuse
    the network runs for the first frame only and the fill follows the
    light as the network's does; --every-frame runs it for each; the report
    and --timings say how often. (The fake network fills with the mean of
    the known view.)"""
    from edge_app.bench.frames import synthetic_frame
    from edge_app.cli import main
    model = edge_fakes.fake_hifill(tmp_path / "mean.onnx", fill="mean")
    base = (synthetic_frame(*SIZE, seed=2) * 0.3).astype(np.uint8)
    video = str(tmp_path / "rising.avi")
    writer = cv2.VideoWriter(video, cv2.VideoWriter_fourcc(*"FFV1"), 10, SIZE)
    if not writer.isOpened():
        pytest.skip("this OpenCV cannot write FFV1 video (lossless)")
    for i in range(12):
        writer.write(base + np.uint8(40 + 12 * i))
    writer.release()
    runs, fills = {}, {}
    for every in (False, True):
        with Inpainter(model=model, backend="onnxruntime", reuse_network=not every, reuse_max_age=1e6,
                       stream_fourcc="FFV1") as ip:
            out = str(tmp_path / "out{}.avi".format(int(every)))
            report = run_stream(ip, video, fixed_mask(), out)
        runs[every] = report.network_runs
        assert report.written == 12 and "the network ran {} times".format(report.network_runs) in report.summary()
        fills[every] = np.array([frame[20:50, 100:140].mean() for frame in read_video(out)])
    assert runs == {True: 12, False: 1}
    assert (np.diff(fills[True]) > 10).all()  # the network's fill follows the light ...
    assert np.abs(fills[False] - fills[True]).max() < 1, fills  # ... and so does the reused one
    cv2.imwrite(str(tmp_path / "mask.png"), fixed_mask() * 255)
    assert main(["stream", "--source", video, "--mask", str(tmp_path / "mask.png"), "-o", str(tmp_path / "cli.mp4"),
                 "--model", model, "--backend", "onnxruntime", "--timings"]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"the network ran \d+ times", printed)
    assert re.search(r"^  network +\d+\.\d ms per run, \d+ runs in 12 frames$", printed, re.M), printed


def test_a_files_frames_carry_its_own_time(inpainter, video, tmp_path, monkeypatch):
    """The stream gives each frame of a file its time on the file's clock
    (frame number / 10 frames/s), which times --reuse-max-age."""
    times = []
    for_mask = inpainter.for_mask

    def recording(hole):
        frames = for_mask(hole)
        infer = frames.infer
        frames.infer = lambda image, at=None: times.append(at) or infer(image, at)
        return frames

    monkeypatch.setattr(inpainter, "for_mask", recording)
    run_stream(inpainter, video, fixed_mask(), str(tmp_path / "out.mp4"))
    assert times == pytest.approx([0.1 * n for n in range(12)])


def test_stream_max_frames(inpainter, video, tmp_path):
    out = str(tmp_path / "five.mp4")
    report = run_stream(inpainter, video, fixed_mask(), out, max_frames=5)
    assert report.written == 5 and count_frames(out) == 5


def test_corrupted_and_unreadable_sources(inpainter, video, tmp_path):
    data = bytearray(Path(video).read_bytes())
    middle = len(data) // 2
    data[middle:middle + 3000] = np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8).tobytes()
    corrupted = tmp_path / "corrupted.mp4"
    corrupted.write_bytes(bytes(data))
    out = str(tmp_path / "from_corrupted.mp4")
    report = run_stream(inpainter, str(corrupted), fixed_mask(), out)  # never fatal
    assert 1 <= report.written <= 12 and count_frames(out) == report.written
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(os.urandom(4000))
    with pytest.raises(InpaintError, match="cannot open video source"):
        run_stream(inpainter, str(junk), fixed_mask(), str(tmp_path / "x.mp4"))
    with pytest.raises(InpaintError, match="mask is 80x60 but the image is 160x120"):
        run_stream(inpainter, video, np.ones((60, 80), np.uint8), str(tmp_path / "y.mp4"))


class FlakyCapture:
    """A live source whose reads fail now and then, then stop for good."""

    def __init__(self, pattern):
        self.pattern = list(pattern)

    def get(self, prop):
        return 0.0  # a camera knows no frame count

    def read(self):
        ok = self.pattern.pop(0) if self.pattern else False
        return (True, np.zeros((2, 2, 3), np.uint8)) if ok else (False, None)


def test_reader_counts_failed_reads_and_gives_up_on_a_dead_source():
    reader = _Reader(FlakyCapture([True, False, False, True, True, False]), max_failures=3)
    frames = [reader.read() for _ in range(4)]
    assert [f is not None for f in frames] == [True, True, True, False]
    assert reader.unreadable == 2 + 3

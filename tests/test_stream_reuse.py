"""The frames of one mask reuse the network's outputs (edge_app.reuse): the
fill follows the frame's light, a still scene composes nothing, frames never
wait for the network, a scene cut runs it at once and the output follows the
new scene, new outputs are cross-faded in, CRA's residuals come from the
current frame when its context changed. A HeldRuns backend (tests/edge_fakes.py)
is a network as slow as each test wants: no sleeps, no timed assertions."""
import threading
from contextlib import contextmanager

import cv2
import numpy as np
import pytest

import edge_fakes
from edge_app import Inpainter, cra
from edge_app.bench.frames import synthetic_frame
from edge_app.reuse.change import ChangeMeter
from edge_app.reuse.light import LightModel

SIZE = (320, 240)  # width, height
#: The network's own fill: its outputs (which the fake network shifts at will)
#: are what the hole shows, so each frame can be checked against --every-frame
#: pixel for pixel. The completion (fill 'patches') through reuse: the tests
#: at the end.
FILL = "network"
#: Cross-fade frames and the fill change of a new network run in the cross-fade test.
FADE, SHIFT = 5, 40.0


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return edge_fakes.fake_hifill(tmp_path_factory.mktemp("reuse") / "fake.onnx")


def scene(seed=0):
    """A textured frame with headroom for light changes (grey levels 30 .. 210)."""
    frame = synthetic_frame(*SIZE, seed=seed).astype(np.float32)
    return (frame * 0.7 + 30).astype(np.uint8)


def obstruction_blob():
    hole = np.zeros((SIZE[1], SIZE[0]), np.uint8)
    cv2.ellipse(hole, (200, 110), (36, 28), 20, 0, 360, 1, -1)
    return hole


def obstruction():
    hole = obstruction_blob()
    cv2.line(hole, (10, 200), (300, 170), 1, 2)  # a wire: the thin-hole fill
    return hole


def lit(frame, gain, offset=0.0):
    """``frame`` under another light: ``gain`` a number, or per column (a gradient across the view)."""
    gain = np.asarray(gain, np.float32)
    if gain.ndim == 1:
        gain = gain[None, :, None]
    return np.clip(frame.astype(np.float32) * gain + offset + 0.5, 0, 255).astype(np.uint8)


@contextmanager
def held_runs(backend, **options):
    """edge_fakes.HeldRuns on ``backend``, every run let go at the end (so a
    failing test does not leave a run holding the model)."""
    runs = edge_fakes.HeldRuns(backend, **options)
    try:
        yield runs
    finally:
        runs.allow(10 ** 6)


def every_frame(backend, frame, hole, **options):
    """The frame as --every-frame makes it (the network run on it)."""
    return Inpainter(fill=FILL, backend=backend, reuse_network=False, **options).inpaint(frame, hole)


def in_hole(a, b, hole):
    return float(np.abs(a.astype(np.float32) - b)[hole != 0].mean())


@pytest.mark.parametrize("light", ["brighter", "gradient", "middle"])
def test_the_fill_follows_the_light(model, light):
    """One network run: the later frame's fill is the first frame's brought
    into its light, as close to --every-frame's as rounding allows; a light
    that varies across the view needs a gain and offset that vary too."""
    image, hole = scene(), obstruction()
    u = np.linspace(-1.0, 1.0, SIZE[0])
    frame = {"brighter": lit(image, 1.15, -6.0), "gradient": lit(image, 1.0 + 0.22 * u),
             "middle": lit(image, 1.1 - 0.25 * u * u)}[light]
    with Inpainter(model=model, backend="onnxruntime", fill=FILL) as inpainter:
        want = every_frame(inpainter.backend, frame, hole)
        errors = {}
        for degree in (0, 2):
            frames = Inpainter(fill=FILL, backend=inpainter.backend, reuse_light_degree=degree).for_mask(hole)
            first = frames.inpaint(image)
            errors[degree] = in_hole(frames.inpaint(frame), want, hole)
        assert frames.network_runs == 1, "the network ran again for a change of light"
    stale = in_hole(first, want, hole)
    assert stale > 3.0  # the first frame's fill, not brought into the new light
    assert errors[2] < 0.5, (errors, stale)
    if light != "brighter":
        assert errors[0] > 3.0, "one gain and offset for the whole view cannot follow it"


def test_a_still_scene_composes_nothing(model, monkeypatch):
    """Equal frames: the first frame's pixels again, bit for bit (the single
    photo's), from the kept fill: no compose, no network run."""
    calls = []
    compose = cra.compose
    monkeypatch.setattr(cra, "compose", lambda *a, **k: calls.append(1) or compose(*a, **k))
    image, hole = scene(), obstruction()
    with Inpainter(model=model, backend="onnxruntime", fill=FILL) as inpainter:
        alone = Inpainter(fill=FILL, backend=inpainter.backend).inpaint(image, hole)
        frames = inpainter.for_mask(hole)
        calls.clear()
        outs = [frames.inpaint(image) for _ in range(4)]
        assert len(calls) == 1 and frames.network_runs == 1
    assert all(np.array_equal(out, alone) for out in outs)
    assert in_hole(alone, image, hole) > 5  # the hole is filled


def test_a_frame_never_waits_for_the_network(model):
    """A network run asked for and held (a network that never finishes):
    frames keep coming out, filled and in their light; the run is on its own
    thread, and its outputs are used once it is done."""
    image, hole = scene(), obstruction()
    lighter = [lit(image, 1.0 + 0.01 * i) for i in range(12)]
    with Inpainter(model=model, backend="onnxruntime", fill=FILL, reuse_max_age=5.0) as inpainter:
        wants = [every_frame(inpainter.backend, frame, hole) for frame in lighter]
        with held_runs(inpainter.backend, hold_from=2) as held:
            frames = inpainter.for_mask(hole)
            now = [0.0]
            frames.reuse.clock = lambda: now[0]
            frames.inpaint(image)
            now[0] = 6.0  # older than --reuse-max-age: the next frame asks again
            outs = [frames.inpaint(frame) for frame in lighter]
            held.wait_started(2)
            assert held.finished == 1 and held.started == 2, "12 frames came out while run 2 was held"
            assert held.threads == ["MainThread", "edge_app-network"]
            held.allow(2)
            frames.reuse.runner.wait(held.TIMEOUT)
            frames.inpaint(image)
            assert frames.network_runs == 2 and frames.reuse.key.small is not None
    for out, frame, want in zip(outs, lighter, wants):
        assert in_hole(out, frame, hole) > 5 and in_hole(out, want, hole) < 0.5


def test_a_scene_cut_runs_the_network_at_once_and_the_output_follows(model):
    """A cut while a run on the old scene is held: the cut frame asks for a
    run on the new scene, which starts as soon as the held one ends (no
    frame between them: within one network time), the old scene's outputs
    are dropped, a quick fill of the new frame shows meanwhile (the fake
    network leaves the middle of the blob black: b itself is what it hides),
    and once the new outputs are cross-faded in the frame is
    --every-frame's, bit for bit."""
    a, b, hole = scene(0), scene(7), obstruction()
    with Inpainter(model=model, backend="onnxruntime", fill=FILL, reuse_crossfade=FADE) as inpainter:
        want_a, want_b = (every_frame(inpainter.backend, f, hole) for f in (a, b))
        with held_runs(inpainter.backend, hold_from=2) as held:
            frames = inpainter.for_mask(hole)
            now = [0.0]
            frames.reuse.clock = lambda: now[0]
            frames.inpaint(a)
            now[0] = 1e6
            frames.inpaint(a)  # asks run 2 (the old scene), held
            held.wait_started(2)
            cut = frames.inpaint(b)
            assert held.started == 2  # run 3 (the cut frame) waits for run 2
            # the quick fill continues b around the hole: far closer to what b hides than a's fill
            assert in_hole(cut, b, hole) < 0.5 * in_hole(want_a, b, hole)
            held.allow(2)
            held.wait_started(3)  # right after run 2, before any other frame
            assert np.array_equal(held.inputs[2][0], frames.infer(b).small.astype(np.float32))
            assert np.array_equal(frames.inpaint(b), cut), "run 2's outputs (the old scene) were dropped"
            held.allow(3)
            frames.reuse.runner.wait(held.TIMEOUT)
            outs = [frames.inpaint(b) for _ in range(FADE)]
            assert frames.network_runs == 3
    assert not np.array_equal(outs[0], want_b) and np.array_equal(outs[-1], want_b)


def test_a_scene_cut_with_the_network_idle_runs_it_on_the_cut_frame(model):
    a, b, hole = scene(0), scene(7), obstruction()
    with Inpainter(model=model, backend="onnxruntime", fill=FILL) as inpainter, \
            held_runs(inpainter.backend, hold_from=2) as held:
        frames = inpainter.for_mask(hole)
        frames.inpaint(a)
        frames.inpaint(a)
        assert held.started == 1
        frames.inpaint(b)
        held.wait_started(2)
        assert np.array_equal(held.inputs[1][0], frames.infer(b).small.astype(np.float32))


def test_the_outputs_age_by_the_frames_own_time(model):
    """A video file's frames carry their time (frame / frame rate): the
    network runs again once they are --reuse-max-age apart, whatever the
    wall clock says (stopped here)."""
    image, hole = scene(), obstruction()
    with Inpainter(model=model, backend="onnxruntime", fill=FILL, reuse_max_age=0.5) as inpainter, \
            held_runs(inpainter.backend, hold_from=2) as held:
        frames = inpainter.for_mask(hole)
        frames.reuse.clock = lambda: 0.0
        for n in range(6):  # 10 frames/s
            frames.inpaint(image, at=0.1 * n)
        held.wait_started(2)
        assert held.started == 2 and frames.reuse.asked == pytest.approx(0.5)


def test_something_passing_by_runs_nothing_something_that_stays_does(model):
    """A dark object moves past the hole (10 frames/s): the view around the
    hole changes, but never stands still for --reuse-settle seconds, so the
    network does not run; once it stops next to the hole it does."""
    image, hole = scene(), obstruction()

    def with_object(x):
        frame = image.copy()
        cv2.circle(frame, (int(x), 60), 18, (20, 20, 20), -1)
        return frame

    with Inpainter(model=model, backend="onnxruntime", fill=FILL, reuse_crossfade=1) as inpainter, \
            held_runs(inpainter.backend, hold_from=2) as held:
        frames = inpainter.for_mask(hole)
        frames.reuse.clock = lambda: 0.0
        frames.inpaint(image, at=0.0)
        for n in range(1, 26):  # 25 px a frame, from the left edge to past the hole (x 200)
            frames.inpaint(with_object(25 * n - 20), at=0.1 * n)
        assert held.started == 1, "something passing by ran the network"
        for n in range(26, 36):  # it stops at x 180, above the hole
            frames.inpaint(with_object(180), at=0.1 * n)
        held.wait_started(2)
        assert 2.6 + 0.5 <= frames.reuse.asked <= 2.6 + 0.5 + 0.3


def test_the_thin_parts_are_filled_again_where_something_around_them_changed(model):
    """The wire's fill (Navier-Stokes from the pixels around it) is kept with
    the fill; something dark sat on the wire at the fill's frame and is gone
    the next: where it was, the wire is filled from the new frame (as
    --every-frame fills it), not left dark."""
    image, hole = scene(), obstruction()
    wire = (hole != 0) & (cv2.dilate(obstruction_blob(), np.ones((9, 9), np.uint8)) == 0)
    near = np.zeros_like(wire)
    near[150:230, 20:120] = True  # where the object sits, on the wire's left part
    sitting = image.copy()
    cv2.circle(sitting, (70, 192), 14, (10, 10, 10), -1)
    with Inpainter(model=model, backend="onnxruntime", fill=FILL, thin_width=12) as inpainter:  # the wire is thin at 512
        want = every_frame(inpainter.backend, image, hole, thin_width=12)
        frames = inpainter.for_mask(hole)
        assert frames.prepared.thin and len(frames.prepared.thin.tiles) == 2
        before = frames.inpaint(sitting, at=0.0)
        after = frames.inpaint(image, at=0.1)
        assert frames.network_runs == 1
    part = wire & near
    stale = float(np.abs(before.astype(np.float32) - want)[part].mean())
    assert stale > 20  # the object's darkness went into the wire's fill
    assert float(np.abs(after.astype(np.float32) - want)[part].mean()) < 2.0
    other = wire.copy()
    other[:, :256] = False  # the wire's other tile (256 pixels wide): the kept fill, bit for bit
    assert other.any() and np.array_equal(after[other], before[other])


@pytest.mark.parametrize("fade", [FADE, 1])
def test_new_outputs_are_cross_faded_in(model, fade):
    """A run whose fill is SHIFT grey levels off the last one: with a
    cross-fade over FADE frames no pixel of the hole moves by more than
    SHIFT / FADE + 1 between frames, and the whole change arrives; with 1
    frame (no fade) it jumps."""
    image, hole = scene(), obstruction()
    with Inpainter(model=model, backend="onnxruntime", fill=FILL, reuse_crossfade=fade, reuse_max_age=5.0) as inpainter:
        edge_fakes.HeldRuns(inpainter.backend, hold_from=99, shift=SHIFT)
        frames = inpainter.for_mask(hole)
        now = [0.0]
        frames.reuse.clock = lambda: now[0]
        before = frames.inpaint(image)
        now[0] = 6.0
        outs = [before, frames.inpaint(image)]  # asks run 2
        frames.reuse.runner.wait(60)
        outs += [frames.inpaint(image) for _ in range(FADE + 2)]
        assert frames.network_runs == 2
    stack = np.stack([o[hole != 0].astype(np.int16) for o in outs])
    jumps = np.abs(np.diff(stack, axis=0)).max(axis=(1, 2))
    inner = cv2.erode(hole, np.ones((9, 9), np.uint8)) != 0  # away from the soft edge
    change = float(np.mean(outs[-1][inner].astype(np.float32) - before[inner]))
    assert change == pytest.approx(SHIFT, abs=3.0)
    if fade > 1:
        assert jumps.max() <= SHIFT / FADE + 1, jumps
        assert np.count_nonzero(jumps > 1) == FADE  # the change spread over FADE frames
    else:
        assert jumps.max() >= SHIFT - 1


def test_the_residuals_come_from_the_current_frame_when_the_context_changed(model):
    """New texture in the context cell the hole borrows its detail from (the
    network's attention made to point at one cell), away from the hole: no
    network run, the fill composed again with that cell's residual from the
    current frame, close to --every-frame's; with the refresh off, the old
    detail stays. (1280 x 720: a frame smaller than the 512 view has no
    residual to borrow.)"""
    width, height = 1280, 720
    image = (synthetic_frame(width, height, seed=0).astype(np.float32) * 0.7 + 30).astype(np.uint8)
    changed = image.copy()
    changed[:180, :1000] = (synthetic_frame(width, height, seed=5)[:180, :1000] * 0.7 + 30).astype(np.uint8)
    hole = np.zeros((height, width), np.uint8)
    cv2.ellipse(hole, (800, 330), (110, 80), 20, 0, 360, 1, -1)
    with Inpainter(model=model, backend="onnxruntime", fill=FILL) as inpainter:
        run = inpainter.backend.run

        def one_cell(img, mask):  # every hole cell borrows from cell (1, 4), in the changed rows
            inpainted, attention, blend = run(img, mask)
            attention = np.zeros_like(attention)
            attention[..., 1 * 32 + 4] = 1.0
            return inpainted, attention, blend

        inpainter.backend.run = one_cell
        want = every_frame(inpainter.backend, changed, hole)
        errors = {}
        for threshold in (0.05, 1.0):
            frames = Inpainter(fill=FILL, backend=inpainter.backend, reuse_residual_change=threshold).for_mask(hole)
            frames.inpaint(image, at=0.0)
            frames.inpaint(changed, at=0.3)  # changed, not yet for --reuse-settle seconds
            assert frames.reuse.fill.small is not frames.infer(changed).small
            errors[threshold] = in_hole(frames.inpaint(changed, at=0.9), want, hole)
            assert frames.network_runs == 1 and not frames.reuse.runner.busy
    assert errors[0.05] < 1.5 and errors[1.0] > 4.0, errors


def test_light_fit_is_exact_for_equal_frames_and_ignores_what_moved():
    rng = np.random.default_rng(0)
    view = cv2.resize(rng.integers(20, 200, (16, 16, 3), dtype=np.uint8), (512, 512), interpolation=cv2.INTER_CUBIC)
    any_hole = np.zeros((512, 512), np.uint8)
    any_hole[200:300, 150:350] = 1
    model = LightModel(any_hole, any_hole == 0, degree=2, ring=6, outlier=16.0)
    assert model.fit(view, view).identity
    brighter = np.clip(view * 1.2 + 10.0, 0, 255).astype(np.uint8)
    brighter[180:200, 150:250] = 255  # something moved into the ring
    light = model.fit(view, brighter)
    gain, offset = light.maps()
    assert np.abs(gain - 1.2).max() < 0.02 and np.abs(offset - 10.0).max() < 2.0, (gain.min(), gain.max())
    meter = ChangeMeter(any_hole, any_hole == 0, band=32, threshold=16.0)
    changed = meter.changed(view, brighter, light)
    assert 0.9 < meter.around_hole(changed) and meter.whole(changed) < 0.01  # one block changed wholly


@contextmanager
def counted_completions(monkeypatch):
    """The completions and dense composes of fill 'patches', each call's thread recorded."""
    from edge_app import pipeline
    calls = {"complete": [], "compose": []}
    complete, compose = pipeline.complete_view, pipeline.compose_dense

    def counted(name, function):
        return lambda *a, **k: calls[name].append(threading.current_thread().name) or function(*a, **k)

    monkeypatch.setattr(pipeline, "complete_view", counted("complete", complete))
    monkeypatch.setattr(pipeline, "compose_dense", counted("compose", compose))
    yield calls


def test_patches_a_still_scene_completes_and_composes_once(model, monkeypatch):
    """Fill 'patches' (the default): equal frames are the single photo's
    result bit for bit, from one completion and one dense compose."""
    image, hole = scene(), obstruction()
    with Inpainter(model=model, backend="onnxruntime") as inpainter, counted_completions(monkeypatch) as calls:
        alone = Inpainter(backend=inpainter.backend).inpaint(image, hole)
        frames = inpainter.for_mask(hole)
        calls["complete"].clear(), calls["compose"].clear()
        outs = [frames.inpaint(image) for _ in range(4)]
        assert len(calls["complete"]) == 1 and len(calls["compose"]) == 1 and frames.network_runs == 1
    assert all(np.array_equal(out, alone) for out in outs)
    assert in_hole(alone, image, hole) > 5


def test_patches_the_completion_runs_on_the_network_thread(model, monkeypatch):
    """A later run's completion is made on the network's thread with the
    run: frames keep coming out while it is held, and its field is used
    once it is done."""
    image, hole = scene(), obstruction()
    with Inpainter(model=model, backend="onnxruntime", reuse_max_age=5.0) as inpainter, \
            counted_completions(monkeypatch) as calls, held_runs(inpainter.backend, hold_from=2) as held:
        frames = inpainter.for_mask(hole)
        now = [0.0]
        frames.reuse.clock = lambda: now[0]
        frames.inpaint(image)
        first = frames.reuse.key.field
        now[0] = 6.0
        outs = [frames.inpaint(image) for _ in range(6)]
        held.wait_started(2)
        assert calls["complete"] == ["MainThread"], "a frame waited for the second completion"
        held.allow(2)
        frames.reuse.runner.wait(held.TIMEOUT)
        frames.inpaint(image)
        assert calls["complete"] == ["MainThread", "edge_app-network"]
        assert frames.reuse.key.field is not None and frames.reuse.key.field is not first
    assert all(in_hole(out, image, hole) > 5 for out in outs)


def test_patches_the_completion_follows_the_light(model):
    """A run on one frame adopted in a brighter one: its completion and the
    detail borrowed through it are composed in the new light, close to the
    first frame's result under that light (the kept fill is drawn in it
    meanwhile)."""
    image, hole = scene(), obstruction_blob()
    frame = lit(image, 1.15, -6.0)
    with Inpainter(model=model, backend="onnxruntime", reuse_max_age=5.0, reuse_crossfade=2) as inpainter, \
            held_runs(inpainter.backend, hold_from=2) as held:
        frames = inpainter.for_mask(hole)
        now = [0.0]
        frames.reuse.clock = lambda: now[0]
        first = frames.inpaint(image)
        now[0] = 6.0
        frames.inpaint(image)  # asks run 2 on this frame's view
        held.allow(2)
        frames.reuse.runner.wait(held.TIMEOUT)
        outs = [frames.inpaint(frame) for _ in range(3)]  # run 2 adopted in the brighter light, faded in
        assert frames.network_runs == 2 and frames.reuse.key.small is not frames.reuse.fill.small
    want = lit(first, 1.15, -6.0)
    assert in_hole(first, want, hole) > 3.0
    assert in_hole(outs[-1], want, hole) < 1.0, in_hole(outs[-1], want, hole)

"""Backends: onnxruntime and pyACL (through the stand-in in tests/acl_standin,
under the acl.util API set of each CANN release: the ``acl`` fixture)."""
import threading
import types

import cv2
import numpy as np
import pytest

import edge_fakes
from edge_app import Inpainter
from edge_app.backends import acllite, open_backend, resolve_backend
from edge_app.backends.acllite import AclError, AclLiteModel, AclLiteResource
from edge_app.errors import InpaintError, ModelError


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    return {"onnx": edge_fakes.fake_hifill(d / "fake.onnx"), "om": edge_fakes.fake_om(d, "fake"),
            "wrong_onnx": edge_fakes.fake_hifill(d / "small.onnx", size=256),
            "wrong_om": edge_fakes.fake_om(d, "small", size=256),
            "no_attention": edge_fakes.fake_hifill(d / "noatt.onnx", outputs=["inpainted", "mask_processed"]),
            "old": edge_fakes.fake_hifill(d / "old.onnx", version="0")}


def frame_and_mask(height=600, width=900, seed=0):
    rng = np.random.default_rng(seed)
    image = cv2.resize(rng.integers(0, 256, (12, 18, 3), dtype=np.uint8), (width, height),
                       interpolation=cv2.INTER_CUBIC)
    mask = np.zeros((height, width), np.uint8)
    cv2.circle(mask, (width // 2, height // 2), height // 6, 1, -1)
    return image, mask


def model_inputs(seed=0):
    rng = np.random.default_rng(seed)
    img = rng.uniform(0, 255, (1, 512, 512, 3)).astype(np.float32)
    mask = np.zeros((1, 512, 512, 1), np.float32)
    mask[0, 200:300, 150:350] = 1
    return img, mask


def test_onnxruntime_backend_runs_and_validates(models):
    with open_backend("onnxruntime", models["onnx"]) as backend:
        img, mask = model_inputs()
        inpainted, attention, blend = backend.run(img, mask)
        assert inpainted.shape == (1, 512, 512, 3) and attention.shape == (1, 32, 32, 1024)
        assert blend.shape == (1, 512, 512, 1)
        outside = mask[0, :, :, 0] == 0
        assert np.allclose(inpainted[0][outside], img[0][outside], atol=1e-3)
        assert np.allclose(attention.reshape(1024, 1024).sum(1), 1.0, atol=1e-4)
        assert set(backend.timings) == {"inference"}
        with pytest.raises(ValueError, match="input img"):
            backend.run(img[:, :256, :256], mask)
    for bad, pattern in (("wrong_onnx", "not a HiFill model.*256"), ("no_attention", "outputs inpainted"),
                         ("old", "interface version 0")):
        with pytest.raises(ModelError, match=pattern):
            open_backend("onnxruntime", models[bad])


def test_missing_or_invalid_models_give_clear_errors(tmp_path, models):
    with pytest.raises(ModelError, match="model not found; export one with") as err:
        open_backend("onnxruntime", str(tmp_path / "none.onnx"))
    assert str(tmp_path / "none.onnx") in str(err.value)
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(ModelError, match="cannot load as an ONNX model"):
        open_backend("onnxruntime", str(junk))
    with pytest.raises(InpaintError, match="unknown backend"):
        resolve_backend("tpu")


def test_auto_backend_prefers_acl_when_importable(acl):
    assert resolve_backend("auto") == "acl"


def test_acl_and_onnxruntime_give_the_same_result(acl, models):
    image, mask = frame_and_mask()
    with Inpainter(model=models["onnx"], backend="onnxruntime") as a, \
            Inpainter(model=models["om"], backend="acl") as b:
        out_a, out_b = a(image, mask), b(image, mask)
        assert b.backend.name == "acl" and {"h2d", "inference", "d2h"} <= set(b.timings)
    assert np.array_equal(out_a, out_b)
    assert (out_a != image).any(axis=2)[mask != 0].mean() > 0.5


def test_acl_backend_leaks_nothing_over_100_frames(acl, models):
    img, mask = model_inputs()
    backend = open_backend("acl", models["om"])
    first = backend.run(img, mask)
    live = len(acl.standin.outstanding())
    assert live > 0
    for _ in range(99):
        out = backend.run(img, mask)
    assert len(acl.standin.outstanding()) == live  # buffers reused, nothing grows per frame
    assert all(np.array_equal(a, b) for a, b in zip(first, out))
    kinds = {entry["kind"] for entry in acl.standin.outstanding()}
    assert {"init", "device", "context", "stream", "model", "desc", "dataset", "data_buffer", "malloc",
            "malloc_host"} == kinds
    backend.close()
    backend.close()  # idempotent
    assert acl.standin.outstanding() == [{"kind": "init"}]  # acl.init is once per process: finalised at exit


@pytest.mark.parametrize("mode,kinds", [(0, [3]), (1, [1, 2])])
def test_copies_follow_the_run_mode(acl, models, mode, kinds):
    """Device-to-device on the board (ACL_DEVICE); host-to-device and
    device-to-host on an x86 server with a card (ACL_HOST)."""
    acl.standin.set_run_mode(mode)
    with open_backend("acl", models["om"]) as backend:
        assert backend.run_mode == mode
        backend.run(*model_inputs())
    assert sorted({kind for kind, _ in acl.standin.memcpy_log()}) == kinds


def test_acl_wrong_input_size_and_wrong_model(acl, models):
    with AclLiteResource() as resource:
        model = AclLiteModel(models["om"], resource.run_mode)
        img, mask = model_inputs()
        with pytest.raises(InpaintError) as err:
            model.execute([img[:, :256, :256], mask])
        message = str(err.value)
        assert "input 0 (img)" in message and "3145728 bytes" in message and "786432 bytes" in message
        with pytest.raises(InpaintError, match="takes 2 inputs, got 1"):
            model.execute([img])
        assert len(model.execute([img, mask])) == 3
        model.destroy()
    with pytest.raises(ModelError, match="not a HiFill model"):
        open_backend("acl", models["wrong_om"])


def test_acl_missing_model_errors_name_the_acl_error(acl, tmp_path, models):
    with AclLiteResource() as resource:
        with pytest.raises(AclError) as err:
            AclLiteModel(str(tmp_path / "missing.om"), resource.run_mode)
        assert "acl.mdl.load_from_file failed: ACL_ERROR_INVALID_FILE (100003)" in str(err.value)
        assert err.value.code == 100003
    with pytest.raises(ModelError, match="OM model not found"):
        open_backend("acl", str(tmp_path / "missing.om"))
    with pytest.raises(ModelError, match="runs .om models"):
        open_backend("acl", models["onnx"])


def test_acl_resource_failure_releases_what_it_made(acl):
    with pytest.raises(AclError, match=r"acl.rt.set_device failed: ACL_ERROR_INVALID_DEVICE \(200002\)"):
        AclLiteResource(device_id=3).init()
    assert acl.standin.outstanding() == [{"kind": "init"}]
    resource = AclLiteResource().init()
    assert resource.run_mode == 0 and resource.context and resource.stream
    assert acl.get_soc_name() == "Ascend310"
    resource.destroy()


def test_model_needs_the_context_in_its_thread(acl, models):
    img, mask = model_inputs()
    with open_backend("acl", models["om"]) as backend:
        errors = []

        def run(bind):
            try:
                if bind:
                    backend.bind_thread()
                backend.run(img, mask)
            except AclError as exc:
                errors.append(exc)

        for bind in (False, True):
            worker = threading.Thread(target=run, args=(bind,))
            worker.start()
            worker.join()
        assert len(errors) == 1 and "ACL_ERROR_RT_CONTEXT_NULL" in str(errors[0])


def test_stream_runs_inference_in_its_own_thread_on_acl(acl, models, tmp_path):
    from edge_app.stream import run_stream
    path = str(tmp_path / "in.mp4")
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), 10, (96, 64))
    for i in range(6):
        writer.write(np.full((64, 96, 3), 30 * i, np.uint8))
    writer.release()
    mask = np.zeros((64, 96), np.uint8)
    mask[10:30, 40:70] = 1
    with Inpainter(model=models["om"], backend="acl") as inpainter:
        report = run_stream(inpainter, path, mask, str(tmp_path / "out.mp4"))
    assert (report.written, report.dropped) == (6, 0)


def test_reused_frames_run_the_network_on_its_own_thread_on_acl(acl, models):
    """The board path goes through the same scheduling: a run asked for by
    a frame (its outputs too old) runs on the network's own thread, which
    makes the ACL context current there (else ACL_ERROR_RT_CONTEXT_NULL,
    and a warning that fails the test), and its outputs are cross-faded in."""
    image, mask = frame_and_mask(240, 320)
    with Inpainter(model=models["om"], backend="acl", reuse_max_age=5.0, reuse_crossfade=2) as inpainter:
        threads = []
        run = inpainter.backend.run
        inpainter.backend.run = lambda img, m: threads.append(threading.current_thread().name) or run(img, m)
        frames = inpainter.for_mask(mask)
        now = [0.0]
        frames.reuse.clock = lambda: now[0]
        first = frames.inpaint(image)
        now[0] = 6.0
        frames.inpaint(image)
        assert frames.reuse.runner.wait(60)
        outs = [frames.inpaint(image) for _ in range(2)]
        assert frames.network_runs == 2 and threads == ["MainThread", "edge_app-network"]
        assert frames.reuse.fade is None and frames.reuse.key.generation == 0
    assert all(np.array_equal(out, first) for out in outs)  # the same frame, the same outputs


def test_cra_product_on_the_ai_core(acl, models, tmp_path):
    image, mask = frame_and_mask(320, 480)  # cells 10 x 15: P = 450
    matmul_om = edge_fakes.cra_matmul_om(tmp_path, 10 * 15 * 3)
    with Inpainter(model=models["om"], backend="acl", roi="off", fill="network") as host, \
            Inpainter(model=models["om"], backend="acl", roi="off", fill="network", cra_matmul_model=matmul_om) as npu:
        cra_model = npu.backend.aggregator(450)
        assert cra_model is not None and npu.backend.aggregator(451) is None
        expected, out = host(image, mask), npu(image, mask)
        assert cra_model.calls == 1
        assert np.abs(out.astype(int) - expected).max() <= 1
        other = frame_and_mask(352, 480)  # another size: the host does the product
        npu(*other)
        assert cra_model.calls == 1
    with pytest.raises(ModelError, match="not a cra_matmul model"):
        open_backend("acl", models["om"], cra_matmul_model=models["om"])


def test_acl_is_initialised_once_per_process_and_shared(acl, models, monkeypatch):
    """CANN takes one acl.init per process (a second is refused, also after
    acl.finalize): two Inpainters at once, and open / close / open, share
    it; acl.finalize is left to the exit."""
    inits, at_exit = [], []
    init = acl.init
    monkeypatch.setattr(acl, "init", lambda *args: inits.append(args) or init(*args))
    monkeypatch.setattr(acllite, "atexit", types.SimpleNamespace(register=at_exit.append))
    image, mask = frame_and_mask(320, 480)
    first = Inpainter(model=models["om"], backend="acl")
    with Inpainter(model=models["om"], backend="acl") as second:
        expected = first(image, mask)
        first.close()  # the other one goes on
        assert np.array_equal(second(image, mask), expected)
    with Inpainter(model=models["om"], backend="acl") as again:  # opened again after all were closed
        assert np.array_equal(again(image, mask), expected)
    assert len(inits) == 1 and at_exit == [acl.finalize]
    assert acl.standin.outstanding() == [{"kind": "init"}]
    assert at_exit[0]() == 0 and acl.standin.outstanding() == []


def test_acl_model_takes_unsigned_tensors(acl, tmp_path):
    arrays = [np.array([[1, np.iinfo(t).max]], t) for t in (np.uint16, np.uint32, np.uint64)]  # the largest survives
    with AclLiteResource() as resource:
        with AclLiteModel(edge_fakes.unsigned_om(tmp_path), resource.run_mode) as model:
            outputs = model.execute(arrays)
    assert [a.dtype for a in outputs] == [a.dtype for a in arrays]
    assert all(np.array_equal(a, b) for a, b in zip(outputs, arrays))


def test_acl_failing_run_names_the_acl_error(acl, tmp_path):
    data = np.arange(4, dtype=np.float32)
    with AclLiteResource() as resource:
        with AclLiteModel(edge_fakes.gather_om(tmp_path), resource.run_mode) as model:
            assert model.execute([data, np.array([2])])[0].tolist() == [2.0]
            with pytest.raises(AclError, match=r"acl.mdl.execute failed: ACL_ERROR_INTERNAL_ERROR \(500000\)"):
                model.execute([data, np.array([9])])  # out of range: the run itself fails


def test_acl_backend_needs_one_util_api(acl, models, monkeypatch):
    """The backend picks the acl.util pair that exists (the fixture runs it
    under each); without either it says so before allocating anything."""
    for name in [n for n in ("bytes_to_ptr", "numpy_to_ptr") if n in dir(acl.util)]:
        monkeypatch.delattr(acl.util, name)
    with AclLiteResource():
        with pytest.raises(InpaintError, match="neither bytes_to_ptr nor numpy_to_ptr"):
            AclLiteModel(models["om"])

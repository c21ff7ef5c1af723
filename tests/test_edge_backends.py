"""Backends: onnxruntime and pyACL (through the stand-in in tests/acl_standin)."""
import importlib
import sys
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_app import AppConfig, Inpainter
from edge_app.backends import open_backend, resolve_backend
from edge_app.backends.acllite import AclError, AclLiteModel, AclLiteResource
from edge_app.errors import InpaintError, ModelError

STANDIN = str(Path(__file__).parent / "acl_standin")
sys.path.insert(0, STANDIN)
import edge_fakes  # noqa: E402
sys.path.remove(STANDIN)


@pytest.fixture
def acl(monkeypatch):
    """The pyACL stand-in, importable only during the test, in a fresh state."""
    monkeypatch.syspath_prepend(STANDIN)
    module = importlib.import_module("acl")
    module.standin.reset()
    yield module
    assert module.standin.outstanding() == [], "the test leaked ACL resources"
    module.standin.reset()
    for name in [n for n in sys.modules if n == "acl" or n.startswith("acl.")]:
        del sys.modules[name]


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
    assert acl.standin.outstanding() == []


def test_copies_follow_the_run_mode(acl, models):
    img, mask = model_inputs()
    with open_backend("acl", models["om"]) as backend:  # device mode: the board
        backend.run(img, mask)
        assert {kind for kind, _ in acl.standin.memcpy_log()} == {3}
    acl.standin.reset()
    acl.standin.set_run_mode(1)  # host mode: an x86 server with a card
    with open_backend("acl", models["om"]) as backend:
        assert backend.run_mode == 1
        backend.run(img, mask)
        assert sorted({kind for kind, _ in acl.standin.memcpy_log()}) == [1, 2]


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
    assert acl.standin.outstanding() == []
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


def test_standin_follows_pyacl_conventions(acl, tmp_path):
    assert acl.rt.set_device(0) == 100001  # before init: UNINITIALIZE
    assert acl.rt.malloc(16, 0) == (0, 100001)
    assert acl.init() == 0 and acl.init() == 100002  # REPEAT_INITIALIZE
    assert acl.rt.get_run_mode() == (0, 0)
    assert acl.rt.set_device(0) == 0
    ctx, ret = acl.rt.create_context(0)
    assert ret == 0 and ctx
    dev, ret = acl.rt.malloc(64, 0)
    host, ret2 = acl.rt.malloc_host(32)
    assert ret == ret2 == 0
    data = np.arange(8, dtype=np.float32)
    src = acl.util.bytes_to_ptr(data.tobytes())
    assert acl.rt.memcpy(dev, 64, src, 32, 1) == 0
    assert acl.rt.memcpy(dev, 16, src, 32, 1) == 100000  # count > dst_max
    assert acl.rt.memcpy(dev + 48, 16, src, 32, 1) == 100000  # past the allocation's end
    assert acl.rt.memcpy(host, 32, dev, 32, 3) == 0
    assert np.array_equal(acl.util.ptr_to_numpy(host, (8,), 11), data)
    assert acl.util.ptr_to_bytes(dev, 32) == data.tobytes()
    assert acl.rt.free(host) == 100000  # host memory is freed with free_host
    assert acl.rt.free_host(host) == 0
    assert acl.rt.memcpy(dev, 64, host, 32, 1) == 100000  # freed pointer
    buf = acl.create_data_buffer(dev, 64)
    assert acl.get_data_buffer_addr(buf) == dev and acl.get_data_buffer_size_v2(buf) == 64
    assert acl.mdl.load_from_file(str(tmp_path / "none.om")) == (0, 100003)
    assert len(acl.standin.outstanding()) == 5  # init, device, context, malloc, data buffer
    assert acl.destroy_data_buffer(buf) == 0 and acl.rt.free(dev) == 0 and acl.rt.free(dev) == 100000
    assert acl.rt.destroy_context(ctx) == 0 and acl.rt.reset_device(0) == 0 and acl.finalize() == 0


def test_standin_single_operator_matmul(acl):
    with AclLiteResource() as resource:
        a = np.arange(6, dtype=np.float32).reshape(1, 2, 3)
        b = np.arange(12, dtype=np.float32).reshape(1, 3, 4)
        ptrs, bufs, descs = [], [], []
        for arr in (a, b, np.zeros((1, 2, 4), np.float32)):
            ptr, _ = acl.rt.malloc(arr.nbytes, 0)
            acl.rt.memcpy(ptr, arr.nbytes, acl.util.numpy_to_ptr(arr), arr.nbytes, 3)
            ptrs.append(ptr)
            bufs.append(acl.create_data_buffer(ptr, arr.nbytes))
            descs.append(acl.create_tensor_desc(0, list(arr.shape), 2))
        attr = acl.op.create_attr()
        assert acl.op.execute_v2("BatchMatMul", descs[:2], bufs[:2], descs[2:], bufs[2:], attr,
                                 resource.stream) == 0
        out = np.frombuffer(acl.util.ptr_to_bytes(ptrs[2], 32), np.float32).reshape(1, 2, 4)
        assert np.array_equal(out, a @ b)
        acl.op.destroy_attr(attr)
        for d, buf, ptr in zip(descs, bufs, ptrs):
            acl.destroy_tensor_desc(d)
            acl.destroy_data_buffer(buf)
            acl.rt.free(ptr)


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


def test_cra_product_on_the_ai_core(acl, models, tmp_path):
    image, mask = frame_and_mask(320, 480)  # cells 10 x 15: P = 450
    matmul_om = edge_fakes.cra_matmul_om(tmp_path, 10 * 15 * 3)
    with Inpainter(model=models["om"], backend="acl", roi="off") as host, \
            Inpainter(model=models["om"], backend="acl", roi="off", cra_matmul_model=matmul_om) as npu:
        cra_model = npu.backend.aggregator(450)
        assert cra_model is not None and npu.backend.aggregator(451) is None
        expected, out = host(image, mask), npu(image, mask)
        assert cra_model.calls == 1
        assert np.abs(out.astype(int) - expected).max() <= 1
        other = frame_and_mask(352, 480)  # another size: the host does the product
        npu(*other)
        assert cra_model.calls == 1
    with pytest.raises(ModelError, match="not a cra_matmul model"):
        open_backend("acl", models["om"], AppConfig(cra_matmul_model=models["om"]))

"""The pyACL stand-in (tests/acl_standin) fails where pyACL fails: calling
conventions, return codes, memory rules, the acl.util API sets of CANN
releases, single operators on a stream."""
import numpy as np
import pytest

import edge_fakes
from edge_app.backends.acllite import AclLiteResource

#: Tests of one acl.util API set pin the ``acl`` fixture to it.
BYTES_API = pytest.mark.parametrize("acl", ["bytes"], indirect=True)
NUMPY_API = pytest.mark.parametrize("acl", ["numpy"], indirect=True)


def open_context(acl):
    """init, device 0 and a context; returns the context."""
    assert acl.init() == 0 and acl.rt.set_device(0) == 0
    ctx, ret = acl.rt.create_context(0)
    assert ret == 0
    return ctx


def close_context(acl, ctx) -> None:
    assert acl.rt.destroy_context(ctx) == 0 and acl.rt.reset_device(0) == 0 and acl.finalize() == 0


def to_device(acl, arr: np.ndarray) -> int:
    """New device memory holding ``arr`` (bytes API)."""
    ptr, ret = acl.rt.malloc(arr.nbytes, 0)
    data = arr.tobytes()
    assert ret == 0 and acl.rt.memcpy(ptr, arr.nbytes, acl.util.bytes_to_ptr(data), arr.nbytes, 1) == 0
    return ptr


@BYTES_API
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
    data = np.arange(8, dtype=np.float32).tobytes()
    src = acl.util.bytes_to_ptr(data)
    assert acl.rt.memcpy(dev, 64, src, 32, 1) == 0
    assert acl.rt.memcpy(dev, 16, src, 32, 1) == 100000  # count > dst_max
    assert acl.rt.memcpy(dev + 48, 16, src, 32, 1) == 100000  # past the allocation's end
    assert acl.rt.memcpy(host, 32, dev, 32, 3) == 0
    assert acl.util.ptr_to_bytes(host, 32) == data
    assert acl.util.ptr_to_bytes(dev, 32) == data
    assert acl.rt.free(host) == 100000  # host memory is freed with free_host
    assert acl.rt.free_host(host) == 0
    assert acl.rt.memcpy(dev, 64, host, 32, 1) == 100000  # freed pointer
    buf = acl.create_data_buffer(dev, 64)
    assert acl.get_data_buffer_addr(buf) == dev and acl.get_data_buffer_size_v2(buf) == 64
    assert acl.mdl.load_from_file(str(tmp_path / "none.om")) == (0, 100003)
    assert len(acl.standin.outstanding()) == 5  # init, device, context, malloc, data buffer
    assert acl.destroy_data_buffer(buf) == 0 and acl.rt.free(dev) == 0 and acl.rt.free(dev) == 100000
    close_context(acl, ctx)


@BYTES_API
def test_init_is_once_per_process(acl):
    assert acl.finalize() == 100001  # UNINITIALIZE
    assert acl.init() == 0 and acl.finalize() == 0
    assert acl.init() == 100002  # REPEAT_INITIALIZE, also after finalize
    assert acl.finalize() == 100037  # REPEAT_FINALIZE
    assert acl.rt.set_device(0) == 100001 and acl.standin.outstanding() == []


def test_one_util_api_set_at_a_time(acl, request):
    """CANN releases offer bytes_to_ptr / ptr_to_bytes or (5.0.x)
    numpy_to_ptr / ptr_to_numpy: the stand-in exposes one set, as the fixture chose."""
    sets = {"bytes": {"bytes_to_ptr", "ptr_to_bytes"}, "numpy": {"numpy_to_ptr", "ptr_to_numpy"}}
    chosen = request.node.callspec.params["acl"]
    assert {name for name in dir(acl.util) if name in set.union(*sets.values())} == sets[chosen]
    other = (sets["numpy"] if chosen == "bytes" else sets["bytes"]).pop()
    with pytest.raises(AttributeError):
        getattr(acl.util, other)


@BYTES_API
def test_bytes_pointer_does_not_keep_its_bytes_alive(acl):
    """pyACL returns a bare address: a pointer to a temporary dangles."""
    ctx = open_context(acl)
    dev, _ = acl.rt.malloc(32, 0)
    arr = np.arange(8, dtype=np.float32)
    kept = arr.tobytes()
    assert acl.rt.memcpy(dev, 32, acl.util.bytes_to_ptr(kept), 32, 1) == 0
    dangling = acl.util.bytes_to_ptr(arr.tobytes())  # the bytes are gone after this line
    assert acl.rt.memcpy(dev, 32, dangling, 32, 1) == 100000
    assert acl.rt.memcpy(dev, 32, acl.util.bytes_to_ptr(kept), 32, 1) == 0
    assert acl.rt.free(dev) == 0
    close_context(acl, ctx)


@NUMPY_API
def test_numpy_pointer_does_not_keep_its_array_alive(acl):
    ctx = open_context(acl)
    dev, _ = acl.rt.malloc(32, 0)
    arr = np.arange(16, dtype=np.float32)
    assert acl.rt.memcpy(dev, 32, acl.util.numpy_to_ptr(arr[8:]), 32, 1) == 0  # a view: arr owns the memory
    assert np.array_equal(acl.util.ptr_to_numpy(dev, (8,), 11), arr[8:])
    dangling = acl.util.numpy_to_ptr(arr[:8] * 2)  # the product is gone after this line
    assert acl.rt.memcpy(dev, 32, dangling, 32, 1) == 100000
    assert acl.rt.free(dev) == 0
    close_context(acl, ctx)


@BYTES_API
@pytest.mark.parametrize("mode", [0, 1])
def test_memory_follows_the_run_mode(acl, mode):
    """ACL_HOST (an x86 server with a card): device memory is on the card,
    copies must say which way they go. ACL_DEVICE (the board): one memory,
    every kind copies within the device."""
    acl.standin.set_run_mode(mode)
    ctx = open_context(acl)
    dev, _ = acl.rt.malloc(32, 0)
    host, _ = acl.rt.malloc_host(32)
    data = np.arange(8, dtype=np.float32).tobytes()
    app = acl.util.bytes_to_ptr(data)
    h2h, h2d, d2h, d2d = 0, 1, 2, 3
    copies = {(dev, app, h2d): True, (host, dev, d2h): True, (host, app, h2h): True, (dev, host, d2d): mode == 0,
              (dev, app, h2h): mode == 0, (host, dev, h2d): mode == 0, (dev, app, d2d): mode == 0}
    for (dst, src, kind), accepted in copies.items():
        assert acl.rt.memcpy(dst, 32, src, 32, kind) == (0 if accepted else 100000), (dst, src, kind)
    assert acl.util.ptr_to_bytes(host, 32) == data
    if mode == 1:
        with pytest.raises(ValueError, match="not readable from the host"):
            acl.util.ptr_to_bytes(dev, 32)
    else:
        assert acl.util.ptr_to_bytes(dev, 32) == data
    assert acl.rt.free(dev) == 0 and acl.rt.free_host(host) == 0
    close_context(acl, ctx)


@NUMPY_API
def test_device_memory_is_not_readable_in_host_mode_numpy(acl):
    acl.standin.set_run_mode(1)
    ctx = open_context(acl)
    dev, _ = acl.rt.malloc(32, 0)
    with pytest.raises(ValueError, match="not readable from the host"):
        acl.util.ptr_to_numpy(dev, (8,), 11)
    assert acl.rt.free(dev) == 0
    close_context(acl, ctx)


@BYTES_API
def test_model_types_and_internal_error(acl, tmp_path):
    """UINT16 / UINT32 / UINT64 tensors have their aclDataType (7, 8, 10);
    a run that fails is ACL_ERROR_INTERNAL_ERROR (500000)."""
    ctx = open_context(acl)
    model_id, ret = acl.mdl.load_from_file(edge_fakes.unsigned_om(tmp_path))
    desc = acl.mdl.create_desc()
    assert ret == 0 and acl.mdl.get_desc(desc, model_id) == 0
    assert [acl.mdl.get_output_data_type(desc, i) for i in range(3)] == [7, 8, 10]
    assert acl.mdl.destroy_desc(desc) == 0 and acl.mdl.unload(model_id) == 0

    model_id, ret = acl.mdl.load_from_file(edge_fakes.gather_om(tmp_path))
    assert ret == 0
    pointers = [to_device(acl, np.arange(4, dtype=np.float32)), to_device(acl, np.array([9])),
                acl.rt.malloc(4, 0)[0]]  # index 9 of 4: out of range
    buffers = [acl.create_data_buffer(p, n) for p, n in zip(pointers, (16, 8, 4))]
    inputs, outputs = acl.mdl.create_dataset(), acl.mdl.create_dataset()
    for dataset, bufs in ((inputs, buffers[:2]), (outputs, buffers[2:])):
        for buf in bufs:
            assert acl.mdl.add_dataset_buffer(dataset, buf)[1] == 0
    assert acl.mdl.execute(model_id, inputs, outputs) == 500000
    for dataset in (inputs, outputs):
        assert acl.mdl.destroy_dataset(dataset) == 0
    assert all(acl.destroy_data_buffer(b) == 0 for b in buffers) and all(acl.rt.free(p) == 0 for p in pointers)
    assert acl.mdl.unload(model_id) == 0
    close_context(acl, ctx)


@BYTES_API
def test_single_operator_needs_its_model_and_a_synchronised_stream(acl, tmp_path):
    """acl.op.set_model_dir (once per process) loads the single-operator
    models; execute_v2 runs only those, and launches on the stream: the
    result is there after synchronize_stream, not before."""
    folder = tmp_path / "op_models"
    (folder / "matmul").mkdir(parents=True)
    (folder / "matmul" / "0_BatchMatMul_0_2_1_2_3_0_2_1_3_4_0_2_1_2_4.om").write_bytes(b"placeholder")
    (folder / "1_Add_0_2_2_0_2_2_0_2_2.om").write_bytes(b"placeholder")
    a = np.arange(6, dtype=np.float32).reshape(1, 2, 3)
    b = np.arange(12, dtype=np.float32).reshape(1, 3, 4)
    with AclLiteResource() as resource:
        ptrs = [to_device(acl, arr) for arr in (a, b, np.zeros((1, 2, 4), np.float32))]
        bufs = [acl.create_data_buffer(ptr, size) for ptr, size in zip(ptrs, (24, 48, 32))]
        descs = [acl.create_tensor_desc(0, list(shape), 2) for shape in (a.shape, b.shape, (1, 2, 4))]
        attr = acl.op.create_attr()

        def launch(op_type="BatchMatMul"):
            return acl.op.execute_v2(op_type, descs[:2], bufs[:2], descs[2:], bufs[2:], attr, resource.stream)

        assert launch() == 100024  # OP_NOT_FOUND: no model dir yet
        assert acl.op.set_model_dir(str(tmp_path / "none")) == 100014  # READ_MODEL_FAILURE
        assert acl.op.set_model_dir(str(folder)) == 0
        assert acl.op.set_model_dir(str(folder)) == 100002  # once per process
        assert launch("MatMul") == 100024  # no MatMul model in the folder
        assert launch("Add") == 200001  # API_NOT_SUPPORT: found, but the stand-in computes products only
        assert launch() == 0
        assert acl.util.ptr_to_bytes(ptrs[2], 32) == bytes(32)  # launched, not run
        assert acl.rt.synchronize_stream(resource.stream) == 0
        assert np.array_equal(np.frombuffer(acl.util.ptr_to_bytes(ptrs[2], 32), np.float32).reshape(1, 2, 4), a @ b)
        assert launch() == 0
        assert acl.rt.free(ptrs[0]) == 0  # freed before the stream runs the product
        assert acl.rt.synchronize_stream(resource.stream) == 500000  # INTERNAL_ERROR
        acl.op.destroy_attr(attr)
        for desc, buf in zip(descs, bufs):
            acl.destroy_tensor_desc(desc)
            acl.destroy_data_buffer(buf)
        assert all(acl.rt.free(ptr) == 0 for ptr in ptrs[1:])

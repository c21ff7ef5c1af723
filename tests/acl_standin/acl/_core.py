"""State of the pyACL stand-in: memory, handles, the allocation ledger.

Memory is real: every ``malloc`` / ``malloc_host`` is a ctypes buffer whose
address is the pointer handed out, so copies really move bytes and bounds
are really checked. Every other object (context, stream, model, description,
dataset, data buffer, attribute, tensor description) is a small integer
handle. Everything created is recorded in the ledger until its matching
free / destroy, so tests can prove nothing leaks.
"""
import collections
import ctypes
import itertools
import sys
import threading

SUCCESS = 0
INVALID_PARAM = 100000
UNINITIALIZE = 100001
REPEAT_INITIALIZE = 100002
INVALID_FILE = 100003
INVALID_MODEL_ID = 100011
PARSE_MODEL = 100013
READ_MODEL_FAILURE = 100014
MODEL_INPUT_NOT_MATCH = 100017
OP_NOT_FOUND = 100024
REPEAT_FINALIZE = 100037
RT_CONTEXT_NULL = 107002
BAD_ALLOC = 200000
API_NOT_SUPPORT = 200001
INVALID_DEVICE = 200002
INTERNAL_ERROR = 500000
FAILURE = 500001

ACL_DEVICE, ACL_HOST = 0, 1
HOST_TO_HOST, HOST_TO_DEVICE, DEVICE_TO_HOST, DEVICE_TO_DEVICE = 0, 1, 2, 3

#: Largest single allocation (guards tests against absurd sizes).
MAX_ALLOC = 1 << 31


class Memory:
    """One allocation: a ctypes buffer at a real address."""

    def __init__(self, kind: str, size: int):
        self.kind = kind  # "device" | "host"
        self.size = size
        self.buffer = ctypes.create_string_buffer(size)
        self.address = ctypes.addressof(self.buffer)


class External:
    """Host memory the app owns (a bytes object, a numpy array's data).

    pyACL hands out a bare address and keeps nothing alive. The stand-in
    holds the owner only to notice when the app no longer does: from then on
    the address is dangling (on the board, freed memory) and unknown here.
    """

    kind = "external"

    def __init__(self, address: int, size: int, owner):
        self.address = address
        self.size = size
        self.owner = owner

    def alive(self) -> bool:
        """True while something besides this record holds the owner."""
        return sys.getrefcount(self.owner) > 2  # this record's reference and the call's argument


class State:
    """Process-wide state of the stand-in (like the real runtime's)."""

    def __init__(self) -> None:
        self.initialized = False
        self.finalized = False
        self.run_mode = ACL_DEVICE
        self.soc_name = "Ascend310"
        self.op_types = None  # single operators found by acl.op.set_model_dir
        self.devices = collections.Counter()
        self.memory = {}  # address -> Memory
        self.external = {}  # address -> External
        self.objects = {}  # handle -> (kind, payload)
        self.counter = itertools.count(1)
        self.local = threading.local()
        self.log = collections.deque(maxlen=10000)
        self.lock = threading.RLock()

    # --- handles -----------------------------------------------------------
    def new(self, kind: str, payload=None) -> int:
        handle = next(self.counter)
        self.objects[handle] = [kind, payload]
        return handle

    def get(self, handle, kind: str):
        entry = self.objects.get(handle) if isinstance(handle, int) else None
        if entry is None or entry[0] != kind:
            return None
        return entry

    def drop(self, handle, kind: str) -> int:
        if self.get(handle, kind) is None:
            return INVALID_PARAM
        del self.objects[handle]
        return SUCCESS

    # --- memory ------------------------------------------------------------
    def find(self, address: int, count: int):
        """(allocation, offset) holding [address, address + count), or (None, 0)."""
        if not isinstance(address, int) or count < 0:
            return None, 0
        with self.lock:
            self._forget_dangling()
            for table in (self.memory, self.external):
                for base, mem in table.items():
                    if base <= address and address + count <= base + mem.size:
                        return mem, address - base
        return None, 0

    def register(self, address: int, size: int, owner) -> int:
        """Remember app-owned host memory so copies from/to it are checked."""
        with self.lock:
            self._forget_dangling()
            self.external[address] = External(address, size, owner)
        return address

    def _forget_dangling(self) -> None:
        for address in [a for a, ext in self.external.items() if not ext.alive()]:
            del self.external[address]

    def device_region(self, buf: int):
        """(address, size) of a data buffer over live device memory, else None."""
        entry = self.get(buf, "data_buffer")
        if entry is None:
            return None
        address, size = entry[1]
        mem, _ = self.find(address, size)
        if mem is None or mem.kind != "device":
            return None
        return address, size

    # --- context -----------------------------------------------------------
    @property
    def context(self):
        return getattr(self.local, "context", None)

    @context.setter
    def context(self, value) -> None:
        self.local.context = value

    def ready(self, need_context: bool = True) -> int:
        """UNINITIALIZE before acl.init, RT_CONTEXT_NULL without a current context."""
        if not self.initialized:
            return UNINITIALIZE
        if need_context and self.get(self.context, "context") is None:
            return RT_CONTEXT_NULL
        return SUCCESS

    def outstanding(self):
        """Everything created and not yet released, as a list of dicts."""
        items = [{"kind": "init"}] if self.initialized else []
        items += [{"kind": "device", "id": dev, "count": n} for dev, n in self.devices.items() if n]
        items += [{"kind": "malloc" if m.kind == "device" else "malloc_host", "address": a, "size": m.size}
                  for a, m in self.memory.items()]
        items += [{"kind": kind, "handle": h} for h, (kind, _) in self.objects.items()]
        return items


STATE = State()


def copy_bytes(dst: int, src: int, count: int) -> None:
    ctypes.memmove(dst, src, count)

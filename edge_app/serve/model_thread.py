"""The one thread that runs the model: page requests in turn, live preview frames between them."""
import queue
import threading
import traceback
from typing import Any, Callable, Optional

from ..pipeline import Inpainter
from .errors import HttpError
from .live import LivePreview

#: Seconds the thread waits for a request before it looks again: short while
#: a preview is watched (the next frame is due), long otherwise.
POLL_WATCHED, POLL_IDLE = 0.005, 0.2
#: Seconds it pauses after a preview frame failed (the error is printed once a pause).
PAUSE_AFTER_ERROR = 1.0


class _Job:
    """One request's work, its result or error, and when it is done."""

    def __init__(self, work: Callable[[], Any]):
        self.work = work
        self.done = threading.Event()
        self.result = None  # type: Any
        self.error = None  # type: Optional[BaseException]

    def run(self) -> None:
        try:
            self.result = self.work()
        except Exception as exc:  # handed to the request's thread
            self.error = exc
        finally:
            self.done.set()


class ModelThread:
    """Runs ``work`` for requests one at a time, and ``live.step`` while none waits."""

    def __init__(self, inpainter: Inpainter, wait: float, live: Optional[LivePreview]):
        self.inpainter, self.wait, self.live = inpainter, wait, live
        self._turn = threading.Lock()
        self._jobs = queue.Queue()  # type: queue.Queue
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="edge_app-model", daemon=True)
        self._thread.start()

    def run(self, work: Callable[[], Any]) -> Any:
        """``work()`` on the model's thread once the requests before it are done;
        HttpError 503 when that takes longer than ``wait`` seconds."""
        if not self._turn.acquire(timeout=self.wait):
            raise HttpError(503, "busy: another inference is running; try again in a moment")
        try:
            job = _Job(work)
            self._jobs.put(job)
            job.done.wait()
        finally:
            self._turn.release()
        if job.error is not None:
            raise job.error
        return job.result

    def _loop(self) -> None:
        self.inpainter.backend.bind_thread()
        while not self._stop.is_set():
            live = self.live is not None and self.live.watched()
            try:
                job = self._jobs.get(timeout=POLL_WATCHED if live else POLL_IDLE)
            except queue.Empty:
                job = None
            if job is not None:
                job.run()
            elif live:
                try:
                    self.live.step(self.inpainter)
                except Exception:  # the preview must not stop the model's thread
                    traceback.print_exc()
                    self._stop.wait(PAUSE_AFTER_ERROR)
        while not self._jobs.empty():  # answer the requests left
            job = self._jobs.get()
            job.error = HttpError(503, "the server is stopping")
            job.done.set()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

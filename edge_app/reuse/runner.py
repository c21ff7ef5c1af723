"""The network on its own thread: frames never wait for it.

``request(job)`` hands a job over and returns at once; one thread runs the
jobs one at a time, always the newest one handed over (a job waiting while
another runs is replaced by a newer one: only the newest view matters), and
starts the next at once when one is waiting, so a job handed over while
another runs starts within one network time. ``take()`` gives the newest
finished job, once. The thread ends when no job waits and starts again with
the next request; it makes the backend usable first (``bind``: ACL contexts
are per thread).
"""
import threading
import time
from typing import Any, Callable, Optional


class Done:
    """A finished job: the job, its result or its error, and its seconds."""

    def __init__(self, job: Any, result: Any, error: Optional[BaseException], seconds: float):
        self.job, self.result, self.error, self.seconds = job, result, error, seconds


class NetworkRunner:
    """Runs ``run(job)`` on its own thread for the newest job requested."""

    def __init__(self, run: Callable[[Any], Any], bind: Callable[[], None]):
        self._run, self._bind = run, bind
        self._lock = threading.Condition()
        self._waiting = None  # type: Any
        self._done = None  # type: Optional[Done]
        self._thread = None  # type: Optional[threading.Thread]
        self._stopped = False
        #: jobs run (taken or not) and their seconds
        self.runs = 0
        self.seconds = 0.0

    @property
    def busy(self) -> bool:
        """True while a job runs or waits."""
        with self._lock:
            return self._thread is not None

    def request(self, job: Any) -> None:
        """Run ``job`` next (replacing one that waits); never blocks."""
        with self._lock:
            if self._stopped:
                return
            self._waiting = job
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="edge_app-network", daemon=True)
                self._thread.start()

    def take(self) -> Optional[Done]:
        """The newest finished job not taken yet, or None."""
        with self._lock:
            done, self._done = self._done, None
            return done

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Wait until no job runs or waits; False if ``timeout`` seconds passed first."""
        with self._lock:
            return self._lock.wait_for(lambda: self._thread is None, timeout)

    def stop(self) -> None:
        """Drop the waiting job and take no more (a running one finishes)."""
        with self._lock:
            self._stopped = True
            self._waiting = None

    def _loop(self) -> None:
        try:
            self._bind()
        except Exception as exc:  # reported through take(), like a failed run
            with self._lock:
                self._done = Done(self._waiting, None, exc, 0.0)
                self._waiting, self._thread = None, None
                self._lock.notify_all()
            return
        while True:
            with self._lock:
                job, self._waiting = self._waiting, None
                if job is None:
                    self._thread = None
                    self._lock.notify_all()
                    return
            t0 = time.perf_counter()
            try:
                done = Done(job, self._run(job), None, 0.0)
            except Exception as exc:  # reported through take()
                done = Done(job, None, exc, 0.0)
            done.seconds = time.perf_counter() - t0
            with self._lock:
                self._done = done
                self.runs += 1
                self.seconds += done.seconds
                self._lock.notify_all()

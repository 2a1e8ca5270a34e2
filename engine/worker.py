"""Workers: take jobs from the queue, run them outside any transaction, settle the outcome.

One job goes through short transactions, never one long one:

1. acquire a lease (``JobQueue.acquire``);
2. no transaction: the handler's ``run(lease)`` calls the registry, waits for
   the timer's effect, ... (a connector passes ``lease.idempotency_key`` on);
3. complete the job *and* resume the instance with the result
   (``handler.resume``) in one transaction, or record the failure (retry with
   backoff; when retries are spent ``handler.on_exhausted`` may route a BPMN
   error to a boundary event, else an incident is opened).

A working worker (``run``, ``drain``) chains: step 3's transaction also
leases the next due job, which is step 1 of that job, so a busy worker
spends one transaction per job, and a process's chain of service tasks runs
back to back without waiting for a poll. Workers in the engine's own process
skip step 1 altogether for the jobs an action hands them already leased
(``engine.handoff``), and wake as soon as one is handed over.

If the worker dies between 1 and 3, the lease expires and another worker runs
the job again; the token check makes a late completion fail with
:class:`~engine.errors.LeaseLost` instead of resuming the instance twice.

The embedded default runs a :class:`WorkerPool` of threads inside the web
process; ``panjereh worker`` runs :func:`run_process` (several processes can
share one PostgreSQL database). SIGTERM and SIGINT stop a process gracefully:
the jobs in hand are finished, no new ones are taken.
"""

from __future__ import annotations

import importlib
import logging
import os
import random
import signal
import socket
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from types import FrameType
from typing import Any, Protocol

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from engine.clock import Clock
from engine.db import Database
from engine.errors import ConcurrencyError, JobFailed, LeaseLost
from engine.handoff import Handoff
from engine.jobs import DEFAULT_LEASE, JobQueue, Lease, RetryPolicy

log = logging.getLogger(__name__)

HANDOFF_CAPACITY = 4  # handed-over jobs waiting per worker thread: a few, so none waits until its lease expires
HANDOFF_RUN = 8  # jobs a worker takes by hand-off in a row before it looks at the queue again (fairness)
RESUME_TRIES = 3  # a lost race with a clerk on the same instance is retried this often before the job is


class JobHandler(Protocol):
    """What a worker runs for one kind of job."""

    def run(self, lease: Lease) -> Any:
        """Do the work, outside any transaction; raise :class:`JobFailed` to fail the attempt."""
        ...

    def resume(self, session: Session, lease: Lease, result: Any) -> None:
        """Move the instance on with ``result``, in the transaction that completes the job."""
        ...

    def on_exhausted(self, session: Session, lease: Lease, error: str) -> bool:
        """The job died: return True if a BPMN error boundary took it over (no incident then)."""
        ...


@dataclass(frozen=True)
class FunctionHandler:
    """A handler made of plain functions (only ``run`` is required)."""

    run_fn: Callable[[Lease], Any]
    resume_fn: Callable[[Session, Lease, Any], None] | None = None
    exhausted_fn: Callable[[Session, Lease, str], bool] | None = None

    def run(self, lease: Lease) -> Any:
        """Call ``run_fn``."""
        return self.run_fn(lease)

    def resume(self, session: Session, lease: Lease, result: Any) -> None:
        """Call ``resume_fn`` if there is one."""
        if self.resume_fn is not None:
            self.resume_fn(session, lease, result)

    def on_exhausted(self, session: Session, lease: Lease, error: str) -> bool:
        """Call ``exhausted_fn`` if there is one; without it every dead job is an incident."""
        return self.exhausted_fn(session, lease, error) if self.exhausted_fn is not None else False


HandlerFactory = Callable[[Database, Clock], Mapping[str, JobHandler]]


def default_worker_id(index: int = 0) -> str:
    """``host:pid:index``: says where a lease holder ran, for incidents and the admin view."""
    return f"{socket.gethostname()}:{os.getpid()}:{index}"


class Worker:
    """One loop of acquire → run → complete/fail, for the job kinds it has handlers for."""

    def __init__(self, db: Database, clock: Clock, handlers: Mapping[str, JobHandler], *,
                 worker_id: str | None = None, lease: timedelta = DEFAULT_LEASE, batch: int = 1,
                 poll_interval: float = 1.0, policy: RetryPolicy | None = None,
                 rng: random.Random | None = None, handoff: Handoff | None = None) -> None:
        if not handlers:
            raise ValueError("a worker needs at least one job handler")
        self.db = db
        self.clock = clock
        self.handlers = dict(handlers)
        self.worker_id = worker_id or default_worker_id()
        self.lease = lease
        self.batch = batch
        self.poll_interval = poll_interval
        self._policy = policy
        self._rng = rng or random.Random()
        # Jobs the engine leased to this worker when it created them (``Engine.hand_jobs_to``).
        self.handoff = handoff if handoff is not None else Handoff(self.worker_id, capacity=HANDOFF_CAPACITY,
                                                                   lease=lease)
        self._kinds = sorted(self.handlers)
        self._handed_in_a_row = 0
        self.saw_empty = False  # the last round ended on a completing transaction that found no job due

    def _queue(self, session: Session) -> JobQueue:
        return JobQueue(session, self.clock, policy=self._policy, rng=self._rng)

    def run_once(self, stop: threading.Event | None = None, *, chain: bool = False) -> int:
        """Take up to ``batch`` due jobs and settle each; return how many were taken.

        With ``chain`` the worker goes on while jobs are due: the transaction
        that completes a job also leases the next one (one transaction per
        job instead of two; a chain of service tasks runs back to back).
        """
        pending = self._handed(self.batch)
        if not pending:
            with self.db.session_scope() as session:
                pending = self._queue(session).acquire(self.worker_id, lease=self.lease, kinds=self._kinds,
                                                       limit=self.batch)
        taken = 0
        self.saw_empty = False
        while pending:
            lease = pending.pop(0)
            if stop is not None and stop.is_set():
                self._release([lease, *pending])
                break
            taken += 1
            following = self.process(lease, chain=chain)
            pending.extend(following or ())
            if len(pending) < self.batch:
                pending.extend(self._handed(self.batch - len(pending)))
            # The completing transaction found nothing more to lease: the queue was empty then.
            self.saw_empty = chain and not pending and following == []
        return taken

    def _handed(self, limit: int) -> list[Lease]:
        """Leases handed over that this worker can run (another kind goes back to the queue)."""
        leases = self.handoff.take(limit)
        foreign = [lease for lease in leases if lease.kind not in self.handlers]
        if foreign:
            self._release(foreign)
        return [lease for lease in leases if lease.kind in self.handlers]

    def run(self, stop: threading.Event) -> None:
        """Work until ``stop`` is set, waiting ``poll_interval`` seconds whenever the queue is empty."""
        while not stop.is_set():
            if self._guarded_round(stop) == 0:
                self.handoff.wait(self.poll_interval, stop)  # a job handed over, or stopping, wakes it at once

    def drain(self, stop: threading.Event) -> int:
        """Work until no job is due (or ``stop`` is set); return how many jobs were taken."""
        total = 0
        while not stop.is_set():
            taken = self._guarded_round(stop)
            if taken <= 0:
                break
            total += taken
            if self.saw_empty:
                break
        return total

    def _guarded_round(self, stop: threading.Event) -> int:
        """One round; a busy or unreachable database costs a pause, not the worker (-1 then)."""
        try:
            return self.run_once(stop, chain=True)
        except ConcurrencyError as exc:
            log.info("worker %s: database busy, will retry: %s", self.worker_id, exc)
        except DBAPIError as exc:  # the database restarted or the network hiccupped (DESIGN §8)
            log.warning("worker %s: database error, will retry: %s", self.worker_id, exc.orig)
        stop.wait(self.poll_interval)
        return -1

    def process(self, lease: Lease, *, chain: bool = False) -> list[Lease] | None:
        """Run one leased job and record its outcome.

        With ``chain``, returns the next job leased in the completing
        transaction (``[]``: none was due); None when no lease was attempted.
        """
        handler = self.handlers[lease.kind]
        if lease.exhausted:
            self._fail(lease, handler, f"the job's workers stopped before finishing it {lease.max_attempts} times "
                                       "(each lease expired)", retryable=False)
            return None
        try:
            result = handler.run(lease)
        except JobFailed as exc:
            self._fail(lease, handler, str(exc), retryable=exc.retryable, details=exc.details)
            return None
        except Exception as exc:  # deliberately broad: a handler's bug or an unexpected library error
            # must become a failed attempt (retried, then an incident), never a dead worker thread.
            log.exception("worker %s: job %s (%s) raised", self.worker_id, lease.job_id, lease.kind)
            self._fail(lease, handler, f"{type(exc).__name__}: {exc}", retryable=True)
            return None
        return self._complete(lease, handler, result, chain=chain)

    def heartbeat(self, lease: Lease, extend: timedelta | None = None) -> Lease:
        """Extend a lease from inside a long ``run`` (its own short transaction)."""
        with self.db.session_scope() as session:
            return self._queue(session).heartbeat(lease, extend or self.lease)

    def _complete(self, lease: Lease, handler: JobHandler, result: Any, *, chain: bool = False) -> list[Lease] | None:
        for _ in range(RESUME_TRIES):
            try:
                with self.db.session_scope() as session:
                    queue = self._queue(session)
                    queue.complete(lease)
                    handler.resume(session, lease, result)
                    if not chain:
                        return None
                    if self.handoff.offered_in(session) and self._handed_in_a_row < HANDOFF_RUN:
                        # The next job comes leased, by hand-off: no need to look. But a chain of
                        # service tasks must not keep the jobs waiting in the queue from their turn.
                        self._handed_in_a_row += 1
                        return None
                    self._handed_in_a_row = 0
                    return queue.acquire(self.worker_id, lease=self.lease, kinds=self._kinds, limit=1)
            except LeaseLost as exc:
                log.warning("%s; its result is dropped", exc)
                return None
            except ConcurrencyError as exc:
                log.info("job %s: instance changed meanwhile, resuming again: %s", lease.job_id, exc)
            except Exception as exc:  # deliberately broad, as in process(): the job must be retried
                log.exception("worker %s: resuming after job %s failed", self.worker_id, lease.job_id)
                self._fail(lease, handler, f"resuming the instance failed: {type(exc).__name__}: {exc}",
                           retryable=True)
                return None
        self._fail(lease, handler, "resuming the instance lost a race with other actions "
                                   f"{RESUME_TRIES} times", retryable=True)
        return None

    def _fail(self, lease: Lease, handler: JobHandler, error: str, *, retryable: bool,
              details: Mapping[str, Any] | None = None) -> None:
        try:
            with self.db.session_scope() as session:
                outcome = self._queue(session).fail(lease, error, retryable=retryable, details=details,
                                                    escalate=handler.on_exhausted)
        except LeaseLost as exc:
            log.warning("%s; its failure is not recorded", exc)
            return
        if outcome.dead:
            log.warning("job %s (%s) died: %s", lease.job_id, lease.kind,
                        "BPMN error raised" if outcome.escalated else f"incident {outcome.incident_id}")

    def _release(self, leases: Iterable[Lease]) -> None:
        with self.db.session_scope() as session:
            queue = self._queue(session)
            for lease in leases:
                try:
                    queue.release(lease)
                except LeaseLost:
                    continue  # already taken over: nothing to give back


class WorkerPool:
    """``threads`` workers in this process (the embedded default), with a clean stop."""

    def __init__(self, db: Database, clock: Clock, handlers: Mapping[str, JobHandler], *, threads: int = 2,
                 drain: bool = False, **worker_options: Any) -> None:
        if threads < 1:
            raise ValueError("a worker pool needs at least one thread")
        self.stop_event = threading.Event()
        self.handoff = Handoff(f"{socket.gethostname()}:{os.getpid()}:pool", capacity=HANDOFF_CAPACITY * threads,
                               lease=worker_options.get("lease", DEFAULT_LEASE))
        self.workers = [Worker(db, clock, handlers, worker_id=default_worker_id(i), handoff=self.handoff,
                               **worker_options) for i in range(threads)]
        self._drain = drain
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start the threads (once)."""
        if self._threads:
            raise RuntimeError("the worker pool is already started")
        for worker in self.workers:
            target = worker.drain if self._drain else worker.run
            thread = threading.Thread(target=target, args=(self.stop_event,), name=f"panjereh-{worker.worker_id}",
                                      daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float | None = 60.0) -> bool:
        """Ask every worker to stop after its current job and wait; True if all stopped in time.

        Jobs handed over that no worker started go back to the queue.
        """
        self.stop_event.set()
        self.handoff.wake()
        stopped = self.join(timeout)
        left = self.handoff.close()
        if left:
            try:
                self.workers[0]._release(left)
            except (DBAPIError, ConcurrencyError) as exc:  # their leases expire instead; another worker takes them
                log.warning("could not give back %d handed-over jobs: %s", len(left), exc)
        return stopped

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the threads to end (a draining pool ends by itself); True if all ended."""
        for thread in self._threads:
            thread.join(timeout)
        return not any(thread.is_alive() for thread in self._threads)

    def __enter__(self) -> WorkerPool:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def load_handlers(specs: Iterable[str], db: Database, clock: Clock) -> dict[str, JobHandler]:
    """Handlers from ``module:factory`` names (each factory returns ``{kind: handler}``); later ones win."""
    handlers: dict[str, JobHandler] = {}
    for spec in specs:
        module_name, _, attr = spec.partition(":")
        if not module_name or not attr:
            raise ValueError(f"handler factory {spec!r} is not of the form module:function")
        factory: HandlerFactory = getattr(importlib.import_module(module_name), attr)
        handlers.update(factory(db, clock))
    return handlers


def run_process(db: Database, clock: Clock, handlers: Mapping[str, JobHandler], *, threads: int = 1,
                once: bool = False, **worker_options: Any) -> int:
    """Run workers in this process until SIGTERM/SIGINT (or, with ``once``, until no job is due).

    Must be called from the main thread (signal handlers). Returns an exit code.
    """
    pool = WorkerPool(db, clock, handlers, threads=threads, drain=once, **worker_options)

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s: stopping after the jobs in hand", signum)
        pool.stop_event.set()
        pool.handoff.wake()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        pool.start()
        # Join in short slices: the main thread must stay responsive to signals.
        while not pool.join(timeout=0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        db.dispose()
    return 0

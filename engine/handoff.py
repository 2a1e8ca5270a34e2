"""Jobs handed straight to the workers of this process, leased when they are enqueued.

Without a hand-off, a service task an action creates waits in ``jobs`` until
a worker's next poll, which then spends a transaction leasing it. When the
engine runs its workers in the same process (the embedded default,
``panjereh run``), the action can do better: it inserts the job already
leased to those workers (``JobQueue.enqueue_leased``) and, once
its transaction has committed, puts the lease in this in-memory queue. A
waiting worker wakes at once and runs the job without a lease transaction.

Nothing durable depends on the queue: the job row is written, with its
lease, in the action's transaction. If the process dies before a worker ran
the job, the lease expires and any worker takes the job again, as after any
worker crash. A transaction that rolls back offers nothing. The queue is
bounded (``capacity``): a job that finds it full is enqueued ``ready`` for
the next poll: a few leases wait in memory, not so many that one would
expire there.
"""

from __future__ import annotations

import threading
from collections import deque
from datetime import timedelta

from sqlalchemy.orm import Session

from engine.db import after_commit
from engine.jobs import DEFAULT_LEASE, Lease

_OFFERED = "panjereh.handoff.offered"


class Handoff:
    """The leases waiting for this process's workers (thread-safe)."""

    def __init__(self, worker_id: str, *, capacity: int = 16, lease: timedelta = DEFAULT_LEASE) -> None:
        if capacity < 1:
            raise ValueError("a hand-off queue needs room for at least one job")
        self.worker_id = worker_id
        self.capacity = capacity
        self.lease = lease
        self._leases: deque[Lease] = deque()
        self._closed = False
        self._ready = threading.Condition()

    def accepts(self) -> bool:
        """Whether a new lease may be handed here now (open, and fewer than ``capacity`` waiting).

        A soft bound: transactions in flight may each add one more.
        """
        with self._ready:
            return not self._closed and len(self._leases) < self.capacity

    def offer_after_commit(self, session: Session, lease: Lease) -> None:
        """Queue ``lease`` once ``session``'s transaction commits (a rollback offers nothing)."""
        offered = session.info.setdefault(_OFFERED, {})
        if id(self) not in offered:
            offered[id(self)] = []
            after_commit(session, lambda: self._deliver(offered.pop(id(self), [])))
        offered[id(self)].append(lease)

    def offered_in(self, session: Session) -> bool:
        """Whether ``session``'s transaction leased a job to this queue (a chaining worker need not poll)."""
        return bool(session.info.get(_OFFERED, {}).get(id(self)))

    def take(self, limit: int) -> list[Lease]:
        """Up to ``limit`` leases, oldest first, without waiting."""
        with self._ready:
            taken = []
            while self._leases and len(taken) < limit:
                taken.append(self._leases.popleft())
            return taken

    def wait(self, timeout: float, stop: threading.Event | None = None) -> bool:
        """Wait up to ``timeout`` seconds for a lease (or :meth:`wake`); True if one is waiting.

        ``stop`` is looked at under the lock :meth:`wake` takes: a pool that sets
        it and then wakes its workers cannot slip in between a worker's last
        look and its wait (the wake would be lost, and the worker would sleep
        for the whole poll interval).
        """
        with self._ready:
            if not self._leases and not (stop is not None and stop.is_set()):
                self._ready.wait(timeout)
            return bool(self._leases)

    def wake(self) -> None:
        """Wake every waiting worker (a pool stopping)."""
        with self._ready:
            self._ready.notify_all()

    def close(self) -> list[Lease]:
        """Accept no more leases; return those still waiting (the caller gives them back)."""
        with self._ready:
            self._closed = True
            left = list(self._leases)
            self._leases.clear()
            self._ready.notify_all()
            return left

    def __len__(self) -> int:
        with self._ready:
            return len(self._leases)

    def _deliver(self, leases: list[Lease]) -> None:
        with self._ready:
            if self._closed:
                # Closed between the commit and now: the rows stay leased until their lease expires,
                # then any worker takes them (as after a crash); nothing is lost.
                return
            self._leases.extend(leases)
            self._ready.notify(len(leases))

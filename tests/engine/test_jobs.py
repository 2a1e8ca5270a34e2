"""engine.jobs and engine.incidents: enqueue, leases, retries with backoff, incidents.

Time never passes by itself here: a VirtualClock is moved by hand.
"""

from __future__ import annotations

import multiprocessing
import random
import threading
from datetime import timedelta

import pytest

from engine.audit import AuditLog
from engine.clock import VirtualClock
from engine.db import Database
from engine.errors import ConcurrencyError, InvalidState, LeaseLost
from engine.incidents import Incidents
from engine.jobs import JobQueue, RetryPolicy

LEASE = timedelta(minutes=5)


def _enqueue(db, clock, n, *, kind="service", prefix="k", **options):
    with db.session_scope() as session:
        queue = JobQueue(session, clock)
        return [queue.enqueue(kind, idempotency_key=f"{prefix}{i}", payload={"i": i}, **options) for i in range(n)]


def _acquire(db, clock, worker="w1", **options):
    with db.session_scope() as session:
        return JobQueue(session, clock).acquire(worker, lease=LEASE, **options)


def _job(db, clock, job_id):
    with db.session_scope(readonly=True) as session:
        return JobQueue(session, clock).get(job_id)


def test_enqueue_is_idempotent(db, clock, instance_id):
    with db.session_scope() as session:
        queue = JobQueue(session, clock)
        first = queue.enqueue("service", idempotency_key="inq:1", instance_id=instance_id, payload={"a": 1})
        again = queue.enqueue("service", idempotency_key="inq:1", instance_id=instance_id, payload={"a": 2})
    assert first == again
    with db.session_scope() as session:
        assert JobQueue(session, clock).enqueue("service", idempotency_key="inq:1") == first
        jobs = JobQueue(session, clock).find()
    assert len(jobs) == 1 and jobs[0].payload == {"a": 1} and jobs[0].status == "ready"


def test_concurrent_enqueues_of_one_key_make_one_job(db, clock):
    ids: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def enqueue() -> None:
        barrier.wait()
        try:
            for attempt in range(20):
                try:
                    with db.session_scope() as session:
                        ids.append(JobQueue(session, clock).enqueue("service", idempotency_key="same"))
                    return
                except ConcurrencyError:
                    if attempt == 19:
                        raise
        except BaseException as exc:  # collected: a thread's failure must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=enqueue) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(ids) == 6 and len(set(ids)) == 1


def test_acquire_takes_due_jobs_in_order_and_filters_kinds(db, clock):
    now = clock.now()
    with db.session_scope() as session:
        queue = JobQueue(session, clock)
        later = queue.enqueue("timer", idempotency_key="t1", due_at=now + timedelta(hours=1))
        first = queue.enqueue("service", idempotency_key="s1", due_at=now - timedelta(seconds=2))
        second = queue.enqueue("service", idempotency_key="s2", due_at=now - timedelta(seconds=1))
    assert _acquire(db, clock, kinds=["timer"]) == []
    leases = _acquire(db, clock, limit=5)
    assert [lease.job_id for lease in leases] == sorted([first, second])
    assert all(lease.attempt == 1 and lease.expires_at == now + LEASE for lease in leases)
    assert _acquire(db, clock, limit=5) == []  # leased: nobody else gets them
    clock.advance(timedelta(hours=1))
    (timer,) = _acquire(db, clock, kinds=["timer"])
    assert timer.job_id == later and timer.kind == "timer"
    assert _acquire(db, clock, kinds=[]) == []


def test_complete_with_the_lease(db, clock):
    (job_id,) = _enqueue(db, clock, 1)
    (lease,) = _acquire(db, clock)
    with db.session_scope() as session:
        JobQueue(session, clock).complete(lease)
    assert _job(db, clock, job_id).status == "done"
    with pytest.raises(LeaseLost, match="is now done"), db.session_scope() as session:
        JobQueue(session, clock).complete(lease)


def test_an_expired_lease_is_taken_again_and_the_late_worker_loses(db, clock):
    (job_id,) = _enqueue(db, clock, 1)
    (old,) = _acquire(db, clock, "dying-worker")
    clock.advance(LEASE - timedelta(seconds=1))
    assert _acquire(db, clock, "w2") == []  # not expired yet
    clock.advance(timedelta(seconds=1))
    (new,) = _acquire(db, clock, "w2")
    assert new.job_id == job_id and new.attempt == 2 and new.token != old.token
    with pytest.raises(LeaseLost) as caught, db.session_scope() as session:
        JobQueue(session, clock).complete(old)
    assert "w2 took the job" in str(caught.value) and not caught.value.retryable
    with db.session_scope() as session:
        JobQueue(session, clock).complete(new)
    assert _job(db, clock, job_id).status == "done"


def test_heartbeat_keeps_the_lease(db, clock):
    _enqueue(db, clock, 1)
    (lease,) = _acquire(db, clock)
    clock.advance(LEASE - timedelta(seconds=10))
    with db.session_scope() as session:
        lease = JobQueue(session, clock).heartbeat(lease, LEASE)
    clock.advance(timedelta(minutes=1))
    assert _acquire(db, clock, "w2") == []
    assert lease.expires_at == clock.now() - timedelta(minutes=1) + LEASE


def test_release_gives_the_job_back_uncounted(db, clock):
    (job_id,) = _enqueue(db, clock, 1)
    (lease,) = _acquire(db, clock)
    with db.session_scope() as session:
        JobQueue(session, clock).release(lease)
    view = _job(db, clock, job_id)
    assert view.status == "ready" and view.attempts == 0 and view.lease_owner is None


def test_retries_back_off_then_an_incident_opens(db, clock, instance_id):
    (job_id,) = _enqueue(db, clock, 1, instance_id=instance_id, element_id="Inquiry_1", max_attempts=3)
    policy = RetryPolicy(initial=timedelta(seconds=10), multiplier=2.0, maximum=timedelta(hours=1), jitter=0.2)
    rng = random.Random(7)
    delays = []
    for attempt in (1, 2):
        (lease,) = _acquire(db, clock)
        assert lease.attempt == attempt
        with db.session_scope() as session:
            outcome = JobQueue(session, clock, policy=policy, rng=rng).fail(lease, "registry timed out")
        assert not outcome.dead and outcome.retry_at is not None
        delay = outcome.retry_at - clock.now()
        delays.append(delay)
        view = _job(db, clock, job_id)
        assert view.status == "failed" and view.last_error == "registry timed out"
        clock.advance(delay - timedelta(microseconds=1))
        assert _acquire(db, clock) == []  # not yet due
        clock.advance(timedelta(microseconds=1))
    # Exponential with jitter of at most 20 %, reproducible from the seed.
    assert timedelta(seconds=8) <= delays[0] <= timedelta(seconds=10)
    assert timedelta(seconds=16) <= delays[1] <= timedelta(seconds=20)
    replay = random.Random(7)
    assert delays == [policy.delay(1, replay), policy.delay(2, replay)]

    (lease,) = _acquire(db, clock)
    with db.session_scope() as session:
        outcome = JobQueue(session, clock, policy=policy, rng=rng).fail(lease, "registry timed out")
    assert outcome.dead and outcome.incident_id
    assert _job(db, clock, job_id).status == "dead"
    with db.session_scope(readonly=True) as session:
        (incident,) = Incidents(session, clock).list_open()
        assert incident.id == outcome.incident_id and incident.job_id == job_id
        assert incident.instance_id == instance_id and incident.element_id == "Inquiry_1"
        assert "3 attempts spent" in incident.message and incident.details["attempts"] == 3
        assert [e.action for e in AuditLog(session, clock).entries()] == ["incident.opened"]


def test_backoff_is_capped():
    policy = RetryPolicy(initial=timedelta(seconds=10), maximum=timedelta(minutes=1), jitter=0.0)
    assert policy.delay(30, random.Random(1)) == timedelta(minutes=1)


def test_a_non_retryable_error_dies_at_once(db, clock):
    _enqueue(db, clock, 1, max_attempts=5)
    (lease,) = _acquire(db, clock)
    with db.session_scope() as session:
        outcome = JobQueue(session, clock).fail(lease, "registry says: no such person", retryable=False)
    assert outcome.dead and outcome.incident_id
    with db.session_scope(readonly=True) as session:
        assert "not retryable" in Incidents(session, clock).get(outcome.incident_id).message


def test_escalation_to_a_bpmn_error_opens_no_incident(db, clock):
    _enqueue(db, clock, 1, max_attempts=1)
    (lease,) = _acquire(db, clock)
    routed = []

    def escalate(session, held, error):
        routed.append((held.job_id, error))
        return True

    with db.session_scope() as session:
        outcome = JobQueue(session, clock).fail(lease, "boom", escalate=escalate)
    assert outcome.dead and outcome.escalated and outcome.incident_id is None
    assert routed == [(lease.job_id, "boom")]
    with db.session_scope(readonly=True) as session:
        assert Incidents(session, clock).list_open() == []


def _dead_job_with_incident(db, clock):
    (job_id,) = _enqueue(db, clock, 1, max_attempts=1)
    (lease,) = _acquire(db, clock)
    with db.session_scope() as session:
        outcome = JobQueue(session, clock).fail(lease, "boom")
    assert outcome.incident_id is not None
    return job_id, outcome.incident_id


def test_incident_retry_requeues_with_fresh_attempts(db, clock):
    job_id, incident_id = _dead_job_with_incident(db, clock)
    clock.advance(timedelta(hours=2))
    with db.session_scope() as session:
        closed = Incidents(session, clock).retry(incident_id, actor="admin", note="registry is back")
    assert closed.status == "resolved" and closed.resolved_by == "admin"
    assert closed.resolution_note == "retried: registry is back"
    view = _job(db, clock, job_id)
    assert view.status == "ready" and view.attempts == 0 and view.due_at == clock.now()
    (lease,) = _acquire(db, clock)
    assert lease.job_id == job_id and lease.attempt == 1
    with pytest.raises(InvalidState, match="already resolved"), db.session_scope() as session:
        Incidents(session, clock).retry(incident_id, actor="admin")
    with db.session_scope(readonly=True) as session:
        actions = [e.action for e in AuditLog(session, clock).entries()]
    assert actions == ["incident.opened", "incident.retried"]


def test_incident_resolve_keeps_the_job_dead(db, clock):
    job_id, incident_id = _dead_job_with_incident(db, clock)
    with pytest.raises(ValueError, match="note"), db.session_scope() as session:
        Incidents(session, clock).resolve(incident_id, actor="admin", note="  ")
    with db.session_scope() as session:
        incidents = Incidents(session, clock)
        incidents.resolve(incident_id, actor="admin", note="settled by phone with the registry")
        assert incidents.list_open() == []
    assert _job(db, clock, job_id).status == "dead"
    with pytest.raises(InvalidState), db.session_scope() as session:
        Incidents(session, clock).retry(incident_id, actor="admin")


def test_cancel_makes_the_running_worker_lose_its_lease(db, clock, instance_id):
    with db.session_scope() as session:
        queue = JobQueue(session, clock)
        job_id = queue.enqueue("timer", idempotency_key="t", instance_id=instance_id, task_key="task-1")
        queue.enqueue("timer", idempotency_key="u", instance_id=instance_id, task_key="task-2")
    (lease, _other) = _acquire(db, clock, limit=2)
    with db.session_scope() as session:
        assert JobQueue(session, clock).cancel_for_task(instance_id, "task-1") == 1
    held = lease if lease.job_id == job_id else _other
    with pytest.raises(LeaseLost, match="cancelled"), db.session_scope() as session:
        JobQueue(session, clock).complete(held)


def test_threads_never_lease_a_job_twice(db, clock):
    total = 300
    _enqueue(db, clock, total)
    taken: list[list[str]] = [[] for _ in range(8)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)
    # Every thread leases once before any leases again: SQLite's lock is not fair (a waiting
    # connection sleeps in its busy handler while the holder begins again), so without this one
    # thread could now and then take every job, and the test would not show them shared.
    first_round = threading.Barrier(8, timeout=60)

    def work(index: int) -> None:
        barrier.wait()
        try:
            rounds = 0
            while True:
                try:
                    leases = _acquire(db, clock, f"w{index}", limit=3)
                except ConcurrencyError:
                    continue  # SQLite busy past the timeout: just try again
                rounds += 1
                if rounds == 1:
                    first_round.wait()
                if not leases:
                    return
                taken[index].extend(lease.job_id for lease in leases)
                with db.session_scope() as session:
                    queue = JobQueue(session, clock)
                    for lease in leases:
                        queue.complete(lease)
        except BaseException as exc:  # collected: a thread's failure must fail the test
            errors.append(exc)
            first_round.abort()  # the others must not wait for it

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    everything = [job for per_worker in taken for job in per_worker]
    assert len(everything) == total and len(set(everything)) == total
    assert sum(1 for per_worker in taken if per_worker) > 1  # the work really was shared


def _process_worker(url: str, name: str, start, out) -> None:
    """Runs in a child process: take jobs until the queue is empty, report their ids."""
    db = Database(url)
    clock = VirtualClock()
    ids: list[str] = []
    start.wait()
    while True:
        try:
            with db.session_scope() as session:
                leases = JobQueue(session, clock).acquire(name, lease=LEASE, limit=2)
                for lease in leases:
                    JobQueue(session, clock).complete(lease)
        except ConcurrencyError:
            continue
        if not leases:
            break
        ids.extend(lease.job_id for lease in leases)
    db.dispose()
    out.put((name, ids))


def test_processes_never_lease_a_job_twice(db, db_url, clock):
    total = 400
    _enqueue(db, clock, total)
    db.dispose()  # no pooled connection may cross into the children
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    out = ctx.Queue()
    procs = [ctx.Process(target=_process_worker, args=(db_url, f"p{i}", start, out)) for i in range(3)]
    for p in procs:
        p.start()
    start.set()
    results = dict(out.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    everything = [job for ids in results.values() for job in ids]
    assert len(everything) == total and len(set(everything)) == total
    with db.session_scope(readonly=True) as session:
        assert {view.status for view in JobQueue(session, clock).find(limit=total)} == {"done"}

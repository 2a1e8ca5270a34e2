"""engine.worker: the acquire → run → settle loop, pools, and the ``panjereh worker`` command."""

from __future__ import annotations

import argparse
import collections
import io
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from engine.audit import AuditLog
from engine.errors import ConcurrencyError, JobFailed
from engine.incidents import Incidents
from engine.jobs import JobQueue
from engine.worker import FunctionHandler, Worker, WorkerPool
from webui import cmd_worker

REPO = Path(__file__).resolve().parents[2]
LEASE = timedelta(minutes=5)


def _enqueue(db, clock, n=1, kind="echo", **options):
    with db.session_scope() as session:
        queue = JobQueue(session, clock)
        return [queue.enqueue(kind, idempotency_key=f"{kind}-{i}", payload={"i": i}, **options) for i in range(n)]


def _status(db, clock, job_id):
    with db.session_scope(readonly=True) as session:
        return JobQueue(session, clock).get(job_id)


def _incidents(db, clock):
    with db.session_scope(readonly=True) as session:
        return Incidents(session, clock).list_open()


def test_a_job_runs_and_resumes_in_the_completing_transaction(db, clock):
    (job_id,) = _enqueue(db, clock)
    seen = []

    def resume(session, lease, result):
        seen.append((lease.job_id, result))
        AuditLog(session, clock).record("instance.resumed", actor=lease.worker_id, details={"result": result})

    worker = Worker(db, clock, {"echo": FunctionHandler(lambda lease: {"echo": lease.payload["i"]}, resume)},
                    worker_id="w1")
    assert worker.run_once() == 1
    assert worker.run_once() == 0
    assert seen == [(job_id, {"echo": 0})]
    assert _status(db, clock, job_id).status == "done"
    with db.session_scope(readonly=True) as session:
        (entry,) = AuditLog(session, clock).entries()
    assert entry.action == "instance.resumed" and entry.details == {"result": {"echo": 0}}


def test_a_refusal_that_cannot_be_retried_opens_an_incident(db, clock):
    (job_id,) = _enqueue(db, clock)

    def run(lease):
        raise JobFailed("registry refused: unknown service", retryable=False, details={"http_status": 403})

    Worker(db, clock, {"echo": FunctionHandler(run)}).run_once()
    (incident,) = _incidents(db, clock)
    assert incident.job_id == job_id and incident.details["http_status"] == 403
    assert "registry refused" in incident.message


def test_an_unexpected_exception_is_retried_later(db, clock):
    (job_id,) = _enqueue(db, clock)
    calls = []

    def run(lease):
        calls.append(lease.attempt)
        if lease.attempt == 1:
            raise ValueError("bad JSON from registry")
        return "ok"

    worker = Worker(db, clock, {"echo": FunctionHandler(run)})
    worker.run_once()
    view = _status(db, clock, job_id)
    assert view.status == "failed" and view.last_error == "ValueError: bad JSON from registry"
    assert worker.run_once() == 0  # backing off
    clock.advance(view.due_at - clock.now())
    assert worker.run_once() == 1
    assert calls == [1, 2] and _status(db, clock, job_id).status == "done"


def test_a_lost_race_while_resuming_is_retried(db, clock):
    (job_id,) = _enqueue(db, clock)
    tries = []

    def resume(session, lease, result):
        tries.append(1)
        if len(tries) == 1:
            raise ConcurrencyError("a clerk changed the instance")

    Worker(db, clock, {"echo": FunctionHandler(lambda lease: 1, resume)}).run_once()
    assert len(tries) == 2 and _status(db, clock, job_id).status == "done"


def test_a_resume_that_always_loses_fails_the_attempt(db, clock):
    (job_id,) = _enqueue(db, clock)

    def resume(session, lease, result):
        raise ConcurrencyError("busy instance")

    Worker(db, clock, {"echo": FunctionHandler(lambda lease: 1, resume)}).run_once()
    view = _status(db, clock, job_id)
    assert view.status == "failed" and "lost a race" in (view.last_error or "")


def test_a_job_whose_workers_keep_dying_becomes_an_incident_without_running(db, clock):
    (job_id,) = _enqueue(db, clock, max_attempts=1)
    with db.session_scope() as session:
        JobQueue(session, clock).acquire("crashed", lease=LEASE)  # this worker never comes back
    clock.advance(LEASE)
    ran = []
    Worker(db, clock, {"echo": FunctionHandler(ran.append)}).run_once()
    assert ran == []
    assert _status(db, clock, job_id).status == "dead"
    (incident,) = _incidents(db, clock)
    assert "stopped before finishing" in incident.message


def test_a_bpmn_error_boundary_takes_over_a_dead_job(db, clock):
    _enqueue(db, clock, max_attempts=1)
    routed = []

    def run(lease):
        raise JobFailed("registry down")

    def exhausted(session, lease, error):
        routed.append(error)
        return True

    Worker(db, clock, {"echo": FunctionHandler(run, exhausted_fn=exhausted)}).run_once()
    assert routed == ["registry down"] and _incidents(db, clock) == []


def test_a_late_worker_drops_its_result(db, clock):
    (job_id,) = _enqueue(db, clock)
    resumed = []

    def run(lease):
        clock.advance(LEASE + timedelta(seconds=1))  # this worker hangs past its lease ...
        with db.session_scope() as session:  # ... and another worker takes the job meanwhile
            assert JobQueue(session, clock).acquire("w2", lease=LEASE)
        return "late"

    Worker(db, clock, {"echo": FunctionHandler(run, lambda s, lease, r: resumed.append(r))},
           worker_id="w1", lease=LEASE).run_once()
    assert resumed == []
    view = _status(db, clock, job_id)
    assert view.status == "running" and view.lease_owner == "w2"


def test_a_draining_pool_runs_every_job_once(db, clock):
    ids = set(_enqueue(db, clock, 90))
    runs: collections.Counter[str] = collections.Counter()
    lock = threading.Lock()

    def run(lease):
        with lock:
            runs[lease.job_id] += 1

    pool = WorkerPool(db, clock, {"echo": FunctionHandler(run)}, threads=3, drain=True, batch=2, poll_interval=0.01)
    pool.start()
    assert pool.join(timeout=120)
    assert set(runs) == ids and set(runs.values()) == {1}
    with db.session_scope(readonly=True) as session:
        assert {v.status for v in JobQueue(session, clock).find(limit=200)} == {"done"}


def test_a_running_pool_stops_cleanly(db, clock):
    total = 20
    done = threading.Event()
    count = collections.Counter()
    lock = threading.Lock()

    def run(lease):
        with lock:
            count["n"] += 1
            if count["n"] == total:
                done.set()

    with WorkerPool(db, clock, {"echo": FunctionHandler(run)}, threads=2, poll_interval=0.01) as pool:
        _enqueue(db, clock, total)
        assert done.wait(120)
    assert pool.stop_event.is_set() and pool.join(0)
    assert count["n"] == total


def _parse(argv):
    parser = argparse.ArgumentParser(prog="panjereh")
    cmd_worker.register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_worker_command_once(db, db_url, clock):
    ids = _enqueue(db, clock, 5)
    args = _parse(["worker", "--database-url", db_url, "--threads", "2", "--once",
                   "--handlers", "tests.engine.worker_handlers:echo_handlers"])
    out = io.StringIO()
    assert args.func(args, out) == 0
    assert "kinds echo" in out.getvalue()
    assert {_status(db, clock, i).status for i in ids} == {"done"}
    with db.session_scope(readonly=True) as session:
        assert len(AuditLog(session, clock).entries(action="job.echoed")) == 5


def test_worker_command_needs_handlers(db_url, capsys):
    # Without --handlers the engine's own run: service tasks, timers, messages.
    args = _parse(["worker", "--database-url", db_url, "--once"])
    out = io.StringIO()
    assert args.func(args, out) == 0
    assert "kinds message, service, timer" in out.getvalue()
    args = _parse(["worker", "--database-url", db_url, "--handlers", "nonexistent.module:f"])
    assert args.func(args, io.StringIO()) == 1


def test_worker_command_refuses_an_unmigrated_database(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'new.sqlite3'}"
    argv = ["worker", "--database-url", url, "--once", "--handlers", "tests.engine.worker_handlers:echo_handlers"]
    args = _parse(argv)
    assert args.func(args, io.StringIO()) == 1
    assert "run the migrations first" in capsys.readouterr().err
    args = _parse([*argv, "--migrate"])
    assert args.func(args, io.StringIO()) == 0


def _wait_for(predicate, what):
    deadline = time.monotonic() + 60  # a guard against a hung child, not a timed assertion
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.02)


def test_sigterm_finishes_the_job_in_hand_and_takes_no_more(db, db_url, clock, tmp_path):
    with db.session_scope() as session:  # the payload names the folder the handler signals through
        queue = JobQueue(session, clock)
        first, second = (queue.enqueue("slow", idempotency_key=f"slow-{i}", payload={"folder": str(tmp_path)})
                         for i in range(2))
    runner = ("import argparse, sys\nfrom webui import cmd_worker\n"
              "p = argparse.ArgumentParser(); cmd_worker.register(p.add_subparsers())\n"
              "a = p.parse_args(sys.argv[1:]); sys.exit(a.func(a, sys.stdout))\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", runner, "worker", "--database-url", db_url, "--threads", "1", "--poll", "0.05",
         "--handlers", "tests.engine.worker_handlers:slow_handlers"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _wait_for(lambda: any(tmp_path.glob("started-*")), "the worker to start a job")
        proc.send_signal(signal.SIGTERM)
        (tmp_path / "go").touch()
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err.decode()
    statuses = sorted(_status(db, clock, i).status for i in (first, second))
    assert statuses == ["done", "ready"]

"""A worker process killed in the middle of an inquiry loses nothing (SQLite and PostgreSQL).

Real processes: ``panjereh worker`` (``python -m webui.cli worker``) against
the test database, the simulator in this process answering slowly. The first
worker takes the inquiry job and is killed (SIGKILL) while the simulator
holds its request; a second worker takes the job once the lease expires,
asks again with the same idempotency key (the simulator replays its answer),
and resumes the instance. The instance moves on once, and the inquiry log
holds one record per attempt: the lost attempt recorded as ERROR by the
worker that took over, the second one OK.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bpmn.load import load_path
from engine.clock import SystemClock
from engine.db import Database
from engine.inquiry_log import verify_stored_chain
from engine.models import InquiryRecordRow, Job
from engine.population import sample_person
from engine.runtime import Engine
from engine.simulator import SimulatorHandle, start_simulator

REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / "tests" / "data" / "engine" / "inquiry_no_boundary.bpmn"
LATENCY_MS = 3000
LEASE_SECONDS = 2


@pytest.fixture
def slow_simulator() -> Iterator[SimulatorHandle]:
    handle = start_simulator(latency_ms=LATENCY_MS)
    yield handle
    handle.stop()


def start_worker(db_url: str, sim_url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PANJEREH_INQUIRY_BASE_URL": sim_url, "PYTHONPATH": str(REPO)}
    with log.open("wb") as out:  # the child keeps its own handle; ours closes at once
        return subprocess.Popen([sys.executable, "-m", "webui.cli", "worker", "--database-url", db_url,
                                 "--threads", "1", "--poll", "0.1", "--lease", str(LEASE_SECONDS)],
                                cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)


def wait_for(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_killed_worker_loses_nothing(db_url: str, slow_simulator: SimulatorHandle, tmp_path: Path) -> None:
    db = Database(db_url)
    engine = Engine(db, SystemClock())
    deployment = engine.deploy(load_path(MODEL)[0])
    assert deployment.version is not None
    someone = sample_person(3)
    person = {"national_code": someone.national_code, "birth_date": someone.birth_date_jalali}
    state = engine.start(deployment.version.id, business_key="CRASH-1")
    (form,) = state.human_tasks
    state = engine.complete_task(form.id, user="applicant", data=person)
    assert state.waiting == ("inq_identity",)

    first = start_worker(db_url, slow_simulator.url, tmp_path / "first.log")
    try:
        # The first worker has sent the inquiry; the simulator is holding it.
        wait_for(lambda: slow_simulator.stats()["total"]["requests"] >= 1, 60, "the first inquiry request")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    with db.session_scope(readonly=True) as session:
        (job,) = session.execute(select(Job.status, Job.attempts, Job.lease_owner)).all()
    assert job.status == "running" and job.attempts == 1  # taken, never finished

    second = start_worker(db_url, slow_simulator.url, tmp_path / "second.log")
    try:
        wait_for(lambda: engine.state(state.id).waiting == ("t_approve",), 60,
                 "the second worker to resume the case; its log:\n" + (tmp_path / "second.log").read_text())
    finally:
        second.send_signal(signal.SIGTERM)
        try:
            second.wait(30)
        except subprocess.TimeoutExpired:
            second.kill()
    state = engine.state(state.id)
    (approve,) = state.human_tasks
    state = engine.complete_task(approve.id, user="clerk")
    assert state.status == "completed"
    assert engine.history(state.id) == ["start", "t_form", "inq_identity", "t_approve", "end"]
    assert state.data["identity"]["status"] == "OK"
    assert state.data["identity"]["data"]["first_name"] == someone.first_name

    with db.session_scope(readonly=True) as session:
        (job,) = session.execute(select(Job.status, Job.attempts)).all()
        records = session.execute(select(InquiryRecordRow.attempt, InquiryRecordRow.status,
                                         InquiryRecordRow.idempotency_key).order_by(InquiryRecordRow.seq)).all()
        assert verify_stored_chain(session) == []
    assert (job.status, job.attempts) == ("done", 2)
    assert [(r.attempt, r.status) for r in records] == [(1, "ERROR"), (2, "OK")]
    assert len({r.idempotency_key for r in records}) == 1
    stats = slow_simulator.stats()["total"]
    assert stats["requests"] == 2 and stats["answered"] == 1 and stats["replayed"] == 1
    db.dispose()

"""engine.handoff: service jobs leased to this process's workers when an action creates them."""

from __future__ import annotations

import itertools
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from bpmn.load import load_bytes
from engine import instances
from engine.handoff import Handoff
from engine.jobs import JobQueue
from engine.models import Job
from engine.worker import Worker
from tests.engine.test_runtime import PERSON, Registry, deploy, make_engine, task


def _jobs(db):
    with db.session_scope(readonly=True) as session:
        return session.execute(select(Job.status, Job.attempts, Job.lease_owner, Job.element_id)
                               .order_by(Job.created_at)).all()


def _at_inquiry(engine, version):
    state = engine.start(version)
    return engine.complete_task(task(state, "t_form"), user="applicant", data=PERSON)


class _Statements:
    """The SQL statements a block runs on ``db``."""

    def __init__(self, db) -> None:
        self.engine = db.engine
        self.seen: list[str] = []

    def _record(self, conn, cursor, statement, *args) -> None:
        self.seen.append(statement)

    def __enter__(self) -> _Statements:
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)


def test_the_job_is_leased_to_the_attached_worker_and_run_without_polling(db, clock):
    engine = make_engine(db, clock)
    worker = Worker(db, clock, engine.job_handlers(), worker_id="w1", policy=engine.policy)
    engine.hand_jobs_to(worker.handoff)
    state = _at_inquiry(engine, deploy(engine, "inquiry_no_boundary.bpmn"))
    assert state.waiting == ("inq_identity",)
    # Written leased, as acquire() would have left it: running, one attempt counted, a lease holder.
    assert _jobs(db) == [("running", 1, "w1", "inq_identity")]
    assert len(worker.handoff) == 1
    with _Statements(db) as statements:
        assert worker.drain(threading.Event()) == 1
    # No statement looked for due jobs: the job came in hand, and the chain found its resume handed nothing.
    polls = [s for s in statements.seen if "FROM jobs" in s and "due_at" in s]
    assert len(polls) == 1, polls  # only the completing transaction's look for the next job
    state = engine.state(state.id)
    assert state.waiting == ("t_approve",)
    assert state.data["identity"]["data"]["first_name"] == "Sara"
    (inquiry,) = engine.inquiries(state.id)
    assert inquiry.attempts == 1
    assert _jobs(db) == [("done", 1, None, "inq_identity")]


def test_a_rolled_back_action_hands_nothing_over(db, clock, monkeypatch):
    engine = make_engine(db, clock)
    worker = Worker(db, clock, engine.job_handlers(), worker_id="w1")
    engine.hand_jobs_to(worker.handoff)
    version = deploy(engine, "inquiry_no_boundary.bpmn")
    state = engine.start(version)

    def broken_save(self, *args, **kwargs):
        raise RuntimeError("the disk is full")

    # The action's last write fails (save, or finish after a claim).
    monkeypatch.setattr(instances.Instances, "save", broken_save)
    monkeypatch.setattr(instances.Instances, "finish", broken_save)
    with pytest.raises(RuntimeError, match="disk is full"):
        engine.complete_task(task(state, "t_form"), user="applicant", data=PERSON)
    monkeypatch.undo()
    assert len(worker.handoff) == 0
    assert _jobs(db) == []
    # The action, done again, hands the job over as usual.
    engine.complete_task(task(engine.state(state.id), "t_form"), user="applicant", data=PERSON)
    assert len(worker.handoff) == 1


def test_a_full_hand_off_leaves_the_job_to_the_queue(db, clock):
    engine = make_engine(db, clock)
    worker = Worker(db, clock, engine.job_handlers(), worker_id="w1")
    engine.hand_jobs_to(worker.handoff)
    worker.handoff.capacity = 1
    version = deploy(engine, "inquiry_no_boundary.bpmn")
    first, second = _at_inquiry(engine, version), _at_inquiry(engine, version)
    assert sorted(_jobs(db)) == [("ready", 0, None, "inq_identity"), ("running", 1, "w1", "inq_identity")]
    assert worker.drain(threading.Event()) == 2
    assert engine.state(first.id).waiting == engine.state(second.id).waiting == ("t_approve",)


def test_a_stopping_pool_gives_back_the_jobs_it_did_not_start(db, clock):
    engine = make_engine(db, clock)
    pool = engine.worker_pool(threads=1, poll_interval=0.01)  # never started: nobody takes the job
    state = _at_inquiry(engine, deploy(engine, "inquiry_no_boundary.bpmn"))
    assert len(pool.handoff) == 1
    assert pool.stop(timeout=5)
    assert _jobs(db) == [("ready", 0, None, "inq_identity")]  # the attempt the lease counted is taken back
    assert not pool.handoff.accepts()
    # The engine goes on without hand-off: the next job waits in the queue for a poll.
    _at_inquiry(engine, deploy(engine, "inquiry_no_boundary.bpmn"))
    assert _jobs(db) == [("ready", 0, None, "inq_identity")] * 2
    assert state.waiting == ("inq_identity",)


def test_a_handed_lease_that_expired_is_run_once_by_whoever_took_it_over(db, clock):
    engine = make_engine(db, clock)
    idle = Worker(db, clock, engine.job_handlers(), worker_id="idle", lease=timedelta(minutes=1))
    engine.hand_jobs_to(idle.handoff)
    state = _at_inquiry(engine, deploy(engine, "inquiry_no_boundary.bpmn"))
    (stale,) = idle.handoff.take(1)  # the idle worker holds it and never gets to it in time
    clock.advance(timedelta(minutes=2))
    other = Worker(db, clock, engine.job_handlers(), worker_id="other")
    assert other.drain(threading.Event()) == 1
    assert engine.state(state.id).waiting == ("t_approve",)
    assert idle.process(stale) is None  # its completion finds the lease lost; the result is dropped
    assert engine.state(state.id).waiting == ("t_approve",)
    # One call, answered once: the lost first attempt is on record, the stale worker's answer is not.
    assert [(i.attempts, i.status) for i in engine.inquiries(state.id)] == [(2, "OK")]
    with db.session_scope(readonly=True) as session:
        (job,) = JobQueue(session, clock).find(instance_id=state.id)
    assert (job.status, job.attempts) == ("done", 2)


def test_a_waiting_pool_worker_wakes_when_a_job_is_handed_over(db, clock):
    registry = Registry()
    engine = make_engine(db, clock, registry)
    version = deploy(engine, "inquiry_no_boundary.bpmn")
    # Polling once an hour: only the hand-off can get the job run within the test.
    with engine.worker_pool(threads=2, poll_interval=3600) as pool:
        time.sleep(0.2)  # both threads have polled once and wait
        state = _at_inquiry(engine, version)
        deadline = time.monotonic() + 30
        while engine.state(state.id).waiting != ("t_approve",):
            assert time.monotonic() < deadline, "the handed-over job was not run"
            time.sleep(0.01)
    assert pool.join(timeout=0)


def _service_chain(n: int) -> bytes:
    ns = ('xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
          'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"')
    nodes = ['<bpmn:startEvent id="start"/>', '<bpmn:endEvent id="end"/>']
    chain = ["start"] + [f"s{i}" for i in range(n)] + ["end"]
    nodes += [f'<bpmn:serviceTask id="s{i}"><bpmn:extensionElements><spiffworkflow:serviceTaskOperator '
              f'id="gsb/echo" resultVariable="r{i}"/></bpmn:extensionElements></bpmn:serviceTask>' for i in range(n)]
    flows = [f'<bpmn:sequenceFlow id="f{i}" sourceRef="{a}" targetRef="{b}"/>'
             for i, (a, b) in enumerate(itertools.pairwise(chain))]
    return (f'<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions {ns} id="d" targetNamespace="t">'
            f'<bpmn:process id="chain" isExecutable="true">{"".join(nodes + flows)}</bpmn:process>'
            '</bpmn:definitions>').encode()


def test_a_chain_of_handed_jobs_does_not_keep_queued_jobs_from_their_turn(db, clock):
    engine = make_engine(db, clock, mocks={"gsb/echo": {"ok": True}})
    deployment = engine.deploy(load_bytes(_service_chain(30), "chain.bpmn"))
    assert deployment.version is not None, deployment.errors
    queued = engine.start(deployment.version.id)  # before any hand-off: its first job waits in the queue
    worker = Worker(db, clock, engine.job_handlers(), worker_id="w1")
    engine.hand_jobs_to(worker.handoff)
    chained = engine.start(deployment.version.id)
    ran: list[str] = []
    handler = worker.handlers["service"]
    original = handler.run

    def run(lease):
        ran.append(lease.instance_id)
        return original(lease)

    handler.run = run  # type: ignore[method-assign]
    worker.drain(threading.Event())
    assert engine.state(queued.id).status == engine.state(chained.id).status == "completed"
    # The queued instance's first job ran before the other instance's chain of 30 was over.
    assert ran.index(queued.id) < len(ran) - ran[::-1].index(chained.id) - 1 - 20, ran


def test_a_worker_told_to_stop_just_before_it_waits_does_not_sleep_its_poll_interval():
    # The pool sets its stop event, then wakes the workers; a worker between its last look at the
    # event and its wait missed that wake and slept the whole interval (an hour in the test above).
    handoff = Handoff("w")
    stop = threading.Event()
    stop.set()
    handoff.wake()  # before anyone waits: nobody to notify
    waiter = threading.Thread(target=handoff.wait, args=(3600, stop), daemon=True)
    waiter.start()
    waiter.join(timeout=10)
    assert not waiter.is_alive()

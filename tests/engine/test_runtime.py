"""engine.runtime.Engine on SQLite and PostgreSQL: actions, concurrency, jobs, errors, timers, messages."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bpmn.load import load_bytes, load_path
from engine.clock import VirtualClock
from engine.connectors import FakeConnector, InquiryRequest, InquiryUnavailable
from engine.db import Database
from engine.errors import AlreadyCompleted, ConcurrencyError, InvalidData
from engine.inquiry_log import count_records, verify_stored_chain
from engine.jobs import RetryPolicy
from engine.models import HumanTask, Instance, Job
from engine.runtime import Engine, InstanceState
from engine.services import ServiceDispatch
from engine.worker import Worker

DATA = Path(__file__).resolve().parents[1] / "data" / "engine"
FAST = RetryPolicy(initial=timedelta(seconds=1), maximum=timedelta(seconds=4), jitter=0.0)
PERSON = {"national_code": "0012345678", "birth_date": "1370/01/01"}


class Registry:
    """A fake registry that can be switched off and on."""

    def __init__(self) -> None:
        self.down = False

    def answer(self, request: InquiryRequest) -> dict[str, Any]:
        if self.down:
            raise InquiryUnavailable(request.service_id, "http.503", "the registry is unavailable", http_status=503)
        return {"status": "OK", "data": {"first_name": "Sara", "alive_status": "alive"}}


def make_engine(db: Database, clock: VirtualClock, registry: Registry | None = None, *,
                mocks: dict[str, Any] | None = None, attempts: int = 3) -> Engine:
    connector = FakeConnector({"nocr_identity": (registry or Registry()).answer}, clock=clock.now)
    services = ServiceDispatch(db, clock, connector=connector, mocks=mocks or {})
    return Engine(db, clock, services=services, policy=FAST, max_attempts=attempts)


def deploy(engine: Engine, name: str) -> str:
    deployment = engine.deploy(load_path(DATA / name)[0])
    assert not deployment.rejected, deployment.errors
    assert deployment.version is not None
    return deployment.version.id


def drain(engine: Engine, clock: VirtualClock, *, until: float = 600) -> None:
    """Run every job, jumping the virtual clock to the next due one, up to ``until`` seconds ahead."""
    worker = Worker(engine.db, clock, engine.job_handlers(), policy=engine.policy)
    limit = clock.now() + timedelta(seconds=until)
    while True:
        worker.drain(threading.Event())
        _, next_due = engine.job_outlook()
        if next_due is None or next_due > limit:
            return
        clock.set(next_due)


def task(state: InstanceState, element_id: str) -> str:
    (ref,) = [t for t in state.human_tasks if t.element_id == element_id]
    return ref.id


# --- actions ---------------------------------------------------------------------------------------

def test_start_complete_and_history(db, clock):
    engine = make_engine(db, clock)
    version = deploy(engine, "resubmit_loop.bpmn")
    state = engine.start(version, data={"rounds": 0, "defects": 0}, business_key="REQ-1")
    assert state.status == "waiting" and state.waiting == ("t_submit",)
    (row,) = engine.tasks(state.id)
    assert (row.element_id, row.name, row.status) == ("t_submit", "ارسال مدارک", "open")
    state = engine.complete_task(row.id, user="applicant", data={"pages": 1})
    assert state.waiting == ("t_submit",) and state.data["defects"] == 1
    assert sorted(t.status for t in engine.tasks(state.id, active_only=False)) == ["completed", "open"]
    state = engine.complete_task(task(state, "t_submit"), user="applicant", data={"pages": 5})
    state = engine.complete_task(task(state, "t_issue"), user="clerk")
    assert state.status == "completed" and state.data["rounds"] == 2
    assert engine.history(state.id) == ["start", "t_count", "t_submit", "t_check", "t_defect", "t_count",
                                        "t_submit", "t_check", "t_issue", "end"]
    assert engine.tasks(state.id) == []


def test_the_cache_and_the_database_give_the_same_result(db, clock):
    engine = make_engine(db, clock)
    version = deploy(engine, "resubmit_loop.bpmn")
    cold = make_engine(db, clock)
    state = engine.start(version, data={"rounds": 0, "defects": 0})
    for i in range(6):
        actor = engine if i % 2 else cold  # the other engine's cache is stale: it must restore from the parts
        state = actor.complete_task(task(state, "t_submit"), user="applicant", data={"pages": 1})
        assert state.data["rounds"] == i + 2
    assert cold.state(state.id).data == engine.state(state.id).data


def test_an_ended_instance_keeps_its_state_but_not_its_workflow(db, clock):
    from sqlalchemy import event

    engine = make_engine(db, clock)
    version = deploy(engine, "resubmit_loop.bpmn")
    state = engine.start(version, data={"rounds": 0, "defects": 0})
    state = engine.complete_task(task(state, "t_submit"), user="applicant", data={"pages": 5})
    waiting_id = engine.start(version, data={"rounds": 0, "defects": 0}).id
    done = engine.complete_task(task(state, "t_issue"), user="clerk")
    assert done.status == "completed"
    # The live cache (private, looked at on purpose) holds the instance that can still move, not the ended one.
    assert list(engine._cache._items) == [waiting_id]
    part_reads: list[str] = []

    def note(conn, cursor, statement, parameters, context, executemany) -> None:
        if "instance_state_parts" in statement:
            part_reads.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        assert engine.state(done.id) is done  # its last state, without restoring the workflow
        assert part_reads == []
        other = make_engine(db, clock)  # another process: restores it once, then keeps only the state
        restored = other.state(done.id)
        assert len(part_reads) == 1
        assert other.state(done.id) is restored and len(part_reads) == 1
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    assert (restored.status, restored.lock_version, restored.waiting, restored.human_tasks) == \
        (done.status, done.lock_version, (), ())
    assert dict(restored.data) == dict(done.data) and restored.data["rounds"] == 1
    assert list(other._cache._items) == []

def test_two_clerks_completing_the_same_task_exactly_one_wins(db, clock):
    engine = make_engine(db, clock)
    version = deploy(engine, "resubmit_loop.bpmn")
    state = engine.start(version, data={"rounds": 0, "defects": 0})
    task_id = task(state, "t_submit")
    barrier = threading.Barrier(2)
    outcomes: list[Any] = []

    def clerk(name: str) -> None:
        barrier.wait()
        try:
            outcomes.append(engine.complete_task(task_id, user=name, data={"pages": 1}))
        except AlreadyCompleted as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=clerk, args=(n,)) for n in ("maryam", "reza")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wins = [o for o in outcomes if isinstance(o, InstanceState)]
    losses = [o for o in outcomes if isinstance(o, AlreadyCompleted)]
    assert len(wins) == 1 and len(losses) == 1
    assert losses[0].completed_by in ("maryam", "reza") and "already completed" in str(losses[0])
    assert engine.state(state.id).data["defects"] == 1  # the step ran once


def test_completing_a_task_this_engine_made_does_not_read_its_row_first(db, clock):
    from sqlalchemy import event

    from engine.errors import NotFound

    engine = make_engine(db, clock)
    version = deploy(engine, "resubmit_loop.bpmn")
    state = engine.start(version, data={"rounds": 0, "defects": 0})
    task_id = task(state, "t_submit")
    reads: list[str] = []

    def note(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "human_tasks" in statement:
            reads.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        state = engine.complete_task(task_id, user="applicant", data={"pages": 1})
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    assert reads == []  # its instance was known: the completing UPDATE checked the row itself
    assert state.data["defects"] == 1
    with pytest.raises(AlreadyCompleted):  # known, but done: the UPDATE matched nothing and says why
        engine.complete_task(task_id, user="someone", data={"pages": 1})
    with pytest.raises(NotFound):
        engine.complete_task("no-such-task", user="someone")
    # Another engine (another process) knows nothing of the row: it reads it, with the same result.
    other = make_engine(db, clock)
    state = other.complete_task(task(state, "t_submit"), user="applicant", data={"pages": 5})
    assert state.waiting == ("t_issue",)


def test_an_instance_this_engine_saved_last_is_claimed_without_reading_its_row(db, clock):
    from sqlalchemy import event

    engine = make_engine(db, clock)
    version = deploy(engine, "resubmit_loop.bpmn")
    state = engine.start(version, data={"rounds": 0, "defects": 0})
    statements: list[str] = []

    def note(conn, cursor, statement, parameters, context, executemany) -> None:
        if " instances" in statement:
            statements.append(statement.split()[0].upper())

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        state = engine.complete_task(task(state, "t_submit"), user="applicant", data={"pages": 1})
        assert statements == ["UPDATE"]  # the claim, which also bumped the version: no read, no second write
        assert state.lock_version == 3
        # Another engine (another process) acts on it: this engine's copy is stale, its claim changes
        # nothing, and it reads the row and restores the state instead.
        other = make_engine(db, clock)
        state = other.complete_task(task(state, "t_submit"), user="applicant", data={"pages": 1})
        assert state.lock_version == 4
        statements.clear()
        state = engine.complete_task(task(state, "t_submit"), user="applicant", data={"pages": 1})
        assert statements == ["UPDATE", "SELECT", "UPDATE"]  # the failed claim, the locking read, the save
        # Once it has read the row again (a clerk looking at the case), this engine claims it again.
        state = other.complete_task(task(state, "t_submit"), user="applicant", data={"pages": 1})
        statements.clear()
        engine.state(state.id)
        state = engine.complete_task(task(state, "t_submit"), user="applicant", data={"pages": 5})
        assert statements == ["SELECT", "UPDATE"]  # the read of the state, then the claim
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    assert (state.lock_version, state.waiting, state.data["rounds"], state.data["defects"]) == (7, ("t_issue",), 5, 4)
    with db.session_scope(readonly=True) as session:
        from engine.instances import Instances

        assert Instances(session, clock).head(state.id).lock_version == 7
    # The instance ends by a claim: its status and data are written with it.
    done = engine.complete_task(task(state, "t_issue"), user="clerk")
    with db.session_scope(readonly=True) as session:
        from engine.instances import Instances

        row = Instances(session, clock).get(done.id)
    assert (row.status, row.lock_version, row.data["rounds"]) == ("completed", 8, 5) == \
        (done.status, done.lock_version, done.data["rounds"])


def test_a_stale_form_is_refused(db, clock):
    engine = make_engine(db, clock)
    version = deploy(engine, "resubmit_loop.bpmn")
    state = engine.start(version, data={"rounds": 0, "defects": 0})
    (row,) = engine.tasks(state.id)
    with pytest.raises(ConcurrencyError):
        engine.complete_task(row.id, user="clerk", data={"pages": 1}, expected_version=row.version + 5)


def test_a_script_error_fails_the_instance_with_an_incident(db, clock):
    engine = make_engine(db, clock)
    version = deploy(engine, "resubmit_loop.bpmn")
    state = engine.start(version, data={"rounds": 0, "defects": 0})
    state = engine.complete_task(task(state, "t_submit"), user="applicant", data={})  # no 'pages'
    assert state.status == "failed" and "pages" in (state.failure or "")
    (incident,) = engine.incidents(state.id)
    assert incident.element_id == "t_check"



def test_data_task_data_cannot_hold_is_refused_before_anything_changes(db, clock):
    engine = make_engine(db, clock)
    version = deploy(engine, "overflow.bpmn")
    with pytest.raises(InvalidData) as err:
        engine.start(version, data={"amount": 2, "case": {"scores": [1.0, float("nan")]}})
    assert (err.value.what, err.value.field) == ("the start data", "case.scores[1]") and "nan" in err.value.problem
    with db.session_scope(readonly=True) as session:
        assert session.scalar(select(func.count()).select_from(Instance)) == 0
    state = engine.start(version, data={"amount": 2})
    (row,) = engine.tasks(state.id)
    with pytest.raises(InvalidData) as err:
        engine.complete_task(row.id, user="clerk", data={"tags": {"a", "b"}})
    assert err.value.field == "tags" and "set" in err.value.problem
    deep: Any = 1
    for _ in range(100):
        deep = [deep]
    for answers, problem in (([["amount", 1]], "named fields"), ({"codes": {1: "a"}}, "the key 1 is not text"),
                             ({"x": deep}, "nested more than 64"),
                             ({"x": "a" * 20_000_001}, "larger than 20,000,000 characters")):
        with pytest.raises(InvalidData, match=problem):
            engine.complete_task(row.id, user="clerk", data=answers)
    assert [t.status for t in engine.tasks(state.id)] == ["open"]
    assert engine.state(state.id).lock_version == state.lock_version
    with pytest.raises(InvalidData, match="payload"):
        engine.correlate_message("anything", payload={"x": float("inf")})
    # A script that makes such a number fails the instance, with an incident naming its variable.
    state = engine.complete_task(row.id, user="clerk", data={"amount": 10})
    assert state.status == "failed" and "'ratio'" in (state.failure or "") and "inf" in (state.failure or "")
    (incident,) = engine.incidents(state.id)
    assert incident.element_id == "t_scale"



def _model(process_id: str, task: str, extra: str = "", name: str = "") -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions '
            'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="defs" targetNamespace="tests">'
            f'{extra}<bpmn:process id="{process_id}" name="{name}" isExecutable="true"><bpmn:startEvent id="start"/>{task}'
            '<bpmn:endEvent id="end"/><bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="t"/>'
            '<bpmn:sequenceFlow id="f2" sourceRef="t" targetRef="end"/></bpmn:process></bpmn:definitions>').encode()


def test_text_longer_than_its_columns_is_refused_or_cut_on_both_databases(db, clock):
    # PostgreSQL refused such rows with a bare DataError (and only for the rows' actions); SQLite kept them.
    engine = make_engine(db, clock)
    version = deploy(engine, "overflow.bpmn")
    with pytest.raises(InvalidData, match="the business key"):
        engine.start(version, data={"amount": 1}, business_key="k" * 201)
    state = engine.start(version, data={"amount": 1}, business_key="k" * 200)
    with pytest.raises(InvalidData, match="the user"):
        engine.complete_task(task(state, "t_amount"), user="u" * 201, data={"amount": 1})
    # A task's name is display text: the inbox row keeps its first 499 characters and an ellipsis.
    named = engine.deploy(load_bytes(_model("named", f'<bpmn:userTask id="t" name="{"ن" * 700}"/>',
                                            name="خ" * 600), "named.bpmn"))
    assert named.version is not None and len(named.version.name) == 500 and named.version.name.endswith("خ…")
    with pytest.raises(InvalidData, match="the key"):
        engine.deploy(load_bytes(_model("named", '<bpmn:userTask id="t"/>'), "named.bpmn"), key="k" * 201)
    (row,) = engine.tasks(engine.start(named.version.id).id)
    assert len(row.name) == 500 and row.name.endswith("ن…")
    # Ids and message names the rows cannot keep are refused at deployment, with the element.
    long_id = engine.deploy(load_bytes(_model("p" * 201, '<bpmn:userTask id="t"/>'), "long_id.bpmn"))
    assert long_id.rejected and [d.code for d in long_id.errors] == ["engine.id_length"]
    message = f'<bpmn:message id="m" name="{"m" * 501}"/>'
    long_event = engine.deploy(load_bytes(_model("ok", '<bpmn:userTask id="t"/>', message), "long_event.bpmn"))
    assert long_event.rejected and [(d.code, d.element_id) for d in long_event.errors] == [("engine.event_name", "m")]


# --- service tasks and inquiries ----------------------------------------------------------------------

def test_an_inquiry_is_a_job_answered_by_the_connector(db, clock):
    engine = make_engine(db, clock)
    version = deploy(engine, "inquiry_no_boundary.bpmn")
    state = engine.start(version)
    state = engine.complete_task(task(state, "t_form"), user="applicant", data=PERSON)
    assert state.waiting == ("inq_identity",)
    drain(engine, clock)
    state = engine.state(state.id)
    assert state.waiting == ("t_approve",)
    assert state.data["identity"]["status"] == "OK" and state.data["identity"]["data"]["first_name"] == "Sara"
    (inquiry,) = engine.inquiries(state.id)
    assert (inquiry.element_id, inquiry.service, inquiry.status, inquiry.attempts) == \
        ("inq_identity", "nocr_identity", "OK", 1)
    with db.session_scope(readonly=True) as session:
        assert verify_stored_chain(session) == []


def test_a_failing_registry_takes_the_fallback_path(db, clock):
    registry = Registry()
    registry.down = True
    engine = make_engine(db, clock, registry, attempts=3)
    version = deploy(engine, "inquiry_with_fallback.bpmn")
    state = engine.start(version)
    engine.complete_task(task(state, "t_form"), user="applicant", data=PERSON)
    drain(engine, clock, until=60)  # retries at +1 s, +2 s: spent long before the 2-minute timer
    state = engine.state(state.id)
    assert state.waiting == ("fallback_identity",)
    (inquiry,) = engine.inquiries(state.id)
    assert (inquiry.status, inquiry.attempts) == ("ERROR", 3)
    assert engine.incidents(state.id) == []
    with db.session_scope(readonly=True) as session:
        timers = session.scalars(select(Job.status).where(Job.kind == "timer")).all()
    assert timers == ["cancelled"]  # the boundary timer went with the task
    state = engine.complete_task(task(state, "fallback_identity"), user="clerk", data={"checked": True})
    state = engine.complete_task(task(state, "t_approve"), user="clerk")
    assert state.status == "completed"
    assert engine.history(state.id) == ["start", "t_form", "inq_identity_error", "fallback_identity", "t_approve",
                                        "end"]


def test_a_slow_registry_is_caught_by_the_timer_boundary(db, clock):
    registry = Registry()
    registry.down = True
    engine = make_engine(db, clock, registry, attempts=60)
    version = deploy(engine, "inquiry_with_fallback.bpmn")
    state = engine.start(version)
    engine.complete_task(task(state, "t_form"), user="applicant", data=PERSON)
    drain(engine, clock, until=600)  # backoff 1, 2, 4, 4 ... s for 60 attempts: the 2-minute timer comes first
    state = engine.state(state.id)
    assert state.waiting == ("fallback_identity",)
    assert "inq_identity_timeout" in engine.history(state.id)
    with db.session_scope(readonly=True) as session:
        service = session.scalars(select(Job.status).where(Job.kind == "service")).all()
    assert service == ["cancelled"]


def test_without_a_boundary_an_incident_and_a_retry_after_recovery_completes(db, clock):
    registry = Registry()
    registry.down = True
    engine = make_engine(db, clock, registry, attempts=2)
    version = deploy(engine, "inquiry_no_boundary.bpmn")
    state = engine.start(version)
    engine.complete_task(task(state, "t_form"), user="applicant", data=PERSON)
    drain(engine, clock)
    state = engine.state(state.id)
    assert state.status == "waiting" and state.waiting == ("inq_identity",)
    (incident,) = engine.incidents(state.id)
    assert incident.element_id == "inq_identity" and "2 attempts spent" in incident.message
    registry.down = False
    engine.retry_incident(incident.id, actor="admin", note="the registry is back")
    drain(engine, clock)
    state = engine.state(state.id)
    assert state.waiting == ("t_approve",)
    state = engine.complete_task(task(state, "t_approve"), user="clerk")
    assert state.status == "completed" and engine.incidents(state.id) == []
    (inquiry,) = engine.inquiries(state.id)
    assert (inquiry.status, inquiry.attempts) == ("OK", 3)
    with db.session_scope(readonly=True) as session:
        assert count_records(session) == 3 and verify_stored_chain(session) == []


def test_an_operator_nobody_serves_is_an_incident_and_a_mock_answers_it(db, clock):
    engine = make_engine(db, clock)
    version = deploy(engine, "inquiry_no_boundary.bpmn")
    state = engine.start(version)
    # The inquiry parameter birth_date is missing: the job fails for good at once.
    engine.complete_task(task(state, "t_form"), user="applicant", data={"national_code": "1"})
    drain(engine, clock)
    (incident,) = engine.incidents()
    assert "birth_date" in incident.message
    mocked = make_engine(db, clock, mocks={"inquiry/nocr_identity": {"status": "OK", "data": {}}})
    state = mocked.start(version)
    mocked.complete_task(task(state, "t_form"), user="applicant", data=PERSON)
    drain(mocked, clock)
    assert mocked.state(state.id).data["identity"] == {"status": "OK", "data": {}}
    # An answer task data cannot hold (a set, from a mock or a server's handler) fails the job for good, named.
    odd = make_engine(db, clock, mocks={"inquiry/nocr_identity": {"status": "OK", "data": {"seen": {1, 2}}}})
    state = odd.start(version)
    odd.complete_task(task(state, "t_form"), user="applicant", data=PERSON)
    drain(odd, clock)
    (incident,) = odd.incidents(state.id)
    assert "cannot be kept as task data: data.seen: a value of type set" in incident.message
    with db.session_scope(readonly=True) as session:
        assert session.scalar(select(Job.attempts).where(Job.instance_id == state.id)) == 1


# --- timers and messages -----------------------------------------------------------------------------------

def test_a_message_is_correlated_by_name_and_business_key(db, clock):
    engine = make_engine(db, clock)
    version = deploy(engine, "messages.bpmn")
    first = engine.start(version, process_id="Process_wait", business_key="CASE-1")
    other = engine.start(version, process_id="Process_wait", business_key="CASE-2")
    assert set(first.waiting) == {"reply", "deadline"}
    assert engine.correlate_message("registry_reply", business_key="CASE-1", payload={"ok": True}) == [first.id]
    state = engine.state(first.id)
    assert state.status == "completed" and engine.history(first.id)[-2:] == ["reply", "end_reply"]
    with db.session_scope(readonly=True) as session:
        assert session.scalars(select(Job.status).where(Job.instance_id == first.id)).all() == ["cancelled"]
    assert engine.state(other.id).status == "waiting"


def test_a_timer_deadline_fires_by_the_virtual_clock(db, clock):
    engine = make_engine(db, clock)
    version = deploy(engine, "messages.bpmn")
    state = engine.start(version, process_id="Process_wait", business_key="CASE-3")
    drain(engine, clock, until=3 * 86400)
    state = engine.state(state.id)
    assert state.status == "completed" and engine.history(state.id)[-2:] == ["deadline", "end_late"]
    assert engine.correlate_message("registry_reply", business_key="CASE-3", start=False) == []


def test_a_timer_duration_from_the_data_is_checked_when_it_is_reached(db, clock):
    engine = make_engine(db, clock)
    version = deploy(engine, "timer_from_data.bpmn")
    started = clock.now()
    state = engine.start(version)
    state = engine.complete_task(task(state, "t_wait"), user="clerk", data={"wait_for": "PT30M"})
    assert state.waiting == ("wait",)
    assert engine.job_outlook()[1] == started + timedelta(minutes=30)
    # A hundred million years used to hold the action for hours (the library walks the months one by
    # one); anything that is not an ISO 8601 duration used to fail with the library's bare message or
    # be read loosely ("-PT5M" waited five minutes).
    for value, problem in (("P99999999Y", "longer than 100 years"), ("-PT5M", "not an ISO 8601 duration"),
                           ("soon", "not an ISO 8601 duration"), (5, "not an ISO 8601 duration")):
        state = engine.start(version)
        state = engine.complete_task(task(state, "t_wait"), user="clerk", data={"wait_for": value})
        assert state.status == "failed" and problem in (state.failure or ""), (value, state.failure)
        assert [i.element_id for i in engine.incidents(state.id)] == ["wait"]
    dated = deploy(engine, "timer_date_from_data.bpmn")
    state = engine.start(dated)
    state = engine.complete_task(task(state, "t_wait"), user="clerk", data={"wait_until": "2030-01-01T09:00:00+03:30"})
    assert state.waiting == ("wait",)
    for value in ("P3D", "tomorrow", 20300101, "2030-13-45"):
        state = engine.start(dated)
        state = engine.complete_task(task(state, "t_wait"), user="clerk", data={"wait_until": value})
        assert state.status == "failed" and "is not an ISO 8601 date and time" in (state.failure or ""), value


def test_a_multi_instance_activity_runs_at_most_a_thousand_times(db, clock):
    # A parallel one's instances are made at once, each a walk over the others: a count of 100,000 from
    # the case's data held the action for many minutes. Refused before any instance is made.
    engine = make_engine(db, clock)
    version = deploy(engine, "multi_instance_from_data.bpmn")
    for process, ask, answers in (("parallel_count", "p_ask", {"n": 100_000}), ("sequential_count", "s_ask", {"n": 1001}),
                                  ("parallel_items", "i_ask", {"items": list(range(5000))})):
        state = engine.start(version, process_id=process)
        state = engine.complete_task(task(state, ask), user="clerk", data=answers)
        assert state.status == "failed", process
        assert "would run" in (state.failure or "") and "at most 1,000 instances" in (state.failure or ""), state
        assert len(engine.incidents(state.id)) == 1
    state = engine.start(version, process_id="parallel_count")
    state = engine.complete_task(task(state, "p_ask"), user="clerk", data={"n": 3})
    assert state.status == "completed" and engine.history(state.id).count("p_each") == 3


def test_a_message_starts_an_instance(db, clock):
    engine = make_engine(db, clock)
    deploy(engine, "messages.bpmn")
    (started,) = engine.correlate_message("application_received", business_key="APP-7", payload={"kind": "new"})
    state = engine.state(started)
    assert state.process_id == "Process_apply" and state.business_key == "APP-7"
    assert state.waiting == ("t_check",) and state.data["kind"] == "new"


def test_human_tasks_are_cancelled_when_the_process_moves_on(db, clock):
    engine = make_engine(db, clock)
    version = deploy(engine, "inquiry_with_fallback.bpmn")
    state = engine.start(version)
    engine.complete_task(task(state, "t_form"), user="applicant", data=PERSON)
    drain(engine, clock)
    with db.session_scope(readonly=True) as session:
        rows = dict(session.execute(select(HumanTask.element_id, HumanTask.status)).all())
        jobs = session.scalar(select(func.count()).select_from(Job))
    assert rows == {"t_form": "completed", "t_approve": "open"} and jobs == 2


def test_the_task_index_forgets_its_oldest_rows_first():
    from engine.runtime import _TaskIndex

    index = _TaskIndex(3)
    for i in range(5):
        index.note(f"row-{i}", f"instance-{i}", "key")
    assert [index.get(f"row-{i}") for i in range(5)] == [None, None, ("instance-2", "key"), ("instance-3", "key"),
                                                          ("instance-4", "key")]

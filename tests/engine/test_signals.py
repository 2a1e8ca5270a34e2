"""Signals on SQLite and PostgreSQL: broadcast to every waiting instance, whatever its business key."""

from __future__ import annotations

from sqlalchemy import select

from engine.models import EventSubscription, Job
from engine.runtime import Engine

from .test_runtime import deploy, drain, make_engine, task

S = EventSubscription.__table__


def _subscriptions(engine: Engine) -> list[tuple[str, str, str]]:
    with engine.db.session_scope(readonly=True) as session:
        return [tuple(r) for r in session.execute(select(S.c.instance_id, S.c.kind, S.c.name)
                                                   .order_by(S.c.instance_id, S.c.kind))]


def _waiting_at_the_signal(engine: Engine, version: str, business_key: str | None) -> str:
    state = engine.start(version, process_id="Process_wait", business_key=business_key)
    state = engine.complete_task(task(state, "t_prepare"), user="clerk", data={})
    assert state.waiting == ("approved",)
    return state.id


def test_subscriptions_follow_what_the_instance_waits_for(db, clock):
    engine = make_engine(db, clock)
    version = deploy(engine, "signals.bpmn")
    state = engine.start(version, process_id="Process_wait")
    assert _subscriptions(engine) == []  # at the task: waits for no event
    engine.complete_task(task(state, "t_prepare"), user="clerk", data={})
    assert _subscriptions(engine) == [(state.id, "signal", "list_approved")]
    engine.broadcast_signal("list_approved", start=False)
    assert engine.state(state.id).status == "completed"
    assert _subscriptions(engine) == []


def test_a_signal_reaches_every_waiting_instance_and_starts_processes(db, clock):
    engine = make_engine(db, clock)
    version = deploy(engine, "signals.bpmn")
    waiting = [_waiting_at_the_signal(engine, version, key) for key in ("CASE-1", "CASE-2", None)]
    on_message = engine.start(version, process_id="Process_message", business_key="CASE-1").id

    reached = engine.broadcast_signal("list_approved", payload={"list": 14})
    started = [i for i in reached if i not in waiting]
    assert set(waiting) <= set(reached) and len(started) == 1
    for instance_id in waiting:
        state = engine.state(instance_id)
        assert state.status == "completed" and engine.history(instance_id)[-2:] == ["approved", "end"]
    new = engine.state(started[0])
    assert new.process_id == "Process_started" and new.waiting == ("t_notify",)
    # A message of the same name is another event: the signal does not reach it.
    assert engine.state(on_message).status == "waiting"


def test_a_business_key_narrows_the_broadcast(db, clock):
    engine = make_engine(db, clock)
    version = deploy(engine, "signals.bpmn")
    first, second = (_waiting_at_the_signal(engine, version, key) for key in ("CASE-1", "CASE-2"))
    assert engine.broadcast_signal("list_approved", business_key="CASE-2", start=False) == [second]
    assert engine.state(first).status == "waiting" and engine.state(second).status == "completed"


def test_a_thrown_signal_reaches_instances_of_other_cases(db, clock):
    engine = make_engine(db, clock)
    version = deploy(engine, "signals.bpmn")
    waiting = [_waiting_at_the_signal(engine, version, key) for key in ("CASE-1", None)]
    thrower = engine.start(deploy(engine, "signal_throw.bpmn"), business_key="CASE-9")
    assert thrower.status == "completed" and engine.history(thrower.id) == ["start_throw", "end_throw"]
    drain(engine, clock)  # the thrown signal is a job, which fans out into one delivery job per receiver
    assert [engine.state(i).status for i in waiting] == ["completed", "completed"]
    assert _subscriptions(engine) == []
    with engine.db.session_scope(readonly=True) as session:
        deliveries = session.execute(select(Job.instance_id, Job.status).where(Job.kind == "message",
                                                                               Job.instance_id.in_(waiting))).all()
    assert sorted(deliveries) == sorted((i, "done") for i in waiting)

"""Signals on SQLite and PostgreSQL: broadcast to every waiting instance, whatever its business key."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select

from engine.db import Database, downgrade
from engine.models import EventSubscription, Job, SubscriptionBackfill
from engine.runtime import Engine
from engine.state_store import load_parts, save_parts

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


@pytest.mark.parametrize("sent_by", ["api", "process"])
def test_instances_waiting_since_before_the_subscriptions_table_still_get_the_signal(empty_db_url, clock, sent_by):
    db = Database(empty_db_url)
    db.upgrade()
    engine = make_engine(db, clock)
    version = deploy(engine, "signals.bpmn")
    old = [_waiting_at_the_signal(engine, version, key) for key in ("CASE-1", None)]
    broken = _waiting_at_the_signal(engine, version, "CASE-3")
    downgrade(db.engine, "0002")  # this code writes the newest schema: back to 0002 for what follows
    with db.session_scope() as session:  # what the code before migration 0002 left behind
        session.execute(delete(S))
        for instance_id in [*old, broken]:
            meta = load_parts(session, instance_id)["pj"]
            del meta["events"]
            save_parts(session, instance_id, {"pj": meta})
        save_parts(session, broken, {"wf": {"format": "not a workflow"}})  # and one that cannot be loaded
    db.upgrade()  # 0003 lists every waiting instance
    restarted = make_engine(db, clock)  # a new process: nothing cached

    if sent_by == "api":
        assert sorted(restarted.broadcast_signal("list_approved", start=False)) == sorted(old)
    else:
        restarted.start(deploy(restarted, "signal_throw.bpmn"), business_key="CASE-9")
        drain(restarted, clock)
    assert [restarted.state(i).status for i in old] == ["completed", "completed"]
    (incident,) = restarted.incidents(instance_id=broken)
    assert "subscriptions could not be restored" in incident.message
    with db.session_scope(readonly=True) as session:
        assert session.scalars(select(SubscriptionBackfill.instance_id)).all() == []
    assert restarted.backfill_subscriptions() == 0
    db.dispose()

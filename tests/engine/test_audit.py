"""engine.audit: events are added and read, never changed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.audit import AuditLog


def test_record_and_filter(db, clock, instance_id):
    with db.session_scope() as session:
        log = AuditLog(session, clock)
        log.record("instance.started", actor="clerk1", instance_id=instance_id, details={"business_key": "B-1"})
        clock.advance(timedelta(minutes=1))
        log.record("model.uploaded", actor="analyst")
    with db.session_scope(readonly=True) as session:
        log = AuditLog(session, clock)
        assert [e.action for e in log.entries()] == ["instance.started", "model.uploaded"]
        (only,) = log.entries(instance_id=instance_id)
        assert only.actor == "clerk1" and only.details == {"business_key": "B-1"}
        assert [e.actor for e in log.entries(since=clock.now())] == ["analyst"]
        assert log.entries(action="nothing") == []


def test_the_api_offers_no_way_to_change_or_remove():
    public = {name for name in dir(AuditLog) if not name.startswith("_")}
    assert public == {"record", "entries"}


def test_an_event_needs_actor_and_action(db, clock):
    with pytest.raises(ValueError), db.session_scope() as session:
        AuditLog(session, clock).record("", actor="x")

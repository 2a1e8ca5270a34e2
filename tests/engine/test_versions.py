"""engine.versions: deploy numbers versions per key, stores content once, caches the spec once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.errors import NotFound
from engine.versions import Versions

BPMN = b'<?xml version="1.0" encoding="UTF-8"?><definitions id="d"/>'


def test_deploy_numbers_versions_and_is_idempotent(db, clock):
    with db.session_scope() as session:
        versions = Versions(session, clock)
        first = versions.deploy(key="permit", name="صدور مجوز", bpmn=BPMN, form_files={"a.json": {"x": 1}},
                                analysis={"summary": {}}, deployed_by="manager")
        same = versions.deploy(key="permit", bpmn=BPMN, form_files={"a.json": {"x": 1}})
        clock.advance(timedelta(days=1))
        changed_form = versions.deploy(key="permit", bpmn=BPMN, form_files={"a.json": {"x": 2}})
        other = versions.deploy(key="license", bpmn=BPMN)
    assert first == same and first.number == 1 and first.deployed_by == "manager"
    assert changed_form.number == 2 and other.number == 1
    with db.session_scope(readonly=True) as session:
        versions = Versions(session, clock)
        assert versions.latest("permit") == changed_form
        assert versions.latest("nothing") is None
        assert [v.number for v in versions.find("permit")] == [2, 1]
        assert versions.count("permit") == 2
        assert versions.bpmn(first.id) == BPMN
        assert versions.form_files(first.id) == {"a.json": {"x": 1}}
        assert versions.analysis(first.id) == {"summary": {}}
        assert versions.analysis(other.id) is None


def test_spec_is_stored_once(db, clock):
    with db.session_scope() as session:
        version = Versions(session, clock).deploy(key="k", bpmn=BPMN)
    with db.session_scope() as session:
        versions = Versions(session, clock)
        assert versions.spec(version.id) is None
        assert versions.store_spec(version.id, {"spec": 1})
        assert not versions.store_spec(version.id, {"spec": 2})
        assert versions.spec(version.id) == {"spec": 1}
    with pytest.raises(NotFound), db.session_scope() as session:
        Versions(session, clock).store_spec("missing", {"spec": 1})


def test_under_one_timestamp_the_later_deployment_is_the_newest(db, clock):
    """A frozen clock gives two keys the same deployed_at: the later deployment still wins, every time."""
    spec = {"processes": {"shared": {}}}  # what Versions indexes: the process ids the spec holds
    with db.session_scope() as session:
        versions = Versions(session, clock)
        first = versions.deploy(key="a", bpmn=BPMN, spec=spec)
        second = versions.deploy(key="b", bpmn=BPMN + b" ", spec=spec)
    assert first.deployed_at == second.deployed_at and first.number == second.number == 1
    with db.session_scope(readonly=True) as session:
        versions = Versions(session, clock)
        assert versions.holding("shared") == second.id
        assert [v.id for v in versions.find()] == [second.id, first.id]


def test_newest_of_each_key_whatever_the_number_of_versions(db, clock):
    with db.session_scope() as session:
        versions = Versions(session, clock)
        old = [versions.deploy(key="old", bpmn=BPMN + b" " * i) for i in range(3)]
        clock.advance(timedelta(hours=1))
        busy = [versions.deploy(key="busy", bpmn=BPMN + b"\n" * i) for i in range(5)]
    with db.session_scope(readonly=True) as session:
        newest = Versions(session, clock).newest_of_each_key()
    assert [(v.key, v.number) for v in newest] == [("busy", 5), ("old", 3)]
    assert [v.id for v in newest] == [busy[-1].id, old[-1].id]

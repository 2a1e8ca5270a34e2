"""Call activities that call a process of another deployed model, on SQLite and PostgreSQL.

An instance runs the newest version holding the called process when the
instance starts, and keeps it (pinned in its engine state) whatever is
deployed later; deployment says what a call will run, or that nothing
deployed holds it yet.
"""

from __future__ import annotations

import itertools
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from bpmn.load import load_bytes
from engine.call_bindings import CALL_BINDING
from engine.clock import VirtualClock
from engine.db import Database, downgrade
from engine.deploy import CALL_LINKED, CALL_NOT_DEPLOYED
from engine.runtime import Engine, InstanceState
from engine.services import ServiceDispatch
from engine.versions import Versions
from tests.engine.test_run_samples import run_cli

NS = 'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"'


def model(definitions_id: str, *processes: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions {NS} id="{definitions_id}" '
            f'targetNamespace="test">{"".join(processes)}</bpmn:definitions>').encode()


def chain(pid: str, *steps: str) -> str:
    """A process running ``steps`` (element XML, each with an id) one after the other."""
    ids = ["s", *[step.split('id="', 1)[1].split('"', 1)[0] for step in steps], "e"]
    flows = "".join(f'<bpmn:sequenceFlow id="{pid}_f{i}" sourceRef="{a}" targetRef="{b}"/>'
                    for i, (a, b) in enumerate(itertools.pairwise(ids)))
    return (f'<bpmn:process id="{pid}" isExecutable="true"><bpmn:startEvent id="s"/>{"".join(steps)}'
            f'<bpmn:endEvent id="e"/>{flows}</bpmn:process>')


def script(sid: str, code: str) -> str:
    return f'<bpmn:scriptTask id="{sid}"><bpmn:script>{code}</bpmn:script></bpmn:scriptTask>'


def call(cid: str, called: str) -> str:
    return f'<bpmn:callActivity id="{cid}" name="Check" calledElement="{called}"/>'


def embedded(sid: str, code: str) -> str:
    """An embedded sub-process (id ``sid``) running one script."""
    return (f'<bpmn:subProcess id="{sid}"><bpmn:startEvent id="{sid}_s"/>{script(sid + "_run", code)}'
            f'<bpmn:endEvent id="{sid}_e"/>'
            f'<bpmn:sequenceFlow id="{sid}_a" sourceRef="{sid}_s" targetRef="{sid}_run"/>'
            f'<bpmn:sequenceFlow id="{sid}_b" sourceRef="{sid}_run" targetRef="{sid}_e"/></bpmn:subProcess>')


CALLER = model("caller", chain("main", script("prep", "x = 2"), '<bpmn:userTask id="before"/>',
                               call("check", "checker"), '<bpmn:userTask id="review"/>'))


def checker(factor: int) -> bytes:
    return model("callee", chain("checker", script("calc", f"y = x * {factor}"), '<bpmn:userTask id="ok"/>'))


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


def fresh_engine(db: Database, clock: VirtualClock) -> Engine:
    """A new engine (no live cache): every action restores the instance from the database."""
    return Engine(db, clock, services=ServiceDispatch(db, clock))


def deploy(engine: Engine, clock: VirtualClock, xml: bytes, key: str) -> Any:
    clock.advance(timedelta(seconds=1))  # deployments in order, as they would be
    deployment = engine.deploy(load_bytes(xml, f"{key}.bpmn"), key=key)
    assert not deployment.rejected, deployment.errors
    return deployment


def finish(db: Database, clock: VirtualClock, state: InstanceState) -> InstanceState:
    """Complete every human task with an empty form, each by a new engine."""
    while state.status == "waiting":
        assert state.human_tasks, state
        state = fresh_engine(db, clock).complete_task(state.human_tasks[0].id, user="clerk")
    return state


def test_an_instance_runs_the_called_process_of_another_model(db: Database, clock: VirtualClock) -> None:
    engine = fresh_engine(db, clock)
    deploy(engine, clock, checker(10), "checker")
    caller = deploy(engine, clock, CALLER, "caller")
    (said,) = [d for d in caller.diagnostics if d.code == CALL_LINKED]
    assert (said.severity, said.element_id) == ("info", "check")
    assert "checker version 1" in said.message

    state = engine.start(caller.version.id)
    assert state.waiting == ("before",)
    state = fresh_engine(db, clock).complete_task(state.human_tasks[0].id, user="clerk")
    assert state.waiting == ("ok",)  # inside the called process, restored from the database
    state = finish(db, clock, state)
    assert state.status == "completed"
    assert state.data["y"] == 20  # the caller's data went in, the callee's came back
    assert fresh_engine(db, clock).history(state.id) == ["s", "prep", "before", "s", "calc", "ok", "e", "check",
                                                         "review", "e"]


def test_an_instance_keeps_the_called_version_it_started_with(db: Database, clock: VirtualClock) -> None:
    engine = fresh_engine(db, clock)
    deploy(engine, clock, checker(10), "checker")
    caller = deploy(engine, clock, CALLER, "caller")
    early = engine.start(caller.version.id)
    assert early.waiting == ("before",)  # not yet at the call

    newer = deploy(engine, clock, checker(100), "checker")
    assert newer.version.number == 2
    late = engine.start(caller.version.id)

    assert finish(db, clock, early).data["y"] == 20  # version 1, pinned when it started
    assert finish(db, clock, late).data["y"] == 200  # version 2, the newest when it started


def test_a_call_nobody_deployed_is_said_at_deployment_and_fails_the_instance_clearly(
        db: Database, clock: VirtualClock) -> None:
    engine = fresh_engine(db, clock)
    caller = deploy(engine, clock, CALLER, "caller")
    (said,) = [d for d in caller.diagnostics if d.code == CALL_NOT_DEPLOYED]
    assert (said.severity, said.element_id) == ("warning", "check")
    assert "checker" in said.message

    # Deployed after the instance started: the instance does not see it (nothing is pinned).
    state = engine.start(caller.version.id)
    deploy(engine, clock, checker(10), "checker")
    state = finish(db, clock, state)
    assert state.status == "failed"
    assert "the call activity «Check» (check) calls the process 'checker', which neither its model nor any " \
           "version deployed when the instance started holds" in (state.failure or "")


def test_calls_go_through_several_models(db: Database, clock: VirtualClock) -> None:
    engine = fresh_engine(db, clock)
    deploy(engine, clock, model("third", chain("stamp", script("seal", "stamped = True"))), "stamp")
    deploy(engine, clock, model("second", chain("checker", script("calc", "y = x * 10"), call("inner", "stamp"))),
           "checker")
    caller = deploy(engine, clock, CALLER, "caller")
    state = finish(db, clock, engine.start(caller.version.id))
    assert state.status == "completed"
    assert (state.data["y"], state.data["stamped"]) == (20, True)


def test_sub_processes_with_the_same_id_in_two_models_each_run_their_own(
        db: Database, clock: VirtualClock) -> None:
    engine = fresh_engine(db, clock)
    deploy(engine, clock, model("callee", chain("checker", embedded("Sub_1", "who = 'callee'"),
                                                '<bpmn:userTask id="ok"/>')), "checker")
    caller = deploy(engine, clock, model("caller", chain("main", script("prep", "x = 2"),
                                                         embedded("Sub_1", "mine = 'caller'"),
                                                         call("check", "checker"))), "caller")
    state = engine.start(caller.version.id)
    assert state.waiting == ("ok",)
    state = finish(db, clock, state)  # restored from the database, renamed sub-process included
    assert state.status == "completed"
    assert (state.data["mine"], state.data["who"]) == ("caller", "callee")


def test_versions_know_which_processes_they_hold(db: Database, clock: VirtualClock) -> None:
    engine = fresh_engine(db, clock)
    first = deploy(engine, clock, checker(10), "checker")
    other = deploy(engine, clock, model("other", chain("checker", script("calc", "y = 0"))), "other")
    with db.session_scope(readonly=True) as session:
        versions = Versions(session, clock)
        assert versions.holding("checker") == other.version.id  # the most recent deployment
        assert versions.holding("nothing") is None
    assert first.version.id != other.version.id


def test_migration_lists_the_processes_of_versions_deployed_before_it(empty_db_url: str) -> None:
    db = Database(empty_db_url)
    raw = create_engine(db.url)
    try:
        db.upgrade("0003")
        with raw.begin() as conn:
            conn.execute(text(
                "INSERT INTO process_versions (id, key, number, name, bpmn, form_files, sha256, spec, deployed_at) "
                "VALUES ('v1', 'k', 1, 'n', :bpmn, '{}', :sha, :spec, :at)"),
                {"bpmn": b"<x/>", "sha": "0" * 64, "at": "2026-11-29 00:00:00",
                 "spec": '{"format": 1, "processes": {"main": {}, "helper": {}}}'})
            conn.execute(text(
                "INSERT INTO process_versions (id, key, number, name, bpmn, form_files, sha256, deployed_at) "
                "VALUES ('v2', 'k', 2, 'n', :bpmn, '{}', :sha, :at)"),
                {"bpmn": b"<y/>", "sha": "1" * 64, "at": "2026-11-29 00:00:00"})
        db.upgrade()
        with raw.connect() as conn:
            rows = conn.execute(text("SELECT version_id, process_id FROM version_processes "
                                     "ORDER BY process_id")).all()
        assert [tuple(r) for r in rows] == [("v1", "helper"), ("v1", "main")]
        downgrade(db.engine, "0003")
    finally:
        raw.dispose()
        db.dispose()


def test_migration_reads_the_version_tags_of_versions_deployed_before_it(empty_db_url: str) -> None:
    db = Database(empty_db_url)
    raw = create_engine(db.url)
    tagged_bpmn = tagged(10, "v1").replace(b"<bpmn:definitions ", b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                                           b"<bpmn:definitions ", 1)
    try:
        db.upgrade("0004")
        with raw.begin() as conn:
            for vid, bpmn in (("v1", tagged_bpmn), ("v2", checker(10)), ("v3", b"<not xml")):
                conn.execute(text(
                    "INSERT INTO process_versions (id, key, number, name, bpmn, form_files, sha256, deployed_at) "
                    "VALUES (:id, 'k', :n, 'n', :bpmn, '{}', :sha, :at)"),
                    {"id": vid, "n": int(vid[1]), "bpmn": bpmn, "sha": vid * 32, "at": "2026-11-29 00:00:00"})
                conn.execute(text("INSERT INTO version_processes (version_id, process_id) VALUES (:id, 'checker')"),
                             {"id": vid})
        db.upgrade()
        with raw.connect() as conn:
            rows = conn.execute(text("SELECT version_id, version_tag FROM version_processes "
                                     "ORDER BY version_id")).all()
        assert [tuple(r) for r in rows] == [("v1", "v1"), ("v2", None), ("v3", None)]
        downgrade(db.engine, "0004")
    finally:
        raw.dispose()
        db.dispose()


def test_panjereh_run_deploys_the_called_models_given_with_it(tmp_path: Path) -> None:
    caller, callee, broken = tmp_path / "caller.bpmn", tmp_path / "checker.bpmn", tmp_path / "broken.bpmn"
    caller.write_bytes(CALLER)
    callee.write_bytes(checker(10))
    broken.write_bytes(checker(10).replace(b"y = x * 10", b"import os"))
    code, text = run_cli(str(caller), "--with", str(callee), "--clock", "virtual", "--no-simulator",
                         "--format", "json")
    out = json.loads(text)
    assert code == 0 and out["status"] == "completed", out
    assert out["completed"] == ["s", "prep", "before", "s", "calc", "ok", "e", "check", "review", "e"]
    assert out["data"]["y"] == 20

    code, text = run_cli(str(caller), "--with", str(broken), "--no-simulator", "--format", "json")
    out = json.loads(text)
    assert code == 1 and out["status"] == "rejected"
    assert all(d["message"].startswith(f"in {broken}: ") for d in out["diagnostics"]), out["diagnostics"]

    code, text = run_cli(str(caller), "--clock", "virtual", "--no-simulator", "--format", "json")
    assert code == 1 and json.loads(text)["status"] == "failed"  # nothing deployed holds the called process


CAMUNDA = b'xmlns:camunda="http://camunda.org/schema/1.0/bpmn"'


def bound(caller: bytes, **attrs: str) -> bytes:
    """``caller`` with Camunda binding attributes on its call activity."""
    extra = " ".join(f'camunda:{k}="{v}"' for k, v in attrs.items()).encode()
    return caller.replace(b'calledElement="checker"', b'calledElement="checker" ' + extra).replace(
        b"<bpmn:definitions ", b"<bpmn:definitions " + CAMUNDA + b" ", 1)


def tagged(factor: int, tag: str) -> bytes:
    """The checker model whose process carries ``camunda:versionTag``."""
    return checker(factor).replace(b'<bpmn:process id="checker"', f'<bpmn:process id="checker" '
                                   f'camunda:versionTag="{tag}"'.encode()).replace(
        b"<bpmn:definitions ", b"<bpmn:definitions " + CAMUNDA + b" ", 1)


def test_a_call_bound_to_a_version_runs_that_version_whatever_is_deployed_later(
        db: Database, clock: VirtualClock) -> None:
    engine = fresh_engine(db, clock)
    for factor in (10, 100, 1000):
        deploy(engine, clock, checker(factor), "checker")
    caller = deploy(engine, clock, bound(CALLER, calledElementBinding="version", calledElementVersion="2"), "caller")
    (said,) = [d for d in caller.diagnostics if d.code == CALL_LINKED]
    assert "version 2" in said.message and "now checker version 2" in said.message
    deploy(engine, clock, checker(5), "checker")  # version 4 changes nothing for this caller
    assert finish(db, clock, engine.start(caller.version.id)).data["y"] == 200


def test_a_call_bound_to_a_version_tag_runs_the_newest_version_with_that_tag(
        db: Database, clock: VirtualClock) -> None:
    engine = fresh_engine(db, clock)
    deploy(engine, clock, tagged(10, "v1"), "checker")
    deploy(engine, clock, tagged(100, "v1"), "checker")
    deploy(engine, clock, tagged(1000, "v2"), "checker")
    deploy(engine, clock, checker(7), "checker")  # the newest, untagged
    by_tag = deploy(engine, clock, bound(CALLER, calledElementBinding="versionTag",
                                         calledElementVersionTag="v1"), "by_tag")
    latest = deploy(engine, clock, CALLER, "latest")
    assert finish(db, clock, engine.start(by_tag.version.id)).data["y"] == 200
    assert finish(db, clock, engine.start(latest.version.id)).data["y"] == 14

    missing = deploy(engine, clock, bound(CALLER, calledElementBinding="versionTag",
                                          calledElementVersionTag="v9"), "missing")
    (said,) = [d for d in missing.diagnostics if d.code == CALL_NOT_DEPLOYED]
    assert said.severity == "warning" and "tagged 'v9'" in said.message
    assert finish(db, clock, engine.start(missing.version.id)).status == "failed"


@pytest.mark.parametrize(("attrs", "why"), [
    ({"calledElementBinding": "newest"}, "does not know"),
    ({"calledElementBinding": "version", "calledElementVersion": "${wanted}"}, "not a number"),
    ({"calledElementBinding": "version"}, "not a number"),
    ({"calledElementBinding": "versionTag"}, "missing"),
    ({"calledElementBinding": "deployment"}, "does not hold it"),
])
def test_a_binding_that_cannot_be_honoured_rejects_the_model(db: Database, clock: VirtualClock,
                                                             attrs: dict[str, str], why: str) -> None:
    engine = fresh_engine(db, clock)
    deploy(engine, clock, checker(10), "checker")
    deployment = engine.deploy(load_bytes(bound(CALLER, **attrs), "caller.bpmn"), key="caller")
    assert deployment.rejected
    (error,) = deployment.errors
    assert (error.code, error.element_id) == (CALL_BINDING, "check") and why in error.message
    assert error.line is not None


def test_two_calls_of_one_process_with_different_bindings_are_refused(db: Database, clock: VirtualClock) -> None:
    engine = fresh_engine(db, clock)
    two = model("caller", chain("main", call("first", "checker"),
                                '<bpmn:callActivity id="second" calledElement="checker" '
                                'camunda:calledElementBinding="version" camunda:calledElementVersion="1"/>'))
    two = two.replace(b"<bpmn:definitions ", b"<bpmn:definitions " + CAMUNDA + b" ", 1)
    deployment = engine.deploy(load_bytes(two, "two.bpmn"), key="two")
    assert [(e.code, e.element_id) for e in deployment.errors] == [(CALL_BINDING, "second")]
    assert "one version of a process" in deployment.errors[0].message

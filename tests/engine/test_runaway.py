"""Models that would never stop, or stop on a bad condition: a failure naming the element and why, in bounded time.

An uploaded model is hostile until it has run: an endless loop of
automatic steps, or a call activity calling its own process, must stop the
instance with a clear failure instead of holding a worker for hours.
"""

from __future__ import annotations

import pytest

import engine.spiff
from bpmn.load import load_bytes
from bpmn.model import read_model
from engine.clock import VirtualClock
from engine.db import Database
from engine.runtime import Engine
from engine.spiff import MAX_SUBPROCESS_DEPTH, RECURSIVE_CALL, check_executable
from tests.engine.test_runtime_spiff import doc, make

# Level3 calls Level3: the shape of SpiffWorkflow's own call_activity_level_3.bpmn test model.
RECURSIVE = doc('<bpmn:startEvent id="s"/><bpmn:callActivity id="again" name="Again" calledElement="p"/>'
                '<bpmn:endEvent id="e"/>'
                '<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="again"/>'
                '<bpmn:sequenceFlow id="f2" sourceRef="again" targetRef="e"/>')

LOOP = doc('<bpmn:startEvent id="s"/><bpmn:scriptTask id="count" name="Count"><bpmn:script>n = n + 1</bpmn:script>'
           '</bpmn:scriptTask><bpmn:exclusiveGateway id="g" default="back"/><bpmn:endEvent id="e"/>'
           '<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="count"/>'
           '<bpmn:sequenceFlow id="f2" sourceRef="count" targetRef="g"/>'
           '<bpmn:sequenceFlow id="back" sourceRef="g" targetRef="count"/>'
           '<bpmn:sequenceFlow id="out" sourceRef="g" targetRef="e">'
           '<bpmn:conditionExpression>n &lt; 0</bpmn:conditionExpression></bpmn:sequenceFlow>')


def test_a_call_activity_calling_its_own_process_fails_at_the_depth_limit() -> None:
    live, _, _ = make(RECURSIVE)
    report = live.advance()
    assert report.failure is not None
    assert report.failure.element_id == "again" and report.failure.kind == "depth"
    assert f"more than {MAX_SUBPROCESS_DEPTH} levels" in report.failure.message
    assert "calls its own process" in report.failure.message


def test_a_call_activity_two_processes_apart_is_stopped_too() -> None:
    xml = (b'<?xml version="1.0" encoding="UTF-8"?><definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" '
           b'id="d" targetNamespace="t">'
           + b"".join(f'<process id="{me}" isExecutable="true"><startEvent id="s_{me}"/>'
                      f'<callActivity id="call_{me}" calledElement="{other}"/><endEvent id="e_{me}"/>'
                      f'<sequenceFlow id="a_{me}" sourceRef="s_{me}" targetRef="call_{me}"/>'
                      f'<sequenceFlow id="b_{me}" sourceRef="call_{me}" targetRef="e_{me}"/></process>'.encode()
                      for me, other in (("a", "b"), ("b", "a")))
           + b'</definitions>')
    live, _, _ = make(xml)
    report = live.advance()
    assert report.failure is not None and report.failure.kind == "depth"
    assert report.failure.element_id in ("call_a", "call_b")
    diagnostics = [d for d in check_executable(read_model(load_bytes(xml, "pair.bpmn"))).diagnostics
                   if d.code == RECURSIVE_CALL]
    assert sorted(d.element_id for d in diagnostics) == ["call_a", "call_b"]
    assert all(d.severity == "warning" and "calls back into" in d.message for d in diagnostics)


def test_the_check_warns_about_a_recursive_call_and_not_about_a_plain_one() -> None:
    result = check_executable(read_model(load_bytes(RECURSIVE, "recursive.bpmn")))
    (d,) = [d for d in result.diagnostics if d.code == RECURSIVE_CALL]
    assert (d.severity, d.element_id, d.line) == ("warning", "again", 2)
    assert "«Again» (again)" in d.message and "is its own process" in d.message
    assert result.processes == {"p": True}  # a condition could end the recursion: it is not refused
    plain = RECURSIVE.replace(b'calledElement="p"', b'calledElement="elsewhere"')
    assert not [d for d in check_executable(read_model(load_bytes(plain, "plain.bpmn"))).diagnostics
                if d.code == RECURSIVE_CALL]


def test_an_endless_loop_of_automatic_steps_fails_as_a_runaway(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine.spiff, "MAX_STEPS_PER_ACTION", 500)  # the real budget takes seconds
    live, _, _ = make(LOOP, data={"n": 0})
    report = live.advance()
    assert report.failure is not None and report.failure.kind == "runaway"
    assert report.failure.element_id in ("count", "g")
    assert "more than 500 steps without waiting" in report.failure.message


def test_the_recursive_instance_becomes_failed_with_an_incident(db: Database) -> None:
    engine = Engine(db, VirtualClock())
    version = engine.deploy(load_bytes(RECURSIVE, "recursive.bpmn"), key="recursive").version
    assert version is not None
    state = engine.start(version.id)
    assert state.status == "failed"
    (incident,) = engine.incidents(instance_id=state.id)
    assert incident.element_id == "again" and "levels deep" in incident.message


GATE = doc('<bpmn:startEvent id="s"/><bpmn:exclusiveGateway id="g" default="d"/><bpmn:endEvent id="e1"/>'
           '<bpmn:endEvent id="e2"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="g"/>'
           '<bpmn:sequenceFlow id="c" sourceRef="g" targetRef="e1"><bpmn:conditionExpression>answer &gt; 3'
           '</bpmn:conditionExpression></bpmn:sequenceFlow><bpmn:sequenceFlow id="d" sourceRef="g" targetRef="e2"/>')


@pytest.mark.parametrize(("data", "reason"), [({}, "name 'answer' is not defined"),
                                              ({"answer": "many"}, "'>' not supported")])
def test_a_failed_condition_says_why(data: dict[str, str], reason: str) -> None:
    # The library's message was only "Error evaluating expression 'answer > 3'".
    live, _, _ = make(GATE, data=data)
    failure = live.advance().failure
    assert failure is not None and failure.element_id == "g"
    assert failure.message.startswith("Error evaluating expression 'answer > 3': ") and reason in failure.message


def test_a_script_task_without_a_script_does_nothing() -> None:
    # The check warns that it "has no script to run"; the engine used to fail it with "the code is not text".
    xml = doc('<bpmn:startEvent id="s"/><bpmn:scriptTask id="todo" name="To be written"/><bpmn:endEvent id="e"/>'
              '<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="todo"/>'
              '<bpmn:sequenceFlow id="f2" sourceRef="todo" targetRef="e"/>')
    live, _, _ = make(xml, data={"kept": 1})
    report = live.advance()
    assert report.failure is None and live.finished and report.completed == ("s", "todo", "e")
    assert live.data == {"kept": 1}

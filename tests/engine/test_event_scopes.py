"""Event sub-processes and the scope of thrown events: SpiffWorkflow 3.2.0 alone, then engine.spiff.

The library reads an error or escalation start event as a *none* start (the
handler ran as soon as its scope began), never starts an event sub-process
drawn inside a sub-process, runs interrupting ones alongside the work they
should stop, and lets any waiting catcher anywhere take an error. Tests
that take several steps reload the instance from its JSON state parts
between them, as the database would; one runs through the durable engine.
"""

from __future__ import annotations

from typing import Any

import pytest
from lxml import etree
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import SignalEventDefinition
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from bpmn.load import load_bytes
from bpmn.model import read_model
from engine.clock import VirtualClock
from engine.sandbox import Sandbox
from engine.spiff import LiveInstance, build_specs, script_functions

from .test_runtime import make_engine, task
from .test_runtime_spiff import NS, Store, human, make, reload


def model(definitions: str, body: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions {NS} id="d" targetNamespace="t">'
            f'{definitions}<bpmn:process id="p" isExecutable="true">{body}</bpmn:process>'
            '</bpmn:definitions>').encode()


def flows(*pairs: tuple[str, str], prefix: str = "f") -> str:
    return "".join(f'<bpmn:sequenceFlow id="{prefix}{i}" sourceRef="{a}" targetRef="{b}"/>'
                   for i, (a, b) in enumerate(pairs))


def handler(sid: str, start: str, task: str, interrupting: bool = True) -> str:
    """An event sub-process: ``start`` (its start event's definition) then the user task ``task``."""
    attr = "" if interrupting else ' isInterrupting="false"'
    return (f'<bpmn:subProcess id="{sid}" triggeredByEvent="true">'
            f'<bpmn:startEvent id="{sid}_start"{attr}>{start}</bpmn:startEvent>'
            f'<bpmn:userTask id="{task}"/><bpmn:endEvent id="{sid}_end"/>'
            + flows((f"{sid}_start", task), (task, f"{sid}_end"), prefix=f"{sid}_f") + '</bpmn:subProcess>')


# A case whose review sub-process has three handlers: missing documents (an error the review throws),
# the applicant withdrawing (a signal, interrupting) and a reminder (a signal, not interrupting).
CASE = model(
    '<bpmn:error id="Err_docs" errorCode="docs_missing"/>'
    '<bpmn:signal id="Sig_withdraw" name="withdrawn"/><bpmn:signal id="Sig_remind" name="reminder"/>',
    '<bpmn:startEvent id="start"/><bpmn:userTask id="t_register"/>'
    '<bpmn:subProcess id="review"><bpmn:startEvent id="r_start"/><bpmn:userTask id="t_check"/>'
    '<bpmn:exclusiveGateway id="gw" default="r_bad"/><bpmn:endEvent id="r_ok"/>'
    '<bpmn:endEvent id="r_missing"><bpmn:errorEventDefinition errorRef="Err_docs"/></bpmn:endEvent>'
    + flows(("r_start", "t_check"), ("t_check", "gw"), prefix="r")
    + '<bpmn:sequenceFlow id="r_good" sourceRef="gw" targetRef="r_ok">'
      '<bpmn:conditionExpression>docs_ok == True</bpmn:conditionExpression></bpmn:sequenceFlow>'
      '<bpmn:sequenceFlow id="r_bad" sourceRef="gw" targetRef="r_missing"/>'
    + handler("on_missing", '<bpmn:errorEventDefinition errorRef="Err_docs"/>', "t_notify")
    + handler("on_withdraw", '<bpmn:signalEventDefinition signalRef="Sig_withdraw"/>', "t_close")
    + handler("on_remind", '<bpmn:signalEventDefinition signalRef="Sig_remind"/>', "t_follow_up",
              interrupting=False)
    + '</bpmn:subProcess><bpmn:userTask id="t_archive"/><bpmn:endEvent id="end"/>'
    + flows(("start", "t_register"), ("t_register", "review"), ("review", "t_archive"), ("t_archive", "end")))


def waiting(live: LiveInstance) -> list[str]:
    return sorted(h.element_id for h in live.snapshot().humans)


def started(xml: bytes, data: dict[str, Any] | None = None) -> tuple[LiveInstance, dict[str, Any], Any, Store]:
    """An instance of ``xml`` advanced to its first waits, saved and reloaded (and its store)."""
    live, specs, clock = make(xml, data=data or {})
    live.advance()
    store = Store()
    return reload(live, specs, store, clock), specs, clock, store


def at_review(data: dict[str, Any] | None = None) -> tuple[LiveInstance, dict[str, Any], Any, Store]:
    live, specs, clock, store = started(CASE, data)
    live.complete_human(human(live, "t_register"), {})
    return reload(live, specs, store, clock), specs, clock, store


def library(xml: bytes) -> BpmnWorkflow:
    parser = SpiffBpmnParser()
    parser.add_bpmn_xml(etree.fromstring(xml))
    wf = BpmnWorkflow(parser.get_spec("p"), parser.get_subprocess_specs("p"))
    wf.do_engine_steps()
    return wf


def library_waiting(wf: BpmnWorkflow) -> list[str]:
    return sorted(t.task_spec.bpmn_id for t in wf.get_tasks(state=TaskState.READY, manual=True))


def library_complete(wf: BpmnWorkflow, bpmn_id: str, **data: Any) -> None:
    (task,) = [t for t in wf.get_tasks(state=TaskState.READY, manual=True) if t.task_spec.bpmn_id == bpmn_id]
    task.data.update(data)
    task.run()
    wf.do_engine_steps()


def test_the_library_runs_an_error_handler_at_once_and_never_starts_a_nested_one():
    wf = library(CASE)
    library_complete(wf, "t_register")
    assert library_waiting(wf) == ["t_check", "t_notify"]  # the missing-documents notice before any check
    wf.catch(BpmnEvent(SignalEventDefinition("withdrawn")))
    wf.do_engine_steps()
    assert "t_close" not in library_waiting(wf)  # the withdrawal was never heard


def test_an_error_handler_waits_for_its_error():
    live, _, _, _ = at_review()
    assert waiting(live) == ["t_check"]
    assert {(e.kind, e.name) for e in live.snapshot().events} == {("signal", "withdrawn"), ("signal", "reminder")}


def test_the_error_a_sub_process_throws_starts_its_own_handler_then_the_case_goes_on():
    live, specs, clock, store = at_review()
    report = live.complete_human(human(live, "t_check"), {"docs_ok": False})
    assert report.failure is None and live.snapshot().stuck == ()
    assert waiting(live) == ["t_notify"]
    live = reload(live, specs, store, clock)
    live.complete_human(human(live, "t_notify"), {})
    live = reload(live, specs, store, clock)
    assert waiting(live) == ["t_archive"]  # the handler ended the review; the case continues after it
    live.complete_human(human(live, "t_archive"), {})
    assert live.finished


def test_a_good_review_never_runs_the_handler():
    live, specs, clock, store = at_review()
    live.complete_human(human(live, "t_check"), {"docs_ok": True})
    assert waiting(reload(live, specs, store, clock)) == ["t_archive"]


def test_an_interrupting_signal_handler_stops_the_review():
    live, specs, clock, store = at_review()
    report = live.deliver("signal", "withdrawn")
    assert report is not None and report.failure is None
    assert waiting(live) == ["t_close"]  # t_check was cancelled
    live = reload(live, specs, store, clock)
    live.complete_human(human(live, "t_close"), {})
    assert waiting(reload(live, specs, store, clock)) == ["t_archive"]


@pytest.mark.parametrize("first", ["t_follow_up", "t_check"])
def test_a_non_interrupting_signal_handler_runs_beside_the_review(first):
    live, specs, clock, store = at_review()
    live.deliver("signal", "reminder")
    assert waiting(live) == ["t_check", "t_follow_up"]
    live = reload(live, specs, store, clock)
    second = "t_check" if first == "t_follow_up" else "t_follow_up"
    live.complete_human(human(live, first), {"docs_ok": True})
    live = reload(live, specs, store, clock)
    assert waiting(live) == [second]  # the review ends when both are done, whichever is last
    live.complete_human(human(live, second), {"docs_ok": True})
    assert waiting(reload(live, specs, store, clock)) == ["t_archive"]


# A sub-process that throws a signal its own interrupting boundary event catches: nothing after the
# throw may run. The library cancelled the sub-process only after its next steps had run.
STOP = model(
    '<bpmn:signal id="Sig_stop" name="stop"/>',
    '<bpmn:startEvent id="start"/>'
    '<bpmn:subProcess id="work"><bpmn:startEvent id="w_start"/>'
    '<bpmn:intermediateThrowEvent id="w_stop"><bpmn:signalEventDefinition signalRef="Sig_stop"/>'
    '</bpmn:intermediateThrowEvent>'
    '<bpmn:scriptTask id="w_after"><bpmn:script>after = True</bpmn:script></bpmn:scriptTask>'
    '<bpmn:endEvent id="w_end"/>' + flows(("w_start", "w_stop"), ("w_stop", "w_after"), ("w_after", "w_end"),
                                          prefix="w")
    + '</bpmn:subProcess>'
    '<bpmn:boundaryEvent id="b_stop" attachedToRef="work"><bpmn:signalEventDefinition signalRef="Sig_stop"/>'
    '</bpmn:boundaryEvent><bpmn:userTask id="t_stopped"/><bpmn:userTask id="t_done"/>'
    '<bpmn:endEvent id="end"/><bpmn:endEvent id="end_stopped"/>'
    + flows(("start", "work"), ("work", "t_done"), ("t_done", "end"), ("b_stop", "t_stopped"),
            ("t_stopped", "end_stopped")))


def test_a_signal_thrown_inside_a_sub_process_stops_it_before_its_next_step():
    live, _, _ = make(STOP)
    report = live.advance()
    assert report.failure is None
    assert waiting(live) == ["t_stopped"]
    assert "after" not in live.data and "w_after" not in report.completed


# Two sub-processes side by side; only the second has an error boundary event. The error the first
# throws is not the second's business: it escapes (the library let the second's boundary take it).
SIDE_BY_SIDE = model(
    '<bpmn:error id="Err_x" errorCode="x"/>',
    '<bpmn:startEvent id="start"/><bpmn:parallelGateway id="split"/><bpmn:parallelGateway id="join"/>'
    '<bpmn:subProcess id="a"><bpmn:startEvent id="a_start"/><bpmn:userTask id="t_a"/>'
    '<bpmn:endEvent id="a_err"><bpmn:errorEventDefinition errorRef="Err_x"/></bpmn:endEvent>'
    + flows(("a_start", "t_a"), ("t_a", "a_err"), prefix="a") + '</bpmn:subProcess>'
    '<bpmn:subProcess id="b"><bpmn:startEvent id="b_start"/><bpmn:userTask id="t_b"/><bpmn:endEvent id="b_end"/>'
    + flows(("b_start", "t_b"), ("t_b", "b_end"), prefix="b") + '</bpmn:subProcess>'
    '<bpmn:boundaryEvent id="b_failed" attachedToRef="b"><bpmn:errorEventDefinition errorRef="Err_x"/>'
    '</bpmn:boundaryEvent><bpmn:userTask id="t_b_failed"/><bpmn:endEvent id="end"/><bpmn:endEvent id="end_b"/>'
    + flows(("start", "split"), ("split", "a"), ("split", "b"), ("a", "join"), ("b", "join"), ("join", "end"),
            ("b_failed", "t_b_failed"), ("t_b_failed", "end_b")))


def test_the_library_lets_a_neighbour_catch_an_error():
    wf = library(SIDE_BY_SIDE)
    library_complete(wf, "t_a")
    assert "t_b_failed" in library_waiting(wf)


def test_an_error_is_caught_only_by_the_scopes_around_its_thrower():
    live, specs, clock = make(SIDE_BY_SIDE)
    live.advance()
    live = reload(live, specs, Store(), clock)
    report = live.complete_human(human(live, "t_a"), {})
    assert "t_b_failed" not in waiting(live)
    assert report.failure is not None and "no event caught it" in report.failure.message


def test_a_broadcast_reaches_a_scope_that_waits_only_through_its_handler(db, clock):
    engine = make_engine(db, clock)
    deployment = engine.deploy(load_bytes(CASE, "case.bpmn"))
    assert deployment.version is not None, deployment.errors
    state = engine.start(deployment.version.id)
    state = engine.complete_task(task(state, "t_register"), user="clerk", data={})
    assert state.waiting == ("t_check",)  # the handlers' start events are listened for, not stood at
    assert engine.broadcast_signal("withdrawn", start=False) == [state.id]
    assert engine.state(state.id).waiting == ("t_close",)
    assert engine.broadcast_signal("withdrawn", start=False) == [state.id]  # the review still runs: it listens


# The same handlers at the top of a process: the library starts them (as it does), and here an
# interrupting one also stops the case's other work.
TOP = model(
    '<bpmn:signal id="Sig_withdraw" name="withdrawn"/>',
    '<bpmn:startEvent id="start"/><bpmn:userTask id="t_check"/><bpmn:userTask id="t_issue"/>'
    '<bpmn:endEvent id="end"/>' + flows(("start", "t_check"), ("t_check", "t_issue"), ("t_issue", "end"))
    + handler("on_withdraw", '<bpmn:signalEventDefinition signalRef="Sig_withdraw"/>', "t_close"))


def test_an_interrupting_handler_at_the_top_ends_the_case_when_it_is_done():
    live, specs, clock, store = started(TOP)
    assert waiting(live) == ["t_check"]
    assert [(e.kind, e.name, e.handler) for e in live.snapshot().events] == [("signal", "withdrawn", True)]
    live.deliver("signal", "withdrawn")
    assert waiting(live) == ["t_close"]
    live = reload(live, specs, store, clock)
    live.complete_human(human(live, "t_close"), {})
    assert live.finished and waiting(live) == []


# An inquiry inside a sub-process, no boundary event on it: the sub-process's error handler is the
# fallback. Also a script that throws a BPMN error in the same place.
INQUIRY = model(
    '<bpmn:error id="Err_any"/>',
    '<bpmn:startEvent id="start"/>'
    '<bpmn:subProcess id="fetch"><bpmn:startEvent id="x_start"/>'
    '<bpmn:serviceTask id="svc"><bpmn:extensionElements>'
    '<spiffworkflow:serviceTaskOperator id="inquiry/nocr_identity" resultVariable="identity"/>'
    '</bpmn:extensionElements></bpmn:serviceTask>'
    '<bpmn:scriptTask id="check"><bpmn:script>if identity is None:\n    throw_bpmn_error("no_identity")'
    '</bpmn:script></bpmn:scriptTask><bpmn:endEvent id="x_end"/>'
    + flows(("x_start", "svc"), ("svc", "check"), ("check", "x_end"), prefix="x")
    + handler("on_error", '<bpmn:errorEventDefinition errorRef="Err_any"/>', "t_paper")
    + '</bpmn:subProcess><bpmn:userTask id="t_decide"/><bpmn:endEvent id="end"/>'
    + flows(("start", "fetch"), ("fetch", "t_decide"), ("t_decide", "end")))


def test_a_failed_inquiry_goes_to_the_error_handler_of_its_sub_process():
    live, specs, clock = make(INQUIRY)
    live.advance()
    live = reload(live, specs, Store(), clock)
    (call,) = live.snapshot().services
    report = live.throw_error(call.key, "http.503", "the registry is down")
    assert report is not None and report.failure is None
    assert live.snapshot().services == () and waiting(live) == ["t_paper"]  # the paper fallback, asked of a clerk
    live.complete_human(human(live, "t_paper"), {})
    assert waiting(live) == ["t_decide"]


def test_a_script_error_goes_to_the_error_handler_of_its_sub_process():
    clock = VirtualClock()
    built = build_specs(read_model(load_bytes(INQUIRY, "inquiry.bpmn")))
    assert built.specs is not None
    live = LiveInstance.start("v-script-error", built.specs, "p", data={}, clock=clock,
                              sandbox=Sandbox(functions=script_functions(), now=clock.now))  # as the engine does
    live.advance()
    (call,) = live.snapshot().services
    report = live.complete_service(call.key, None)
    assert report.failure is None and waiting(live) == ["t_paper"]


def test_an_error_nothing_catches_is_not_thrown():
    live, _, _ = make(INQUIRY.replace(b'<bpmn:errorEventDefinition errorRef="Err_any"/>',
                                      b'<bpmn:signalEventDefinition signalRef="Sig_none"/>')
                      .replace(b'<bpmn:error id="Err_any"/>', b'<bpmn:signal id="Sig_none" name="none"/>'))
    live.advance()
    (call,) = live.snapshot().services
    assert live.throw_error(call.key, "http.503", "down") is None
    assert len(live.snapshot().services) == 1  # untouched: the engine opens an incident instead


def test_a_message_reaches_a_scope_that_waits_only_through_its_handler(db, clock):
    with_message = CASE.replace(b'<bpmn:signal id="Sig_withdraw"', b'<bpmn:message id="Msg_doc" name="document_arrived"/>'
                                                                      b'<bpmn:signal id="Sig_withdraw"').replace(
        b'</bpmn:subProcess><bpmn:userTask id="t_archive"/>',
        handler("on_doc", '<bpmn:messageEventDefinition messageRef="Msg_doc"/>', "t_file",
                interrupting=False).encode() + b'</bpmn:subProcess><bpmn:userTask id="t_archive"/>')
    engine = make_engine(db, clock)
    deployment = engine.deploy(load_bytes(with_message, "case_message.bpmn"))
    assert deployment.version is not None, deployment.errors
    state = engine.start(deployment.version.id, business_key="CASE-7")
    state = engine.complete_task(task(state, "t_register"), user="clerk", data={})
    assert engine.correlate_message("document_arrived", business_key="CASE-8", start=False) == []
    assert engine.correlate_message("document_arrived", business_key="CASE-7", start=False) == [state.id]
    assert sorted(engine.state(state.id).waiting) == ["t_check", "t_file"]


# --- conditions ------------------------------------------------------------------------------------
# A review whose handlers start on conditions of the review's data: «too many pages» stops the
# review (interrupting), «urgent» adds a follow-up beside it (not interrupting). t_check loops
# back to itself until pages is 0, so the data changes between the steps of one scope.
def conditional(sid: str, condition: str, task: str, interrupting: bool = True) -> str:
    return handler(sid, f'<bpmn:conditionalEventDefinition><bpmn:condition>{condition}</bpmn:condition>'
                        '</bpmn:conditionalEventDefinition>', task, interrupting)


WATCHED = model(
    '',
    '<bpmn:startEvent id="start"/>'
    '<bpmn:subProcess id="review"><bpmn:startEvent id="r_start"/><bpmn:userTask id="t_check"/>'
    '<bpmn:exclusiveGateway id="gw" default="r_again"/><bpmn:endEvent id="r_end"/>'
    + flows(("r_start", "t_check"), ("t_check", "gw"), prefix="r")
    + '<bpmn:sequenceFlow id="r_done" sourceRef="gw" targetRef="r_end">'
      '<bpmn:conditionExpression>pages == 0</bpmn:conditionExpression></bpmn:sequenceFlow>'
      '<bpmn:sequenceFlow id="r_again" sourceRef="gw" targetRef="t_check"/>'
    + conditional("on_big", "pages &gt; 100", "t_split")
    + conditional("on_urgent", "urgent == True", "t_follow_up", interrupting=False)
    + '</bpmn:subProcess><bpmn:userTask id="t_archive"/><bpmn:endEvent id="end"/>'
    + flows(("start", "review"), ("review", "t_archive"), ("t_archive", "end")))


def watched(data: dict[str, Any]) -> tuple[LiveInstance, dict[str, Any], Any, Store]:
    return started(WATCHED, data)


def test_a_condition_that_becomes_true_starts_its_interrupting_handler():
    live, specs, clock, store = watched({"pages": 3, "urgent": False})
    assert waiting(live) == ["t_check"]  # false on arrival: nothing started
    live.complete_human(human(live, "t_check"), {"pages": 250})
    live = reload(live, specs, store, clock)
    assert waiting(live) == ["t_split"]  # the review's loop was cancelled
    live.complete_human(human(live, "t_split"), {})
    assert waiting(reload(live, specs, store, clock)) == ["t_archive"]


def test_a_condition_true_when_its_scope_begins_starts_the_handler_at_once():
    live, *_ = watched({"pages": 500, "urgent": False})
    assert waiting(live) == ["t_split"]


def test_a_non_interrupting_condition_starts_once_per_change_not_once_per_step():
    live, specs, clock, store = watched({"pages": 3, "urgent": False})
    for answer in ({"pages": 2, "urgent": True}, {"pages": 1}, {"pages": 1, "urgent": False},
                   {"pages": 1, "urgent": True}):
        live.complete_human(human(live, "t_check"), answer)
        live = reload(live, specs, store, clock)  # the last value of each condition is kept in the state
    # true, still true, false, true again: two follow-ups, beside the review still under way.
    assert waiting(live) == ["t_check", "t_follow_up", "t_follow_up"]


def test_a_condition_that_cannot_be_evaluated_yet_is_not_true():
    live, specs, clock, store = watched({"pages": 3})  # no `urgent` at all
    live.complete_human(human(live, "t_check"), {"pages": 2})
    assert waiting(reload(live, specs, store, clock)) == ["t_check"]


# An interrupting conditional boundary on a sub-process, already true when it begins: the library ran
# the sub-process's first steps before the boundary (an automatic step here) and then interrupted it.
CLOSED = '<bpmn:conditionalEventDefinition><bpmn:condition>closed == True</bpmn:condition></bpmn:conditionalEventDefinition>'
BOUNDARY = model(
    '',
    '<bpmn:startEvent id="start"/>'
    '<bpmn:subProcess id="work"><bpmn:startEvent id="w_start"/>'
    '<bpmn:scriptTask id="w_step"><bpmn:script>stepped = True</bpmn:script></bpmn:scriptTask>'
    '<bpmn:userTask id="t_work"/><bpmn:endEvent id="w_end"/>'
    + flows(("w_start", "w_step"), ("w_step", "t_work"), ("t_work", "w_end"), prefix="w")
    + '</bpmn:subProcess>'
    f'<bpmn:boundaryEvent id="b_closed" attachedToRef="work">{CLOSED}</bpmn:boundaryEvent>'
    '<bpmn:userTask id="t_closed"/><bpmn:endEvent id="end"/><bpmn:endEvent id="end_closed"/>'
    + flows(("start", "work"), ("work", "end"), ("b_closed", "t_closed"), ("t_closed", "end_closed")))


def test_a_boundary_that_fires_as_its_sub_process_begins_stops_it_before_its_first_step():
    wf = BpmnWorkflow(*_library_specs(BOUNDARY))
    wf.task_tree.data["closed"] = True
    wf.do_engine_steps()
    assert library_waiting(wf) == ["t_closed"]
    assert wf.last_task is not None and any(t.task_spec.bpmn_id == "w_step" and t.state == TaskState.COMPLETED
                                            for t in wf.get_tasks())  # the library ran it first
    live, *_ = make(BOUNDARY, data={"closed": True})
    report = live.advance()
    assert waiting(live) == ["t_closed"]
    assert "w_step" not in report.completed and "stepped" not in live.task_data(human(live, "t_closed"))
    live, *_ = make(BOUNDARY, data={"closed": False})
    assert "w_step" in live.advance().completed and waiting(live) == ["t_work"]


def _library_specs(xml: bytes) -> tuple[Any, Any]:
    parser = SpiffBpmnParser()
    parser.add_bpmn_xml(etree.fromstring(xml))
    return parser.get_spec("p"), parser.get_subprocess_specs("p")


def test_a_conditional_handler_runs_through_the_durable_engine(db, clock):
    # A new Engine for each action: nothing is kept in memory between them but the database.
    version = make_engine(db, clock).deploy(load_bytes(WATCHED, "watched.bpmn"), key="watched").version
    assert version is not None
    state = make_engine(db, clock).start(version.id, data={"pages": 3, "urgent": False})
    state = make_engine(db, clock).complete_task(task(state, "t_check"), user="u", data={"pages": 2,
                                                                                            "urgent": True})
    assert sorted(t.element_id for t in state.human_tasks) == ["t_check", "t_follow_up"]
    state = make_engine(db, clock).complete_task(task(state, "t_check"), user="u", data={"pages": 300})
    assert [t.element_id for t in state.human_tasks] == ["t_split"]  # the follow-up was cancelled with the rest


# The same at the top of the process, where the main path can end while a handler still runs.
TOP_WATCHED = model(
    '', '<bpmn:startEvent id="start"/><bpmn:userTask id="t_a"/><bpmn:userTask id="t_b"/><bpmn:endEvent id="end"/>'
    + flows(("start", "t_a"), ("t_a", "t_b"), ("t_b", "end"))
    + conditional("on_stop", "stop == 1", "t_stopped")
    + conditional("on_note", "note == 1", "t_note", interrupting=False))


def test_a_top_level_handler_begins_with_the_data_that_made_its_condition_true():
    live, specs, clock, store = started(TOP_WATCHED, {"stop": 0, "note": 0})
    live.complete_human(human(live, "t_a"), {"note": 1, "reason": "late"})
    live = reload(live, specs, store, clock)
    assert waiting(live) == ["t_b", "t_note"]
    assert live.task_data(human(live, "t_note"))["reason"] == "late"
    live.complete_human(human(live, "t_b"), {})  # the main path ends; the case waits for the handler
    live = reload(live, specs, store, clock)
    assert waiting(live) == ["t_note"] and not live.finished
    live.complete_human(human(live, "t_note"), {})
    live = reload(live, specs, store, clock)
    assert waiting(live) == [] and live.finished  # and the handler did not start again


def test_a_top_level_interrupting_condition_ends_the_case_through_its_handler():
    live, *_ = make(TOP_WATCHED, data={"stop": 0, "note": 0})
    live.advance()
    live.complete_human(human(live, "t_a"), {"stop": 1})
    assert waiting(live) == ["t_stopped"] and not live.finished
    report = live.complete_human(human(live, "t_stopped"), {})
    assert live.finished and "t_b" not in report.completed


# Conditional events already waiting when another branch makes them true: the library evaluated a
# condition only when its event was reached, so these waited for ever.
PAID = '<bpmn:conditionalEventDefinition><bpmn:condition>paid == True</bpmn:condition></bpmn:conditionalEventDefinition>'
BRANCHES = model(
    '', '<bpmn:startEvent id="start"/><bpmn:parallelGateway id="split"/>'
    f'<bpmn:userTask id="review"/><bpmn:boundaryEvent id="b_paid" attachedToRef="review">{PAID}</bpmn:boundaryEvent>'
    f'<bpmn:userTask id="t_refund"/><bpmn:intermediateCatchEvent id="c_paid">{PAID}</bpmn:intermediateCatchEvent>'
    '<bpmn:userTask id="t_ship"/><bpmn:userTask id="pay"/>'
    '<bpmn:endEvent id="e1"/><bpmn:endEvent id="e2"/><bpmn:endEvent id="e3"/><bpmn:endEvent id="e4"/>'
    + flows(("start", "split"), ("split", "review"), ("split", "c_paid"), ("split", "pay"), ("review", "e1"),
            ("b_paid", "t_refund"), ("t_refund", "e2"), ("c_paid", "t_ship"), ("t_ship", "e3"), ("pay", "e4")))


@pytest.mark.parametrize(("paid", "expected"), [(True, ["t_refund", "t_ship"]), (False, ["review"])])
def test_waiting_conditional_events_fire_when_another_branch_makes_them_true(paid, expected):
    live, specs, clock, store = started(BRANCHES, {"paid": False})
    assert waiting(live) == ["pay", "review"]
    live.complete_human(human(live, "pay"), {"paid": paid})
    live = reload(live, specs, store, clock)
    assert waiting(live) == expected  # when paid: the review is interrupted, the shipping goes ahead


# A step inside an embedded sub-process changes its process's data (BPMN): the conditions of the scopes
# around it see it at once. The library, and the engine before, saw it only when the sub-process ended.


def inner_work(holder: str) -> str:
    """``holder`` (a sub-process, or a call activity of process q) then t_after; a boundary on it: closed."""
    inside = ('<bpmn:startEvent id="w_start"/><bpmn:userTask id="t_fill"/><bpmn:userTask id="t_work"/>'
              '<bpmn:endEvent id="w_end"/>' + flows(("w_start", "t_fill"), ("t_fill", "t_work"), ("t_work", "w_end"),
                                                   prefix="w"))
    work = (f'<bpmn:subProcess id="work">{inside}</bpmn:subProcess>' if holder == "subProcess"
            else '<bpmn:callActivity id="work" calledElement="q"/>')
    body = (f'<bpmn:startEvent id="start"/>{work}<bpmn:boundaryEvent id="b_closed" attachedToRef="work">{CLOSED}'
            '</bpmn:boundaryEvent><bpmn:userTask id="t_after"/><bpmn:userTask id="t_closed"/>'
            '<bpmn:endEvent id="end"/><bpmn:endEvent id="end_closed"/>'
            + flows(("start", "work"), ("work", "t_after"), ("t_after", "end"), ("b_closed", "t_closed"),
                    ("t_closed", "end_closed")))
    xml = model('', body)
    if holder != "subProcess":
        xml = xml.replace(b"</bpmn:definitions>", f'<bpmn:process id="q">{inside}</bpmn:process>'
                                                   '</bpmn:definitions>'.encode())
    return xml.decode()


@pytest.mark.parametrize(("holder", "expected"), [("subProcess", ["t_closed"]), ("callActivity", ["t_work"])])
def test_a_boundary_condition_sees_the_steps_inside_its_sub_process(holder, expected):
    live, specs, clock, store = started(inner_work(holder).encode(), {"closed": False})
    assert waiting(live) == ["t_fill"]
    live.complete_human(human(live, "t_fill"), {"closed": True})
    live = reload(live, specs, store, clock)
    # Embedded: the sub-process stops there. Called: the called process's data is its own (as in BPMN).
    assert waiting(live) == expected


def test_a_process_handler_sees_the_steps_inside_its_sub_processes():
    body = ('<bpmn:startEvent id="start"/><bpmn:subProcess id="work"><bpmn:startEvent id="w_start"/>'
            '<bpmn:userTask id="t_fill"/><bpmn:userTask id="t_work"/><bpmn:endEvent id="w_end"/>'
            + flows(("w_start", "t_fill"), ("t_fill", "t_work"), ("t_work", "w_end"), prefix="w")
            + '</bpmn:subProcess><bpmn:endEvent id="end"/>' + flows(("start", "work"), ("work", "end"))
            + conditional("on_stop", "stop == 1", "t_stopped"))
    live, specs, clock, store = started(model('', body), {"stop": 0})
    live.complete_human(human(live, "t_fill"), {"stop": 1, "why": "withdrawn"})
    live = reload(live, specs, store, clock)
    assert waiting(live) == ["t_stopped"]  # the sub-process was stopped with the rest of the process
    assert live.task_data(human(live, "t_stopped"))["why"] == "withdrawn"
    live.complete_human(human(live, "t_stopped"), {})
    assert live.finished

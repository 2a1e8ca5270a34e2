"""bpmn.event_rules: triggers an event may not have where it stands, and what such events must interrupt."""

from __future__ import annotations

import pytest

from bpmn.diagnostics import Diagnostic
from bpmn.validate import validate
from tests.bpmn.bpmn_snippets import document, line_of, model_of, process

CODES = ("event.trigger_not_allowed", "event.trigger_missing", "event.must_interrupt",
         "event.cancel_outside_transaction", "event.subprocess_flow", "gateway.event_target", "event.definition_ref",
         "event.link_unmatched", "event.link_flow", "messageflow.direction")
TIMER = "<timerEventDefinition><timeDuration>PT1H</timeDuration></timerEventDefinition>"
DEFS = {
    "none": "", "timer": TIMER, "message": "<messageEventDefinition/>", "signal": "<signalEventDefinition/>",
    "conditional": "<conditionalEventDefinition><condition>ready</condition></conditionalEventDefinition>",
    "error": "<errorEventDefinition/>", "escalation": "<escalationEventDefinition/>",
    "compensation": "<compensateEventDefinition/>", "cancel": "<cancelEventDefinition/>",
    "link": '<linkEventDefinition name="L"/>', "terminate": "<terminateEventDefinition/>",
}


def rules(xml: str) -> list[Diagnostic]:
    return [d for d in validate(model_of(xml)) if d.code in CODES]


def top(event: str, *, executable: bool = True) -> str:
    """``event`` (an element with id ``e``) inside start -> event -> end, where its kind allows flows."""
    return document(process(
        f'<startEvent id="s"/>\n{event}\n<endEvent id="end"/>\n'
        '<sequenceFlow id="f1" sourceRef="s" targetRef="e"/>\n<sequenceFlow id="f2" sourceRef="e" targetRef="end"/>\n',
        executable=executable))


def start(trigger: str) -> str:
    return document(process(f'<startEvent id="e">{DEFS[trigger]}</startEvent>\n<endEvent id="end"/>\n'
                            '<sequenceFlow id="f" sourceRef="e" targetRef="end"/>\n'))


def end(trigger: str) -> str:
    return document(process(f'<startEvent id="s"/>\n<endEvent id="e">{DEFS[trigger]}</endEvent>\n'
                            '<sequenceFlow id="f" sourceRef="s" targetRef="e"/>\n'))


def boundary(trigger: str, *, cancel_activity: bool = True, on: str = "task") -> str:
    flag = "true" if cancel_activity else "false"
    return document(process(
        f'<startEvent id="s"/>\n<{on} id="t"/>\n<endEvent id="end"/>\n<endEvent id="end2"/>\n'
        f'<boundaryEvent id="e" attachedToRef="t" cancelActivity="{flag}">{DEFS[trigger]}</boundaryEvent>\n'
        '<sequenceFlow id="f1" sourceRef="s" targetRef="t"/>\n<sequenceFlow id="f2" sourceRef="t" targetRef="end"/>\n'
        '<sequenceFlow id="f3" sourceRef="e" targetRef="end2"/>\n'))


def event_subprocess(trigger: str, *, interrupting: bool = True) -> str:
    flag = "true" if interrupting else "false"
    return document(process(
        '<startEvent id="s"/>\n<endEvent id="end"/>\n<sequenceFlow id="f" sourceRef="s" targetRef="end"/>\n'
        f'<subProcess id="esp" triggeredByEvent="true">\n<startEvent id="e" isInterrupting="{flag}">{DEFS[trigger]}'
        '</startEvent>\n<endEvent id="e_end"/>\n<sequenceFlow id="g" sourceRef="e" targetRef="e_end"/>\n</subProcess>\n'))


@pytest.mark.parametrize(("build", "allowed"), [
    (start, {"none", "timer", "message", "signal", "conditional"}),
    (end, {"none", "message", "error", "escalation", "compensation", "cancel", "signal", "terminate"}),
    (lambda t: top(f'<intermediateCatchEvent id="e">{DEFS[t]}</intermediateCatchEvent>'),
     {"timer", "message", "signal", "conditional", "link"}),
    (lambda t: top(f'<intermediateThrowEvent id="e">{DEFS[t]}</intermediateThrowEvent>'),
     {"none", "message", "signal", "escalation", "compensation", "link"}),
    (lambda t: boundary(t, on="transaction"),
     {"timer", "message", "signal", "conditional", "error", "escalation", "compensation", "cancel"}),
    (event_subprocess, {"timer", "message", "signal", "conditional", "error", "escalation", "compensation"}),
], ids=["start", "end", "catch", "throw", "boundary", "event-sub-process-start"])
def test_each_kind_of_event_takes_the_triggers_bpmn_allows_it_and_no_other(build, allowed):
    for trigger in DEFS:
        found = [d for d in rules(build(trigger))
                 if d.element_id == "e" and d.code in ("event.trigger_not_allowed", "event.trigger_missing")]
        if trigger in allowed:
            assert found == [], (trigger, found)
        else:
            assert [d.code for d in found] in (["event.trigger_not_allowed"], ["event.trigger_missing"]), (trigger, found)
            assert found[0].severity == "error"


def test_a_wrong_trigger_is_named_with_the_event_its_line_and_what_it_may_have():
    xml = end("timer")
    (found,) = rules(xml)
    assert found.code == "event.trigger_not_allowed" and found.line == line_of(xml, '<endEvent id="e"')
    assert "the end event e has a trigger that an end event cannot have: timer" in found.message
    assert "cancel, compensation, error, escalation, message, signal, terminate or none" in found.message


def test_a_catching_event_without_a_trigger_is_reported_as_missing_one():
    (found,) = rules(top('<intermediateCatchEvent id="e" name="Wait"/>'))
    assert found.code == "event.trigger_missing"
    assert "intermediate catch event «Wait» (e) has no trigger" in found.message
    assert "an intermediate catch event without one never happens" in found.message


def test_a_start_event_of_an_ordinary_sub_process_has_no_trigger_even_without_an_id_on_the_sub_process():
    xml = document(process(
        '<startEvent id="s"/>\n<subProcess id="sub">\n<startEvent id="e">' + DEFS["message"] + '</startEvent>\n'
        '<endEvent id="sub_end"/>\n<sequenceFlow id="g" sourceRef="e" targetRef="sub_end"/>\n'
        '<subProcess triggeredByEvent="true">\n<startEvent id="esc">' + DEFS["escalation"] + '</startEvent>\n'
        '<endEvent id="esc_end"/>\n<sequenceFlow id="h" sourceRef="esc" targetRef="esc_end"/>\n</subProcess>\n'
        '</subProcess>\n<endEvent id="end"/>\n'
        '<sequenceFlow id="f1" sourceRef="s" targetRef="sub"/>\n<sequenceFlow id="f2" sourceRef="sub" targetRef="end"/>\n'))
    found = rules(xml)
    assert [(d.code, d.element_id) for d in found] == [("event.trigger_not_allowed", "e")]
    assert "a start event of a sub-process cannot have: message" in found[0].message


def test_in_a_descriptive_process_the_same_breaches_are_warnings():
    found = rules(top('<intermediateThrowEvent id="e">' + DEFS["timer"] + "</intermediateThrowEvent>",
                      executable=False))
    assert [(d.code, d.severity) for d in found] == [("event.trigger_not_allowed", "warning")]


@pytest.mark.parametrize("trigger", ["error", "compensation"])
def test_an_error_or_compensation_start_of_an_event_sub_process_must_interrupt(trigger):
    assert rules(event_subprocess(trigger)) == []
    (found,) = rules(event_subprocess(trigger, interrupting=False))
    assert found.code == "event.must_interrupt" and found.element_id == "e"


def test_a_non_interrupting_message_start_of_an_event_sub_process_is_fine():
    assert rules(event_subprocess("message", interrupting=False)) == []


@pytest.mark.parametrize("trigger", ["error", "compensation"])
def test_an_error_or_compensation_boundary_event_must_cancel_its_activity(trigger):
    assert rules(boundary(trigger)) == []
    (found,) = rules(boundary(trigger, cancel_activity=False))
    assert found.code == "event.must_interrupt"
    assert 'cancelActivity="false"' in found.message


def test_a_non_interrupting_timer_boundary_event_is_fine():
    assert rules(boundary("timer", cancel_activity=False)) == []


def test_cancel_belongs_to_transactions():
    assert rules(boundary("cancel", on="transaction")) == []
    (on_task,) = rules(boundary("cancel"))
    assert on_task.code == "event.cancel_outside_transaction" and "which is not a transaction" in on_task.message
    (ending,) = rules(end("cancel"))
    assert ending.code == "event.cancel_outside_transaction" and ending.element_id == "e"
    inside = document(process(
        '<startEvent id="s"/>\n<transaction id="tx">\n<startEvent id="tx_s"/>\n<endEvent id="e">'
        + DEFS["cancel"] + '</endEvent>\n<sequenceFlow id="g" sourceRef="tx_s" targetRef="e"/>\n</transaction>\n'
        '<endEvent id="end"/>\n<sequenceFlow id="f1" sourceRef="s" targetRef="tx"/>\n'
        '<sequenceFlow id="f2" sourceRef="tx" targetRef="end"/>\n'))
    assert rules(inside) == []


def test_no_sequence_flow_enters_or_leaves_an_event_sub_process():
    xml = event_subprocess("message").replace(
        '<sequenceFlow id="f" sourceRef="s" targetRef="end"/>',
        '<sequenceFlow id="f" sourceRef="s" targetRef="esp"/>\n<sequenceFlow id="f9" sourceRef="esp" targetRef="end"/>')
    found = [d for d in rules(xml) if d.code == "event.subprocess_flow"]
    assert [d.element_id for d in found] == ["esp"]
    assert "is an event sub-process with sequence flows coming in or going out" in found[0].message


def gateway(*branches: str) -> str:
    body = '<startEvent id="s"/>\n<eventBasedGateway id="g"/>\n<sequenceFlow id="f0" sourceRef="s" targetRef="g"/>\n'
    for i, branch in enumerate(branches):
        body += (f"{branch.format(i=i)}\n<endEvent id=\"end{i}\"/>\n"
                 f'<sequenceFlow id="in{i}" sourceRef="g" targetRef="b{i}"/>\n'
                 f'<sequenceFlow id="out{i}" sourceRef="b{i}" targetRef="end{i}"/>\n')
    return document(process(body))


def test_each_branch_of_an_event_based_gateway_waits_for_one_event():
    catch = '<intermediateCatchEvent id="b{i}">' + DEFS["message"] + "</intermediateCatchEvent>"
    timer = '<intermediateCatchEvent id="b{i}">' + DEFS["timer"] + "</intermediateCatchEvent>"
    assert rules(gateway(catch, timer, '<receiveTask id="b{i}"/>')) == []
    link = '<intermediateCatchEvent id="b{i}">' + DEFS["link"] + "</intermediateCatchEvent>"
    found = [d for d in rules(gateway(catch, link, '<serviceTask id="b{i}"/>')) if d.code == "gateway.event_target"]
    assert [d.element_id for d in found] == ["g", "g"]
    messages = " ".join(d.message for d in found)
    assert "leads to intermediate catch event b1, a link catch event" in messages
    assert "leads to service task b2; each of its branches must wait for an event" in messages


def test_a_shared_event_definition_is_checked_like_an_own_one_and_must_be_declared_at_the_top():
    shared = document('<escalationEventDefinition id="esc"/>\n', process(
        '<startEvent id="e"><eventDefinitionRef>esc</eventDefinitionRef></startEvent>\n<endEvent id="end"/>\n'
        '<sequenceFlow id="f" sourceRef="e" targetRef="end"/>\n'))
    (found,) = rules(shared)
    assert found.code == "event.trigger_not_allowed" and "escalation" in found.message
    borrowed = document(process(
        '<startEvent id="s"><eventDefinitionRef>m1</eventDefinitionRef></startEvent>\n'
        '<intermediateThrowEvent id="e"><messageEventDefinition id="m1"/></intermediateThrowEvent>\n<endEvent id="end"/>\n'
        '<sequenceFlow id="f1" sourceRef="s" targetRef="e"/>\n<sequenceFlow id="f2" sourceRef="e" targetRef="end"/>\n'))
    found = rules(borrowed)
    assert [(d.code, d.element_id) for d in found] == [("event.definition_ref", "s")]
    assert "which belongs to intermediate throw event e" in found[0].message
    assert found[0].line == line_of(borrowed, "<eventDefinitionRef>")


def links(*events: str, flows: str = "") -> str:
    """start -> throw «A» ... catch «A» -> end, with more events and flows as given."""
    return document(process(
        '<startEvent id="s"/>\n<endEvent id="end"/>\n<sequenceFlow id="f1" sourceRef="s" targetRef="throw"/>\n'
        '<sequenceFlow id="f2" sourceRef="catch" targetRef="end"/>\n' + "\n".join(events) + "\n" + flows))


THROW = '<intermediateThrowEvent id="throw" name="{name}"><linkEventDefinition name="{link}"/></intermediateThrowEvent>'
CATCH = '<intermediateCatchEvent id="{id}" name="{name}"><linkEventDefinition name="{link}"/></intermediateCatchEvent>'


def link_codes(xml: str) -> list[tuple[str, str | None]]:
    return [(d.code, d.element_id) for d in rules(xml) if d.code.startswith("event.link")]


def test_a_link_pairs_by_its_name_or_else_by_its_events_name():
    assert link_codes(links(THROW.format(name="", link="A"), CATCH.format(id="catch", name="", link="A"))) == []
    # bpmn-js leaves the link's own name empty and shows the event's.
    assert link_codes(links(THROW.format(name="Jump", link=""), CATCH.format(id="catch", name="Jump", link=""))) == []


def test_a_link_nobody_catches_or_without_any_name_is_an_error():
    missing = links(THROW.format(name="", link="A"), CATCH.format(id="catch", name="", link="B"))
    (found,) = [d for d in rules(missing) if d.code == "event.link_unmatched"]
    assert found.element_id == "throw" and found.severity == "error"
    assert "jumps to the link «A», which no link catch event of the same level" in found.message
    nameless = links(THROW.format(name="", link=""), CATCH.format(id="catch", name="", link="A"))
    assert link_codes(nameless) == [("event.link_unmatched", "throw")]


def test_a_link_does_not_jump_out_of_its_sub_process():
    inner = ('<subProcess id="sub"><startEvent id="ss"/>' + THROW.format(name="", link="A")
             + '<sequenceFlow id="g" sourceRef="ss" targetRef="throw"/></subProcess>')
    xml = links(inner, CATCH.format(id="catch", name="", link="A")).replace(
        'sourceRef="s" targetRef="throw"', 'sourceRef="s" targetRef="sub"')
    assert link_codes(xml) == [("event.link_unmatched", "throw")]


def test_two_catch_events_of_one_link_and_flows_a_jump_cannot_have():
    twice = links(THROW.format(name="", link="A"), CATCH.format(id="catch", name="", link="A"),
                  CATCH.format(id="catch2", name="", link="A"))
    assert ("event.link_unmatched", "catch2") in link_codes(twice)
    flowing = links(THROW.format(name="", link="A"), CATCH.format(id="catch", name="", link="A"),
                    flows='<sequenceFlow id="f3" sourceRef="throw" targetRef="end"/>\n'
                          '<sequenceFlow id="f4" sourceRef="s" targetRef="catch"/>')
    found = {d.element_id: d.message for d in rules(flowing) if d.code == "event.link_flow"}
    assert set(found) == {"throw", "catch"}
    assert "a link throw event with an outgoing sequence flow (f3)" in found["throw"]
    assert "a link catch event with an incoming sequence flow (f4)" in found["catch"]


def test_a_message_flow_that_runs_the_wrong_way_is_a_warning():
    xml = document(
        '<collaboration id="c"><participant id="citizen" name="Citizen"/>'
        '<participant id="agency" processRef="p"/>'
        '<messageFlow id="m1" sourceRef="wait" targetRef="citizen"/>'
        '<messageFlow id="m2" sourceRef="citizen" targetRef="end"/>'
        '<messageFlow id="m3" sourceRef="citizen" targetRef="wait"/></collaboration>\n',
        process('<startEvent id="s"/>\n<intermediateCatchEvent id="wait"><messageEventDefinition/>'
                '</intermediateCatchEvent>\n<endEvent id="end"/>\n<sequenceFlow id="f1" sourceRef="s" targetRef="wait"/>\n'
                '<sequenceFlow id="f2" sourceRef="wait" targetRef="end"/>\n'))
    direction = {d.element_id: d for d in rules(xml) if d.code == "messageflow.direction"}
    assert set(direction) == {"m1", "m2"}
    assert all(d.severity == "warning" for d in direction.values())
    assert "leaves intermediate catch event wait, which cannot send a message" in direction["m1"].message
    assert "reaches end event end, which cannot receive a message" in direction["m2"].message


@pytest.mark.parametrize(("declared", "ref", "problem"), [
    ('<escalation id="esc" escalationCode="LATE"/>', 'escalationRef="esc"', None),
    ('<escalation id="esc"/>', 'escalationRef="esc"', "escalation esc has no escalationCode"),
    ('<escalation id="esc" escalationCode="LATE"/>', "", "it names no escalation (escalationRef)"),
])
def test_a_thrown_escalation_names_an_escalation_with_a_code(declared: str, ref: str, problem: str | None):
    for build in (end, lambda t: top(f'<intermediateThrowEvent id="e">{DEFS[t]}</intermediateThrowEvent>')):
        xml = build("escalation").replace("<escalationEventDefinition/>", f"<escalationEventDefinition {ref}/>")
        xml = xml.replace("<process ", declared + "\n<process ", 1)
        found = [d for d in validate(model_of(xml)) if d.code == "event.escalation_code"]
        if problem is None:
            assert found == []
        else:
            (one,) = found
            assert problem in one.message and one.element_id == "e" and one.severity == "error"


def test_a_sub_process_without_an_id_is_a_level_of_its_own_for_links():
    inner = ('<subProcess><startEvent id="ss"/>' + THROW.format(name="", link="A")
             + '<sequenceFlow id="g" sourceRef="ss" targetRef="throw"/></subProcess>')
    outer_catch = CATCH.format(id="catch", name="", link="A")
    # The only catch event of «A» is outside the sub-process: the throw inside cannot reach it.
    found = link_codes(links(inner, outer_catch).replace('sourceRef="s" targetRef="throw"',
                                                         'sourceRef="s" targetRef="catch"'))
    assert sorted(found) == [("event.link_flow", "catch"), ("event.link_unmatched", "throw")]


def test_an_event_based_gateway_chooses_between_two_events_at_least():
    catch = '<intermediateCatchEvent id="b{i}">' + DEFS["message"] + "</intermediateCatchEvent>"
    (found,) = rules(gateway(catch))
    assert found.code == "gateway.event_target" and found.element_id == "g"
    assert "has 1 outgoing sequence flow: an event-based gateway chooses between two or more events" in found.message


"""The executability check turns every SpiffWorkflow failure into a diagnostic."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from bpmn.diagnostics import Diagnostic
from bpmn.load import load_path
from bpmn.model import read_model
from engine.spiff import LIBRARY_WARNING, NOT_BUILDABLE, Executability, check_executable
from tests.bpmn.bpmn_snippets import CHAIN, document, line_of, model_of, process


def check(xml: str) -> Executability:
    return check_executable(model_of(xml))


def failure(xml: str) -> Diagnostic:
    result = check(xml)
    found = [d for d in result.diagnostics if d.code == NOT_BUILDABLE]
    assert len(found) == 1, result
    return found[0]


def test_a_clean_chain_builds():
    result = check(document(process(CHAIN)))
    assert result.processes == {"p": True}
    assert result.buildable == ["p"]
    assert result.diagnostics == []


def test_sample_models_build(samples: list[Path]):
    assert len(samples) == 8
    for path in samples:
        (source,) = load_path(path)
        model = read_model(source)
        result = check_executable(model)
        assert result.processes and all(result.processes.values()), (path.name, result)
        assert [d for d in result.diagnostics if d.severity == "error"] == [], path.name


def test_the_tree_is_not_changed_and_the_library_registries_stay_untouched(samples: list[Path]):
    (source,) = load_path(samples[0])
    before = etree.tostring(source.root)
    check_executable(read_model(source))
    check_executable(model_of(document(
        '<dataStore id="DS" name="Archive"/>\n', process(CHAIN))))
    assert etree.tostring(source.root) == before
    assert SpiffBpmnParser.DATA_STORE_CLASSES == {} and BpmnParser.DATA_STORE_CLASSES == {}


# --- the library's TypeError on missing references ---------------------------------

@pytest.mark.parametrize(("definition", "kind"), [
    ('<errorEventDefinition id="ed" errorRef="Err_gone"/>', "error"),
    ('<messageEventDefinition id="ed" messageRef="Msg_gone"/>', "message"),
    ('<signalEventDefinition id="ed" signalRef="Sig_gone"/>', "signal"),
    ('<escalationEventDefinition id="ed" escalationRef="Esc_gone"/>', "escalation"),
])
def test_event_referring_to_nothing_is_a_diagnostic(definition: str, kind: str):
    tag = "intermediateCatchEvent" if kind in ("message", "signal") else "endEvent"
    if tag == "endEvent":
        body = CHAIN.replace('<endEvent id="end" name="Done"/>',
                             f'<endEvent id="end" name="Done">{definition}</endEvent>')
        element = "end"
    else:
        body = CHAIN.replace('<task id="check" name="Check the deed"/>',
                             f'<{tag} id="check" name="Wait">{definition}</{tag}>')
        element = "check"
    xml = document(process(body))
    d = failure(xml)
    assert (d.severity, d.element_id, d.line) == ("error", element, line_of(xml, f'id="{element}"'))
    assert f"the {kind} '" in d.message and "not defined in this file" in d.message
    assert check(xml).processes == {"p": False}


def test_message_ref_with_a_prefix_is_explained():
    xml = document('<message id="M1" name="booking"/>\n', process(CHAIN.replace(
        '<task id="check" name="Check the deed"/>',
        '<intermediateCatchEvent id="check"><messageEventDefinition messageRef="tns:M1"/>'
        '</intermediateCatchEvent>')))
    assert "write the bare id 'M1'" in failure(xml).message


# --- what the corpus README lists ----------------------------------------------------

def test_data_stores_are_supported():
    body = CHAIN.replace(
        '<task id="check" name="Check the deed"/>',
        '<task id="check" name="Check the deed"><property id="prop"/>'
        '<dataInputAssociation id="dia"><sourceRef>dsr</sourceRef><targetRef>prop</targetRef>'
        '</dataInputAssociation></task>\n<dataStoreReference id="dsr" name="Land registry" dataStoreRef="DS"/>')
    result = check(document('<dataStore id="DS" name="Land registry"/>\n', process(body)))
    assert result.processes == {"p": True}, result.diagnostics


def test_data_store_without_a_name_is_reported_once():
    xml = document('<dataStore id="DS"/>\n', process(CHAIN), process(CHAIN, pid="q"))
    result = check(xml)
    assert result.processes == {"p": False, "q": False}
    d = failure(xml)
    assert (d.element_id, d.line) == ("DS", line_of(xml, "<dataStore")) and "no name" in d.message


def test_timer_without_a_time():
    xml = document(process(CHAIN.replace(
        '<task id="check" name="Check the deed"/>',
        '<intermediateCatchEvent id="wait" name="A week"><timerEventDefinition/></intermediateCatchEvent>'
    ).replace('"check"', '"wait"')))
    d = failure(xml)
    assert (d.element_id, d.line) == ("wait", line_of(xml, 'id="wait"'))
    assert "timer" in d.message and "«A week»" in d.message


def test_call_activity_without_called_element():
    xml = document(process(CHAIN.replace('<task id="check" name="Check the deed"/>',
                                         '<callActivity id="check" name="Check the deed"/>')))
    d = failure(xml)
    assert (d.severity, d.element_id) == ("error", "check") and "calledElement" in d.message


def test_call_activity_to_a_process_of_another_model_still_builds():
    # What it will run depends on what is deployed: engine.deploy says so (tests/engine/test_call_elsewhere.py).
    xml = document(process(CHAIN.replace('<task id="check" name="Check the deed"/>',
                                         '<callActivity id="check" calledElement="elsewhere"/>')))
    result = check(xml)
    assert result.processes == {"p": True}
    assert result.diagnostics == []


def test_no_start_event_and_an_end_event():
    # BPMN requires a start event wherever there is an end event, so this level does not start implicitly.
    body = CHAIN.replace('<startEvent id="start" name="Request received"/>\n', "").replace(
        '<sequenceFlow id="f1" sourceRef="start" targetRef="check"/>\n', "")
    xml = document(process(body))
    d = failure(xml)
    assert (d.element_id, d.line) == ("p", line_of(xml, "<process")) and "no start event" in d.message


def test_neither_start_nor_end_event_is_an_implicit_start():
    body = '<task id="check" name="Check the deed"/>\n'
    assert check(document(process(body))).processes == {"p": True}


def test_unconditioned_gateway_flow_names_the_flow():
    body = CHAIN.replace('<endEvent id="end" name="Done"/>',
                         '<exclusiveGateway id="gw"/>\n<endEvent id="end"/>\n<endEvent id="end2"/>').replace(
        '<sequenceFlow id="f2" sourceRef="check" targetRef="end"/>',
        '<sequenceFlow id="f2" sourceRef="check" targetRef="gw"/>\n'
        '<sequenceFlow id="fa" name="Yes" sourceRef="gw" targetRef="end"/>\n'
        '<sequenceFlow id="fb" name="No" sourceRef="gw" targetRef="end2"/>')
    xml = document(process(body))
    d = failure(xml)
    assert d.element_id in ("fa", "fb") and d.line == line_of(xml, f'id="{d.element_id}"')
    assert "without a condition" in d.message


def test_service_task_without_operator():
    xml = document(process(CHAIN.replace('<task id="check" name="Check the deed"/>',
                                         '<serviceTask id="check" name="Ask the registry"/>')))
    assert "serviceTaskOperator" in failure(xml).message


def test_sequence_flows_without_ids_make_a_process_unbuildable():
    xml = document(process(CHAIN.replace(' id="f2"', "")))
    result = check(xml)
    assert result.processes == {"p": False}
    assert "without 1 of its sequence flows" in failure(xml).message


def test_models_marking_no_process_executable_are_checked_with_warnings():
    body = CHAIN.replace('<startEvent id="start" name="Request received"/>\n', "").replace(
        '<sequenceFlow id="f1" sourceRef="start" targetRef="check"/>\n', "")  # an end event and no start
    result = check(document(process(CHAIN, executable=False), process(body, executable=False, pid="q")))
    assert result.processes == {"p": True, "q": False}
    assert [d.severity for d in result.diagnostics] == ["warning"]


def test_only_processes_marked_executable_are_checked_when_some_are():
    result = check(document(process(CHAIN), process("<task id='x'/>\n", executable=False, pid="q")))
    assert result.processes == {"p": True}


def test_a_long_path_builds_without_recursing():
    # SpiffWorkflow 3.2.0 parses flow targets recursively and fails near 300 steps; our parser
    # connects held flows from a work list (engine.spiff._IterativeParsing).
    steps = "".join(f'<task id="t{i}"/>\n<sequenceFlow id="g{i}" sourceRef="{"start" if i == 0 else f"t{i - 1}"}" '
                    f'targetRef="t{i}"/>\n' for i in range(2000))
    body = ('<startEvent id="start"/>\n' + steps + '<endEvent id="end"/>\n'
            '<sequenceFlow id="gz" sourceRef="t1999" targetRef="end"/>\n')
    result = check(document(process(body)))
    assert result.processes == {"p": True}
    assert result.diagnostics == []


def test_library_warnings_become_diagnostics_not_warnings():
    xml = document(
        '<message id="M1" name="booking"><extensionElements>'
        '<spiffworkflow:messageVariable>booking</spiffworkflow:messageVariable>'
        '</extensionElements></message>\n',
        process(CHAIN.replace('<task id="check" name="Check the deed"/>',
                              '<intermediateCatchEvent id="check"><messageEventDefinition messageRef="M1"/>'
                              '</intermediateCatchEvent>')))
    result = check(xml)  # filterwarnings = error: a warning escaping would fail this test
    assert result.processes == {"p": True}
    assert [d.code for d in result.diagnostics] == [LIBRARY_WARNING]


def test_an_event_sub_process_that_starts_on_a_condition_builds_without_a_warning():
    # The engine watches such conditions (tests/engine/test_event_scopes.py): nothing to warn about.
    handler = ('<subProcess id="late" name="Late reply" triggeredByEvent="true">\n'
               '<startEvent id="late_start"><conditionalEventDefinition><condition>days &gt; 10</condition>'
               '</conditionalEventDefinition></startEvent>\n'
               '<endEvent id="late_end"/><sequenceFlow id="l1" sourceRef="late_start" targetRef="late_end"/>\n'
               '</subProcess>\n')
    result = check(document(process(CHAIN + handler)))
    assert result.processes == {"p": True}
    assert result.diagnostics == []

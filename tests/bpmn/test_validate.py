"""Validation finds each structural problem and says where it is."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from bpmn import xsd
from bpmn.diagnostics import Diagnostic, sort_key
from bpmn.validate import validate
from tests.bpmn.bpmn_snippets import CHAIN, document, line_of, model_of, process


def run(xml: str) -> list[Diagnostic]:
    return validate(model_of(xml))


def only(xml: str, code: str) -> list[Diagnostic]:
    return [d for d in run(xml) if d.code == code]


def the_one(xml: str, code: str) -> Diagnostic:
    found = only(xml, code)
    assert len(found) == 1, run(xml)
    return found[0]


# --- a clean model ---------------------------------------------------------------

def test_a_clean_chain_has_only_the_missing_diagram_note():
    diags = run(document(process(CHAIN)))
    assert [(d.severity, d.code, d.element_id) for d in diags] == [("info", "di.missing", "p")]


def test_sample_models_have_no_errors(samples: list[Path]):
    from bpmn.load import load_path
    from bpmn.model import read_model

    assert len(samples) == 8
    for path in samples:
        (source,) = load_path(path)
        diags = validate(read_model(source))
        errors = [d for d in diags if d.severity == "error"]
        assert errors == [], (path.name, errors)
        assert not [d for d in diags if d.code.startswith("xsd.")], path.name


def test_results_are_sorted_errors_first():
    xml = document(process(CHAIN.replace('targetRef="end"', 'targetRef="nowhere"')
                           + '<task id="lonely"/>\n'))
    diags = run(xml)
    assert diags == sorted(diags, key=sort_key)
    assert diags[0].severity == "error"


# --- schema ---------------------------------------------------------------------

def test_schema_error_names_element_and_line():
    xml = document(process(CHAIN.replace('<task id="check"', '<task id="check" colour="red"')))
    d = the_one(xml, "xsd.invalid")
    assert (d.severity, d.element_id, d.line) == ("error", "check", line_of(xml, 'id="check"'))
    assert "colour" in d.message and "bpmn:task" in d.message


def test_vendor_element_out_of_place_is_only_a_warning():
    xml = document(process(CHAIN + '<v:note xmlns:v="http://vendor.example/x">hi</v:note>\n'))
    d = the_one(xml, "xsd.extension")
    assert d.severity == "warning" and d.line == line_of(xml, "<v:note")
    assert not only(xml, "xsd.invalid")


def test_diagram_schema_error_is_a_warning():
    xml = document(process(CHAIN), '<bpmndi:BPMNDiagram id="dg"><bpmndi:BPMNPlane id="pl" bpmnElement="p">\n'
                   '<bpmndi:BPMNEdge id="f1_di" bpmnElement="f1"/>\n</bpmndi:BPMNPlane></bpmndi:BPMNDiagram>\n')
    d = the_one(xml, "xsd.invalid_diagram")
    assert (d.severity, d.element_id, d.line) == ("warning", "f1_di", line_of(xml, "<bpmndi:BPMNEdge"))


def test_schema_diagnostics_are_capped_with_a_count_of_the_rest():
    tasks = "".join(f'<task id="t{i}" colour="red"/>\n' for i in range(30))
    diags = [d for d in run(document(process(CHAIN + tasks))) if d.code.startswith("xsd.")]
    assert len(diags) == xsd.MAX_SCHEMA_DIAGNOSTICS + 1
    assert diags[-1].code == "xsd.more" and diags[-1].severity == "info"
    assert "10 more" in diags[-1].message


def test_schema_is_compiled_once():
    assert xsd.bpmn_schema() is xsd.bpmn_schema()


def test_schema_loader_refuses_anything_but_the_shipped_files():
    evil = (b'<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:x">'
            b'<xsd:import namespace="urn:y" schemaLocation="http://attacker.example/y.xsd"/></xsd:schema>')
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    parser.resolvers.add(xsd._ShippedFilesOnly())
    doc = etree.fromstring(evil, parser)
    with pytest.raises((xsd.SchemaUnavailable, etree.XMLSchemaParseError)) as caught:
        etree.XMLSchema(doc)
    assert "attacker.example" in str(caught.value)


# --- processes and sub-processes --------------------------------------------------

def test_no_process_at_all():
    d = the_one(document('<message id="m" name="hello"/>\n'), "model.no_process")
    assert (d.severity, d.element_id) == ("error", "defs")


@pytest.mark.parametrize("executable", [True, False])
def test_neither_start_nor_end_event_is_bpmns_implicit_start(executable: bool):
    # Every element no flow leads to starts the process (BPMN 2.0 §10.5.2); the engine runs that.
    body = '<task id="check" name="Check the deed"/>\n<task id="file" name="File it"/>\n' \
           '<sequenceFlow id="f1" sourceRef="check" targetRef="file"/>\n'
    xml = document(process(body, executable=executable))
    d = the_one(xml, "process.no_start_event")
    assert (d.severity, d.element_id, d.line) == ("warning", "p", line_of(xml, "<process"))
    assert "«Licence»" in d.message and "leads to («Check the deed» (check))" in d.message


@pytest.mark.parametrize(("executable", "severity"), [(True, "error"), (False, "warning")])
def test_an_end_event_without_a_start_event(executable: bool, severity: str):
    # BPMN requires a start event wherever there is an end event: no implicit start then.
    body = CHAIN.replace('<startEvent id="start" name="Request received"/>\n', "")
    body = body.replace('<sequenceFlow id="f1" sourceRef="start" targetRef="check"/>\n', "")
    xml = document(process(body, executable=executable))
    d = the_one(xml, "process.no_start_event")
    assert (d.severity, d.element_id, d.line) == (severity, "p", line_of(xml, "<process"))
    assert "end event but no start event" in d.message


@pytest.mark.parametrize(("executable", "severity"), [(True, "error"), (False, "warning")])
def test_no_start_event_and_nothing_begins_the_process(executable: bool, severity: str):
    body = '<task id="check"/>\n<sequenceFlow id="f1" sourceRef="check" targetRef="check"/>\n'
    d = the_one(document(process(body, executable=executable)), "process.no_start_event")
    assert (d.severity, d.element_id) == (severity, "p")
    assert "nothing begins it" in d.message


def test_sub_process_without_start_or_end_event():
    sub = ('<subProcess id="sub" name="Inspection">\n<task id="inner"/>\n</subProcess>\n'
           '<sequenceFlow id="f3" sourceRef="check" targetRef="sub"/>\n')
    xml = document(process(CHAIN + sub))
    d = the_one(xml, "process.no_start_event")
    assert (d.severity, d.element_id, d.line) == ("warning", "sub", line_of(xml, '<subProcess'))
    assert "«Inspection»" in d.message and "(inner)" in d.message


def test_sub_process_with_an_end_event_and_no_start_event():
    sub = ('<subProcess id="sub" name="Inspection">\n<task id="inner"/>\n<endEvent id="inner_end"/>\n'
           '<sequenceFlow id="fi" sourceRef="inner" targetRef="inner_end"/>\n</subProcess>\n'
           '<sequenceFlow id="f3" sourceRef="check" targetRef="sub"/>\n')
    xml = document(process(CHAIN + sub))
    d = the_one(xml, "process.no_start_event")
    assert (d.severity, d.element_id, d.line) == ("error", "sub", line_of(xml, '<subProcess'))


def test_event_sub_process_without_start_event_is_an_error():
    sub = ('<subProcess id="sub" name="On cancel" triggeredByEvent="true">\n<task id="inner"/>\n'
           '</subProcess>\n')
    d = the_one(document(process(CHAIN + sub)), "process.no_start_event")
    assert (d.severity, d.element_id) == ("error", "sub") and "nothing triggers it" in d.message


@pytest.mark.parametrize(("executable", "expected"), [(True, ["error"]), (False, [])])
def test_empty_sub_process_matters_only_when_executable(executable: bool, expected: list[str]):
    body = CHAIN + ('<subProcess id="sub" name="To be detailed"/>\n'
                    '<sequenceFlow id="f3" sourceRef="check" targetRef="sub"/>\n')
    found = only(document(process(body, executable=executable)), "process.no_start_event")
    assert [d.severity for d in found] == expected
    assert all("is empty" in d.message and d.element_id == "sub" for d in found)


def test_sub_process_with_two_start_events():
    sub = ('<subProcess id="sub">\n<startEvent id="s1"/>\n<startEvent id="s2"/>\n<endEvent id="e1"/>\n'
           '<sequenceFlow id="fa" sourceRef="s1" targetRef="e1"/>\n'
           '<sequenceFlow id="fb" sourceRef="s2" targetRef="e1"/>\n'
           '</subProcess>\n<sequenceFlow id="f3" sourceRef="check" targetRef="sub"/>\n')
    d = the_one(document(process(CHAIN + sub)), "process.start_events")
    assert d.element_id == "sub" and "2 start events" in d.message


def test_no_end_event_is_a_warning():
    body = CHAIN.replace('<endEvent id="end" name="Done"/>\n', "").replace(
        '<sequenceFlow id="f2" sourceRef="check" targetRef="end"/>\n', "")
    xml = document(process(body))
    d = the_one(xml, "process.no_end_event")
    assert (d.severity, d.element_id, d.line) == ("warning", "p", line_of(xml, "<process"))


# --- sequence flows -------------------------------------------------------------

def test_flow_to_nowhere():
    xml = document(process(CHAIN.replace('targetRef="end"', 'targetRef="Task_deleted"')))
    d = the_one(xml, "flow.dangling")
    assert (d.severity, d.element_id, d.line) == ("error", "f2", line_of(xml, 'id="f2"'))
    assert "'Task_deleted'" in d.message


def test_flow_without_source():
    xml = document(process(CHAIN + '<sequenceFlow id="f9" targetRef="end"/>\n'))
    d = next(d for d in only(xml, "flow.dangling") if d.element_id == "f9")
    assert "no sourceRef" in d.message and d.line == line_of(xml, 'id="f9"')


def test_a_flow_leaving_an_end_event_is_an_error():
    # The shape of betsy's EXT104: run anyway, each round ended the process again and left a pending end.
    xml = document(process(CHAIN + '<sequenceFlow id="back" name="again" sourceRef="end" targetRef="check"/>\n'))
    d = the_one(xml, "flow.from_end_event")
    assert (d.severity, d.element_id, d.line) == ("error", "end", line_of(xml, 'id="end"'))
    assert "«again» (back)" in d.message and "end event" in d.message
    assert not only(document(process(CHAIN)), "flow.from_end_event")


def test_a_flow_into_a_start_or_boundary_event_is_an_error():
    xml = document(process(CHAIN + '<sequenceFlow id="in" sourceRef="check" targetRef="start"/>\n'
                           '<boundaryEvent id="late" attachedToRef="check"><timerEventDefinition>'
                           '<timeDuration>PT1H</timeDuration></timerEventDefinition></boundaryEvent>\n'
                           '<sequenceFlow id="in2" sourceRef="start" targetRef="late"/>\n'))
    found = {d.element_id: d for d in only(xml, "flow.into_start_event")}
    assert set(found) == {"start", "late"}
    assert found["start"].severity == "error" and "a start event begins a path" in found["start"].message
    assert found["late"].line == line_of(xml, 'id="late"') and "a boundary event" in found["late"].message


def test_flow_into_a_sub_process_crosses_its_border():
    sub = ('<subProcess id="sub" name="Inspection">\n<startEvent id="ss"/>\n<task id="inner" name="Visit"/>\n'
           '<endEvent id="se"/>\n<sequenceFlow id="fs1" sourceRef="ss" targetRef="inner"/>\n'
           '<sequenceFlow id="fs2" sourceRef="inner" targetRef="se"/>\n</subProcess>\n'
           '<sequenceFlow id="jump" sourceRef="check" targetRef="inner"/>\n'
           '<sequenceFlow id="f3" sourceRef="check" targetRef="sub"/>\n')
    xml = document(process(CHAIN + sub))
    d = the_one(xml, "flow.crosses_boundary")
    assert (d.element_id, d.line) == ("jump", line_of(xml, 'id="jump"'))
    assert "«Visit»" in d.message and "«Inspection»" in d.message


def test_flow_into_another_pool_crosses_the_pool():
    other = process('<startEvent id="s_other"/>\n<endEvent id="e_other"/>\n'
                    '<sequenceFlow id="fo" sourceRef="s_other" targetRef="e_other"/>\n', pid="q", name="Bank")
    xml = document(process(CHAIN + '<sequenceFlow id="leak" sourceRef="check" targetRef="e_other"/>\n'), other)
    d = the_one(xml, "flow.crosses_boundary")
    assert d.element_id == "leak" and "message flow" in d.message


def test_incoming_and_outgoing_lists_must_match_the_flows():
    body = CHAIN.replace('<task id="check" name="Check the deed"/>',
                         '<task id="check" name="Check the deed"><incoming>f1</incoming>'
                         '<outgoing>f7</outgoing></task>')
    xml = document(process(body))
    d = the_one(xml, "flow.list_mismatch")
    assert (d.severity, d.element_id, d.line) == ("warning", "check", line_of(xml, 'id="check"'))
    assert "f7" in d.message and "f2" in d.message


def test_flows_without_ids_are_reported_per_process():
    xml = document(process(CHAIN.replace(' id="f2"', "")))
    d = the_one(xml, "id.missing")
    assert (d.severity, d.element_id, d.line) == ("error", None, line_of(xml, 'sourceRef="check"'))


def test_duplicate_ids_name_both_lines():
    xml = document(process(CHAIN + '<task id="check" name="Again"/>\n'))
    d = the_one(xml, "id.duplicate")
    first, second = line_of(xml, 'id="check"'), line_of(xml, 'name="Again"')
    assert (d.severity, d.element_id, d.line) == ("error", "check", second)
    assert str(first) in d.message and str(second) in d.message


# --- gateways -------------------------------------------------------------------

GATEWAY = """\
<startEvent id="start"/>
<exclusiveGateway id="gw" name="Deed valid?"{default}/>
<task id="yes" name="Issue"/>
<task id="no" name="Reject"/>
<endEvent id="end"/>
<sequenceFlow id="f0" sourceRef="start" targetRef="gw"/>
<sequenceFlow id="f_yes" name="Yes" sourceRef="gw" targetRef="yes">{yes}</sequenceFlow>
<sequenceFlow id="f_no" name="No" sourceRef="gw" targetRef="no">{no}</sequenceFlow>
<sequenceFlow id="f3" sourceRef="yes" targetRef="end"/>
<sequenceFlow id="f4" sourceRef="no" targetRef="end"/>
"""
COND = "<conditionExpression>valid == True</conditionExpression>"


def gateway(default: str = "", yes: str = "", no: str = "", tag: str = "exclusiveGateway") -> str:
    body = GATEWAY.format(default=f' default="{default}"' if default else "", yes=yes, no=no)
    return document(process(body.replace("exclusiveGateway", tag)))


def test_a_gateway_with_a_condition_and_a_default_is_fine():
    assert not [d for d in run(gateway(default="f_no", yes=COND)) if d.code.startswith(("gateway.", "flow."))]


@pytest.mark.parametrize("tag", ["exclusiveGateway", "inclusiveGateway"])
def test_unconditioned_flows_out_of_a_deciding_gateway(tag: str):
    xml = gateway(yes=COND, tag=tag)
    d = the_one(xml, "gateway.unconditioned_flow")
    assert (d.severity, d.element_id, d.line) == ("error", "gw", line_of(xml, 'id="gw"'))
    assert "«No» (f_no)" in d.message and "«Yes»" not in d.message


def test_default_flow_must_leave_the_gateway():
    xml = gateway(default="f3", yes=COND)
    d = the_one(xml, "flow.default_not_outgoing")
    assert (d.severity, d.element_id) == ("error", "gw") and "'f3'" in d.message


def test_condition_on_the_default_flow_is_ignored():
    xml = gateway(default="f_no", yes=COND, no=COND)
    d = the_one(xml, "flow.default_has_condition")
    assert (d.severity, d.element_id, d.line) == ("warning", "f_no", line_of(xml, 'id="f_no"'))


def test_conditions_after_a_parallel_gateway_are_ignored():
    d = the_one(gateway(yes=COND, tag="parallelGateway"), "gateway.condition_ignored")
    assert d.element_id == "gw" and "f_yes" in d.message


def test_implicit_split_and_join():
    body = CHAIN + ('<task id="notify" name="Notify"/>\n'
                    '<sequenceFlow id="f5" sourceRef="check" targetRef="notify"/>\n'
                    '<sequenceFlow id="f6" sourceRef="notify" targetRef="end"/>\n'
                    '<sequenceFlow id="f7" sourceRef="start" targetRef="notify"/>\n')
    xml = document(process(body))
    split = [d for d in only(xml, "node.implicit_split") if d.element_id == "check"]
    assert len(split) == 1 and split[0].severity == "warning" and split[0].line == line_of(xml, 'id="check"')
    join = the_one(xml, "node.implicit_join")
    assert (join.severity, join.element_id) == ("info", "notify")


# --- reachability ----------------------------------------------------------------

def test_a_step_nothing_leads_to_is_unreachable():
    xml = document(process(CHAIN + '<userTask id="orphan" name="Archive the file"/>\n'))
    d = the_one(xml, "node.unreachable")
    assert (d.severity, d.element_id, d.line) == ("warning", "orphan", line_of(xml, 'id="orphan"'))
    assert "«Archive the file»" in d.message


def test_start_like_elements_need_no_incoming_flow():
    extra = (
        '<boundaryEvent id="late" attachedToRef="check"><timerEventDefinition>'
        '<timeDuration>P1D</timeDuration></timerEventDefinition></boundaryEvent>\n'
        '<task id="undo" isForCompensation="true"/>\n'
        '<intermediateCatchEvent id="landing"><linkEventDefinition name="L"/></intermediateCatchEvent>\n'
        '<subProcess id="on_error" triggeredByEvent="true">\n<startEvent id="es"><errorEventDefinition/>'
        '</startEvent>\n<endEvent id="ee"/>\n<sequenceFlow id="fe" sourceRef="es" targetRef="ee"/>\n</subProcess>\n'
        '<sequenceFlow id="fl" sourceRef="late" targetRef="end"/>\n'
        '<sequenceFlow id="fk" sourceRef="landing" targetRef="end"/>\n')
    assert only(document(process(CHAIN + extra)), "node.unreachable") == []


# --- events ---------------------------------------------------------------------

def timer(definition: str) -> str:
    return document(process(CHAIN.replace(
        '<task id="check" name="Check the deed"/>',
        f'<intermediateCatchEvent id="wait" name="Wait a week">{definition}</intermediateCatchEvent>'
    ).replace('"check"', '"wait"')))


def test_timer_without_a_time():
    xml = timer('<timerEventDefinition id="td"/>')
    d = the_one(xml, "event.timer_without_time")
    assert (d.severity, d.element_id, d.line) == ("error", "wait", line_of(xml, 'id="td"'))
    assert "«Wait a week»" in d.message


def test_timer_with_an_empty_duration():
    d = the_one(timer("<timerEventDefinition><timeDuration> </timeDuration></timerEventDefinition>"),
                "event.timer_without_time")
    assert "empty timeDuration" in d.message


def test_timer_with_a_time_is_fine():
    xml = timer("<timerEventDefinition><timeDuration>P7D</timeDuration></timerEventDefinition>")
    assert only(xml, "event.timer_without_time") == []


@pytest.mark.parametrize(("definition", "kind"), [
    ('<errorEventDefinition errorRef="Err_gone"/>', "error"),
    ('<messageEventDefinition messageRef="Msg_gone"/>', "message"),
    ('<signalEventDefinition signalRef="Sig_gone"/>', "signal"),
    ('<escalationEventDefinition escalationRef="Esc_gone"/>', "escalation"),
])
def test_event_definition_naming_nothing(definition: str, kind: str):
    xml = document(process(CHAIN.replace('<endEvent id="end" name="Done"/>',
                                         f'<endEvent id="end" name="Done">{definition}</endEvent>')))
    d = the_one(xml, "event.unknown_ref")
    assert (d.severity, d.element_id, d.line) == ("error", "end", line_of(xml, definition[:20]))
    assert f"the {kind} '" in d.message


def test_event_definition_naming_the_wrong_kind():
    xml = document('<signal id="S1" name="go"/>\n', process(CHAIN.replace(
        '<endEvent id="end" name="Done"/>', '<endEvent id="end"><errorEventDefinition errorRef="S1"/></endEvent>')))
    assert "not a error" in the_one(xml, "event.unknown_ref").message


def test_event_definition_with_a_defined_ref_is_fine():
    xml = document('<error id="E1" errorCode="E"/>\n', process(CHAIN.replace(
        '<endEvent id="end" name="Done"/>', '<endEvent id="end"><errorEventDefinition errorRef="E1"/></endEvent>')))
    assert only(xml, "event.unknown_ref") == []


@pytest.mark.parametrize(("attached", "words"), [
    ("", "attachedToRef is missing"), ("Task_gone", "not in this file"), ("end", "not an activity")])
def test_boundary_event_not_on_an_activity(attached: str, words: str):
    attr = f' attachedToRef="{attached}"' if attached else ""
    xml = document(process(CHAIN + f'<boundaryEvent id="b"{attr}><timerEventDefinition><timeDuration>P1D'
                                   '</timeDuration></timerEventDefinition></boundaryEvent>\n'))
    d = the_one(xml, "event.boundary_unattached")
    assert (d.severity, d.element_id, d.line) == ("error", "b", line_of(xml, 'id="b"'))
    assert words in d.message


# --- call activities ------------------------------------------------------------

def call(attr: str, *extra: str) -> str:
    return document(process(CHAIN.replace('<task id="check" name="Check the deed"/>',
                                          f'<callActivity id="check" name="Check the deed"{attr}/>')), *extra)


def test_call_activity_without_called_element():
    xml = call("")
    d = the_one(xml, "call.no_called_element")
    assert (d.severity, d.element_id, d.line) == ("error", "check", line_of(xml, "<callActivity"))


def test_call_activity_calling_a_process_elsewhere_is_a_warning():
    d = the_one(call(' calledElement="deed_check"'), "call.unknown_process")
    assert d.severity == "warning" and "'deed_check'" in d.message


def test_call_activity_calling_an_expression():
    assert the_one(call(' calledElement="${which}"'), "call.dynamic_target").severity == "warning"


def test_call_activity_calling_a_process_of_the_file_is_fine():
    callee = process('<startEvent id="cs"/>\n<endEvent id="ce"/>\n<sequenceFlow id="cf" sourceRef="cs" '
                     'targetRef="ce"/>\n', pid="deed_check", name="Deed check")
    assert not [d for d in run(call(' calledElement="deed_check"', callee)) if d.code.startswith("call.")]


# --- collaborations, lanes, data, diagrams ----------------------------------------

def collaboration(flows: str, participants: str = "") -> str:
    return document(
        '<collaboration id="c">\n<participant id="pool_a" name="Agency" processRef="p"/>\n'
        f'<participant id="pool_c" name="Citizen"/>\n{participants}{flows}</collaboration>\n',
        process(CHAIN))


def test_message_flow_to_nowhere():
    xml = collaboration('<messageFlow id="mf" sourceRef="pool_c" targetRef="Task_gone"/>\n')
    d = the_one(xml, "messageflow.dangling")
    assert (d.severity, d.element_id, d.line) == ("error", "mf", line_of(xml, 'id="mf"'))


def test_message_flow_inside_one_pool():
    d = the_one(collaboration('<messageFlow id="mf" sourceRef="start" targetRef="check"/>\n'),
                "messageflow.same_pool")
    assert d.element_id == "mf"


def test_pool_showing_a_missing_process():
    xml = collaboration("", '<participant id="pool_x" name="Bank" processRef="bank_process"/>\n')
    d = the_one(xml, "participant.dangling")
    assert (d.severity, d.element_id, d.line) == ("error", "pool_x", line_of(xml, 'id="pool_x"'))


def test_lane_listing_a_missing_step():
    lanes = ('<laneSet id="ls">\n<lane id="clerk" name="Clerk">\n<flowNodeRef>check</flowNodeRef>\n'
             '<flowNodeRef>Task_gone</flowNodeRef>\n</lane>\n</laneSet>\n')
    xml = document(process(lanes + CHAIN))
    d = the_one(xml, "lane.dangling")
    assert (d.severity, d.element_id, d.line) == ("warning", "clerk", line_of(xml, 'id="clerk"'))
    assert "'Task_gone'" in d.message and "'check'" not in d.message


def test_data_association_to_a_missing_data_object():
    body = CHAIN.replace('<task id="check" name="Check the deed"/>',
                         '<task id="check" name="Check the deed"><property id="prop"/>'
                         '<dataInputAssociation id="dia"><sourceRef>Deed_gone</sourceRef>'
                         '<targetRef>prop</targetRef></dataInputAssociation></task>')
    xml = document(process(body))
    d = the_one(xml, "data.dangling")
    assert (d.severity, d.element_id) == ("error", "check") and "'Deed_gone'" in d.message


def test_data_object_reference_to_a_missing_data_object():
    xml = document(process(CHAIN + '<dataObjectReference id="dor" name="Deed" dataObjectRef="DO_gone"/>\n'))
    d = the_one(xml, "data.dangling")
    assert (d.element_id, d.line) == ("dor", line_of(xml, 'id="dor"'))


def test_diagram_shape_for_a_missing_element():
    xml = document(process(CHAIN), '<bpmndi:BPMNDiagram id="dg"><bpmndi:BPMNPlane id="pl" bpmnElement="p">\n'
                   '<bpmndi:BPMNShape id="ghost_di" bpmnElement="ghost"><dc:Bounds x="0" y="0" width="10" '
                   'height="10"/></bpmndi:BPMNShape>\n</bpmndi:BPMNPlane></bpmndi:BPMNDiagram>\n')
    d = the_one(xml, "di.dangling")
    assert (d.severity, d.element_id, d.line) == ("warning", "ghost_di", line_of(xml, 'id="ghost_di"'))
    assert "'ghost'" in d.message


def test_executable_process_without_diagram():
    d = the_one(document(process(CHAIN)), "di.missing")
    assert d.severity == "info" and d.element_id == "p"
    assert only(document(process(CHAIN, executable=False)), "di.missing") == []


# --- scripts and forms ----------------------------------------------------------

def script(attr: str, text: str) -> str:
    return document(process(CHAIN.replace(
        '<task id="check" name="Check the deed"/>',
        f'<scriptTask id="check" name="Compute fee"{attr}><script>{text}</script></scriptTask>')))


def test_script_in_another_language():
    d = the_one(script(' scriptFormat="groovy"', "fee = 10"), "script.format")
    assert (d.severity, d.element_id) == ("warning", "check") and "'groovy'" in d.message
    assert only(script(' scriptFormat="python"', "fee = 10"), "script.format") == []
    assert only(script("", "fee = 10"), "script.format") == []


def test_empty_script():
    assert the_one(script("", "  "), "script.empty").element_id == "check"


def test_form_file_that_cannot_be_found():
    form = ('<userTask id="check" name="Upload deed"><extensionElements><spiffworkflow:properties>'
            '<spiffworkflow:property name="formJsonSchemaFilename" value="deed-schema.json"/>'
            '</spiffworkflow:properties></extensionElements></userTask>')
    d = the_one(document(process(CHAIN.replace('<task id="check" name="Check the deed"/>', form))),
                "form.unreadable")
    assert d.severity == "warning" and "deed-schema.json" in d.message


# --- robustness -----------------------------------------------------------------

ODD = """\
<!-- a comment before everything -->
<process id="p" isExecutable="true"><!-- inside -->
<startEvent/>
<task name="no id"><incoming/><outgoing></outgoing></task>
<sequenceFlow/>
<sequenceFlow id="x" sourceRef="" targetRef=" "/>
<exclusiveGateway id="g" default=""/>
<boundaryEvent id="b" attachedToRef=""><timerEventDefinition><timeCycle/></timerEventDefinition></boundaryEvent>
<callActivity id="c" calledElement=""/>
<subProcess id="s"><subProcess id="s2"><?pi data?></subProcess></subProcess>
<scriptTask id="st" scriptFormat=""/>
<dataObjectReference id="dor"/>
<laneSet><lane><flowNodeRef/></lane></laneSet>
<endEvent id="e"><errorEventDefinition errorRef=""/><messageEventDefinition messageRef="  "/></endEvent>
</process>
<process/>
<collaboration><participant processRef=""/><messageFlow/></collaboration>
<bpmndi:BPMNDiagram><bpmndi:BPMNPlane><bpmndi:BPMNShape bpmnElement=""/><bpmndi:BPMNEdge/></bpmndi:BPMNPlane>
</bpmndi:BPMNDiagram>
"""


def test_odd_but_well_formed_input_gives_diagnostics_not_exceptions():
    diags = run(document(ODD))
    codes = {d.code for d in diags}
    assert {"id.missing", "xsd.invalid", "call.no_called_element", "event.timer_without_time"} <= codes
    for d in diags:
        assert d.severity in ("error", "warning", "info")
        assert isinstance(d.message, str) and d.message
        assert d.line is None or isinstance(d.line, int)


@pytest.mark.parametrize(("executable", "severity"), [(True, "error"), (False, "warning")])
def test_a_gateway_with_no_flows_at_all(executable: bool, severity: str):
    body = CHAIN + '<parallelGateway id="lonely" name="Split"/>\n'
    xml = document(process(body, executable=executable))
    d = the_one(xml, "gateway.unconnected")
    assert (d.severity, d.element_id, d.line) == (severity, "lonely", line_of(xml, '<parallelGateway'))


def adhoc(inside: str) -> str:
    return document(process(
        f'<startEvent id="s"/>\n<adHocSubProcess id="ah" name="Gather">{inside}</adHocSubProcess>\n<endEvent id="end"/>\n'
        '<sequenceFlow id="f1" sourceRef="s" targetRef="ah"/>\n<sequenceFlow id="f2" sourceRef="ah" targetRef="end"/>\n'))


def test_an_ad_hoc_sub_process_holds_an_activity():
    assert [d for d in validate(model_of(adhoc('<task id="t"/>'))) if d.code == "subprocess.empty"] == []
    (found,) = [d for d in validate(model_of(adhoc(""))) if d.code == "subprocess.empty"]
    assert found.severity == "error" and found.element_id == "ah"
    assert "the ad-hoc sub-process «Gather» (ah) holds no activity" in found.message

"""engine.prepare: implicit splits, link events and reserved ids run as BPMN says, and reports keep the model's ids."""

from __future__ import annotations

from datetime import timedelta

import pytest
from lxml import etree

from bpmn.load import load_bytes
from bpmn.model import read_model
from engine.prepare import original_id, prepare_for_engine
from engine.spiff import StepReport, check_executable
from tests.engine.test_runtime_spiff import doc, make


def implicit(default: bool) -> bytes:
    marker = ' default="fd"' if default else ""
    return doc(
        '<bpmn:startEvent id="start"/><bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="t"/>'
        f'<bpmn:scriptTask id="t"{marker}><bpmn:script>x = 1</bpmn:script>'
        '</bpmn:scriptTask>'
        '<bpmn:sequenceFlow id="fa" sourceRef="t" targetRef="a"><bpmn:conditionExpression>"a" in test'
        '</bpmn:conditionExpression></bpmn:sequenceFlow>'
        '<bpmn:sequenceFlow id="fu" sourceRef="t" targetRef="u"/>'
        + ('<bpmn:sequenceFlow id="fd" sourceRef="t" targetRef="d"/><bpmn:scriptTask id="d"><bpmn:script>y = 1</bpmn:script></bpmn:scriptTask>'
           '<bpmn:sequenceFlow id="fde" sourceRef="d" targetRef="e3"/><bpmn:endEvent id="e3"/>' if default else "")
        + '<bpmn:scriptTask id="a"><bpmn:script>y = 1</bpmn:script></bpmn:scriptTask>'
        '<bpmn:scriptTask id="u"><bpmn:script>y = 2</bpmn:script></bpmn:scriptTask>'
        '<bpmn:sequenceFlow id="fae" sourceRef="a" targetRef="e1"/><bpmn:endEvent id="e1"/>'
        '<bpmn:sequenceFlow id="fue" sourceRef="u" targetRef="e2"/><bpmn:endEvent id="e2"/>')


@pytest.mark.parametrize(("test", "default", "taken"), [
    ("a", False, {"a", "u"}), ("b", False, {"u"}),
    ("a", True, {"a", "u"}), ("b", True, {"u", "d"}),
])
def test_an_implicit_split_sends_tokens_as_bpmn_says(test: str, default: bool, taken: set[str]):
    xml = implicit(default)
    assert check_executable(read_model(load_bytes(xml, "m.bpmn"))).buildable == ["p"]
    live, _, _ = make(xml, data={"test": test})
    report = live.advance()
    assert report.failure is None and live.finished
    assert {e for e in report.completed if e in {"a", "u", "d"}} == taken
    assert not any(e.endswith("__split") for e in report.completed)


def merging(split: str) -> bytes:
    """Two branches of a ``split`` gateway meeting at a task with no gateway, then at the end event."""
    return doc(
        '<bpmn:startEvent id="start"/><bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="g"/>'
        f'<bpmn:{split} id="g"/>'
        '<bpmn:sequenceFlow id="fa" sourceRef="g" targetRef="a"><bpmn:conditionExpression>True'
        '</bpmn:conditionExpression></bpmn:sequenceFlow>'
        '<bpmn:sequenceFlow id="fb" sourceRef="g" targetRef="b"><bpmn:conditionExpression>True'
        '</bpmn:conditionExpression></bpmn:sequenceFlow>'
        '<bpmn:scriptTask id="a"><bpmn:script>n = 1</bpmn:script></bpmn:scriptTask>'
        '<bpmn:scriptTask id="b"><bpmn:script>n = 10</bpmn:script></bpmn:scriptTask>'
        '<bpmn:sequenceFlow id="fac" sourceRef="a" targetRef="c"/><bpmn:sequenceFlow id="fbc" sourceRef="b" '
        'targetRef="c"/><bpmn:scriptTask id="c"><bpmn:script>n = n + 1</bpmn:script></bpmn:scriptTask>'
        '<bpmn:sequenceFlow id="fce" sourceRef="c" targetRef="end"/><bpmn:endEvent id="end"/>')


@pytest.mark.parametrize(("split", "runs"), [("parallelGateway", 2), ("inclusiveGateway", 2),
                                             ("exclusiveGateway", 1)])
def test_an_implicit_merge_runs_the_task_once_per_token(split: str, runs: int) -> None:
    # The library's tree gives each arriving path its own task: no rewrite is needed, this keeps it so.
    live, _, _ = make(merging(split))
    report = live.advance()
    assert report.failure is None and live.finished
    assert report.completed.count("c") == runs and report.completed.count("end") == runs
    assert not any("__merge" in e for e in report.completed)
    assert live.data["n"] in ({2, 11} if runs == 2 else {2})


@pytest.mark.parametrize(("link", "event"), [("L", ""), ("", "Go on")], ids=["link name", "bpmn-js: event name"])
def test_a_link_event_continues_at_its_catch(link: str, event: str):
    throw = f'<bpmn:intermediateThrowEvent id="go" name="{event}"><bpmn:linkEventDefinition name="{link}"/>'
    catch = f'<bpmn:intermediateCatchEvent id="land" name="{event}"><bpmn:linkEventDefinition name="{link}"/>'
    xml = doc('<bpmn:startEvent id="start"/><bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="go"/>'
              f'{throw}</bpmn:intermediateThrowEvent>{catch}</bpmn:intermediateCatchEvent>'
              '<bpmn:sequenceFlow id="f1" sourceRef="land" targetRef="t"/><bpmn:scriptTask id="t"><bpmn:script>y = 1'
              '</bpmn:script></bpmn:scriptTask>'
              '<bpmn:sequenceFlow id="f2" sourceRef="t" targetRef="end"/><bpmn:endEvent id="end"/>')
    live, _, _ = make(xml)
    assert live.advance().completed == ("start", "go", "land", "t", "end")


def test_elements_named_like_the_library_internals_run_and_keep_their_ids():
    xml = doc('<bpmn:startEvent id="Start"/><bpmn:sequenceFlow id="f0" sourceRef="Start" targetRef="t"/>'
              '<bpmn:userTask id="t"/><bpmn:sequenceFlow id="f1" sourceRef="t" targetRef="End"/>'
              '<bpmn:endEvent id="End"/>')
    live, _, _ = make(xml)
    assert live.advance().completed == ("Start",)
    (work,) = live.snapshot().humans
    assert live.complete_human(work.key, {}).completed == ("t", "End") and live.finished
    assert original_id("Start__el") == "Start" and original_id("x__el") == "x__el"


def test_the_model_itself_is_not_changed():
    model = read_model(load_bytes(implicit(True), "m.bpmn"))
    before = model.source.data
    prepared = prepare_for_engine(model.source.root)
    assert prepared is not model.source.root
    assert model.source.root.find(".//{*}inclusiveGateway") is None
    assert prepared.find(".//{*}inclusiveGateway").get("id") == "t__split"
    assert model.source.data == before


def _run_to_the_end(xml: bytes) -> tuple[StepReport, etree._Element]:
    """Run a model with no waits to its end; also give the tree the engine parsed."""
    live, _, _ = make(xml)
    report = live.advance()
    assert report.failure is None and live.finished
    return report, prepare_for_engine(read_model(load_bytes(xml, "m.bpmn")).source.root)


def test_a_signal_end_event_sends_its_signal():
    # SpiffWorkflow 3.2.0 alone reads the end event's signal as no event at all: nothing is sent.
    xml = (b'<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions '
           b'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">'
           b'<bpmn:signal id="S" name="list_approved"/><bpmn:process id="p" isExecutable="true">'
           b'<bpmn:startEvent id="start"/><bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="t"/>'
           b'<bpmn:scriptTask id="t"><bpmn:script>y = 1</bpmn:script></bpmn:scriptTask>'
           b'<bpmn:sequenceFlow id="f1" sourceRef="t" targetRef="done"/>'
           b'<bpmn:endEvent id="done" name="\xd8\xaa\xd8\xa7\xdb\x8c\xdb\x8c\xd8\xaf"><bpmn:incoming>f1</bpmn:incoming>'
           b'<bpmn:signalEventDefinition signalRef="S"/></bpmn:endEvent></bpmn:process></bpmn:definitions>')
    report, prepared = _run_to_the_end(xml)
    assert report.completed == ("start", "t", "done")  # the added throw event is not in the history
    assert [(e.kind, e.name) for e in report.thrown] == [("signal", "list_approved")]
    (throw,) = prepared.findall(".//{*}intermediateThrowEvent")
    assert throw.get("id") == "done__signal" and throw.find("{*}signalEventDefinition") is not None
    assert prepared.find(".//{*}endEvent").find("{*}signalEventDefinition") is None


def test_an_event_definition_given_by_reference_is_the_events_own():
    # <eventDefinitionRef> names a definition declared once at the top of the file; alone, the library
    # ignores it and the error end event becomes a plain end (the boundary never fires).
    xml = (b'<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions '
           b'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">'
           b'<bpmn:error id="E" errorCode="NO_DEED"/><bpmn:errorEventDefinition id="ED" errorRef="E"/>'
           b'<bpmn:process id="p" isExecutable="true">'
           b'<bpmn:startEvent id="start"/><bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="sub"/>'
           b'<bpmn:subProcess id="sub"><bpmn:startEvent id="s1"/>'
           b'<bpmn:sequenceFlow id="g0" sourceRef="s1" targetRef="fail"/>'
           b'<bpmn:endEvent id="fail"><bpmn:eventDefinitionRef>ED</bpmn:eventDefinitionRef></bpmn:endEvent>'
           b'</bpmn:subProcess>'
           b'<bpmn:boundaryEvent id="caught" attachedToRef="sub"><bpmn:errorEventDefinition errorRef="E"/>'
           b'</bpmn:boundaryEvent>'
           b'<bpmn:sequenceFlow id="f1" sourceRef="sub" targetRef="end_ok"/><bpmn:endEvent id="end_ok"/>'
           b'<bpmn:sequenceFlow id="f2" sourceRef="caught" targetRef="handle"/>'
           b'<bpmn:scriptTask id="handle"><bpmn:script>handled = True</bpmn:script></bpmn:scriptTask>'
           b'<bpmn:sequenceFlow id="f3" sourceRef="handle" targetRef="end_err"/><bpmn:endEvent id="end_err"/>'
           b'</bpmn:process></bpmn:definitions>')
    report, prepared = _run_to_the_end(xml)
    assert "handle" in report.completed and "end_err" in report.completed and "end_ok" not in report.completed
    fail = prepared.find(".//{*}endEvent[@id='fail']")
    assert fail.find("{*}eventDefinitionRef") is None
    assert fail.find("{*}errorEventDefinition").get("id") == "fail__def"


CAMUNDA_7 = ('xmlns:camunda="http://camunda.org/schema/1.0/bpmn" camunda:collection="{collection}" '
             'camunda:elementVariable="document"')


def per_document(loop_attrs: str, extension: str = "", cardinality: str = "") -> bytes:
    """A sequential user task repeated per document, its collection said the Camunda way."""
    return doc('<bpmn:startEvent id="s"/><bpmn:userTask id="check" name="بررسی مدرک">'
               f'<bpmn:multiInstanceLoopCharacteristics isSequential="true" {loop_attrs}>{extension}{cardinality}'
               '</bpmn:multiInstanceLoopCharacteristics></bpmn:userTask><bpmn:endEvent id="e"/>'
               '<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="check"/>'
               '<bpmn:sequenceFlow id="f2" sourceRef="check" targetRef="e"/>')


ZEEBE_8 = ('<bpmn:extensionElements><zeebe:loopCharacteristics xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" '
           'inputCollection="=documents" inputElement="document"/></bpmn:extensionElements>')


@pytest.mark.parametrize("xml", [
    per_document(CAMUNDA_7.format(collection="${documents}")),
    per_document(CAMUNDA_7.format(collection="documents"), cardinality="<bpmn:loopCardinality>9</bpmn:loopCardinality>"),
    per_document("", extension=ZEEBE_8),
], ids=["camunda-7-expression", "camunda-7-name-over-cardinality", "camunda-8"])
def test_a_camunda_multi_instance_collection_runs_once_per_item(xml: bytes):
    documents = ["شناسنامه", "کارت ملی"]
    live, _, _ = make(xml, data={"documents": documents})
    seen = []
    report = live.advance()
    while not live.finished:
        assert report.failure is None
        (work,) = live.snapshot().humans
        seen.append(live.task_data(work.key)["document"])
        report = live.complete_human(work.key, {})
    assert seen == documents


def test_a_camunda_collection_computed_by_an_expression_is_refused_clearly():
    xml = per_document(CAMUNDA_7.format(collection="${registry.documentsOf(applicant)}"))
    (problem,) = [d for d in check_executable(read_model(load_bytes(xml, "m.bpmn"))).diagnostics
                  if d.severity == "error"]
    assert problem.element_id == "check" and "a Camunda collection that names a variable" in problem.message


def external_task(task: str) -> bytes:
    """A process calling one Camunda external task, then ending."""
    return doc('<bpmn:startEvent id="s"/>' + task + '<bpmn:endEvent id="e"/>'
               '<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="check"/>'
               '<bpmn:sequenceFlow id="f2" sourceRef="check" targetRef="e"/>')


CAMUNDA_EXTERNAL = (
    '<bpmn:serviceTask id="check" name="استعلام اعتبار" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
    'camunda:type="external" camunda:topic="bank/credit_check"><bpmn:extensionElements><camunda:inputOutput>'
    '<camunda:inputParameter name="code">${applicant.national_code}</camunda:inputParameter>'
    '<camunda:inputParameter name="speed">fast</camunda:inputParameter>'
    '</camunda:inputOutput></bpmn:extensionElements></bpmn:serviceTask>')
ZEEBE_JOB = (
    '<bpmn:serviceTask id="check" name="استعلام اعتبار"><bpmn:extensionElements>'
    '<zeebe:taskDefinition xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" type="bank/credit_check"/>'
    '<zeebe:ioMapping xmlns:zeebe="http://camunda.org/schema/zeebe/1.0">'
    '<zeebe:input source="=applicant_code" target="code"/><zeebe:input source="=&quot;fast&quot;" target="speed"/>'
    '</zeebe:ioMapping></bpmn:extensionElements></bpmn:serviceTask>')


@pytest.mark.parametrize(("task", "data"), [
    (CAMUNDA_EXTERNAL, {"applicant": {"national_code": "0499370899"}}),
    (ZEEBE_JOB, {"applicant_code": "0499370899"}),
], ids=["camunda-7-external-task", "camunda-8-job"])
def test_an_external_task_calls_its_topic_as_an_operator_and_merges_what_comes_back(task: str, data: dict):
    live, _, _ = make(external_task(task), data=data)
    assert live.advance().failure is None
    (call,) = live.snapshot().services
    assert (call.element_id, call.operator, dict(call.parameters), call.problem) == \
        ("check", "bank/credit_check", {"code": "0499370899", "speed": "fast"}, None)
    assert live.complete_service(call.key, {"credit_ok": True, "limit": 500}).failure is None
    assert live.finished and (live.data["credit_ok"], live.data["limit"]) == (True, 500)


def test_an_external_task_answering_something_else_than_a_map_keeps_it_under_its_id():
    live, _, _ = make(external_task(CAMUNDA_EXTERNAL), data={"applicant": {"national_code": "1"}})
    live.advance()
    (call,) = live.snapshot().services
    live.complete_service(call.key, ["a", "b"])
    assert live.data["check_result"] == ["a", "b"]


@pytest.mark.parametrize("task", [
    '<bpmn:serviceTask id="check" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" camunda:class="com.acme.Check"/>',
    CAMUNDA_EXTERNAL.replace("${applicant.national_code}", "${registry.lookup(applicant)}"),
    CAMUNDA_EXTERNAL.replace('camunda:topic="bank/credit_check"', 'camunda:topic="${topicOf(x)}"'),
], ids=["java-class", "parameter-with-a-call", "computed-topic"])
def test_a_service_task_the_engine_cannot_call_is_refused(task: str):
    errors = [d for d in check_executable(read_model(load_bytes(external_task(task), "m.bpmn"))).diagnostics
              if d.severity == "error"]
    assert [d.element_id for d in errors] == ["check"]
    assert "Camunda Java classes, delegates and expressions cannot be run" in errors[0].message


def _deadline(duration: str) -> bytes:
    return doc('<bpmn:startEvent id="s"/><bpmn:userTask id="review" name="بررسی"/>'
               '<bpmn:boundaryEvent id="late" attachedToRef="review"><bpmn:timerEventDefinition>'
               f'<bpmn:timeDuration>{duration}</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>'
               '<bpmn:endEvent id="e1"/><bpmn:endEvent id="e2"/>'
               '<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="review"/>'
               '<bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="e1"/>'
               '<bpmn:sequenceFlow id="f3" sourceRef="late" targetRef="e2"/>')


@pytest.mark.parametrize(("duration", "data"), [("P3D", {}), ("${allowed}", {"allowed": "P3D"}),
                                                 ("'P3D'", {})], ids=["bare-iso", "juel-variable", "python"])
def test_a_timer_written_as_tools_write_it_is_due_when_it_says(duration: str, data: dict):
    xml = _deadline(duration)
    assert check_executable(read_model(load_bytes(xml, "m.bpmn"))).buildable == ["p"]
    live, _, clock = make(xml, data=data)
    assert live.advance().failure is None
    (timer,) = live.snapshot().timers
    assert (timer.element_id, timer.due_at) == ("late", clock.now() + timedelta(days=3))


def test_an_external_task_with_a_comment_and_documentation_first_is_prepared():
    task = ('<bpmn:serviceTask id="check" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" camunda:type="external" '
            'camunda:topic="bank/credit_check"><!-- drawn in Camunda Modeler -->'
            '<bpmn:documentation>استعلام اعتبار</bpmn:documentation></bpmn:serviceTask>')
    live, _, _ = make(external_task(task))
    assert live.advance().failure is None
    (call,) = live.snapshot().services
    assert (call.operator, dict(call.parameters)) == ("bank/credit_check", {})


def test_a_process_without_start_event_begins_at_every_element_no_flow_leads_to():
    # BPMN 2.0 §10.5.2: both tasks start at once; the process ends when both paths have (no end event).
    xml = doc('<bpmn:userTask id="form"/><bpmn:userTask id="fee"/><bpmn:parallelGateway id="join"/>'
              '<bpmn:scriptTask id="note"><bpmn:script>noted = True</bpmn:script></bpmn:scriptTask>'
              '<bpmn:sequenceFlow id="f1" sourceRef="form" targetRef="join"/>'
              '<bpmn:sequenceFlow id="f2" sourceRef="fee" targetRef="join"/>'
              '<bpmn:sequenceFlow id="f3" sourceRef="join" targetRef="note"/>')
    live, _, _ = make(xml)
    assert live.advance().completed == ()  # the added start event and fork are not in the history
    waiting = {work.element_id: work.key for work in live.snapshot().humans}
    assert set(waiting) == {"form", "fee"}
    assert live.complete_human(waiting["form"], {}).completed == ("form",) and not live.finished
    assert live.complete_human(waiting["fee"], {}).completed == ("fee", "note") and live.finished  # no gateways
    assert live.data["noted"] is True
    prepared = prepare_for_engine(read_model(load_bytes(xml, "m.bpmn")).source.root)
    assert [e.get("id") for e in prepared.iter("{*}startEvent")] == ["p__implicit_start"]
    assert [e.get("id") for e in prepared.iter("{*}endEvent")] == ["note__implicit_end"]


def test_a_sub_process_without_start_or_end_event_runs_its_content():
    xml = doc('<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="sub"/>'
              '<bpmn:subProcess id="sub"><bpmn:scriptTask id="inner"><bpmn:script>y = 2</bpmn:script>'
              '</bpmn:scriptTask></bpmn:subProcess>'
              '<bpmn:sequenceFlow id="f1" sourceRef="sub" targetRef="e"/><bpmn:endEvent id="e"/>')
    report, _ = _run_to_the_end(xml)
    assert report.completed == ("s", "inner", "sub", "e")


def test_a_level_that_nothing_begins_or_an_event_sub_process_keeps_its_missing_start():
    from engine.prepare import implicit_starts

    looped = etree.fromstring('<process xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="p">'
                              '<task id="a"/><sequenceFlow id="f" sourceRef="a" targetRef="a"/></process>')
    assert implicit_starts(looped) == []
    handler = etree.fromstring('<subProcess xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="h" '
                               'triggeredByEvent="true"><task id="a"/></subProcess>')
    assert implicit_starts(handler) is None
    prepared = prepare_for_engine(handler)
    assert prepared.find("{*}startEvent") is None


@pytest.mark.parametrize("level", ["process", "sub-process"])
def test_a_level_with_a_start_event_and_no_end_event_completes_when_its_paths_have(level: str):
    # The library alone never completes such a process (the instance waited for nothing) and refused
    # such a sub-process.
    inner = ('<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="a"/>'
             '<bpmn:scriptTask id="a"><bpmn:script>x = 1</bpmn:script></bpmn:scriptTask>')
    if level == "process":
        xml, expected = doc(inner), ("s", "a")
    else:
        xml = doc('<bpmn:startEvent id="top"/><bpmn:sequenceFlow id="g0" sourceRef="top" targetRef="sub"/>'
                  f'<bpmn:subProcess id="sub">{inner}</bpmn:subProcess>'
                  '<bpmn:sequenceFlow id="g1" sourceRef="sub" targetRef="done"/><bpmn:endEvent id="done"/>')
        expected = ("top", "s", "a", "sub", "done")
    report, prepared = _run_to_the_end(xml)
    assert report.completed == expected
    assert [e.get("id") for e in prepared.iter("{*}endEvent") if e.get("id") != "done"] == ["a__implicit_end"]


def test_a_receive_task_that_instantiates_its_process_is_started_by_its_message():
    from engine.spiff import build_specs, start_triggers

    xml = (b'<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions '
           b'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">'
           b'<bpmn:message id="m" name="request_filed"/><bpmn:process id="p" isExecutable="true">'
           b'<bpmn:receiveTask id="got" name="Request received" messageRef="m" instantiate="true">'
           b'<bpmn:documentation>the citizen filed it</bpmn:documentation><bpmn:outgoing>f1</bpmn:outgoing>'
           b'</bpmn:receiveTask><bpmn:sequenceFlow id="f1" sourceRef="got" targetRef="t"/>'
           b'<bpmn:scriptTask id="t"><bpmn:script>y = 1</bpmn:script></bpmn:scriptTask></bpmn:process>'
           b'</bpmn:definitions>')
    source = load_bytes(xml, "m.bpmn")
    prepared = prepare_for_engine(read_model(source).source.root)
    (start,) = prepared.iter("{*}startEvent")
    assert (start.get("id"), start.get("name")) == ("got", "Request received")
    assert [etree.QName(c).localname for c in start] == ["documentation", "outgoing", "messageEventDefinition"]
    assert prepared.find(".//{*}receiveTask") is None
    built = build_specs(read_model(source))
    assert built.specs is not None, built.diagnostics
    assert [(t.process_id, t.element_id, t.kind, t.name) for t in start_triggers("v-receive", built.specs)] == \
        [("p", "got", "message", "request_filed")]


def test_a_call_activity_of_a_global_task_runs_that_task():
    # SpiffWorkflow alone only calls processes: "calls the process 'check', which ... holds".
    xml = (b'<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions '
           b'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">'
           b'<bpmn:globalScriptTask id="check" name="Check the fee"><bpmn:script>fee_ok = fee &gt; 0</bpmn:script>'
           b'</bpmn:globalScriptTask><bpmn:globalUserTask id="sign" name="Sign"/>'
           b'<bpmn:process id="p" isExecutable="true"><bpmn:startEvent id="s"/>'
           b'<bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="c1"/>'
           b'<bpmn:callActivity id="c1" calledElement="check"/><bpmn:sequenceFlow id="f1" sourceRef="c1" targetRef="c2"/>'
           b'<bpmn:callActivity id="c2" name="Signature" calledElement="sign"/>'
           b'<bpmn:sequenceFlow id="f2" sourceRef="c2" targetRef="e"/><bpmn:endEvent id="e"/></bpmn:process>'
           b'</bpmn:definitions>')
    live, _, _ = make(xml, data={"fee": 5})
    assert live.advance().completed == ("s", "c1")
    assert live.data["fee_ok"] is True
    (work,) = live.snapshot().humans
    assert (work.element_id, work.name) == ("c2", "Signature")
    assert live.complete_human(work.key, {}).completed == ("c2", "e") and live.finished
    prepared = prepare_for_engine(read_model(load_bytes(xml, "m.bpmn")).source.root)
    assert prepared.find(".//{*}callActivity") is None
    assert prepared.find(".//{*}scriptTask").get("name") == "Check the fee"


@pytest.mark.parametrize(("data", "taken"), [({"a": True, "b": True}, {"ta", "tb"}), ({"a": False, "b": True}, {"tb"}),
                                             ({"a": False, "b": False}, {"td"})])
def test_a_complex_gateway_that_only_splits_takes_every_flow_whose_condition_holds(data: dict, taken: set[str]):
    # SpiffWorkflow alone refuses every complex gateway ("no support implemented for this task type").
    xml = doc('<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="cx"/>'
              '<bpmn:complexGateway id="cx" default="fd"/>'
              '<bpmn:sequenceFlow id="fa" sourceRef="cx" targetRef="ta"><bpmn:conditionExpression>a'
              '</bpmn:conditionExpression></bpmn:sequenceFlow>'
              '<bpmn:sequenceFlow id="fb" sourceRef="cx" targetRef="tb"><bpmn:conditionExpression>b'
              '</bpmn:conditionExpression></bpmn:sequenceFlow><bpmn:sequenceFlow id="fd" sourceRef="cx" targetRef="td"/>'
              + "".join(f'<bpmn:scriptTask id="{t}"><bpmn:script>{t}_ran = True</bpmn:script></bpmn:scriptTask>'
                        f'<bpmn:sequenceFlow id="g{t}" sourceRef="{t}" targetRef="e{t}"/><bpmn:endEvent id="e{t}"/>'
                        for t in ("ta", "tb", "td")))
    live, _, _ = make(xml, data=data)
    report = live.advance()
    assert report.failure is None and live.finished
    assert {e for e in report.completed if e.startswith("t")} == taken
    joining = doc('<bpmn:startEvent id="s"/><bpmn:parallelGateway id="p"/><bpmn:complexGateway id="cx">'
                  '<bpmn:activationCondition>activationCount &gt;= 1</bpmn:activationCondition></bpmn:complexGateway>'
                  '<bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="p"/>'
                  '<bpmn:sequenceFlow id="f1" sourceRef="p" targetRef="cx"/>'
                  '<bpmn:sequenceFlow id="f2" sourceRef="p" targetRef="cx"/>'
                  '<bpmn:sequenceFlow id="f3" sourceRef="cx" targetRef="e"/><bpmn:endEvent id="e"/>')
    assert prepare_for_engine(read_model(load_bytes(joining, "m.bpmn")).source.root).find(".//{*}complexGateway") \
        is not None  # a join stays what it is (and refused)


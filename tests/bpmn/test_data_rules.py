"""bpmn.data_rules: data associations that run the wrong way and call activities that do not fit what they call."""

from __future__ import annotations

import pytest

from bpmn.validate import validate
from tests.bpmn.bpmn_snippets import document, model_of, process

PROCESS_IO = """\
<ioSpecification>
  <dataInput id="applicant" name="Applicant"/>
  <dataOutput id="decision" name="Decision"/>
  <inputSet><dataInputRefs>applicant</dataInputRefs></inputSet>
  <outputSet><dataOutputRefs>decision</dataOutputRefs></outputSet>
</ioSpecification>
"""


def task(association: str, io: str = "") -> str:
    return (f'<startEvent id="start"/>\n<task id="t" name="Review">{io}{association}</task>\n'
            '<endEvent id="end"/>\n<dataObject id="Doc"/>\n<dataObjectReference id="DocRef" dataObjectRef="Doc"/>\n'
            '<sequenceFlow id="f1" sourceRef="start" targetRef="t"/>\n<sequenceFlow id="f2" sourceRef="t" targetRef="end"/>\n')


TASK_IO = ('<ioSpecification><dataInput id="tin"/><dataOutput id="tout"/><inputSet><dataInputRefs>tin</dataInputRefs>'
           '</inputSet><outputSet><dataOutputRefs>tout</dataOutputRefs></outputSet></ioSpecification>')


def rule_errors(body: str, first: str = PROCESS_IO) -> list[str]:
    found = validate(model_of(document(process(first + body))))
    return [d.message for d in found if d.code == "data.association" and d.severity == "error"]


@pytest.mark.parametrize("association", [
    # Reading the process's input, writing its output, data objects: what BPMN allows.
    "<dataInputAssociation><sourceRef>applicant</sourceRef><targetRef>tin</targetRef></dataInputAssociation>",
    "<dataOutputAssociation><sourceRef>tout</sourceRef><targetRef>decision</targetRef></dataOutputAssociation>",
    "<dataInputAssociation><sourceRef>DocRef</sourceRef><targetRef>tin</targetRef></dataInputAssociation>",
    "<dataOutputAssociation><targetRef>Doc</targetRef></dataOutputAssociation>",
    # Signavio names the task itself as the near end.
    "<dataInputAssociation><sourceRef>DocRef</sourceRef><targetRef>t</targetRef></dataInputAssociation>",
])
def test_associations_bpmn_allows_are_not_errors(association: str):
    assert rule_errors(task(association, TASK_IO)) == []


@pytest.mark.parametrize(("association", "said"), [
    ("<dataOutputAssociation><sourceRef>tout</sourceRef><targetRef>applicant</targetRef></dataOutputAssociation>",
     "writes into the process's data input «Applicant» (applicant), which only gives the process its input"),
    ("<dataInputAssociation><sourceRef>decision</sourceRef><targetRef>tin</targetRef></dataInputAssociation>",
     "reads the process's data output «Decision» (decision), which only receives results"),
    ("<dataOutputAssociation><sourceRef>DocRef</sourceRef><targetRef>tout</targetRef></dataOutputAssociation>",
     "writes into its own data output tout: the association runs the wrong way"),
    ("<dataInputAssociation><sourceRef>DocRef</sourceRef><targetRef>decision</targetRef></dataInputAssociation>",
     "brings data into data output «Decision» (decision), which is not one of its own data inputs"),
])
def test_associations_that_run_the_wrong_way_are_errors(association: str, said: str):
    messages = rule_errors(task(association, TASK_IO))
    assert any(said in m for m in messages), messages  # a reversed association breaks both of its ends
    assert messages and all("task «Review» (t)" in m for m in messages)


# The MIWG reference A.1.2: the trigger's data becomes the process's data input, and the end event's input is
# the process's data output.
@pytest.mark.parametrize(("tag", "event"), [
    ("startEvent", '<startEvent id="start"><dataOutput id="trigger"/><dataOutputAssociation><sourceRef>trigger'
                   '</sourceRef><targetRef>applicant</targetRef></dataOutputAssociation><outputSet><dataOutputRefs>'
                   'trigger</dataOutputRefs></outputSet></startEvent>\n'),
    ("endEvent", '<endEvent id="end"><dataInput id="result"/><dataInputAssociation><sourceRef>decision</sourceRef>'
                 '<targetRef>result</targetRef></dataInputAssociation><inputSet><dataInputRefs>result</dataInputRefs>'
                 '</inputSet></endEvent>\n'),
])
def test_a_start_event_gives_the_process_its_input_and_an_end_event_sends_its_results_on(tag: str, event: str):
    body = task("").replace(f'<{tag} id="{"start" if tag == "startEvent" else "end"}"/>\n', event)
    assert event in body and rule_errors(body) == []
    # Any other element doing so runs against the process's data.
    other = body.replace(f"<{tag}", "<intermediateThrowEvent").replace(f"</{tag}>", "</intermediateThrowEvent>")
    assert len(rule_errors(other)) == 1


def test_a_sub_process_input_is_not_visible_inside_it():
    body = ('<startEvent id="s"/><subProcess id="sp"><ioSpecification><dataInput id="spin"/><inputSet>'
            '<dataInputRefs>spin</dataInputRefs></inputSet><outputSet/></ioSpecification>'
            '<startEvent id="s2"/><task id="inner"><ioSpecification><dataInput id="iin"/><inputSet><dataInputRefs>iin'
            '</dataInputRefs></inputSet><outputSet/></ioSpecification><dataInputAssociation><sourceRef>spin</sourceRef>'
            '<targetRef>iin</targetRef></dataInputAssociation></task><endEvent id="e2"/>'
            '<sequenceFlow id="g1" sourceRef="s2" targetRef="inner"/><sequenceFlow id="g2" sourceRef="inner" '
            'targetRef="e2"/></subProcess><endEvent id="e"/><sequenceFlow id="h1" sourceRef="s" targetRef="sp"/>'
            '<sequenceFlow id="h2" sourceRef="sp" targetRef="e"/>')
    (message,) = rule_errors(body, first="")
    assert "reads data input spin, which belongs to another element" in message


CALLED = ('<process id="called" isExecutable="true"><ioSpecification><dataInput id="ci" itemSubjectRef="Deed"/>'
          '<dataOutput id="co" itemSubjectRef="Receipt"/><inputSet><dataInputRefs>ci</dataInputRefs></inputSet>'
          '<outputSet><dataOutputRefs>co</dataOutputRefs></outputSet></ioSpecification><startEvent id="cs"/>'
          '<endEvent id="ce"/><sequenceFlow id="cf" sourceRef="cs" targetRef="ce"/></process>')
ITEMS = '<itemDefinition id="Deed"/><itemDefinition id="Receipt"/><itemDefinition id="Other"/>'


def caller(io: str | None) -> str:
    spec = "" if io is None else f"<ioSpecification>{io}</ioSpecification>"
    return process(f'<startEvent id="s"/><callActivity id="call" name="Register" calledElement="called">{spec}'
                   '</callActivity><endEvent id="e"/><sequenceFlow id="f1" sourceRef="s" targetRef="call"/>'
                   '<sequenceFlow id="f2" sourceRef="call" targetRef="e"/>')


@pytest.mark.parametrize(("io", "said"), [
    (None, None),  # no ioSpecification: the case's data goes in and out
    ('<dataInput id="i" itemSubjectRef="Deed"/><dataOutput id="o" itemSubjectRef="Receipt"/>'
     '<inputSet><dataInputRefs>i</dataInputRefs></inputSet><outputSet><dataOutputRefs>o</dataOutputRefs></outputSet>',
     None),
    ('<dataOutput id="o" itemSubjectRef="Receipt"/><inputSet/><outputSet><dataOutputRefs>o</dataOutputRefs>'
     '</outputSet>', "declares 0 inputs where process called has 1"),
    ('<dataInput id="i" itemSubjectRef="Other"/><dataOutput id="o" itemSubjectRef="Receipt"/>'
     '<inputSet><dataInputRefs>i</dataInputRefs></inputSet><outputSet><dataOutputRefs>o</dataOutputRefs></outputSet>',
     "declares inputs of other item definitions than process called (Other instead of Deed)"),
])
def test_a_call_activity_declares_what_the_called_process_takes_and_gives(io: str | None, said: str | None):
    found = validate(model_of(document(ITEMS, caller(io), CALLED)))
    mismatches = [d for d in found if d.code == "call.io_mismatch"]
    assert [d.message for d in mismatches] == ([] if said is None else [f"the call activity «Register» (call) {said}"])
    assert all(d.severity == "error" and d.element_id == "call" and d.line for d in mismatches)

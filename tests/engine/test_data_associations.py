"""engine.data_associations: data flows through associations as BPMN pairs them, or is kept as documentation."""

from __future__ import annotations

from lxml import etree

from bpmn.load import BPMN_NS, load_bytes
from bpmn.model import read_model
from engine.data_associations import NOT_RUN, data_association_warnings, rewrite_data_associations
from engine.deploy import check_model
from tests.engine.test_runtime_spiff import doc, make

OBJECT = '<bpmn:dataObject id="Doc"/><bpmn:dataObjectReference id="DocRef" dataObjectRef="Doc"/>'


def io_task(tid: str, script: str, *, inputs: str = "", outputs: str = "", associations: str = "") -> str:
    ins = "".join(f'<bpmn:dataInput id="{i}"/>' for i in inputs.split()) if inputs else ""
    outs = "".join(f'<bpmn:dataOutput id="{o}"/>' for o in outputs.split()) if outputs else ""
    in_refs = "".join(f"<bpmn:dataInputRefs>{i}</bpmn:dataInputRefs>" for i in inputs.split())
    out_refs = "".join(f"<bpmn:dataOutputRefs>{o}</bpmn:dataOutputRefs>" for o in outputs.split())
    return (f'<bpmn:scriptTask id="{tid}"><bpmn:ioSpecification>{ins}{outs}<bpmn:inputSet>{in_refs}</bpmn:inputSet>'
            f'<bpmn:outputSet>{out_refs}</bpmn:outputSet></bpmn:ioSpecification>{associations}'
            f'<bpmn:script>{script}</bpmn:script></bpmn:scriptTask>')


def reads(source: str, target: str) -> str:
    """A task's dataInputAssociation from ``source`` to its input ``target``."""
    return (f"<bpmn:dataInputAssociation><bpmn:sourceRef>{source}</bpmn:sourceRef>"
            f"<bpmn:targetRef>{target}</bpmn:targetRef></bpmn:dataInputAssociation>")


def writes(source: str, target: str) -> str:
    """A task's dataOutputAssociation from its output ``source`` to ``target``."""
    return (f"<bpmn:dataOutputAssociation><bpmn:sourceRef>{source}</bpmn:sourceRef>"
            f"<bpmn:targetRef>{target}</bpmn:targetRef></bpmn:dataOutputAssociation>")


def chain(*tasks: str, extra: str = "", first: str = "", ids: tuple[str, ...] = ("set", "read")) -> bytes:
    """start → ``tasks`` (ids ``ids``) → end; ``first`` goes before the flow elements (an ioSpecification)."""
    flows = "".join(f'<bpmn:sequenceFlow id="f{i}" sourceRef="{a}" targetRef="{b}"/>'
                    for i, (a, b) in enumerate(zip(("start", *ids), (*ids, "end"), strict=True)))
    return doc(first + '<bpmn:startEvent id="start"/>' + "".join(tasks) + extra + '<bpmn:endEvent id="end"/>'
               + flows)


def test_an_output_and_an_input_named_otherwise_than_their_data_object_are_paired():
    # The betsy case: the task writes its output «out», which goes to the data object; the next reads it as «inp».
    xml = chain(
        io_task("set", 'out = "BETSY"\nkept = 1', outputs="out", associations=writes("out", "DocRef")),
        io_task("read", "seen = inp", inputs="inp", associations=reads("DocRef", "inp")),
        extra=OBJECT)
    assert not [d for d in check_model(read_model(load_bytes(xml, "m.bpmn"))) if d.severity == "error"]
    live, _, _ = make(xml, data={"case": "k-1"})
    report = live.advance()
    assert report.failure is None and live.finished
    assert live.data["seen"] == "BETSY"
    # Without the ioSpecification's filter the case's own data goes on past both tasks.
    assert live.data["case"] == "k-1" and live.data["kept"] == 1


def test_a_task_that_does_not_set_its_promised_output_fails_clearly():
    xml = chain(
        io_task("set", "other = 1", outputs="out", associations=writes("out", "DocRef")),
        '<bpmn:scriptTask id="read"><bpmn:script>x = 1</bpmn:script></bpmn:scriptTask>', extra=OBJECT)
    live, _, _ = make(xml)
    report = live.advance()
    assert report.failure is not None and report.failure.element_id == "set"
    assert "'out' is not defined" in report.failure.message


def test_a_data_object_named_directly_is_reached_through_a_reference():
    tree = etree.fromstring(chain(
        '<bpmn:scriptTask id="set"><bpmn:dataOutputAssociation><bpmn:targetRef>Doc</bpmn:targetRef>'
        '</bpmn:dataOutputAssociation><bpmn:script>Doc = 5</bpmn:script></bpmn:scriptTask>',
        '<bpmn:scriptTask id="read"><bpmn:dataInputAssociation><bpmn:sourceRef>Doc</bpmn:sourceRef>'
        '</bpmn:dataInputAssociation><bpmn:script>seen = Doc</bpmn:script></bpmn:scriptTask>',
        extra='<bpmn:dataObject id="Doc"/>'))
    assert rewrite_data_associations(tree) == []
    refs = tree.findall(f".//{{{BPMN_NS}}}dataObjectReference")
    assert [(r.get("id"), r.get("dataObjectRef")) for r in refs] == [("Doc__ref", "Doc")]
    assert {r.text for r in tree.iter(f"{{{BPMN_NS}}}sourceRef", f"{{{BPMN_NS}}}targetRef")} == {"Doc__ref"}
    live, _, _ = make(etree.tostring(tree))
    assert live.advance().failure is None and live.data["seen"] == 5


PROCESS_IO = (
    '<bpmn:ioSpecification><bpmn:dataInput id="applicant" name="Applicant"/>'
    '<bpmn:dataOutput id="decision" name="Decision"/><bpmn:inputSet><bpmn:dataInputRefs>applicant'
    '</bpmn:dataInputRefs></bpmn:inputSet><bpmn:outputSet><bpmn:dataOutputRefs>decision</bpmn:dataOutputRefs>'
    '</bpmn:outputSet></bpmn:ioSpecification>')


def process_io_model() -> bytes:
    """Tasks reading the process's data input and writing its data output, as modelling tools draw them."""
    return chain(
        io_task("set", "checked = 1", inputs="in-1", associations=reads("applicant", "in-1")),
        io_task("read", "verdict = 'ok'", outputs="out-1", associations=writes("out-1", "decision")),
        first=PROCESS_IO)


def test_associations_to_the_process_inputs_and_outputs_run_as_documentation_with_a_warning():
    model = read_model(load_bytes(process_io_model(), "m.bpmn"))
    found = check_model(model)
    assert not [d for d in found if d.severity == "error"], found
    warnings = sorted((d for d in found if d.code == NOT_RUN), key=lambda d: d.element_id != "set")
    assert [(d.severity, d.element_id) for d in warnings] == [("warning", "set"), ("warning", "read")]
    assert "data input «Applicant» (applicant)" in warnings[0].message
    assert "the step reads and writes the case's data instead" in warnings[0].message
    assert warnings[0].line == model.source.root.find(".//*[@id='set']").sourceline
    live, _, _ = make(process_io_model(), data={"applicant": "A"})
    report = live.advance()
    assert report.failure is None and live.finished
    assert live.data == {"applicant": "A", "checked": 1, "verdict": "ok"}


def test_the_warnings_leave_the_model_as_it_was():
    root = etree.fromstring(process_io_model())
    before = etree.tostring(root)
    assert len(data_association_warnings(root)) == 2
    assert etree.tostring(root) == before


def test_associations_the_library_runs_as_written_are_left_alone():
    # SpiffArena's way: a data object reference and no ioSpecification; the task's variable is the object's id.
    xml = chain(
        '<bpmn:scriptTask id="set"><bpmn:dataOutputAssociation><bpmn:targetRef>DocRef</bpmn:targetRef>'
        '</bpmn:dataOutputAssociation><bpmn:script>Doc = 7</bpmn:script></bpmn:scriptTask>',
        '<bpmn:scriptTask id="read"><bpmn:dataInputAssociation><bpmn:sourceRef>DocRef</bpmn:sourceRef>'
        '</bpmn:dataInputAssociation><bpmn:script>seen = Doc</bpmn:script></bpmn:scriptTask>', extra=OBJECT)
    tree = etree.fromstring(xml)
    before = etree.tostring(tree)
    assert rewrite_data_associations(tree) == []
    assert etree.tostring(tree) == before
    live, _, _ = make(xml)
    assert live.advance().failure is None and live.data["seen"] == 7


def test_names_a_script_cannot_use_are_documentation():
    xml = chain(
        io_task("set", "x = 1", outputs="out-1", associations=writes("out-1", "DocRef")),
        '<bpmn:scriptTask id="read"><bpmn:script>y = x</bpmn:script></bpmn:scriptTask>', extra=OBJECT)
    (dropped,) = data_association_warnings(etree.fromstring(xml))
    assert dropped.element_id == "set" and "'out-1' or 'Doc' is not a name a script can use" in dropped.message
    live, _, _ = make(xml)
    assert live.advance().failure is None and live.data["y"] == 1

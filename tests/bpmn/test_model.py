"""The typed model view reads what modelling tools write."""

from __future__ import annotations

import json
from pathlib import Path

from bpmn.load import load_bytes, load_path
from bpmn.model import read_model

NS = (
    'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" '
    'xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" '
    'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0"'
)

COLLAB = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions {NS} id="d" targetNamespace="t" exporter="Camunda Modeler">
  <bpmn:collaboration id="c">
    <bpmn:participant id="pool_citizen" name="Citizen"/>
    <bpmn:participant id="pool_agency" name="Agency" processRef="p"/>
    <bpmn:messageFlow id="mf" name="birth certificate" sourceRef="pool_citizen" targetRef="t_receive"/>
  </bpmn:collaboration>
  <bpmn:process id="p" isExecutable="true">
    <bpmn:documentation>Agency process</bpmn:documentation>
    <bpmn:laneSet id="ls">
      <bpmn:lane id="outer" name="Front office">
        <bpmn:flowNodeRef>s</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>t_receive</bpmn:flowNodeRef>
        <bpmn:childLaneSet id="cls"><bpmn:lane id="inner" name="Counter"><bpmn:flowNodeRef>t_receive</bpmn:flowNodeRef></bpmn:lane></bpmn:childLaneSet>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:dataObject id="DO"/>
    <bpmn:dataObjectReference id="DOR" name="Deed" dataObjectRef="DO"/>
    <bpmn:dataStoreReference id="DSR" name="Registry"/>
    <bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:receiveTask id="t_receive" name="Receive papers">
      <bpmn:documentation>Bring the original.</bpmn:documentation>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:dataInputAssociation id="dia"><bpmn:sourceRef>DOR</bpmn:sourceRef></bpmn:dataInputAssociation>
      <bpmn:dataOutputAssociation id="doa"><bpmn:targetRef>DSR</bpmn:targetRef></bpmn:dataOutputAssociation>
    </bpmn:receiveTask>
    <bpmn:subProcess id="sub"><bpmn:incoming>f2</bpmn:incoming>
      <bpmn:startEvent id="s2"/><bpmn:userTask id="inner_task" camunda:formKey="camunda-forms:deployment:f.form"/>
      <bpmn:boundaryEvent id="b" attachedToRef="inner_task" cancelActivity="false"><bpmn:timerEventDefinition id="te"/></bpmn:boundaryEvent>
    </bpmn:subProcess>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t_receive"/>
    <bpmn:sequenceFlow id="f2" sourceRef="t_receive" targetRef="sub">
      <bpmn:conditionExpression>ok == True</bpmn:conditionExpression></bpmn:sequenceFlow>
  </bpmn:process>
  <bpmndi:BPMNDiagram id="dia1"><bpmndi:BPMNPlane id="pl" bpmnElement="c">
    <bpmndi:BPMNShape id="t_di" bpmnElement="t_receive"><dc:Bounds x="10" y="20" width="100" height="80"/>
      <bpmndi:BPMNLabel><dc:Bounds x="1" y="2" width="3" height="4"/></bpmndi:BPMNLabel></bpmndi:BPMNShape>
    <bpmndi:BPMNEdge id="f1_di" bpmnElement="f1"><di:waypoint x="1" y="2"/><di:waypoint x="3" y="4"/></bpmndi:BPMNEdge>
  </bpmndi:BPMNPlane></bpmndi:BPMNDiagram>
</bpmn:definitions>"""


def test_collaboration_pools_lanes_and_flows(tmp_path: Path):
    (tmp_path / "f.form").write_text(
        json.dumps(
            {
                "components": [
                    {"type": "filepicker", "key": "deed_scan", "label": "Scan of the deed"},
                    {
                        "type": "group",
                        "components": [
                            {
                                "type": "textfield",
                                "key": "code",
                                "label": "National code",
                                "validate": {"required": True},
                            }
                        ],
                    },
                ]
            }
        )
    )
    path = tmp_path / "m.bpmn"
    path.write_text(COLLAB)
    m = read_model(load_path(path)[0])
    assert m.exporter == "Camunda Modeler"
    [p] = m.processes
    assert p.participant.name == "Agency" and p.display_name == "Agency"
    assert p.documentation == "Agency process"
    node = p.nodes["t_receive"]
    assert node.lane_id == "inner"  # the innermost lane wins
    assert node.documentation == "Bring the original."
    assert node.incoming == ("f1",) and node.outgoing == ("f2",)
    assert node.data_inputs == ("DOR",) and node.data_outputs == ("DSR",)
    assert node.line == 21
    assert p.data["DOR"].target == "DO" and p.data["DSR"].tag == "dataStoreReference"
    assert p.nodes["inner_task"].parent_id == "sub"
    boundary = p.nodes["b"]
    assert boundary.attached_to == "inner_task" and not boundary.cancel_activity
    assert boundary.event_definitions == ("timerEventDefinition",)
    assert p.flows["f2"].condition == "ok == True"
    assert [a.id for a in p.activities] == ["t_receive", "sub", "inner_task"]
    [mf] = m.message_flows
    assert (mf.source, mf.target, mf.name) == ("pool_citizen", "t_receive", "birth certificate")
    assert m.pool_of_element("t_receive").id == "pool_agency"
    assert m.pool_of_element("pool_citizen").name == "Citizen"
    form = p.nodes["inner_task"].form
    assert form.style == "camunda-form"
    assert [f.id for f in form.file_fields] == ["deed_scan"]
    assert {f.id: f.required for f in form.fields} == {"deed_scan": False, "code": True}
    shape = m.shape("t_receive")
    assert (shape.bounds.x, shape.bounds.width, shape.label.height) == (10, 100, 4)
    assert m.diagrams[0].edges["f1"].waypoints == ((1, 2), (3, 4))


def test_zeebe_embedded_form_and_missing_form_file():
    xml = f"""<bpmn:definitions {NS} id="d" targetNamespace="t"><bpmn:process id="p">
      <bpmn:extensionElements><zeebe:userTaskForm id="uf1">{{"components":[{{"type":"filepicker","key":"doc","label":"Birth certificate"}}]}}</zeebe:userTaskForm></bpmn:extensionElements>
      <bpmn:userTask id="u"><bpmn:extensionElements><zeebe:formDefinition formKey="camunda-forms:bpmn:uf1"/></bpmn:extensionElements></bpmn:userTask>
      <bpmn:userTask id="v" camunda:formKey="missing.form"/>
    </bpmn:process></bpmn:definitions>"""
    p = read_model(load_bytes(xml.encode(), "z.bpmn")).processes[0]
    assert [f.label for f in p.nodes["u"].form.file_fields] == ["Birth certificate"]
    assert "not found" in p.nodes["v"].form.problem


def test_samples_read_fully(samples):
    assert len(samples) == 8
    total = 0
    for path in samples:
        m = read_model(load_path(path)[0])
        labels = json.loads(path.with_suffix(".labels.json").read_text())
        [proc] = [p for p in m.processes if p.id == labels["process"]]
        assert {a.id for a in proc.activities} == set(labels["tasks"]), path.name
        total += len(proc.activities)
        for a in proc.activities:
            assert a.line and m.shape(a.id) is not None
            if a.form is not None:
                assert a.form.problem is None, (path.name, a.id, a.form.problem)
    assert total == 131


def test_spiff_schema_fields_nested_and_file_widgets(tmp_path: Path):
    schema = {
        "type": "object",
        "required": ["id_scan"],
        "properties": {
            "id_scan": {"type": "string", "title": "ID", "format": "data-url"},
            "person": {"type": "object", "properties": {"photo": {"type": "string", "title": "Photo"}}},
            "others": {
                "type": "array",
                "items": {"type": "object", "properties": {"deed": {"type": ["string", "null"], "format": "data-url"}}},
            },
            "name": {"type": "string", "title": "Name"},
        },
    }
    (tmp_path / "s.json").write_text(json.dumps(schema))
    (tmp_path / "u.json").write_text(json.dumps({"person": {"photo": {"ui:widget": "file"}}}))
    xml = f"""<bpmn:definitions {NS} xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">
      <bpmn:process id="p"><bpmn:userTask id="u"><bpmn:extensionElements><spiffworkflow:properties>
      <spiffworkflow:property name="formJsonSchemaFilename" value="s.json"/>
      <spiffworkflow:property name="formUiSchemaFilename" value="u.json"/>
      </spiffworkflow:properties></bpmn:extensionElements></bpmn:userTask></bpmn:process></bpmn:definitions>"""
    (tmp_path / "m.bpmn").write_text(xml)
    form = read_model(load_path(tmp_path / "m.bpmn")[0]).processes[0].nodes["u"].form
    assert {f.id: f.is_file for f in form.fields} == {
        "id_scan": True,
        "person.photo": True,
        "others[].deed": True,
        "name": False,
    }
    assert [f.id for f in form.fields if f.required] == ["id_scan"]

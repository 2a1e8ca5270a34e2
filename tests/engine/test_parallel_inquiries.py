"""Independent inquiries run concurrently: three in parallel branches are in flight at the same moment.

The proof is in the inquiry log, not in a stopwatch: every record keeps
when its request went out and when the answer came back (the connector's
clock), and the three intervals overlap — each request left before any
answer arrived. The simulator answers after a delay, so that holds on any
machine able to hand three due jobs to three idle worker threads within
that delay.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from bpmn.load import load_bytes
from engine.clock import SystemClock
from engine.connectors import HttpJsonConnector
from engine.endpoints import for_simulator
from engine.models import InquiryRecordRow as InquiryRecord
from engine.population import sample_person
from engine.runtime import Engine
from engine.services import ServiceDispatch
from engine.simulator import SimulatorHandle, start_simulator

LATENCY_MS = 400
NS = ('xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
      'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"')


def _inquiry(tid: str, service: str, params: dict[str, str]) -> str:
    ps = "".join(f'<spiffworkflow:parameter id="{k}" type="str" value="{v}"/>' for k, v in params.items())
    return (f'<bpmn:serviceTask id="{tid}"><bpmn:extensionElements><spiffworkflow:serviceTaskOperator '
            f'id="inquiry/{service}" resultVariable="{tid}_result"><spiffworkflow:parameters>{ps}'
            '</spiffworkflow:parameters></spiffworkflow:serviceTaskOperator></bpmn:extensionElements>'
            '</bpmn:serviceTask>')


INQUIRIES = {"inq_identity": ("nocr_identity", {"national_code": "national_code", "birth_date": "birth_date"}),
             "inq_address": ("post_gnaf", {"postal_code": "postal_code"}),
             "inq_education": ("education_status", {"national_code": "national_code"})}
MODEL = (
    f'<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions {NS} id="d" targetNamespace="t">'
    '<bpmn:process id="p" isExecutable="true"><bpmn:startEvent id="start"/>'
    '<bpmn:parallelGateway id="split"/><bpmn:parallelGateway id="join"/>'
    + "".join(_inquiry(tid, service, params) for tid, (service, params) in INQUIRIES.items())
    + '<bpmn:userTask id="t_review"/><bpmn:endEvent id="end"/>'
    '<bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="split"/>'
    + "".join(f'<bpmn:sequenceFlow id="a_{t}" sourceRef="split" targetRef="{t}"/>'
              f'<bpmn:sequenceFlow id="b_{t}" sourceRef="{t}" targetRef="join"/>' for t in INQUIRIES)
    + '<bpmn:sequenceFlow id="f1" sourceRef="join" targetRef="t_review"/>'
    '<bpmn:sequenceFlow id="f2" sourceRef="t_review" targetRef="end"/></bpmn:process></bpmn:definitions>'
).encode()


@pytest.fixture
def simulator() -> Iterator[SimulatorHandle]:
    handle = start_simulator(latency_ms=LATENCY_MS)
    yield handle
    handle.stop()


def test_three_independent_inquiries_are_in_flight_at_once(db, simulator):
    clock = SystemClock()
    connector = HttpJsonConnector(for_simulator(simulator.url), clock=clock.now)
    engine = Engine(db, clock, services=ServiceDispatch(db, clock, connector=connector))
    deployment = engine.deploy(load_bytes(MODEL, "parallel_inquiries.bpmn"))
    assert deployment.version is not None, deployment.errors
    person = sample_person(3)
    state = engine.start(deployment.version.id, data={
        "national_code": person.national_code, "birth_date": person.birth_date_jalali,
        "postal_code": person.postal_code})
    assert sorted(state.waiting) == sorted(INQUIRIES)
    with engine.worker_pool(threads=3, poll_interval=0.01):
        deadline = time.monotonic() + 60
        while engine.state(state.id).waiting != ("t_review",) and time.monotonic() < deadline:
            time.sleep(0.02)
    connector.close()
    final = engine.state(state.id)
    assert final.waiting == ("t_review",), final
    assert all(final.data[f"{tid}_result"] for tid in INQUIRIES)
    with db.session_scope(readonly=True) as session:
        records = session.execute(select(InquiryRecord.element_id, InquiryRecord.status, InquiryRecord.requested_at,
                                         InquiryRecord.responded_at)
                                  .where(InquiryRecord.instance_id == state.id)).all()
    assert sorted(r.element_id for r in records) == sorted(INQUIRIES)
    assert {r.status for r in records} == {"OK"}
    # Every request went out before the first answer came back: all three were in flight together.
    assert max(r.requested_at for r in records) < min(r.responded_at for r in records)

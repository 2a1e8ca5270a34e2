"""Independent inquiries run concurrently: three in parallel branches are in flight at the same moment.

The proof is in the inquiry log, not in a stopwatch: every record keeps
when its request went out and when the answer came back (the connector's
clock), and the three intervals overlap — each request left before any
answer arrived. The simulator answers after a delay, so that holds on any
machine able to hand three due jobs to three idle worker threads within
that delay.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bpmn.load import load_bytes
from engine.clock import SystemClock
from engine.connectors import HttpJsonConnector
from engine.endpoints import for_simulator
from engine.models import InquiryRecordRow as InquiryRecord
from engine.runtime import Engine
from engine.services import ServiceDispatch
from engine.simulator import SimulatorHandle, start_simulator

LATENCY_MS = 400
REPO = Path(__file__).resolve().parents[2]

# The inquiry tasks and the applicant's data are the benchmark's own (bench/engine.py, loaded by path:
# its file name would shadow the engine package).
_spec = importlib.util.spec_from_file_location("panjereh_bench_engine", REPO / "bench" / "engine.py")
assert _spec is not None and _spec.loader is not None
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)
_inquiry, NS = bench._inquiry, bench.NS

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
    state = engine.start(deployment.version.id, data=bench.person_data())
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

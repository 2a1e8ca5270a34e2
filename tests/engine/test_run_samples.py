"""End to end: the redesigned sample models run with inquiries answered by the simulator (SQLite and PostgreSQL).

* every redesigned sample completes its main test path, each inquiry answered;
* with the simulator failing, the inquiries' error boundaries take the fallback path;
* with no boundary, an incident appears; once the simulator recovers, retrying it completes the case;
* ``panjereh run`` prints the ``panjereh.run/1`` document (``contracts/run.schema.json``).
"""

from __future__ import annotations

import argparse
import io
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from bpmn.load import load_bytes, load_path
from engine.clock import VirtualClock
from engine.connectors import HttpJsonConnector
from engine.db import Database
from engine.dryrun import Answers, RunOptions, drive, report, run_model
from engine.endpoints import for_simulator
from engine.inquiry_log import verify_stored_chain
from engine.jobs import RetryPolicy
from engine.runtime import Engine
from engine.services import ServiceDispatch
from engine.simulator import SimulatorHandle, start_simulator
from tests.engine.samples_support import MOCKS, answers_for, identifiers, main_path, redesigned, subject
from webui import cmd_run

DATA = Path(__file__).resolve().parents[1] / "data" / "engine"
SAMPLES = ("building_permit", "business_license", "company_registration", "degree_verification_hiring",
           "marriage_registration", "old_age_pension", "passport_issuance", "vehicle_transfer")
POLICY = RetryPolicy(initial=timedelta(seconds=1), maximum=timedelta(seconds=4))


@pytest.fixture(scope="module")
def simulator() -> Iterator[SimulatorHandle]:
    handle = start_simulator()
    yield handle
    handle.stop()


@pytest.fixture
def sim(simulator: SimulatorHandle) -> SimulatorHandle:
    simulator.configure(failure_rate=0.0, latency_ms=0, reset_stats=True)
    return simulator


@pytest.fixture(scope="module")
def ids() -> dict[str, Any]:
    return identifiers(*subject())


@pytest.fixture(scope="module")
def run_schema(shared: Path) -> dict[str, Any]:
    return json.loads((shared / "contracts" / "run.schema.json").read_text(encoding="utf-8"))


def engine_for(db: Database, sim: SimulatorHandle) -> Engine:
    clock = VirtualClock()
    connector = HttpJsonConnector(for_simulator(sim.url), clock=clock.now)
    return Engine(db, clock, services=ServiceDispatch(db, clock, connector=connector, mocks=MOCKS), policy=POLICY,
                  max_attempts=3)


@pytest.mark.parametrize("model_id", SAMPLES)
def test_redesigned_samples_complete_with_the_simulator(model_id: str, db: Database, sim: SimulatorHandle,
                                                        shared: Path, ids: dict[str, Any],
                                                        run_schema: dict[str, Any]) -> None:
    source = redesigned(shared / "samples" / "models" / f"{model_id}.bpmn")
    engine = engine_for(db, sim)
    out = run_model(engine, source, RunOptions(answers=answers_for(main_path(shared, model_id), ids, source),
                                               data=ids, timeout=90))
    jsonschema.validate(out, run_schema)
    assert out["status"] == "completed", out
    assert out["completed"][-1] == "end" and out["incidents"] == []
    assert out["inquiries"] and all(q["status"] == "OK" and q["attempts"] == 1 for q in out["inquiries"]), out
    assert not [c for c in out["completed"] if c.startswith("fallback_")]
    assert sim.stats()["total"]["answered"] == len(out["inquiries"])
    with db.session_scope(readonly=True) as session:
        assert verify_stored_chain(session) == []


@pytest.mark.parametrize("model_id", ["business_license", "vehicle_transfer"])
def test_with_the_simulator_failing_the_fallback_path_is_taken(model_id: str, db: Database, sim: SimulatorHandle,
                                                               shared: Path, ids: dict[str, Any]) -> None:
    sim.configure(failure_rate=1.0, failure_mode="503")
    source = redesigned(shared / "samples" / "models" / f"{model_id}.bpmn")
    engine = engine_for(db, sim)
    out = run_model(engine, source, RunOptions(answers=answers_for(main_path(shared, model_id), ids, source),
                                               data=ids, timeout=90))
    assert out["status"] == "completed", out
    fallbacks = [c for c in out["completed"] if c.startswith("fallback_")]
    errors = [c for c in out["completed"] if c.endswith("_error")]
    assert out["inquiries"] and all(q["status"] == "ERROR" and q["attempts"] == 3 for q in out["inquiries"])
    assert len(fallbacks) == len(errors) == len(out["inquiries"]), out["completed"]
    assert out["incidents"] == []


def test_without_a_boundary_an_incident_and_a_retry_after_recovery_completes(db: Database, sim: SimulatorHandle,
                                                                             ids: dict[str, Any]) -> None:
    sim.configure(failure_rate=1.0, failure_mode="503")
    engine = engine_for(db, sim)
    answers = {"t_form": {"national_code": ids["national_code"], "birth_date": ids["birth_date"]}}
    out = run_model(engine, load_path(DATA / "inquiry_no_boundary.bpmn")[0], RunOptions(answers=answers, timeout=60))
    assert out["status"] == "waiting" and out["waiting"] == ["inq_identity"]
    (incident,) = out["incidents"]
    assert incident["element_id"] == "inq_identity" and "503" in incident["message"]
    assert out["inquiries"] == [{"element_id": "inq_identity", "service": "nocr_identity", "status": "ERROR",
                                 "attempts": 3}]
    sim.configure(failure_rate=0.0)
    (open_incident,) = engine.incidents(out["instance_id"])
    engine.retry_incident(open_incident.id, actor="admin", note="the registry is back")
    state = drive(engine, engine.state(out["instance_id"]), Answers(answers), RunOptions(timeout=60))
    done = report(engine, state)
    assert done["status"] == "completed", done
    assert done["completed"] == ["start", "t_form", "inq_identity", "t_approve", "end"]
    assert done["inquiries"][0]["status"] == "OK" and done["inquiries"][0]["attempts"] == 4
    assert done["incidents"] == [] and done["data"]["identity"]["status"] == "OK"


RACE = b"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
<process id="race" isExecutable="true"><startEvent id="s"/><parallelGateway id="split"/>
<userTask id="fast" name="Fast"/><userTask id="slow" name="Slow"/>
<endEvent id="stop"><terminateEventDefinition/></endEvent><endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="split"/><sequenceFlow id="f2" sourceRef="split" targetRef="fast"/>
<sequenceFlow id="f3" sourceRef="split" targetRef="slow"/><sequenceFlow id="f4" sourceRef="fast" targetRef="stop"/>
<sequenceFlow id="f5" sourceRef="slow" targetRef="e"/></process></definitions>"""


def test_a_run_goes_on_when_completing_one_task_cancels_the_other(db: Database) -> None:
    # Both tasks are open at once; the first one ends the process (terminate) and cancels the second,
    # which the run must not try to complete (it used to end the run with "task ... was cancelled").
    engine = Engine(db, VirtualClock())
    out = run_model(engine, load_bytes(RACE, "race.bpmn"), RunOptions(timeout=30))
    assert out["status"] == "completed", out
    assert out["completed"] == ["s", "fast", "stop"]


# --- the command line ------------------------------------------------------------------------------

def run_cli(*argv: str) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="panjereh")
    cmd_run.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["run", *argv])
    out = io.StringIO()
    return args.func(args, out), out.getvalue()


def test_panjereh_run_prints_the_contract(shared: Path, run_schema: dict[str, Any], tmp_path: Path) -> None:
    model = shared / "samples" / "models" / "business_license.bpmn"
    answers = main_path(shared, "business_license")
    code, text = run_cli(str(model), "--clock", "virtual", "--format", "json", "--answers", json.dumps(answers),
                         "--mock", 'gsb/tax_registration={"registered": true}',
                         "--database", f"sqlite:///{tmp_path / 'run.sqlite3'}")
    out = json.loads(text)
    jsonschema.validate(out, run_schema)
    assert code == 0 and out["status"] == "completed"
    assert out["completed"][0] == "start" and out["completed"][-1] == "end" and "t_tax" in out["completed"]
    assert out["data"]["tax_status"] == {"registered": True}


def test_panjereh_run_repeats_the_last_answer_and_reports_unmocked_operators(shared: Path, tmp_path: Path) -> None:
    model = shared / "samples" / "models" / "business_license.bpmn"
    answers = main_path(shared, "business_license", "woman_restaurant_incomplete_then_rejected")
    code, text = run_cli(str(model), "--clock", "virtual", "--format", "json", "--answers", json.dumps(answers))
    out = json.loads(text)
    assert code == 0 and out["status"] == "waiting" and out["waiting"] == ["t_tax"]
    assert out["completed"].count("t_review") == 2 and out["completed"].count("t_defect") == 1
    (incident,) = out["incidents"]
    assert incident["element_id"] == "t_tax" and "gsb/tax_registration" in incident["message"]


def test_panjereh_run_rejects_a_model_with_its_diagnostics(tmp_path: Path, run_schema: dict[str, Any]) -> None:
    bad = tmp_path / "bad.bpmn"
    bad.write_text((DATA / "resubmit_loop.bpmn").read_text(encoding="utf-8").replace(
        "rounds = rounds + 1", "import os"), encoding="utf-8")
    code, text = run_cli(str(bad), "--format", "json", "--no-simulator")
    out = json.loads(text)
    jsonschema.validate(out, run_schema)
    assert code == 1 and out["status"] == "rejected"
    assert any(d["element_id"] == "t_count" for d in out["diagnostics"])


def test_panjereh_run_text_and_usage_errors(tmp_path: Path) -> None:
    code, text = run_cli(str(DATA / "resubmit_loop.bpmn"), "--clock", "virtual", "--no-simulator",
                         "--data", '{"rounds": 0, "defects": 0}', "--answers", '{"t_submit": [{"pages": 1}, {"pages": 4}]}')
    assert code == 0 and text.startswith("status: completed") and "t_defect → t_count → t_submit" in text
    assert run_cli(str(DATA / "resubmit_loop.bpmn"), "--data", "{not json")[0] == 2
    assert run_cli(str(DATA / "resubmit_loop.bpmn"), "--mock", "nojson")[0] == 2
    # Python reads NaN and Infinity; JSON has neither, and task data could not hold them.
    assert run_cli(str(DATA / "resubmit_loop.bpmn"), "--data", '{"rounds": NaN}')[0] == 2
    assert run_cli(str(DATA / "resubmit_loop.bpmn"), "--answers", '{"t_submit": {"pages": -Infinity}}')[0] == 2
    assert run_cli(str(DATA / "resubmit_loop.bpmn"), "--answers", '{"t_submit": 5}')[0] == 2
    assert run_cli(str(DATA / "resubmit_loop.bpmn"), "--timeout", "-1")[0] == 2
    # A URL naming no driver used to end in SQLAlchemy's traceback.
    assert run_cli(str(DATA / "resubmit_loop.bpmn"), "--no-simulator", "--database", "bogus://x")[0] == 1
    assert run_cli(str(DATA / "resubmit_loop.bpmn"), "--answers", '{"t_submit": [{"pages": 1}, "more"]}')[0] == 2


def test_panjereh_run_reports_the_models_warnings(tmp_path: Path, run_schema: dict[str, Any]) -> None:
    # No start event: the engine begins at the task no flow leads to, and the report says so.
    model = tmp_path / "implicit.bpmn"
    model.write_text('<?xml version="1.0" encoding="UTF-8"?>\n'
                     '<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">\n'
                     '<process id="p" name="Licence" isExecutable="true">\n'
                     '<scriptTask id="fee" name="Fee"><script>fee = 10</script></scriptTask>\n'
                     '</process>\n</definitions>\n', encoding="utf-8")
    code, text = run_cli(str(model), "--format", "json", "--no-simulator", "--clock", "virtual")
    out = json.loads(text)
    jsonschema.validate(out, run_schema)
    assert code == 0 and out["status"] == "completed" and out["completed"] == ["fee"]
    (warning,) = [d for d in out["diagnostics"] if d["code"] == "process.no_start_event"]
    assert (warning["severity"], warning["element_id"], warning["line"]) == ("warning", "p", 3)
    code, text = run_cli(str(model), "--no-simulator", "--clock", "virtual")
    assert code == 0 and "warning: the process «Licence» (p) has no start event" in text

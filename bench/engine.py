"""Benchmark of the durable engine against SpiffWorkflow in memory (a script, not a test).

    python bench/engine.py [--instances 30] [--rounds 9] [--postgres URL]

Prints what it measures and, as its last line, one JSON object with these
ratios, each measured in this run:

* ``durable_vs_memory`` — instances per second of a 10-step reference process
  (4 user tasks, 3 inquiries against the simulator with zero latency, one
  gateway), every step durable on SQLite (start, each task, each inquiry
  job's lease, call, inquiry record and resume committed; the lease is
  committed with the action that creates the job and handed to the
  in-process worker, as the embedded worker pool gets it), divided by plain
  SpiffWorkflow running the same model in memory (its service tasks calling
  the same simulator through the same connector). Target >= 0.5.
* ``loop_step_1000_vs_10`` — durable cost of one step at loop iteration 1,000
  divided by at iteration 10 (the «نقص مدارک» resubmit loop). Target <= 1.5.
* ``model500_vs_model10_step`` — durable cost of one step in a 500-activity
  model divided by one in a 10-activity model. Target <= 3.

  Both step ratios take their steps in turn (old instance, young instance,
  and so on; ``--samples`` each) and compare medians.
* ``durable_vs_memory_rounds`` — not a target: the lowest and the highest
  ratio of a single round (its durable rate over the memory rate of the same
  round), to show how much one round moves on this machine.
* ``floor_vs_memory`` — not a target: the in-memory run plus one journal row
  and commit per action on raw ``sqlite3`` (see :func:`floor_rate`), divided
  by the in-memory run; how high ``durable_vs_memory`` could go here.
* ``postgres_durable_vs_memory`` — the first figure on PostgreSQL, the
  inquiries run by 2 ``panjereh worker`` processes (several instances in
  flight at once), in a new database created for the run and dropped after.

Costs are medians; every figure is taken in the same run, on the same machine,
so the ratios are comparable even when absolute times are not.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lxml import etree  # noqa: E402
from SpiffWorkflow.bpmn.script_engine.python_engine import PythonScriptEngine  # noqa: E402
from SpiffWorkflow.bpmn.script_engine.python_environment import TaskDataEnvironment  # noqa: E402
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow  # noqa: E402
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser  # noqa: E402
from SpiffWorkflow.util.task import TaskState  # noqa: E402

from bpmn.load import load_bytes  # noqa: E402
from engine.clock import SystemClock  # noqa: E402
from engine.connectors import HttpJsonConnector, InquiryContext, InquiryRequest  # noqa: E402
from engine.db import Database, temporary_database  # noqa: E402
from engine.endpoints import for_simulator  # noqa: E402
from engine.population import sample_person  # noqa: E402
from engine.runtime import Engine  # noqa: E402
from engine.services import ServiceDispatch  # noqa: E402
from engine.simulator import start_simulator  # noqa: E402
from engine.worker import Worker  # noqa: E402

NS = ('xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
      'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"')


def _inquiry(tid: str, service: str, params: dict[str, str]) -> str:
    ps = "".join(f'<spiffworkflow:parameter id="{k}" type="str" value="{v}"/>' for k, v in params.items())
    return (f'<bpmn:serviceTask id="{tid}"><bpmn:extensionElements><spiffworkflow:serviceTaskOperator '
            f'id="inquiry/{service}" resultVariable="{tid}_result"><spiffworkflow:parameters>{ps}'
            '</spiffworkflow:parameters></spiffworkflow:serviceTaskOperator></bpmn:extensionElements>'
            '</bpmn:serviceTask>')


def reference_model() -> bytes:
    """The 10-step reference process: start, 4 user tasks, 3 inquiries, a gateway, end."""
    body = (
        '<bpmn:startEvent id="start"/>'
        '<bpmn:userTask id="t_apply" name="ثبت درخواست"/>'
        + _inquiry("inq_identity", "nocr_identity", {"national_code": "national_code", "birth_date": "birth_date"})
        + _inquiry("inq_address", "post_gnaf", {"postal_code": "postal_code"})
        + _inquiry("inq_education", "education_status", {"national_code": "national_code"})
        + '<bpmn:userTask id="t_review" name="بررسی"/>'
        '<bpmn:exclusiveGateway id="gw_ok" default="f_no"/>'
        '<bpmn:userTask id="t_sign" name="امضا"/><bpmn:userTask id="t_issue" name="صدور"/>'
        '<bpmn:endEvent id="end"/><bpmn:endEvent id="end_no"/>'
    )
    chain = ["start", "t_apply", "inq_identity", "inq_address", "inq_education", "t_review", "gw_ok"]
    flows = "".join(f'<bpmn:sequenceFlow id="f{i}" sourceRef="{a}" targetRef="{b}"/>'
                    for i, (a, b) in enumerate(itertools.pairwise(chain)))
    flows += ('<bpmn:sequenceFlow id="f_yes" sourceRef="gw_ok" targetRef="t_sign">'
              '<bpmn:conditionExpression>approved == True</bpmn:conditionExpression></bpmn:sequenceFlow>'
              '<bpmn:sequenceFlow id="f_no" sourceRef="gw_ok" targetRef="end_no"/>'
              '<bpmn:sequenceFlow id="f_sign" sourceRef="t_sign" targetRef="t_issue"/>'
              '<bpmn:sequenceFlow id="f_end" sourceRef="t_issue" targetRef="end"/>')
    return (f'<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions {NS} id="ref" targetNamespace="bench">'
            f'<bpmn:process id="reference" isExecutable="true">{body}{flows}</bpmn:process>'
            '</bpmn:definitions>').encode()


def chain_model(n: int) -> bytes:
    """``n`` user tasks in a row, with an exclusive gateway (skip or not) after every tenth."""
    nodes, flows, prev = ['<bpmn:startEvent id="start"/>'], [], "start"
    for i in range(n):
        nodes.append(f'<bpmn:userTask id="u{i}" name="گام {i}"/>')
        flows.append(f'<bpmn:sequenceFlow id="f{i}" sourceRef="{prev}" targetRef="u{i}"/>')
        prev = f"u{i}"
        if i % 10 == 9 and i < n - 1:
            nodes.append(f'<bpmn:exclusiveGateway id="g{i}" default="d{i}"/>')
            flows.append(f'<bpmn:sequenceFlow id="gi{i}" sourceRef="{prev}" targetRef="g{i}"/>')
            flows.append(f'<bpmn:sequenceFlow id="d{i}" sourceRef="g{i}" targetRef="m{i}"/>')
            flows.append(f'<bpmn:sequenceFlow id="s{i}" sourceRef="g{i}" targetRef="m{i}">'
                         '<bpmn:conditionExpression>skip == True</bpmn:conditionExpression></bpmn:sequenceFlow>')
            nodes.append(f'<bpmn:exclusiveGateway id="m{i}"/>')
            prev = f"m{i}"
    nodes.append('<bpmn:endEvent id="end"/>')
    flows.append(f'<bpmn:sequenceFlow id="fe" sourceRef="{prev}" targetRef="end"/>')
    return (f'<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions {NS} id="chain{n}" targetNamespace="bench">'
            f'<bpmn:process id="chain" isExecutable="true">{"".join(nodes)}{"".join(flows)}</bpmn:process>'
            '</bpmn:definitions>').encode()


LOOP = (REPO / "tests" / "data" / "engine" / "resubmit_loop.bpmn").read_bytes()


def person_data() -> dict[str, Any]:
    someone = sample_person(7)
    return {"national_code": someone.national_code, "birth_date": someone.birth_date_jalali,
            "postal_code": someone.postal_code}


ANSWERS = {"t_apply": {}, "t_review": {"approved": True}, "t_sign": {}, "t_issue": {}}


# --- SpiffWorkflow alone, in memory ----------------------------------------------------------------

Journal = Callable[[Any], None]


class _CallingEnvironment(TaskDataEnvironment):
    """The library's environment, with ``call_service`` making the inquiry through our connector.

    With a ``journal``, the call is journalled before it leaves and its answer after it came back.
    """

    def __init__(self, connector: HttpJsonConnector, journal: Journal | None = None) -> None:
        super().__init__()
        self.connector = connector
        self.journal = journal

    def call_service(self, context: dict[str, Any], operation_name: str = "", operation_params: Any = None,
                     **kwargs: Any) -> str:
        params = {k: v["value"] for k, v in (operation_params or {}).items()}
        request = InquiryRequest(operation_name.removeprefix("inquiry/"), params,
                                 InquiryContext("bench", "memory", "bench", "case", "bench", "bench"),
                                 idempotency_key=f"mem-{time.perf_counter_ns()}")
        if self.journal is not None:
            self.journal({"call": operation_name, "parameters": params, "key": request.idempotency_key})
        answer = self.connector.call(request)
        result = {"status": str(answer.status), "data": dict(answer.data)}
        if self.journal is not None:
            self.journal({"answer": result})
        return json.dumps(result)


def memory_rate(n: int, connector: HttpJsonConnector, journal: Journal | None = None) -> float:
    """Instances per second of the reference process in SpiffWorkflow alone (``journal``: see floor_rate)."""
    parser = SpiffBpmnParser()
    parser.add_bpmn_xml(etree.fromstring(reference_model()))
    spec = parser.get_spec("reference")
    engine = PythonScriptEngine(environment=_CallingEnvironment(connector, journal))
    data = person_data()
    started = time.perf_counter()
    for _ in range(n):
        wf = BpmnWorkflow(spec, script_engine=engine)
        wf.task_tree.data.update(data)
        wf.do_engine_steps()
        if journal is not None:
            journal({"started": wf.last_task.data if wf.last_task is not None else {}})
        while not wf.is_completed():
            for task in wf.get_tasks(state=TaskState.READY, manual=True):
                task.data.update(ANSWERS[task.task_spec.bpmn_id])
                task.run()
                if journal is not None:
                    journal({"completed": task.task_spec.bpmn_id, "data": task.data})
            wf.do_engine_steps()
    return n / (time.perf_counter() - started)


def floor_rate(n: int, connector: HttpJsonConnector, path: str) -> float:
    """The in-memory run plus the least a durable engine must write: one journal row and commit per action.

    Raw ``sqlite3`` on a file in WAL mode (as the engine's), a row of JSON
    after the start, after each user task, before each inquiry leaves and
    after its answer came back: about ten commits an instance, as the engine
    makes. No engine can be durable for less, so ``floor_vs_memory`` is how
    high ``durable_vs_memory`` could go on this machine; the gap between them
    is the engine's own work per action.
    """
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE IF NOT EXISTS journal (id INTEGER PRIMARY KEY, entry TEXT NOT NULL)")

        def journal(entry: Any) -> None:
            db.execute("BEGIN")
            db.execute("INSERT INTO journal (entry) VALUES (?)", (json.dumps(entry, ensure_ascii=False),))
            db.execute("COMMIT")

        return memory_rate(n, connector, journal)
    finally:
        db.close()


# --- durable --------------------------------------------------------------------------------------

def durable_engine(db: Database, sim_url: str) -> Engine:
    clock = SystemClock()
    connector = HttpJsonConnector(for_simulator(sim_url), clock=clock.now)
    return Engine(db, clock, services=ServiceDispatch(db, clock, connector=connector))


class DurableRun:
    """The reference process deployed once on ``db``, with an in-process worker."""

    def __init__(self, db: Database, sim_url: str) -> None:
        self.engine = durable_engine(db, sim_url)
        version = self.engine.deploy(load_bytes(reference_model(), "reference.bpmn"), key="reference").version
        assert version is not None
        self.version_id = version.id
        self.worker = Worker(db, self.engine.clock, self.engine.job_handlers(), batch=10, poll_interval=0.01)
        # As the embedded worker pool: the service jobs an action creates are leased to this worker at once.
        self.engine.hand_jobs_to(self.worker.handoff)

    def rate(self, n: int) -> float:
        """Instances per second over ``n`` instances run one after the other."""
        return durable_rate(n, self)


def durable_rate(n: int, run: DurableRun) -> float:
    """Single-threaded: this thread completes the user tasks and runs the jobs (a worker in-process)."""
    engine, worker, version_id = run.engine, run.worker, run.version_id
    stop = threading.Event()
    data = person_data()
    started = time.perf_counter()
    for _ in range(n):
        state = engine.start(version_id, data=data)
        while not state.ended:
            for ref in state.human_tasks:
                state = engine.complete_task(ref.id, user="bench", data=ANSWERS[ref.element_id])
            if not state.ended and not state.human_tasks:
                worker.drain(stop)
                state = engine.state(state.id)
        assert state.status == "completed", state
    return n / (time.perf_counter() - started)


def postgres_rate(n: int, server_url: str, sim_url: str, workers: int = 2, in_flight: int = 6) -> float:
    """On PostgreSQL, inquiries run by ``workers`` ``panjereh worker`` processes; ``in_flight`` cases at once.

    The run gets a new database: one that earlier runs filled (and, where
    autovacuum is off, left full of dead rows) slows the queue's index scans
    and makes runs incomparable.
    """
    with temporary_database(server_url, prefix="panjereh_bench") as url:
        return _postgres_rate(n, url, sim_url, workers, in_flight)


def _postgres_rate(n: int, url: str, sim_url: str, workers: int, in_flight: int) -> float:
    db = Database(url)
    db.upgrade()
    engine = durable_engine(db, sim_url)
    version = engine.deploy(load_bytes(reference_model(), "reference.bpmn"), key="reference").version
    assert version is not None
    env = {**os.environ, "PANJEREH_INQUIRY_BASE_URL": sim_url, "PYTHONPATH": str(REPO)}
    logs = [tempfile.TemporaryFile(mode="w+") for _ in range(workers)]  # noqa: SIM115 - closed in finally
    procs = [subprocess.Popen([sys.executable, "-m", "webui.cli", "worker", "--database-url", url, "--threads", "2",
                               "--poll", "0.02"], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                              stderr=logs[i]) for i in range(workers)]

    def stalled(why: str) -> RuntimeError:
        tails = []
        for i, log in enumerate(logs):
            log.seek(0)
            lines = [line for line in log.read().splitlines() if " INFO " not in line]
            tails.append(f"worker {i} (exit code {procs[i].poll()}):\n" + "\n".join(lines[-15:]))
        return RuntimeError(f"the PostgreSQL run stalled: {why}\n" + "\n".join(tails))

    try:
        time.sleep(2.0)  # let the workers start before the clock runs
        data = person_data()
        started = time.perf_counter()
        # The driver acts on the state each action returns, and asks the database again only about
        # the cases that wait for the workers (as a clerk's inbox would show them new tasks).
        cases = {s.id: s for s in (engine.start(version.id, data=data) for _ in range(min(in_flight, n)))}
        begun, done = len(cases), 0
        deadline = time.monotonic() + 120
        while cases:
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise stalled(f"{done} of {n} instances completed")
            moved = False
            for instance_id, state in list(cases.items()):
                if not state.ended and not state.human_tasks:
                    state = engine.state(instance_id)
                for ref in state.human_tasks:
                    state = engine.complete_task(ref.id, user="bench", data=ANSWERS[ref.element_id])
                    moved = True
                cases[instance_id] = state
                if state.ended:
                    assert state.status == "completed", state
                    del cases[instance_id]
                    done, moved = done + 1, True
                    if begun < n:
                        new = engine.start(version.id, data=data)
                        cases[new.id] = new
                        begun += 1
            if not moved:
                time.sleep(0.002)
        return done / (time.perf_counter() - started)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        for log in logs:
            log.close()
        db.dispose()


class _Stepper:
    """Instances of one deployed model whose user-task steps ``first`` to ``last - 1`` are timed.

    Each instance is advanced to step ``first`` untimed; once it has given its
    timed steps (or ended), a new one takes its place, so any number of timed
    steps can be asked for at the same depth.
    """

    def __init__(self, engine: Engine, model: bytes, name: str, data: dict[str, Any], answer: dict[str, Any],
                 first: int, last: int) -> None:
        version = engine.deploy(load_bytes(model, f"{name}.bpmn"), key=name).version
        assert version is not None
        self.engine, self.version_id, self.data, self.answer = engine, version.id, data, answer
        self.first, self.last = first, last
        self.state, self.step = None, 0

    def _complete(self) -> float:
        assert self.state is not None
        (ref,) = self.state.human_tasks
        started = time.perf_counter()
        self.state = self.engine.complete_task(ref.id, user="bench", data=self.answer)
        spent = time.perf_counter() - started
        self.step += 1
        return spent

    def timed_step(self) -> float:
        """Seconds of one step at a depth in ``[first, last)``."""
        if self.state is None or self.state.ended or self.step >= self.last:
            self.state, self.step = self.engine.start(self.version_id, data=self.data), 0
            while self.step < self.first:
                self._complete()
            assert not self.state.ended, "the model ends before the measured steps"
        return self._complete()


def step_costs(a: _Stepper, b: _Stepper, samples: int) -> tuple[float, float]:
    """Median seconds of one step of ``a`` and of ``b``, their steps taken in turn.

    Alternating step by step puts a burst of load on the machine (or a
    database checkpoint) on both sides alike, instead of on one of them.
    """
    times_a, times_b = [], []
    for _ in range(samples):
        times_a.append(a.timed_step())
        times_b.append(b.timed_step())
    return statistics.median(times_a), statistics.median(times_b)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=9,
                        help="alternating rounds of the first three runs; each figure is the median round "
                             "(a burst of load on a shared machine moves one round by 10 %%)")
    parser.add_argument("--samples", type=int, default=60, help="timed steps on each side of the step ratios")
    parser.add_argument("--postgres", default=os.environ.get("PANJEREH_BENCH_POSTGRES",
                                                             "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
                        help="a PostgreSQL server (URL of a database there); the run uses a new database on it")
    args = parser.parse_args(argv)
    sim = start_simulator(latency_ms=0)
    results: dict[str, Any] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="panjereh-bench-") as tmp:
            connector = HttpJsonConnector(for_simulator(sim.url))
            db = Database(f"sqlite:///{tmp}/bench.sqlite3")
            db.upgrade()
            run = DurableRun(db, sim.url)
            journal = f"{tmp}/journal.sqlite3"
            memory_rate(3, connector)  # warm up: imports, spec caches, connections
            run.rate(3)
            floor_rate(3, connector, journal)
            # Rounds alternate between the three, and each figure is the median round: a burst of
            # load on the machine then touches all sides alike instead of one of them.
            memories, durables, floors = [], [], []
            for _ in range(args.rounds):
                memories.append(memory_rate(args.instances, connector))
                durables.append(run.rate(args.instances))
                floors.append(floor_rate(args.instances, connector, journal))
            memory, durable = statistics.median(memories), statistics.median(durables)
            floor = statistics.median(floors)
            print(f"reference process: in memory {memory:.1f} instances/s, durable on SQLite {durable:.1f}/s, "
                  f"floor (in memory + one journal row and commit per action) {floor:.1f}/s "
                  f"(median of {args.rounds} alternating rounds of {args.instances})")
            results["memory_instances_per_s"] = round(memory, 2)
            results["sqlite_instances_per_s"] = round(durable, 2)
            results["durable_vs_memory"] = round(durable / memory, 3)
            # Not a target: the lowest and highest ratio of one round, to show how much rounds move here.
            rounds = sorted(d / m for d, m in zip(durables, memories, strict=True))
            results["durable_vs_memory_rounds"] = [round(rounds[0], 3), round(rounds[-1], 3)]
            results["floor_vs_memory"] = round(floor / memory, 3)

            steps = Engine(db, SystemClock())
            loop_data, loop_answer = {"rounds": 0, "defects": 0}, {"pages": 1}
            young = _Stepper(steps, LOOP, "loop", loop_data, loop_answer, 10, 20)
            old = _Stepper(steps, LOOP, "loop", loop_data, loop_answer, 1000, 1000 + args.samples)
            at_10, at_1000 = step_costs(young, old, args.samples)
            print(f"resubmit loop: step at iteration 10 {at_10 * 1000:.2f} ms, at 1,000 {at_1000 * 1000:.2f} ms "
                  f"(medians of {args.samples} steps each, taken in turn)")
            results["loop_step_ms"] = {"10": round(at_10 * 1000, 3), "1000": round(at_1000 * 1000, 3)}
            results["loop_step_1000_vs_10"] = round(at_1000 / at_10, 3)

            small_model = _Stepper(steps, chain_model(10), "chain10", {"skip": False}, {}, 2, 8)
            large_model = _Stepper(steps, chain_model(500), "chain500", {"skip": False}, {}, 250, 250 + args.samples)
            small, large = step_costs(small_model, large_model, args.samples)
            print(f"one step: 10-activity model {small * 1000:.2f} ms, 500-activity model {large * 1000:.2f} ms")
            results["model_step_ms"] = {"10": round(small * 1000, 3), "500": round(large * 1000, 3)}
            results["model500_vs_model10_step"] = round(large / small, 3)
            db.dispose()

        pg = postgres_rate(args.instances, args.postgres, sim.url)
        print(f"reference process on PostgreSQL with 2 worker processes: {pg:.1f} instances/s")
        results["postgres_instances_per_s"] = round(pg, 2)
        results["postgres_durable_vs_memory"] = round(pg / memory, 3)
    finally:
        sim.stop()
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())

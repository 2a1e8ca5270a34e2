"""``panjereh run``: run one instance of a model end to end without the web UI (DESIGN.md §7).

    panjereh run FILE.bpmn [--process ID] [--data JSON] [--answers JSON] [--mock OPERATOR=JSON]...
                 [--clock virtual] [--format text|json] [--database URL] [--no-simulator]

An embedded SQLite database (a temporary file unless ``--database``), the
agency registry simulator on loopback (unless ``--no-simulator``: then
inquiries go where ``PANJEREH_INQUIRY_CONFIG``/``PANJEREH_INQUIRY_BASE_URL``
point, or fail), worker threads in this process, and the driver of
``engine.dryrun``. ``--data``, ``--answers`` and the JSON of ``--mock`` are
JSON text, or ``@FILE`` to read it from a file. The JSON output is
``contracts/run.schema.json``.

Exit codes: 0 the instance completed or waits for something outside the run
(a message, an incident); 1 it failed, the model was rejected or could not be
read; 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from bpmn.errors import LoadError, PanjerehError
from bpmn.load import load_path
from engine.clock import Clock, SystemClock, VirtualClock
from engine.connectors import Connector, EndpointConfigError, HttpJsonConnector
from engine.db import Database
from engine.dryrun import Answers, RunOptions, run_model
from engine.endpoints import EndpointConfig, for_simulator
from engine.jobs import RetryPolicy
from engine.jsontext import strict_loads
from engine.runtime import Engine
from engine.services import ServiceDispatch

# A dry run retries quickly: an analyst waits for it.
RUN_POLICY = RetryPolicy(initial=timedelta(seconds=1), multiplier=2.0, maximum=timedelta(seconds=8))
RUN_MAX_ATTEMPTS = 3


def register(subparsers: Any) -> None:
    """Add the ``run`` subcommand to the ``panjereh`` parser."""
    p = subparsers.add_parser("run", help="run one instance of a model end to end (a dry run)")
    p.add_argument("file", metavar="FILE.bpmn", help="the model (.bpmn or a .zip bundle with one model)")
    p.add_argument("--with", dest="called", action="append", default=[], metavar="FILE.bpmn",
                   help="deploy this model first: the run's call activities may call its processes (repeatable)")
    p.add_argument("--process", default=None, help="the process to start (default: the first runnable one)")
    p.add_argument("--data", default=None, metavar="JSON", help="start data (a JSON object, or @FILE)")
    p.add_argument("--answers", default=None, metavar="JSON",
                   help='form data per task id: {"task_id": {...}} or a list, one per visit (JSON or @FILE)')
    p.add_argument("--mock", action="append", default=[], metavar="OPERATOR=JSON",
                   help="answer a service operator with this fixed result (repeatable)")
    p.add_argument("--clock", choices=("system", "virtual"), default="system",
                   help="virtual: timers and retries fire without waiting")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--database", default=None, metavar="URL", help="database URL (default: a temporary SQLite file)")
    p.add_argument("--no-simulator", action="store_true", help="do not start the registry simulator")
    p.add_argument("--threads", type=int, default=2, help="worker threads (default 2)")
    p.add_argument("--timeout", type=float, default=120.0, help="give up after this many seconds (default 120)")
    p.set_defaults(func=_cmd_run)


def _json_arg(value: str | None, what: str) -> Any:
    if value is None:
        return None
    text = Path(value[1:]).read_text(encoding="utf-8") if value.startswith("@") else value
    try:
        return strict_loads(text)
    except ValueError as exc:
        raise _Usage(f"{what} is not valid JSON: {exc}") from None


class _Usage(Exception):
    pass


def _mocks(items: list[str]) -> dict[str, Any]:
    mocks: dict[str, Any] = {}
    for item in items:
        operator, sep, value = item.partition("=")
        if not sep or not operator.strip():
            raise _Usage(f"--mock {item!r} is not OPERATOR=JSON")
        mocks[operator.strip()] = _json_arg(value, f"--mock {operator}")
    return mocks


def _cmd_run(args: argparse.Namespace, out: Any) -> int:
    try:
        data = _json_arg(args.data, "--data") or {}
        answers = _json_arg(args.answers, "--answers") or {}
        mocks = _mocks(args.mock)
        if not isinstance(data, dict) or not isinstance(answers, dict):
            raise _Usage("--data and --answers must be JSON objects")
        if (problem := Answers.problem(answers)) is not None:
            raise _Usage(f"--answers: {problem}")
        if args.threads < 1:
            raise _Usage("--threads must be at least 1")
        if not args.timeout > 0:
            raise _Usage("--timeout must be a positive number of seconds")
    except (_Usage, OSError) as exc:
        print(f"panjereh run: {exc}", file=sys.stderr)
        return 2
    try:
        sources = load_path(args.file)
        called = [source for path in args.called for source in load_path(path)]
    except LoadError as exc:
        print(f"panjereh run: {exc}", file=sys.stderr)
        return 1
    if len(sources) != 1:
        print(f"panjereh run: {args.file} holds {len(sources)} models; give one", file=sys.stderr)
        return 1
    clock: Clock = VirtualClock() if args.clock == "virtual" else SystemClock()
    # Workers log each dead job as a warning; in a dry run the outcome is in the report.
    logging.getLogger("engine.worker").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="panjereh-run-") as tmp:
        url = args.database or f"sqlite:///{os.path.join(tmp, 'run.sqlite3')}"
        simulator = None
        connector: Connector | None = None
        try:
            db = Database(url)
            db.upgrade()
            if not args.no_simulator:
                from engine.simulator import start_simulator  # local: only a run with the simulator needs it

                simulator = start_simulator()
                endpoints: EndpointConfig | None = for_simulator(simulator.url)
            else:
                endpoints = EndpointConfig.from_env()
            if endpoints is not None:
                connector = HttpJsonConnector(endpoints, clock=clock.now)
            services = ServiceDispatch(db, clock, connector=connector, mocks=mocks)
            engine = Engine(db, clock, services=services, policy=RUN_POLICY, max_attempts=RUN_MAX_ATTEMPTS)
            result = run_model(engine, sources[0], RunOptions(
                process_id=args.process, data=data, answers=answers, threads=args.threads, timeout=args.timeout),
                called=called)
        except (PanjerehError, EndpointConfigError, SQLAlchemyError) as exc:
            # SQLAlchemyError: a --database URL that names no driver, or a server that cannot be reached.
            print(f"panjereh run: {exc}", file=sys.stderr)
            return 1
        finally:
            if connector is not None and isinstance(connector, HttpJsonConnector):
                connector.close()
            if simulator is not None:
                simulator.stop()
        db.dispose()
    if args.format == "json":
        json.dump(result, out, ensure_ascii=False, indent=2)
        out.write("\n")
    else:
        out.write(format_run(result))
    return 0 if result["status"] in ("completed", "waiting") else 1


def format_run(result: dict[str, Any]) -> str:
    """The run outcome for people."""
    lines = [f"status: {result['status']}"]
    if result.get("instance_id"):
        lines.append(f"instance: {result['instance_id']} ({result.get('process_id')})")
    if result.get("completed"):
        lines.append("completed: " + " → ".join(result["completed"]))
    if result.get("waiting"):
        lines.append("waiting for: " + ", ".join(result["waiting"]))
    for q in result.get("inquiries", []):
        lines.append(f"inquiry {q['service']} at {q['element_id']}: {q['status']} after {q['attempts']} attempt(s)")
    for i in result.get("incidents", []):
        lines.append(f"incident at {i.get('element_id') or '-'}: {i['message']}")
    for d in result.get("diagnostics", []):
        where = f" ({d.get('element_id')}, line {d.get('line')})" if d.get("element_id") or d.get("line") else ""
        lines.append(f"{d['severity']}: {d['message']}{where}")
    return "\n".join(lines) + "\n"

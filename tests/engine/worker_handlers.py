"""Job handler factories for the worker tests (``--handlers tests.engine.worker_handlers:...``)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from engine.audit import AuditLog
from engine.clock import Clock
from engine.db import Database
from engine.jobs import Lease
from engine.worker import FunctionHandler, JobHandler


def echo_handlers(db: Database, clock: Clock) -> Mapping[str, JobHandler]:
    """``echo``: returns its payload; resuming writes an audit event with it."""

    def resume(session: Session, lease: Lease, result: Any) -> None:
        AuditLog(session, clock).record("job.echoed", actor=lease.worker_id, details={"result": result})

    return {"echo": FunctionHandler(lambda lease: dict(lease.payload), resume)}


def slow_handlers(db: Database, clock: Clock) -> Mapping[str, JobHandler]:
    """``slow``: marks that it started, then waits for a ``go`` file in the payload's folder."""

    def run(lease: Lease) -> Any:
        folder = Path(lease.payload["folder"])
        (folder / f"started-{lease.job_id}").touch()
        deadline = time.monotonic() + 60  # a guard against hanging forever, not a timed assertion
        while not (folder / "go").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        return "finished"

    return {"slow": FunctionHandler(run)}

"""Service-task dispatch: what a worker does for one service call of a model.

A service task names an *operator* (``spiffworkflow:serviceTaskOperator id``)
and parameters the sandbox evaluated. :meth:`ServiceDispatch.call` decides who
answers, in this order:

1. a fixed result configured for the operator (``panjereh run --mock
   OPERATOR=JSON``, tests);
2. ``inquiry/<service>``: the inquiry connector (endpoints come from server
   configuration, the simulator by default) — every attempt, answered or not,
   leaves one record in the hash-chained inquiry log;
3. a handler the server registered for the operator (trusted Python);
4. nothing: the call fails for good (an incident, or the model's error
   boundary), because no connector is configured for the operator.

Failures are :class:`~engine.errors.JobFailed` with ``retryable`` set from
the connector's error (a registry that did not answer may answer later; a
refused request will not be accepted on retry) and a ``details["code"]``
that a BPMN error boundary with an ``errorCode`` can match.

Inquiry records and crashed workers: the record of a failed attempt is
written when the connector returns, in its own short transaction; the record
of an answered attempt goes into the transaction that completes the job and
resumes the instance (:class:`ServiceOutcome`, :func:`store_record`). If a
worker dies in the middle of a call (or before that transaction commits),
its attempt has no record; the worker that takes the job over writes an
``ERROR`` record for each earlier attempt number that has none ("outcome
unknown: the worker stopped"), so the log still shows one record per attempt.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.clock import Clock
from engine.connectors import (
    SUBJECT_PARAMETERS,
    Connector,
    HttpJsonConnector,
    InquiryContext,
    InquiryError,
    InquiryRequest,
    outcome,
)
from engine.db import Database
from engine.endpoints import EndpointConfig
from engine.errors import JobFailed
from engine.inquiry_log import append_record
from engine.inquiry_record import InquiryRecord, record_for, subject_hash
from engine.jsontext import strict_loads
from engine.models import InquiryRecordRow

log = logging.getLogger(__name__)

INQUIRY_PREFIX = "inquiry/"
ENV_SUBJECT_KEY = "PANJEREH_SUBJECT_KEY"
ENV_MOCKS = "PANJEREH_MOCKS"
# Only for development and tests: production sets PANJEREH_SUBJECT_KEY (DESIGN §8).
_DEVELOPMENT_SUBJECT_KEY = b"panjereh-development-subject-key"

Handler = Callable[[Mapping[str, Any]], Any]


@dataclass(frozen=True)
class ServiceRequest:
    """One service call to make (one attempt of a job)."""

    operator: str
    parameters: Mapping[str, Any]
    idempotency_key: str
    attempt: int = 1
    instance_id: str | None = None
    element_id: str | None = None
    case_id: str | None = None
    purpose: str = ""
    user: str = "engine"


@dataclass(frozen=True)
class ServiceOutcome:
    """A successful call: its JSON result, and the inquiry record still to store (with the result).

    The record of a successful attempt is appended in the transaction that
    completes the job and resumes the instance (:func:`store_record`), so a
    step costs one transaction less; a failed attempt's record is stored at
    once, on its own.
    """

    value: Any
    record: InquiryRecord | None = None


@dataclass(frozen=True)
class InquirySettings:
    """Who the engine says it is when it asks a registry (X-Road-like headers)."""

    client_agency: str = "panjereh"
    client_subsystem: str = "engine"
    legal_basis: str = "the applicant's request (once-only rule); configure per agency"


@dataclass
class ServiceDispatch:
    """Answers service calls: mocks, the inquiry connector, registered handlers (see module docstring)."""

    db: Database | None
    clock: Clock
    connector: Connector | None = None
    handlers: Mapping[str, Handler] = field(default_factory=dict)
    mocks: Mapping[str, Any] = field(default_factory=dict)
    settings: InquirySettings = field(default_factory=InquirySettings)
    subject_key: bytes = _DEVELOPMENT_SUBJECT_KEY

    @classmethod
    def from_env(cls, db: Database, clock: Clock, environ: Mapping[str, str] | None = None,
                 **kwargs: Any) -> ServiceDispatch:
        """A dispatch configured from the environment (what ``panjereh worker`` uses).

        Endpoints come from ``PANJEREH_INQUIRY_CONFIG``/``PANJEREH_INQUIRY_BASE_URL``
        (see ``engine.endpoints``); without them inquiries fail as unknown
        services. ``PANJEREH_SUBJECT_KEY`` keys the subject hashes;
        ``PANJEREH_MOCKS`` (a JSON object operator → result) adds mocks.
        """
        env = os.environ if environ is None else environ
        endpoints = EndpointConfig.from_env(env)
        connector = HttpJsonConnector(endpoints, clock=clock.now) if endpoints is not None else None
        mocks = strict_loads(env[ENV_MOCKS]) if env.get(ENV_MOCKS) else {}
        key = env.get(ENV_SUBJECT_KEY, "").encode("utf-8") or _DEVELOPMENT_SUBJECT_KEY
        return cls(db, clock, connector=connector, mocks=mocks, subject_key=key, **kwargs)

    def serves(self, operator: str) -> bool:
        """Whether some configured answerer exists for ``operator`` (without calling it)."""
        if operator in self.mocks or operator in self.handlers:
            return True
        return operator.startswith(INQUIRY_PREFIX) and self.connector is not None

    def call(self, request: ServiceRequest) -> ServiceOutcome:
        """Make the call; its result (and inquiry record); :class:`JobFailed` when it failed."""
        op = request.operator
        if op in self.mocks:
            return ServiceOutcome(self.mocks[op])
        if op.startswith(INQUIRY_PREFIX):
            return self._inquiry(request, op[len(INQUIRY_PREFIX):])
        handler = self.handlers.get(op)
        if handler is not None:
            return ServiceOutcome(handler(dict(request.parameters)))
        raise JobFailed(f"no connector is configured for the service operator '{op}'", retryable=False,
                        details={"code": "service.unknown", "operator": op})

    # --- inquiries ------------------------------------------------------------------------------

    def _inquiry(self, request: ServiceRequest, service_id: str) -> ServiceOutcome:
        if self.connector is None:
            raise JobFailed(f"no inquiry connector is configured (service {service_id})", retryable=False,
                            details={"code": "service.unknown", "operator": request.operator})
        if request.attempt > 1:
            self._record_lost_attempts(request, service_id)
        inquiry = InquiryRequest(
            service_id=service_id, parameters=dict(request.parameters),
            context=InquiryContext(self.settings.client_agency, self.settings.client_subsystem, request.user,
                                   request.case_id or request.instance_id or "-", request.purpose,
                                   self.settings.legal_basis),
            idempotency_key=request.idempotency_key)
        try:
            response = self.connector.call(inquiry)
        except InquiryError as exc:
            self._record(inquiry, outcome(exc), request)
            raise JobFailed(f"inquiry {service_id} failed: {exc.message} [{exc.code}]", retryable=exc.retryable,
                            details={"code": exc.code, "service": service_id,
                                     "status": str(exc.response.status) if exc.response else "ERROR"}) from exc
        record = record_for(inquiry, response, subject_key=self.subject_key, instance_id=request.instance_id,
                            element_id=request.element_id, attempt=request.attempt)
        value = {"service": service_id, "status": str(response.status), "data": dict(response.data),
                 "criterion_result": response.criterion_result}
        return ServiceOutcome(value, record if self.db is not None else None)

    def _record(self, inquiry: InquiryRequest, response: Any, request: ServiceRequest) -> None:
        if self.db is None or response is None:
            return
        record = record_for(inquiry, response, subject_key=self.subject_key, instance_id=request.instance_id,
                            element_id=request.element_id, attempt=request.attempt)
        with self.db.session_scope() as session:
            append_record(session, record)

    def _record_lost_attempts(self, request: ServiceRequest, service_id: str) -> None:
        """An ERROR record for every earlier attempt of this call that left none (its worker died)."""
        if self.db is None:
            return
        with self.db.session_scope() as session:
            seen = set(session.scalars(select(InquiryRecordRow.attempt)
                                       .where(InquiryRecordRow.idempotency_key == request.idempotency_key)))
            now = self.clock.now()
            for attempt in range(1, request.attempt):
                if attempt in seen:
                    continue
                subject = _subject(request.parameters)
                append_record(session, InquiryRecord(
                    service_id=service_id, requested_at=now, status="ERROR", instance_id=request.instance_id,
                    case_id=request.case_id or request.instance_id, element_id=request.element_id,
                    requester_agency=f"{self.settings.client_agency}/{self.settings.client_subsystem}",
                    requester_user=request.user, legal_basis=self.settings.legal_basis, purpose=request.purpose,
                    subject_hash=subject_hash(subject[0], subject[1], self.subject_key) if subject else None,
                    attempt=attempt, idempotency_key=request.idempotency_key))
                log.warning("inquiry %s attempt %d of %s left no record (its worker stopped); recorded as ERROR",
                            service_id, attempt, request.idempotency_key)


def store_record(session: Session, outcome: ServiceOutcome) -> None:
    """Append a successful attempt's inquiry record in the caller's transaction."""
    if outcome.record is not None:
        append_record(session, outcome.record)


def _subject(parameters: Mapping[str, Any]) -> tuple[str, str] | None:
    for name in SUBJECT_PARAMETERS:
        value = parameters.get(name)
        if isinstance(value, str | int) and not isinstance(value, bool):
            return name, str(value)
    return None


def idempotency_key(*parts: str) -> str:
    """A stable key from its parts (short enough for the jobs table and HTTP headers)."""
    return "pj-" + hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:40]

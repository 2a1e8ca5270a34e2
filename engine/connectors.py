"""Inquiry connectors: how the engine asks an agency registry, and what can go wrong.

A connector has one method, ``call(InquiryRequest) -> InquiryResponse``
(:class:`Connector`). :class:`HttpJsonConnector` speaks the protocol below to
the endpoint that server configuration (:mod:`engine.endpoints`) gives for the
service; :class:`FakeConnector` answers in-process for unit tests;
:func:`call_many` runs independent inquiries concurrently.

Protocol (``X-Panjereh-Protocol: 1``, modelled on X-Road)
----------------------------------------------------------
``POST <endpoint URL>`` with a JSON body, UTF-8, keys sorted, no whitespace
(the bytes are hashed, so they are produced one way only)::

    {"parameters": {"national_code": "0012345679", "birth_date": "1370/01/01"},
     "service": "nocr_identity"}                      (+ "fields": [...] to ask for fewer)

Request headers (values are UTF-8, percent-encoded per RFC 3986 where they are
not plain ASCII, e.g. a Persian purpose)::

    X-Panjereh-Protocol     1
    X-Panjereh-Client       <agency>/<subsystem>         who asks (X-Road client)
    X-Panjereh-Service      <service id>                 what is asked (X-Road service)
    X-Panjereh-User         <user id>                    the official behind it (X-Road userId)
    X-Panjereh-Case         <case id>                    the application (X-Road issue)
    X-Panjereh-Purpose      <purpose>
    X-Panjereh-Legal-Basis  <instrument/article>
    Idempotency-Key         <key>                        same for every attempt of one inquiry
    X-Request-Id            <uuid>                       new for every attempt (= inquiry record id)
    <auth header>           <secret>                     when configured; the secret comes from an env var

Answers: ``200`` with ``{"status": "OK" | "NOT_FOUND" | "SUBJECT_MISMATCH" |
"DENIED", "service": id, "data": {...}, "criterion_result": true|false|null}``
(checked against :data:`ANSWER_SCHEMA` with ``jsonschema``). A registry that
answered is a *response*, whatever the status: "not found" is an answer.
Response headers: ``X-Request-Id`` echoed, ``X-Panjereh-Request-Hash`` (hex
SHA-256 of the request body as received: compared with ours),
``Idempotent-Replayed: true`` when answered from the idempotency cache.
Failures are ``4xx``/``5xx`` with ``{"error": {"code": "...", "message": "..."}}``
and ``Retry-After`` on ``429``/``503``. Redirects are never followed.

Exceptions (no answer was obtained)
-----------------------------------
::

    PanjerehError
    ├── InquiryError            .service_id .code .retryable .http_status .response
    │   │                       (.response: the attempt's InquiryResponse with status
    │   │                        ERROR/TIMEOUT/DENIED, request bytes and times, always
    │   │                        set by a connector, so that failed attempts get an
    │   │                        inquiry record too)
    │   ├── InquiryUnavailable  retryable: nobody answered now — connection refused or
    │   │   │                   reset, 5xx, 429, 408; .retry_after (seconds) when told
    │   │   └── InquiryTimeout  connect/read/write/pool timeout (status TIMEOUT)
    │   ├── InquiryRejected     not retryable: the request is wrong or not allowed —
    │   │   │                   400/404/422, 401/403 (status DENIED), parameters that
    │   │   │                   are not JSON, a configured secret missing
    │   │   └── UnknownService  no endpoint for this service id (a model names a
    │   │                       service that the server does not know)
    │   └── InquiryProtocolError  not retryable: an answer came but is unusable —
    │                           not JSON, fails the schema, too large, a redirect,
    │                           request-hash echo differs
    └── EndpointConfigError     the endpoint configuration is broken (start-up error)

Logging: one line per attempt on the ``panjereh.inquiry`` logger with the
service, request id, case, status, HTTP status and time, and the subject and
user only as keyed hashes. Parameters, bodies and secrets are never logged,
and exception messages carry no parameter values.
"""

from __future__ import annotations

import enum
import functools
import json
import logging
import os
import secrets
import ssl
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

import httpx
import jsonschema

from bpmn.errors import PanjerehError
from engine.inquiry_record import sha256_hex, subject_hash
from engine.jsontext import strict_loads

if TYPE_CHECKING:
    from engine.endpoints import EndpointConfig

log = logging.getLogger("panjereh.inquiry")

PROTOCOL_VERSION = "1"
# Parameters that name the subject of an inquiry, most specific first (hashed in logs and records).
SUBJECT_PARAMETERS = ("national_code", "legal_entity_national_id", "fida_code")


class InquiryStatus(enum.StrEnum):
    """The outcome of one attempt (the catalog's ``audit_record_schema.result.status``)."""

    OK = "OK"
    NOT_FOUND = "NOT_FOUND"
    SUBJECT_MISMATCH = "SUBJECT_MISMATCH"
    DENIED = "DENIED"
    ERROR = "ERROR"
    TIMEOUT = "TIMEOUT"


ANSWER_STATUSES = ("OK", "NOT_FOUND", "SUBJECT_MISMATCH", "DENIED")
ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["status", "data"],
    "properties": {
        "status": {"enum": list(ANSWER_STATUSES)},
        "service": {"type": "string"},
        "data": {"type": "object"},
        "criterion_result": {"type": ["boolean", "null"]},
        "message": {"type": "string"},
    },
}
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["code"],
                             "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}},
}


@functools.cache
def _validators() -> tuple[jsonschema.protocols.Validator, jsonschema.protocols.Validator]:
    return jsonschema.Draft202012Validator(ANSWER_SCHEMA), jsonschema.Draft202012Validator(ERROR_SCHEMA)


def utc_now() -> datetime:
    """The wall clock in UTC (the default clock of the connectors)."""
    return datetime.now(UTC)


@functools.cache
def _process_log_key() -> bytes:
    # Without a configured key, log hashes still hide the subject and stay
    # comparable within one process (enough to follow one case's retries).
    return secrets.token_bytes(32)


# --- values ------------------------------------------------------------------------------

@dataclass(frozen=True)
class InquiryContext:
    """Who asks, for which case, and why (sent as X-Road-like headers, kept in the record)."""

    client_agency: str
    client_subsystem: str
    user_id: str
    case_id: str
    purpose: str
    legal_basis: str

    @property
    def client(self) -> str:
        """``agency/subsystem`` as in the ``X-Panjereh-Client`` header."""
        return f"{self.client_agency}/{self.client_subsystem}"


@dataclass(frozen=True)
class InquiryRequest:
    """One inquiry to make: which service, with which parameters, in which context.

    ``idempotency_key`` stays the same over all attempts of one inquiry (a
    job's retries, a worker that crashed and was replaced), so the registry
    answers a repeat without doing the work twice; ``request_id`` is new for
    every attempt and becomes the inquiry record's id. ``fields`` (optional)
    asks for fewer of the service's ``returns``.
    """

    service_id: str
    parameters: Mapping[str, Any]
    context: InquiryContext
    idempotency_key: str
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    fields: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # A read-only copy: the caller's dict may change after the request is made.
        object.__setattr__(self, "parameters", MappingProxyType(dict(self.parameters)))

    def retry(self) -> InquiryRequest:
        """The next attempt of this inquiry: same idempotency key, new request id."""
        return replace(self, request_id=str(uuid.uuid4()))

    def subject(self) -> tuple[str, str] | None:
        """``(identifier type, value)`` of the inquiry's subject, when a parameter names one."""
        for name in SUBJECT_PARAMETERS:
            value = self.parameters.get(name)
            if isinstance(value, str | int) and not isinstance(value, bool):
                return name, str(value)
        return None


@dataclass(frozen=True)
class InquiryResponse:
    """What one attempt produced: the registry's answer, or the traces of a failed attempt.

    ``request_body``/``response_body`` are the exact bytes exchanged (hashed
    into the inquiry record, not stored). Times come from the connector's
    clock; ``elapsed_ms`` is measured with a monotonic timer.
    """

    service_id: str
    status: InquiryStatus
    data: Mapping[str, Any]
    request_id: str
    idempotency_key: str
    request_body: bytes
    response_body: bytes
    started_at: datetime
    finished_at: datetime
    elapsed_ms: float
    http_status: int | None = None
    criterion_result: bool | None = None
    replayed: bool = False
    error_code: str | None = None

    @property
    def ok(self) -> bool:
        """True for status ``OK``."""
        return self.status is InquiryStatus.OK

    @property
    def request_hash(self) -> str:
        """Hex SHA-256 of the request body."""
        return sha256_hex(self.request_body)

    @property
    def response_hash(self) -> str | None:
        """Hex SHA-256 of the response body (``None`` when nothing came back)."""
        return sha256_hex(self.response_body) if self.response_body else None


# --- errors ---------------------------------------------------------------------------------

class InquiryError(PanjerehError):
    """No answer was obtained for an inquiry (see the tree in the module docstring)."""

    retryable = False
    status = InquiryStatus.ERROR

    def __init__(self, service_id: str, code: str, message: str, *, http_status: int | None = None,
                 response: InquiryResponse | None = None, retry_after: float | None = None,
                 provider_message: str | None = None) -> None:
        self.service_id = service_id
        self.code = code
        self.message = message
        self.http_status = http_status
        self.response = response
        self.retry_after = retry_after
        # The registry's own words: may contain personal data, so kept out of str(self).
        self.provider_message = provider_message
        super().__init__(f"inquiry {service_id}: {message} [{code}]")


class InquiryUnavailable(InquiryError):
    """Nobody answered now (connection failed, 5xx, 429): a later attempt may succeed."""

    retryable = True


class InquiryTimeout(InquiryUnavailable):
    """The registry did not answer within the configured timeout."""

    status = InquiryStatus.TIMEOUT


class InquiryRejected(InquiryError):
    """The registry (or our configuration) refused this request: repeating it will not help."""


class UnknownService(InquiryRejected):
    """No endpoint is configured for this service id."""


class InquiryProtocolError(InquiryError):
    """An answer came back but breaks the protocol, so it cannot be used."""


class EndpointConfigError(PanjerehError):
    """The inquiry endpoint configuration is invalid (raised when it is loaded)."""


# --- the interface ------------------------------------------------------------------------------

class Connector(Protocol):
    """Something that can make inquiries: HTTP, in-process fake, a test double."""

    def call(self, request: InquiryRequest) -> InquiryResponse:
        """Make one attempt; return the answer or raise an :class:`InquiryError`."""
        ...


def encode_request(request: InquiryRequest) -> bytes:
    """The request body: canonical JSON, so that equal requests hash equally."""
    body: dict[str, Any] = {"service": request.service_id, "parameters": dict(request.parameters)}
    if request.fields:
        body["fields"] = list(request.fields)
    try:
        return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise InquiryRejected(request.service_id, "request.not_json",
                              "parameters must be JSON values (strings, numbers, booleans, lists, objects)") from exc


def _header_value(value: str) -> str:
    return quote(value, safe=" !$&'()*+,-./:;=?@_~")


def protocol_headers(request: InquiryRequest) -> dict[str, str]:
    """The protocol's request headers for ``request`` (without any auth header)."""
    ctx = request.context
    return {
        "Content-Type": "application/json; charset=utf-8",
        "Accept": "application/json",
        "X-Panjereh-Protocol": PROTOCOL_VERSION,
        "X-Panjereh-Client": _header_value(ctx.client),
        "X-Panjereh-Service": _header_value(request.service_id),
        "X-Panjereh-User": _header_value(ctx.user_id),
        "X-Panjereh-Case": _header_value(ctx.case_id),
        "X-Panjereh-Purpose": _header_value(ctx.purpose),
        "X-Panjereh-Legal-Basis": _header_value(ctx.legal_basis),
        "Idempotency-Key": _header_value(request.idempotency_key),
        "X-Request-Id": _header_value(request.request_id),
    }


def parse_answer(service_id: str, body: bytes) -> tuple[InquiryStatus, dict[str, Any], bool | None]:
    """Status, data and criterion result of a ``200`` answer body; raises :class:`InquiryProtocolError`."""
    try:
        doc = strict_loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InquiryProtocolError(service_id, "response.not_json", "the answer is not JSON") from exc
    answer_validator, _ = _validators()
    error = jsonschema.exceptions.best_match(answer_validator.iter_errors(doc))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise InquiryProtocolError(service_id, "response.schema", f"the answer does not fit the protocol at {where}")
    return InquiryStatus(doc["status"]), doc["data"], doc.get("criterion_result")


def _error_body(body: bytes) -> tuple[str | None, str | None]:
    """The ``error.code`` and ``error.message`` of a failure body, when it has them."""
    try:
        doc = strict_loads(body)
    except (UnicodeDecodeError, ValueError):
        return None, None
    _, error_validator = _validators()
    if not error_validator.is_valid(doc):
        return None, None
    return doc["error"]["code"], doc["error"].get("message")


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:  # an HTTP date: rare from registries; the worker's own backoff applies
        return None


class _Attempt:
    """Timing and logging of one attempt, shared by the HTTP and fake connectors."""

    def __init__(self, request: InquiryRequest, body: bytes, clock: Callable[[], datetime], log_key: bytes) -> None:
        self.request = request
        self.body = body
        self.clock = clock
        self.log_key = log_key
        self.started_at = clock()
        self._t0 = time.perf_counter()

    def response(self, status: InquiryStatus, *, data: Mapping[str, Any] | None = None, raw: bytes = b"",
                 http_status: int | None = None, criterion: bool | None = None, replayed: bool = False,
                 error_code: str | None = None) -> InquiryResponse:
        resp = InquiryResponse(
            service_id=self.request.service_id, status=status, data=MappingProxyType(dict(data or {})),
            request_id=self.request.request_id, idempotency_key=self.request.idempotency_key,
            request_body=self.body, response_body=raw, started_at=self.started_at, finished_at=self.clock(),
            elapsed_ms=(time.perf_counter() - self._t0) * 1000, http_status=http_status,
            criterion_result=criterion, replayed=replayed, error_code=error_code)
        self.log(resp)
        return resp

    def fail(self, error: InquiryError, raw: bytes = b"") -> InquiryError:
        """``error`` with the attempt's :class:`InquiryResponse` attached (and logged)."""
        status = InquiryStatus.DENIED if error.http_status in (401, 403) else error.status
        error.response = self.response(status, raw=raw, http_status=error.http_status, error_code=error.code)
        return error

    def log(self, resp: InquiryResponse) -> None:
        subject = self.request.subject()
        log.info("inquiry service=%s request_id=%s case=%s subject=%s user=%s status=%s http=%s elapsed_ms=%.0f%s%s",
                 resp.service_id, resp.request_id, self.request.context.case_id,
                 subject_hash(subject[0], subject[1], self.log_key)[:16] if subject else "-",
                 subject_hash("user", self.request.context.user_id, self.log_key)[:16],
                 resp.status, resp.http_status or "-", resp.elapsed_ms,
                 " replayed" if resp.replayed else "", f" error={resp.error_code}" if resp.error_code else "")


def _begin(request: InquiryRequest, clock: Callable[[], datetime], log_key: bytes) -> tuple[_Attempt, bytes]:
    """Start an attempt: encode the body (a failure is already an attempt, with an empty body)."""
    try:
        body = encode_request(request)
    except InquiryRejected as exc:
        _Attempt(request, b"", clock, log_key).fail(exc)
        raise
    return _Attempt(request, body, clock, log_key), body


# --- HTTP -------------------------------------------------------------------------------------

class HttpJsonConnector:
    """The protocol above over HTTP(S) with ``httpx``; thread-safe, one connection pool.

    ``transport`` replaces the network (``httpx.MockTransport`` in tests);
    ``environ`` is where auth secrets are read, at call time so a rotated
    secret is picked up; ``clock`` stamps ``started_at``/``finished_at``;
    ``log_key`` keys the hashes written to the log; ``verify`` is an
    ``ssl.SSLContext`` for a government CA (or ``True`` for the system's).
    """

    def __init__(self, endpoints: EndpointConfig, *, transport: httpx.BaseTransport | None = None,
                 environ: Mapping[str, str] | None = None, clock: Callable[[], datetime] = utc_now,
                 log_key: bytes | None = None, max_response_bytes: int = 2 * 1024 * 1024,
                 verify: ssl.SSLContext | bool = True) -> None:
        self.endpoints = endpoints
        self._environ = os.environ if environ is None else environ
        self._clock = clock
        self._log_key = log_key or _process_log_key()
        self._max = max_response_bytes
        # No redirects: a registry must not be able to send us elsewhere (SSRF).
        # trust_env=False: proxies and .netrc from the environment must not reroute inquiries silently.
        self._client = httpx.Client(transport=transport, follow_redirects=False, trust_env=False, verify=verify)

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def __enter__(self) -> HttpJsonConnector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, request: InquiryRequest) -> InquiryResponse:
        """POST the inquiry to its configured endpoint; see the module docstring for outcomes."""
        sid = request.service_id
        attempt, body = _begin(request, self._clock, self._log_key)
        try:
            endpoint = self.endpoints.resolve(sid)
        except InquiryError as exc:
            attempt.fail(exc)
            raise
        headers = protocol_headers(request)
        if endpoint.auth_header and endpoint.auth_env:
            secret = self._environ.get(endpoint.auth_env)
            if not secret:
                raise attempt.fail(InquiryRejected(sid, "endpoint.secret_missing",
                                                   "the secret for this endpoint is not set (environment "
                                                   f"variable {endpoint.auth_env})"))
            if not secret.isascii() or not secret.isprintable():
                # Never echo it: a header that cannot be sent is a configuration error, not a registry outage.
                raise attempt.fail(InquiryRejected(sid, "endpoint.secret_invalid",
                                                   f"the secret in {endpoint.auth_env} is not a valid header value"))
            headers[endpoint.auth_header] = secret
        timeout = httpx.Timeout(connect=endpoint.connect_timeout, read=endpoint.read_timeout,
                                write=endpoint.read_timeout, pool=endpoint.connect_timeout)
        try:
            with self._client.stream("POST", endpoint.url, content=body, headers=headers, timeout=timeout) as resp:
                raw = self._read(sid, resp)
                status_code, resp_headers = resp.status_code, resp.headers
        except httpx.TimeoutException as exc:
            raise attempt.fail(InquiryTimeout(sid, "transport.timeout",
                                              f"no answer in time ({type(exc).__name__})")) from exc
        except httpx.LocalProtocolError as exc:  # we could not even form the request: repeating will not help
            raise attempt.fail(InquiryRejected(sid, "request.http",
                                               f"the request could not be sent ({type(exc).__name__})")) from exc
        except httpx.DecodingError as exc:
            raise attempt.fail(InquiryProtocolError(sid, "response.encoding",
                                                    "the answer's content encoding is broken")) from exc
        except httpx.TransportError as exc:
            raise attempt.fail(InquiryUnavailable(sid, "transport.error",
                                                  f"cannot reach the registry ({type(exc).__name__})")) from exc
        except InquiryProtocolError as exc:
            attempt.fail(exc)
            raise
        return self._interpret(attempt, status_code, resp_headers, raw)

    def _read(self, service_id: str, resp: httpx.Response) -> bytes:
        chunks, size = [], 0
        for chunk in resp.iter_bytes():
            size += len(chunk)
            if size > self._max:
                raise InquiryProtocolError(service_id, "response.too_large",
                                           f"the answer is larger than {self._max} bytes", http_status=resp.status_code)
            chunks.append(chunk)
        return b"".join(chunks)

    def _interpret(self, attempt: _Attempt, status_code: int, headers: httpx.Headers, raw: bytes) -> InquiryResponse:
        sid = attempt.request.service_id
        if status_code == 200:
            echo = headers.get("X-Panjereh-Request-Hash")
            if echo is not None and echo.lower() != sha256_hex(attempt.body):
                raise attempt.fail(InquiryProtocolError(sid, "response.request_hash",
                                                        "the registry acknowledged a different request body",
                                                        http_status=200), raw)
            try:
                status, data, criterion = parse_answer(sid, raw)
            except InquiryProtocolError as exc:
                exc.http_status = 200
                attempt.fail(exc, raw)
                raise
            replayed = headers.get("Idempotent-Replayed", "").lower() == "true"
            return attempt.response(status, data=data, raw=raw, http_status=200, criterion=criterion,
                                    replayed=replayed)
        code, message = _error_body(raw)
        code = code or f"http.{status_code}"
        kwargs: dict[str, Any] = {"http_status": status_code, "provider_message": message}
        if status_code in (408, 429) or status_code >= 500:
            error: InquiryError = InquiryUnavailable(
                sid, code, f"the registry is unavailable (HTTP {status_code})",
                retry_after=_retry_after(headers.get("Retry-After")), **kwargs)
        elif 300 <= status_code < 400:
            error = InquiryProtocolError(sid, "response.redirect", f"the registry redirected (HTTP {status_code})",
                                         **kwargs)
        elif status_code in (401, 403):
            error = InquiryRejected(sid, code, f"the registry refused this client (HTTP {status_code})", **kwargs)
        elif 400 <= status_code < 500:
            error = InquiryRejected(sid, code, f"the registry rejected the request (HTTP {status_code})", **kwargs)
        else:
            error = InquiryProtocolError(sid, "response.status", f"unexpected HTTP status {status_code}", **kwargs)
        raise attempt.fail(error, raw)


# --- fake ---------------------------------------------------------------------------------------

FakeAnswer = Mapping[str, Any] | Callable[[InquiryRequest], Mapping[str, Any]]


class FakeConnector:
    """In-process connector for unit tests: canned answers, recorded calls, idempotency.

    ``answers`` maps a service id to an answer body (``{"status": "OK",
    "data": {...}}``, checked against :data:`ANSWER_SCHEMA`) or to a function
    of the request returning one; the function may raise an
    :class:`InquiryError` to simulate a failure. A service with no answer
    raises :class:`UnknownService`, as an unconfigured endpoint would. A
    repeated idempotency key returns the first *answer* again (failures are
    not remembered, so a retry can succeed), as the protocol requires.
    """

    def __init__(self, answers: Mapping[str, FakeAnswer] | None = None, *,
                 clock: Callable[[], datetime] = utc_now, log_key: bytes | None = None,
                 cache_size: int = 1024) -> None:
        self.answers: dict[str, FakeAnswer] = dict(answers or {})
        self.calls: list[InquiryRequest] = []
        self._clock = clock
        self._log_key = log_key or _process_log_key()
        self._cache: OrderedDict[tuple[str, str], tuple[InquiryStatus, dict[str, Any], bool | None, bytes]] = \
            OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def call(self, request: InquiryRequest) -> InquiryResponse:
        """Answer from the canned answers (see the class docstring)."""
        with self._lock:
            self.calls.append(request)
        sid = request.service_id
        attempt, _ = _begin(request, self._clock, self._log_key)
        key = (sid, request.idempotency_key)
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            status, data, criterion, raw = cached
            return attempt.response(status, data=data, raw=raw, http_status=200, criterion=criterion, replayed=True)
        answer = self.answers.get(sid)
        if answer is None:
            raise attempt.fail(UnknownService(sid, "service.unknown", "no connector answers this service"))
        try:
            doc = dict(answer(request) if callable(answer) else answer)
        except InquiryError as exc:
            attempt.fail(exc)
            raise
        doc.setdefault("data", {})
        doc.setdefault("service", sid)
        raw = json.dumps(doc, sort_keys=True, ensure_ascii=False).encode("utf-8")
        status, data, criterion = parse_answer(sid, raw)
        with self._lock:
            self._cache[key] = (status, data, criterion, raw)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return attempt.response(status, data=data, raw=raw, http_status=200, criterion=criterion)


# --- concurrency -----------------------------------------------------------------------------------

def call_many(connector: Connector, requests: Sequence[InquiryRequest],
              max_workers: int = 8) -> list[InquiryResponse | InquiryError]:
    """Make independent inquiries concurrently; results in the order of ``requests``.

    Each result is the :class:`InquiryResponse` or the :class:`InquiryError`
    of that request, so one failing registry does not hide the others'
    answers. Anything that is not an :class:`InquiryError` is a bug and
    propagates.
    """
    if not requests:
        return []

    def one(request: InquiryRequest) -> InquiryResponse | InquiryError:
        try:
            return connector.call(request)
        except InquiryError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(requests))),
                            thread_name_prefix="inquiry") as pool:
        futures = [pool.submit(one, r) for r in requests]
        return [f.result() for f in futures]


def outcome(result: InquiryResponse | InquiryError) -> InquiryResponse | None:
    """The attempt's :class:`InquiryResponse` whether it succeeded or failed (for the inquiry record)."""
    return result.response if isinstance(result, InquiryError) else result

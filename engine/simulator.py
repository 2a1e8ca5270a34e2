"""The agency registry simulator: every catalog inquiry, over real HTTP, from a synthetic population.

For development, demos and tests (DESIGN.md §4). It speaks the protocol of
:mod:`engine.connectors` and answers every inquiry service of the catalog
from :mod:`engine.population` via :mod:`engine.registries`. It runs in a
background thread (:func:`start_simulator`, used by the embedded default, by
``panjereh run`` and by tests) or standalone (``panjereh simulator``).

Endpoints (all JSON; errors are ``{"error": {"code", "message"}}``, never an
HTML page or a traceback)::

    POST /inquiries/<service>   an inquiry (see engine.connectors for headers and bodies)
    GET  /health                {"status": "ok", "services": N, "seed": S}
    GET  /services              the catalog services answered, with a valid sample subject each
    GET  /_stats                calls per service (requests, answered, replayed, failed, rejected)
                                and per idempotency key
    GET  /_requests?limit=N     the latest requests' headers and outcomes (never parameters)
    GET  /_control              the current behaviour
    POST /_control              change it at run time: {"latency_ms", "jitter_ms", "failure_rate",
                                "failure_mode": "503"|"timeout"|"mixed", "hang_ms",
                                "services": {"<id>": {...same keys...} | null}, "reset_stats": true}

Behaviour: each answer waits ``latency_ms`` (+ up to ``jitter_ms``); a
fraction ``failure_rate`` of requests fails, with 503 + ``Retry-After`` or by
holding the connection ``hang_ms`` and closing it unanswered (``timeout``).
Which requests fail and how much jitter they get is decided by hashing the
seed with the service and its request count, so a test sees the same
sequence on every run. Per-service overrides win over the defaults.

Idempotency: an answered request is kept (bounded LRU) under
(client, service, ``Idempotency-Key``); the same key and body again gets the
same bytes with ``Idempotent-Replayed: true`` and counts as a replay, not a
new call; the same key with a different body is 422. Failures are not kept,
so a retry after a 503 is a new attempt. ``X-Request-Id`` is echoed and
``X-Panjereh-Request-Hash`` carries the SHA-256 of the body received.
A missing ``X-Panjereh-Client`` is 401; an empty legal basis is answered
``DENIED``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import socket
import socketserver
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from bpmn.catalog import Catalog, default_catalog
from engine import registries
from engine.connectors import InquiryRejected, InquiryRequest
from engine.jsontext import strict_loads
from engine.population import Population, population

log = logging.getLogger("panjereh.simulator")

MAX_BODY = 1024 * 1024
BEHAVIOUR_KEYS = {"latency_ms": (int, 0, 600_000), "jitter_ms": (int, 0, 600_000),
                  "failure_rate": (float, 0.0, 1.0), "hang_ms": (int, 0, 600_000)}
FAILURE_MODES = ("503", "timeout", "mixed")


class _Reply(Exception):
    """Internal: answer now with this status and JSON body (keeps the handler flat)."""

    def __init__(self, status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> None:
        self.status, self.body, self.headers = status, body, dict(headers or {})
        super().__init__(status)


def _error(status: int, code: str, message: str, **headers: str) -> _Reply:
    return _Reply(status, {"error": {"code": code, "message": message}}, headers)


def _roll(*parts: object) -> float:
    """A deterministic number in [0, 1) from the parts (the seed is one of them)."""
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class SimulatorState:
    """Behaviour, counters and the idempotency cache of one simulator; thread-safe."""

    def __init__(self, catalog: Catalog, pop: Population, seed: int, behaviour: Mapping[str, Any],
                 cache_size: int = 10_000) -> None:
        self.catalog, self.population, self.seed = catalog, pop, seed
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.defaults: dict[str, Any] = {"latency_ms": 0, "jitter_ms": 0, "failure_rate": 0.0,
                                         "failure_mode": "503", "hang_ms": 30_000}
        self.overrides: dict[str, dict[str, Any]] = {}
        self.cache: OrderedDict[tuple[str, str, str], tuple[str, bytes]] = OrderedDict()
        self.cache_size = cache_size
        self.recent: deque[dict[str, Any]] = deque(maxlen=500)
        self.configure(behaviour)
        self.reset_stats()

    def reset_stats(self) -> None:
        """Forget the counters (not the behaviour)."""
        with self.lock:
            self.counts: dict[str, dict[str, int]] = {}
            self.keys: dict[str, OrderedDict[str, int]] = {}
            self.sequence: dict[str, int] = {}
            self.recent.clear()

    def configure(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Apply a ``/_control`` document; raises :class:`_Reply` (400) when it is wrong."""
        if not isinstance(changes, Mapping):
            raise _error(400, "control.invalid", "the control document must be an object")
        unknown = set(changes) - set(BEHAVIOUR_KEYS) - {"failure_mode", "services", "reset_stats"}
        if unknown:
            raise _error(400, "control.invalid", f"unknown control key {sorted(unknown)[0]!r}")
        top = _check_behaviour({k: v for k, v in changes.items() if k not in ("services", "reset_stats")})
        services = changes.get("services") or {}
        if not isinstance(services, Mapping):
            raise _error(400, "control.invalid", "services must map service ids to behaviour objects")
        per: dict[str, dict[str, Any] | None] = {}
        for sid, body in services.items():
            if sid not in self.catalog.services:
                raise _error(400, "control.invalid", f"{sid!r} is not a catalog service")
            if body is not None and not isinstance(body, Mapping):
                raise _error(400, "control.invalid", f"services.{sid} must be an object or null")
            per[sid] = None if body is None else _check_behaviour(body)
        with self.lock:
            self.defaults.update(top)
            for sid, body in per.items():
                if body is None:
                    self.overrides.pop(sid, None)
                else:
                    self.overrides.setdefault(sid, {}).update(body)
        if changes.get("reset_stats"):
            self.reset_stats()
        return self.behaviour()

    def behaviour(self) -> dict[str, Any]:
        """The current defaults and per-service overrides."""
        with self.lock:
            return {**self.defaults, "services": {k: dict(v) for k, v in self.overrides.items()}, "seed": self.seed}

    def settings_for(self, sid: str) -> dict[str, Any]:
        with self.lock:
            return {**self.defaults, **self.overrides.get(sid, {})}

    def count(self, sid: str, what: str, key: str | None = None) -> None:
        with self.lock:
            per = self.counts.setdefault(sid, {"requests": 0, "answered": 0, "replayed": 0, "failed": 0,
                                               "rejected": 0})
            per[what] += 1
            if what == "requests" and key:
                keys = self.keys.setdefault(sid, OrderedDict())
                keys[key] = keys.get(key, 0) + 1
                keys.move_to_end(key)
                while len(keys) > self.cache_size:
                    keys.popitem(last=False)

    def next_number(self, sid: str) -> int:
        with self.lock:
            self.sequence[sid] = self.sequence.get(sid, 0) + 1
            return self.sequence[sid]

    def stats(self) -> dict[str, Any]:
        """Calls per service, and requests per idempotency key (``/_stats``)."""
        with self.lock:
            return {"services": {k: dict(v) for k, v in self.counts.items()},
                    "keys": {k: dict(v) for k, v in self.keys.items()},
                    "total": {w: sum(c[w] for c in self.counts.values())
                              for w in ("requests", "answered", "replayed", "failed", "rejected")}}

    def cached(self, key: tuple[str, str, str]) -> tuple[str, bytes] | None:
        with self.lock:
            hit = self.cache.get(key)
            if hit is not None:
                self.cache.move_to_end(key)
            return hit

    def remember(self, key: tuple[str, str, str], body_hash: str, raw: bytes) -> None:
        with self.lock:
            self.cache[key] = (body_hash, raw)
            while len(self.cache) > self.cache_size:
                self.cache.popitem(last=False)

    def wait(self, ms: float) -> None:
        """Sleep, but wake up at once when the simulator stops."""
        if ms > 0:
            self.stopping.wait(ms / 1000)


def _check_behaviour(body: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in body.items():
        if key == "failure_mode":
            if value not in FAILURE_MODES:
                raise _error(400, "control.invalid", f"failure_mode must be one of {', '.join(FAILURE_MODES)}")
            out[key] = value
            continue
        if key not in BEHAVIOUR_KEYS:
            raise _error(400, "control.invalid", f"unknown behaviour key {key!r}")
        kind, low, high = BEHAVIOUR_KEYS[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            raise _error(400, "control.invalid", f"{key} must be a number from {low} to {high}")
        out[key] = kind(value)
    return out


class _Handler(BaseHTTPRequestHandler):
    """One HTTP request. Everything it answers is JSON."""

    server: _Server
    protocol_version = "HTTP/1.0"  # one request per connection: nothing idles in a thread at shutdown
    server_version = "PanjerehRegistrySimulator/1"
    timeout = 30  # a client that connects and says nothing does not hold a thread for ever

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # The stdlib's own errors (bad request line, unsupported method) as JSON, not HTML.
        self._send(code, {"error": {"code": f"http.{code}", "message": message or self.responses.get(code, ("",))[0]}})

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        state = self.server.state
        path = urlsplit(self.path).path
        try:
            if path.startswith("/inquiries/"):
                if method != "POST":
                    raise _error(405, "http.method", "inquiries are POSTed")
                self._inquiry(state, unquote(path[len("/inquiries/"):]))
                return
            if (method, path) == ("GET", "/health"):
                raise _Reply(200, {"status": "ok", "services": len(state.catalog.services), "seed": state.seed})
            if (method, path) == ("GET", "/services"):
                raise _Reply(200, {"services": [
                    {"id": s.id, "name_en": s.name_en, "kind": s.kind, "returns": list(s.returns),
                     "sample": registries.sample_parameters(s, state.population)}
                    for s in state.catalog.services.values()]})
            if (method, path) == ("GET", "/_stats"):
                raise _Reply(200, state.stats())
            if (method, path) == ("GET", "/_requests"):
                limit = parse_qs(urlsplit(self.path).query).get("limit", ["50"])[0]
                n = int(limit) if limit.isdigit() else 50
                with state.lock:
                    raise _Reply(200, {"requests": list(state.recent)[-n:] if n else []})
            if path == "/_control":
                if method == "POST":
                    raise _Reply(200, state.configure(self._json_body()))
                raise _Reply(200, state.behaviour())
            raise _error(404, "http.not_found", "no such endpoint")
        except _Reply as reply:
            self._send(reply.status, reply.body, reply.headers)

    def _raw_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            raise _error(411, "request.length", "a Content-Length header is required")
        if int(length) > MAX_BODY:
            raise _error(413, "request.too_large", f"the body is larger than {MAX_BODY} bytes")
        return self.rfile.read(int(length))

    def _json_body(self, raw: bytes | None = None) -> Any:
        try:
            return strict_loads(self._raw_body() if raw is None else raw)
        except (UnicodeDecodeError, ValueError) as exc:
            raise _error(400, "request.not_json", "the body is not JSON") from exc

    def _header(self, name: str) -> str:
        return unquote(self.headers.get(name, "")).strip()

    def _inquiry(self, state: SimulatorState, sid: str) -> None:
        service = state.catalog.services.get(sid)
        if service is None:
            state.count("_unknown", "rejected")
            raise _error(404, "service.unknown", "no such inquiry service")
        raw = self._raw_body()
        request_id = self._header("X-Request-Id")
        echo = {"X-Request-Id": request_id, "X-Panjereh-Request-Hash": hashlib.sha256(raw).hexdigest(),
                "X-Panjereh-Service": sid}
        key = self._header("Idempotency-Key")
        client = self._header("X-Panjereh-Client")
        state.count(sid, "requests", key or None)
        entry = {"at": time.time(), "service": sid, "client": client, "user": self._header("X-Panjereh-User"),
                 "case": self._header("X-Panjereh-Case"), "purpose": self._header("X-Panjereh-Purpose"),
                 "legal_basis": self._header("X-Panjereh-Legal-Basis"), "idempotency_key": key,
                 "request_id": request_id}
        settings = state.settings_for(sid)
        number = state.next_number(sid)
        latency = settings["latency_ms"] + settings["jitter_ms"] * _roll(state.seed, sid, number, "jitter")
        try:
            outcome = self._answer(state, sid, service, raw, client, key, settings, number, echo)
        except _Reply as reply:
            state.count(sid, "rejected" if 400 <= reply.status < 500 else "failed")
            reply.headers = {**echo, **reply.headers}
            entry.update(http=reply.status, outcome=reply.body.get("error", {}).get("code"))
            with state.lock:
                state.recent.append(entry)
            state.wait(latency)
            raise
        if outcome is None:  # a simulated hang: the client sees a timeout or a closed connection
            entry.update(http=None, outcome="hang")
            with state.lock:
                state.recent.append(entry)
            return
        body, replayed = outcome
        entry.update(http=200, outcome=json.loads(body)["status"], replayed=replayed)
        with state.lock:
            state.recent.append(entry)
        state.wait(latency)
        self._send_raw(200, body, {**echo, **({"Idempotent-Replayed": "true"} if replayed else {})})

    def _answer(self, state: SimulatorState, sid: str, service: Any, raw: bytes, client: str, key: str,
                settings: Mapping[str, Any], number: int, echo: Mapping[str, str]) -> tuple[bytes, bool] | None:
        if not client:
            raise _error(401, "client.missing", "the X-Panjereh-Client header is required")
        doc = self._json_body(raw)
        if not isinstance(doc, dict) or not isinstance(doc.get("parameters"), dict):
            raise _error(400, "request.shape", "the body must be an object with a 'parameters' object")
        if doc.get("service", sid) != sid:
            raise _error(400, "request.service", "the body names another service than the URL")
        fields = doc.get("fields")
        if fields is not None and (not isinstance(fields, list) or not set(fields) <= set(service.returns)):
            raise _error(400, "request.fields", "fields must list some of the service's returns")
        body_hash = echo["X-Panjereh-Request-Hash"]
        cache_key = (client, sid, key)
        if key:
            hit = state.cached(cache_key)
            if hit is not None:
                if hit[0] != body_hash:
                    raise _error(422, "idempotency.mismatch", "this Idempotency-Key was used for another request")
                state.count(sid, "replayed")
                return hit[1], True
        if _roll(state.seed, sid, number, "fail") < settings["failure_rate"]:
            mode = settings["failure_mode"]
            if mode == "mixed":
                mode = "timeout" if _roll(state.seed, sid, number, "mode") < 0.5 else "503"
            if mode == "timeout":
                state.count(sid, "failed")
                state.wait(settings["hang_ms"])
                return None
            raise _error(503, "registry.unavailable", "the registry is temporarily unavailable", **{"Retry-After": "1"})
        if not self._header("X-Panjereh-Legal-Basis"):
            answer = registries.Answer(registries.DENIED)
        else:
            try:
                answer = registries.answer(service, state.catalog, doc["parameters"], state.population)
            except registries.BadParameters as exc:
                raise _error(400, exc.code, exc.message) from exc
        data = {k: v for k, v in answer.data.items() if fields is None or k in fields}
        out = json.dumps({"status": answer.status, "service": sid, "data": data,
                          "criterion_result": answer.criterion_result}, ensure_ascii=False).encode("utf-8")
        if key:
            state.remember(cache_key, body_hash, out)
        state.count(sid, "answered")
        return out, False

    def _send(self, status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> None:
        self._send_raw(status, json.dumps(body, ensure_ascii=False).encode("utf-8"), headers or {})

    def _send_raw(self, status: int, raw: bytes, headers: Mapping[str, str]) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(raw)))
            for name, value in headers.items():
                if value:
                    self.send_header(name, value)
            self.end_headers()
            self.wfile.write(raw)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            # The client gave up (its timeout was shorter than our latency): nothing to do.
            log.debug("client went away before the answer was written")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # the default 5 refuses connections when many inquiries start at once

    def __init__(self, address: tuple[str, int], state: SimulatorState) -> None:
        self.state = state
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # socketserver prints tracebacks to stderr; a simulator bug is logged instead (and shows as a
        # closed connection to the client, which the connector reports as unavailable).
        log.exception("registry simulator: error while handling a request")

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn); a closed network makes that slow.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)


@dataclass
class SimulatorHandle:
    """A running simulator: its base URL, its state (behaviour, stats) and :meth:`stop`."""

    url: str
    host: str
    port: int
    state: SimulatorState
    _server: _Server
    _thread: threading.Thread

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change behaviour in-process (same document as ``POST /_control``)."""
        try:
            return self.state.configure(changes)
        except _Reply as reply:
            raise ValueError(reply.body["error"]["message"]) from None

    def stats(self) -> dict[str, Any]:
        """The ``/_stats`` document."""
        return self.state.stats()

    def stop(self) -> None:
        """Stop serving and close the socket (pending sleeps wake up at once)."""
        self.state.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> SimulatorHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_simulator(host: str = "127.0.0.1", port: int = 0, latency_ms: int = 0, failure_rate: float = 0.0,
                    seed: int = 1405, *, failure_mode: str = "503", jitter_ms: int = 0, hang_ms: int = 30_000,
                    services: Mapping[str, Mapping[str, Any]] | None = None, catalog: Catalog | None = None,
                    households: int = 300) -> SimulatorHandle:
    """Start the simulator in a background thread and return its handle (``port=0``: any free port).

    Raises ``ValueError`` for a bad behaviour setting and ``OSError`` when the
    address cannot be bound.
    """
    cat = catalog or default_catalog()
    behaviour: dict[str, Any] = {"latency_ms": latency_ms, "failure_rate": failure_rate,
                                 "failure_mode": failure_mode, "jitter_ms": jitter_ms, "hang_ms": hang_ms,
                                 "services": dict(services or {})}
    try:
        state = SimulatorState(cat, population(seed, households), seed, behaviour)
    except _Reply as reply:
        raise ValueError(reply.body["error"]["message"]) from None
    server = _Server((host, port), state)
    bound_host, bound_port = server.socket.getsockname()[:2]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="panjereh-simulator", daemon=True)
    thread.start()
    url_host = f"[{bound_host}]" if ":" in bound_host else bound_host
    handle = SimulatorHandle(f"http://{url_host}:{bound_port}", str(bound_host), int(bound_port), state, server,
                             thread)
    log.info("registry simulator on %s (seed %s, %d services)", handle.url, seed, len(cat.services))
    return handle


def in_process_answers(seed: int = 1405, *, catalog: Catalog | None = None,
                       households: int = 300) -> dict[str, Callable[[InquiryRequest], dict[str, Any]]]:
    """The simulator's answers without HTTP, one function per catalog service, for a ``FakeConnector``.

    Same population and rules as the HTTP simulator (an empty legal basis is
    ``DENIED``; bad parameters raise :class:`~engine.connectors.InquiryRejected`
    as the simulator's 400 would), minus latency, failures and idempotency.
    """
    cat = catalog or default_catalog()
    pop = population(seed, households)

    def answerer(service_id: str) -> Callable[[InquiryRequest], dict[str, Any]]:
        service = cat.services[service_id]

        def answer(request: InquiryRequest) -> dict[str, Any]:
            if not request.context.legal_basis.strip():
                return {"status": registries.DENIED, "data": {}}
            try:
                ans = registries.answer(service, cat, request.parameters, pop)
            except registries.BadParameters as exc:
                raise InquiryRejected(service_id, exc.code, exc.message, http_status=400) from exc
            return {"status": ans.status, "data": dict(ans.data), "criterion_result": ans.criterion_result}
        return answer

    return {sid: answerer(sid) for sid in cat.services}

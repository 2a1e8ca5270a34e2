"""Connectors without a network: the HTTP connector on httpx.MockTransport, the fake, endpoints, call_many."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import unquote

import httpx
import pytest

from engine.clock import VirtualClock
from engine.connectors import (
    ANSWER_STATUSES,
    EndpointConfigError,
    FakeConnector,
    HttpJsonConnector,
    InquiryContext,
    InquiryError,
    InquiryProtocolError,
    InquiryRejected,
    InquiryRequest,
    InquiryResponse,
    InquiryStatus,
    InquiryTimeout,
    InquiryUnavailable,
    UnknownService,
    call_many,
    encode_request,
    outcome,
)
from engine.endpoints import EndpointConfig, for_simulator
from engine.simulator import in_process_answers

CODE = "0499370899"  # a valid national code (check digit holds); treated as personal data below
CTX = InquiryContext("IR-MRUD", "panjereh", "clerk-7", "case-42", "صدور پروانه ساختمان", "آیین‌نامه ۱۱/ماده ۵")
BASE = "https://gsb.example.ir/panjereh"


def _request(service: str = "nocr_identity", **params: object) -> InquiryRequest:
    return InquiryRequest(service, params or {"national_code": CODE, "birth_date": "1370/01/01"}, CTX, "job-1:try")


def _answer(status: str = "OK", data: dict[str, object] | None = None) -> bytes:
    return json.dumps({"status": status, "service": "nocr_identity", "data": data or {"first_name": "علی"},
                       "criterion_result": None}, ensure_ascii=False).encode()


def _connector(handler: Callable[[httpx.Request], httpx.Response], **kwargs: object) -> HttpJsonConnector:
    config = EndpointConfig.from_mapping({
        "defaults": {"base_url": BASE, "connect_timeout": 1, "read_timeout": 2},
        "services": {"nocr_identity": {"path": "/nocr/identity"},
                     "post_gnaf": {"url": "https://post.example.ir/gnaf", "auth_header": "Authorization",
                                   "auth_env": "POST_TOKEN"}}})
    return HttpJsonConnector(config, transport=httpx.MockTransport(handler), **kwargs)  # type: ignore[arg-type]


# --- the HTTP connector -------------------------------------------------------------------

def test_posts_canonical_json_with_x_road_like_headers():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=_answer(), headers={
            "X-Panjereh-Request-Hash": hashlib.sha256(request.content).hexdigest()})

    clock = VirtualClock(datetime(2026, 11, 28, 8, 0, tzinfo=UTC))
    with _connector(handler, clock=clock.now) as conn:
        resp = conn.call(_request())
    (req,) = seen
    assert req.method == "POST" and str(req.url) == f"{BASE}/nocr/identity"
    assert json.loads(req.content) == {"service": "nocr_identity",
                                       "parameters": {"national_code": CODE, "birth_date": "1370/01/01"}}
    assert req.content == encode_request(_request())  # one canonical byte form
    h = req.headers
    assert h["X-Panjereh-Client"] == "IR-MRUD/panjereh" and h["X-Panjereh-Service"] == "nocr_identity"
    assert h["X-Panjereh-User"] == "clerk-7" and h["X-Panjereh-Case"] == "case-42"
    assert unquote(h["X-Panjereh-Purpose"]) == CTX.purpose  # Persian text travels percent-encoded
    assert unquote(h["X-Panjereh-Legal-Basis"]) == CTX.legal_basis
    assert h["Idempotency-Key"] == "job-1:try" and h["X-Request-Id"] == resp.request_id
    assert h["X-Panjereh-Protocol"] == "1" and "Authorization" not in h
    assert resp.status is InquiryStatus.OK and resp.ok and resp.data == {"first_name": "علی"}
    assert resp.http_status == 200 and not resp.replayed
    assert resp.started_at == resp.finished_at == clock.now()  # injected time
    assert resp.request_hash == hashlib.sha256(req.content).hexdigest()
    assert resp.response_hash == hashlib.sha256(_answer()).hexdigest()


@pytest.mark.parametrize("status", ANSWER_STATUSES)
def test_every_registry_answer_is_a_response_not_an_error(status: str):
    with _connector(lambda r: httpx.Response(200, content=_answer(status, {}))) as conn:
        assert conn.call(_request()).status == status


def test_auth_secret_comes_from_the_environment_at_call_time():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=_answer())

    env: dict[str, str] = {}
    with _connector(handler, environ=env) as conn:
        with pytest.raises(InquiryRejected) as info:
            conn.call(_request("post_gnaf", postal_code="1234567891"))
        assert info.value.code == "endpoint.secret_missing" and not info.value.retryable
        assert info.value.response is not None and not seen  # nothing was sent
        env["POST_TOKEN"] = "Bearer s3cret"
        conn.call(_request("post_gnaf", postal_code="1234567891"))
        env["POST_TOKEN"] = "Bearer s3cret\r\nX-Evil: 1"
        with pytest.raises(InquiryRejected) as info:
            conn.call(_request("post_gnaf", postal_code="1234567891"))
        assert info.value.code == "endpoint.secret_invalid" and "s3cret" not in str(info.value)
    assert len(seen) == 1 and seen[0].headers["Authorization"] == "Bearer s3cret"


def test_a_broken_content_encoding_is_a_protocol_error():
    def garbage(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=httpx.ByteStream(b"not gzip at all"), headers={"Content-Encoding": "gzip"})

    with _connector(garbage) as conn, pytest.raises(InquiryProtocolError) as info:
        conn.call(_request())
    assert info.value.code == "response.encoding"


@pytest.mark.parametrize(("status", "kind", "retryable", "record_status"), [
    (500, InquiryUnavailable, True, "ERROR"),
    (502, InquiryUnavailable, True, "ERROR"),
    (503, InquiryUnavailable, True, "ERROR"),
    (429, InquiryUnavailable, True, "ERROR"),
    (400, InquiryRejected, False, "ERROR"),
    (404, InquiryRejected, False, "ERROR"),
    (422, InquiryRejected, False, "ERROR"),
    (401, InquiryRejected, False, "DENIED"),
    (403, InquiryRejected, False, "DENIED"),
    (302, InquiryProtocolError, False, "ERROR"),
])
def test_http_failures_map_to_the_error_tree(status: int, kind: type[InquiryError], retryable: bool,
                                             record_status: str):
    body = json.dumps({"error": {"code": "registry.says", "message": f"کد ملی {CODE} ..."}}).encode()
    headers = {"Retry-After": "2", "Location": "http://169.254.169.254/"}
    conn = _connector(lambda r: httpx.Response(status, content=body, headers=headers))
    with conn, pytest.raises(kind) as info:
        conn.call(_request())
    err = info.value
    assert type(err) is kind and err.retryable is retryable and err.http_status == status
    assert err.response is not None and err.response.status == record_status
    assert err.response.response_body == body and err.response.error_code == err.code
    assert CODE not in str(err)  # the registry's message may hold personal data: kept aside
    assert err.provider_message is not None or status == 302
    if status in (429, 503):
        assert err.retry_after == 2.0


@pytest.mark.parametrize(("exc", "kind", "status"), [
    (httpx.ConnectError("refused"), InquiryUnavailable, "ERROR"),
    (httpx.RemoteProtocolError("closed"), InquiryUnavailable, "ERROR"),
    (httpx.ReadTimeout("slow"), InquiryTimeout, "TIMEOUT"),
    (httpx.ConnectTimeout("slow"), InquiryTimeout, "TIMEOUT"),
])
def test_transport_failures_are_retryable(exc: Exception, kind: type[InquiryError], status: str):
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    with _connector(handler) as conn, pytest.raises(kind) as info:
        conn.call(_request())
    assert info.value.retryable and info.value.response is not None
    assert info.value.response.status == status and info.value.response.response_hash is None


@pytest.mark.parametrize(("body", "headers", "code"), [
    (b"<html>oops</html>", {}, "response.not_json"),
    (b'{"status": "OK", "data": {"amount": NaN}}', {}, "response.not_json"),  # Python reads it; JSON has no NaN
    (b'{"status": "OK", "data": {"amount": -Infinity}}', {}, "response.not_json"),
    (b'{"status": "MAYBE", "data": {}}', {}, "response.schema"),
    (b'{"status": "OK"}', {}, "response.schema"),
    (b'{"status": "OK", "data": []}', {}, "response.schema"),
    (_answer(), {"X-Panjereh-Request-Hash": "0" * 64}, "response.request_hash"),
    (b'{"status": "OK", "data": {"x": "' + b"y" * 5000 + b'"}}', {}, "response.too_large"),
])
def test_unusable_answers_are_protocol_errors(body: bytes, headers: dict[str, str], code: str):
    conn = _connector(lambda r: httpx.Response(200, content=body, headers=headers), max_response_bytes=4096)
    with conn, pytest.raises(InquiryProtocolError) as info:
        conn.call(_request())
    assert info.value.code == code and not info.value.retryable


def test_unknown_service_is_refused_before_any_network_use():
    calls: list[httpx.Request] = []
    with _connector(lambda r: calls.append(r) or httpx.Response(200, content=_answer())) as conn:
        for sid in ("no_such_service", "http://169.254.169.254/latest", "../../admin"):
            with pytest.raises(UnknownService) as info:
                conn.call(_request(sid))
            assert not info.value.retryable and info.value.response is not None
    assert calls == []


def test_parameters_that_are_not_json_are_rejected():
    with _connector(lambda r: httpx.Response(200, content=_answer())) as conn, \
            pytest.raises(InquiryRejected) as info:
        conn.call(_request(national_code=object()))
    assert info.value.code == "request.not_json" and info.value.response is not None


def test_request_values_are_frozen_and_retries_keep_the_key():
    params = {"national_code": CODE}
    req = InquiryRequest("nocr_identity", params, CTX, "k")
    params["national_code"] = "changed"
    assert req.parameters["national_code"] == CODE
    with pytest.raises(TypeError):
        req.parameters["x"] = 1  # type: ignore[index]
    again = req.retry()
    assert again.idempotency_key == req.idempotency_key and again.request_id != req.request_id
    assert req.subject() == ("national_code", CODE)
    assert InquiryRequest("post_gnaf", {"postal_code": "1"}, CTX, "k").subject() is None


# --- logging: never personal data ---------------------------------------------------------------

def test_logs_hold_hashes_not_national_codes(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    bodies = iter([httpx.Response(200, content=_answer()), httpx.Response(503, content=b"{}")])
    with _connector(lambda r: next(bodies)) as conn:
        conn.call(_request())
        with pytest.raises(InquiryUnavailable):
            conn.call(_request())
    fake = FakeConnector({"nocr_identity": {"status": "NOT_FOUND", "data": {}}})
    fake.call(_request())
    text = caplog.text
    assert "inquiry service=nocr_identity" in text and "status=OK" in text and "status=ERROR" in text
    assert CODE not in text and "clerk-7" not in text and "1370/01/01" not in text


# --- the fake --------------------------------------------------------------------------------

def test_fake_connector_answers_records_calls_and_honours_idempotency():
    counter = {"n": 0}

    def count(request: InquiryRequest) -> dict[str, object]:
        counter["n"] += 1
        return {"status": "OK", "data": {"n": counter["n"]}}

    fake = FakeConnector({"nocr_identity": count})
    first = fake.call(_request())
    again = fake.call(_request().retry())
    assert again.replayed and again.data == first.data == {"n": 1} and counter["n"] == 1
    assert again.response_body == first.response_body
    other = fake.call(InquiryRequest("nocr_identity", {"national_code": CODE}, CTX, "another-key"))
    assert other.data == {"n": 2} and len(fake.calls) == 3
    with pytest.raises(UnknownService):
        fake.call(_request("post_gnaf", postal_code="1"))


def test_fake_connector_does_not_remember_failures():
    attempts = iter([InquiryUnavailable("nocr_identity", "registry.unavailable", "down"), None])

    def flaky(request: InquiryRequest) -> dict[str, object]:
        err = next(attempts)
        if err:
            raise err
        return {"status": "OK", "data": {}}

    fake = FakeConnector({"nocr_identity": flaky})
    with pytest.raises(InquiryUnavailable) as info:
        fake.call(_request())
    assert info.value.response is not None and info.value.response.status == "ERROR"
    assert fake.call(_request()).ok


def test_in_process_answers_use_the_simulated_population():
    from engine.population import population

    person = population(1405).sample_person(0)
    fake = FakeConnector(in_process_answers(1405))
    ok = fake.call(InquiryRequest("nocr_identity", {"national_code": person.national_code,
                                                    "birth_date": person.birth_date_jalali}, CTX, "a"))
    assert ok.ok and ok.data["last_name"] == person.last_name
    with pytest.raises(InquiryRejected):
        fake.call(InquiryRequest("nocr_identity", {"national_code": "0499370890"}, CTX, "b"))


# --- call_many ----------------------------------------------------------------------------------

def test_call_many_keeps_order_and_captures_each_failure():
    barrier = threading.Barrier(3, timeout=5)  # proves three calls were in flight together

    def answer(request: InquiryRequest) -> dict[str, object]:
        barrier.wait()
        if request.parameters["n"] == 1:
            raise InquiryUnavailable(request.service_id, "registry.unavailable", "down")
        return {"status": "OK", "data": {"n": request.parameters["n"]}}

    fake = FakeConnector({"nocr_identity": answer})
    requests = [InquiryRequest("nocr_identity", {"n": n}, CTX, f"k{n}") for n in range(3)]
    results = call_many(fake, requests, max_workers=3)
    assert isinstance(results[0], InquiryResponse) and results[0].data == {"n": 0}
    assert isinstance(results[1], InquiryUnavailable)
    assert isinstance(results[2], InquiryResponse) and results[2].data == {"n": 2}
    assert [outcome(r).status for r in results] == ["OK", "ERROR", "OK"]  # type: ignore[union-attr]
    assert call_many(fake, []) == []


# --- endpoint configuration ---------------------------------------------------------------------

def test_for_simulator_points_every_catalog_service_at_it():
    from bpmn.catalog import default_catalog

    config = for_simulator("http://127.0.0.1:8765")
    assert config.services == set(default_catalog().services)
    ep = config.resolve("post_gnaf")
    assert ep.url == "http://127.0.0.1:8765/inquiries/post_gnaf" and ep.auth_header is None


@pytest.mark.parametrize(("data", "message"), [
    ({"services": {"no_such_service": {"url": "https://x.ir/"}}}, "not an inquiry service"),
    ({"services": {"post_gnaf": {"url": "ftp://x.ir/"}}}, "http"),
    ({"services": {"post_gnaf": {"url": "https://user:pw@x.ir/"}}}, "user info"),
    ({"services": {"post_gnaf": {"url": "https://x.ir/", "read_timout": 3}}}, "unknown key"),
    ({"services": {"post_gnaf": {"url": "https://x.ir/", "read_timeout": 0}}}, "seconds"),
    ({"services": {"post_gnaf": {"url": "https://x.ir/", "read_timeout": True}}}, "seconds"),
    ({"services": {"post_gnaf": {"url": "https://x.ir/", "auth_header": "Authorization"}}}, "go together"),
    ({"services": {"post_gnaf": {"url": "https://x.ir/", "auth_header": "A", "auth_env": "lower"}}}, "environment"),
    ({"services": {"post_gnaf": {"url": "https://x.ir/", "auth_value": "secret"}}}, "unknown key"),
    ({"services": {"post_gnaf": {"path": "/gnaf"}}}, "base_url"),
    ({"defaults": {"base_url": "https://x.ir", "path_template": "/all"}}, "{service}"),
    ({"elsewhere": {}}, "unknown key"),
])
def test_bad_configuration_is_refused_at_load(data: dict[str, object], message: str):
    with pytest.raises(EndpointConfigError, match=message):
        EndpointConfig.from_mapping(data)


def test_configuration_files_and_environment(tmp_path):
    toml = tmp_path / "endpoints.toml"
    toml.write_text('[defaults]\nbase_url = "https://gsb.example.ir"\nread_timeout = 4\n'
                    '[services.post_gnaf]\npath = "/post/gnaf"\nconnect_timeout = 1.5\n', encoding="utf-8")
    config = EndpointConfig.from_file(toml)
    ep = config.resolve("post_gnaf")
    assert (ep.url, ep.connect_timeout, ep.read_timeout) == ("https://gsb.example.ir/post/gnaf", 1.5, 4.0)
    assert "nocr_identity" not in config
    js = tmp_path / "endpoints.json"
    js.write_text(json.dumps({"services": {"nocr_identity": {"url": "http://10.0.0.5/nocr"}}}), encoding="utf-8")
    assert EndpointConfig.from_env({"PANJEREH_INQUIRY_CONFIG": str(js)}).services == {"nocr_identity"}
    sim = EndpointConfig.from_env({"PANJEREH_INQUIRY_BASE_URL": "http://127.0.0.1:9"})
    assert sim is not None and len(sim.services) > 40
    assert EndpointConfig.from_env({}) is None
    (tmp_path / "bad.toml").write_text("[defaults\n", encoding="utf-8")
    with pytest.raises(EndpointConfigError, match="not valid TOML"):
        EndpointConfig.from_file(tmp_path / "bad.toml")
    with pytest.raises(EndpointConfigError, match="cannot read"):
        EndpointConfig.from_file(tmp_path / "missing.json")

"""The registry simulator over real loopback HTTP, the population behind it, and the connector against it."""

from __future__ import annotations

import argparse
import io
import json
import logging
import random
import socket
import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import jdatetime
import pytest

from bpmn.catalog import default_catalog
from engine import identifiers as ids
from engine import registries
from engine.connectors import (
    HttpJsonConnector,
    InquiryContext,
    InquiryRejected,
    InquiryRequest,
    InquiryResponse,
    InquiryStatus,
    InquiryTimeout,
    InquiryUnavailable,
    call_many,
)
from engine.endpoints import for_simulator
from engine.population import population
from engine.simulator import SimulatorHandle, start_simulator

SEED = 1405
CTX = InquiryContext("IR-MRUD", "panjereh", "clerk-7", "case-42", "صدور پروانه ساختمان", "آیین‌نامه ۱۱/ماده ۵")
CATALOG = default_catalog()
SERVICES = sorted(CATALOG.services)


@pytest.fixture(scope="module")
def running() -> Iterator[SimulatorHandle]:
    handle = start_simulator(port=0, seed=SEED)
    yield handle
    handle.stop()


@pytest.fixture
def sim(running: SimulatorHandle) -> Iterator[SimulatorHandle]:
    """The shared simulator, back to default behaviour and zero counters after each test."""
    yield running
    running.configure(latency_ms=0, jitter_ms=0, failure_rate=0.0, failure_mode="503", hang_ms=30_000,
                      services={sid: None for sid in SERVICES}, reset_stats=True)


@pytest.fixture(scope="module")
def shared_conn(running: SimulatorHandle) -> Iterator[HttpJsonConnector]:
    # One connector (one httpx pool and TLS context) for the module: building them costs ~0.2 s each.
    with HttpJsonConnector(for_simulator(running.url, read_timeout=5)) as c:
        yield c


@pytest.fixture
def conn(sim: SimulatorHandle, shared_conn: HttpJsonConnector) -> HttpJsonConnector:
    return shared_conn


def _req(service: str, params: dict[str, object], key: str | None = None,
         ctx: InquiryContext = CTX) -> InquiryRequest:
    return InquiryRequest(service, params, ctx, key or str(uuid.uuid4()))


def _sample(sim: SimulatorHandle, service: str, index: int = 0) -> dict[str, object]:
    return registries.sample_parameters(CATALOG.services[service], sim.state.population, index)


# --- every catalog service ------------------------------------------------------------------

@pytest.mark.parametrize("service_id", SERVICES)
def test_every_catalog_service_answers_a_valid_subject(conn: HttpJsonConnector, sim: SimulatorHandle,
                                                       service_id: str):
    service = CATALOG.services[service_id]
    for index in (0, 1):
        resp = conn.call(_req(service_id, _sample(sim, service_id, index)))
        assert resp.status is InquiryStatus.OK, (service_id, index)
        assert set(resp.data) == set(service.returns), service_id  # all of returns, nothing more
        if service.kind == "criterion":
            assert isinstance(resp.criterion_result, bool), service_id
        else:
            assert resp.criterion_result is None


def test_every_catalog_service_has_a_dedicated_handler():
    assert set(SERVICES) <= registries.handled_services()


def test_not_found_mismatch_and_denied(conn: HttpJsonConnector, sim: SimulatorHandle):
    pop = sim.state.population
    person = pop.sample_person(3)
    unknown = conn.call(_req("nocr_identity", {"national_code": pop.unused_national_code(),
                                               "birth_date": "1370/01/01"}))
    assert unknown.status is InquiryStatus.NOT_FOUND and unknown.data == {}
    wrong_birth = jdatetime.date(person.birth_date.year - 1, 1, 1)
    mismatch = conn.call(_req("nocr_identity", {"national_code": person.national_code,
                                                "birth_date": ids.format_jalali(wrong_birth)}))
    assert mismatch.status is InquiryStatus.SUBJECT_MISMATCH
    no_basis = InquiryContext("IR-MRUD", "panjereh", "clerk-7", "case-42", "کنجکاوی", "")
    denied = conn.call(_req("nocr_identity", _sample(sim, "nocr_identity"), ctx=no_basis))
    assert denied.status is InquiryStatus.DENIED
    no_consent = conn.call(_req("health_records", {"national_code": person.national_code}))
    assert no_consent.status is InquiryStatus.DENIED
    owned = _sample(sim, "traffic_vehicle")
    stranger = conn.call(_req("traffic_vehicle", {**owned, "national_code": person.national_code}))
    assert stranger.status is InquiryStatus.SUBJECT_MISMATCH


def test_the_answer_matches_the_population(conn: HttpJsonConnector, sim: SimulatorHandle):
    person = sim.state.population.sample_person(5)
    resp = conn.call(_req("nocr_identity", {"national_code": person.national_code,
                                            "birth_date": person.birth_date_jalali}))
    assert resp.data["first_name"] == person.first_name and resp.data["last_name"] == person.last_name
    assert resp.data["birth_date"] == person.birth_date_jalali and resp.data["alive_status"] is True
    fewer = InquiryRequest("nocr_identity", {"national_code": person.national_code,
                                             "birth_date": person.birth_date_jalali}, CTX, "min", fields=("gender",))
    assert conn.call(fewer).data == {"gender": person.gender}  # data minimisation on request


@pytest.mark.parametrize(("params", "code"), [
    ({"national_code": "0499370890", "birth_date": "1370/01/01"}, "parameters.invalid"),  # bad check digit
    ({"national_code": "1111111111", "birth_date": "1370/01/01"}, "parameters.invalid"),  # all the same
    ({"national_code": "0499370899"}, "parameters.missing"),
    ({"national_code": "0499370899", "birth_date": "1370/01/01", "url": "http://x"}, "parameters.unknown"),
    ({"national_code": "0499370899", "birth_date": "70-1-1"}, "parameters.invalid"),
])
def test_bad_parameters_are_rejected_not_retried(conn: HttpJsonConnector, params: dict[str, object], code: str):
    with pytest.raises(InquiryRejected) as info:
        conn.call(_req("nocr_identity", params))
    assert info.value.code == code and info.value.http_status == 400 and not info.value.retryable
    assert "0499370899" not in str(info.value)


# --- raw HTTP: always JSON, never a traceback ----------------------------------------------------

def test_raw_http_errors_are_json(sim: SimulatorHandle):
    headers = {"X-Panjereh-Client": "IR-TEST/raw", "X-Panjereh-Legal-Basis": "test"}
    with httpx.Client(base_url=sim.url, timeout=5) as client:
        cases = [
            (client.post("/inquiries/no_such_service", content=b"{}", headers=headers), 404, "service.unknown"),
            (client.post("/inquiries/post_gnaf", content=b"{not json", headers=headers), 400, "request.not_json"),
            (client.post("/inquiries/post_gnaf", content=b'{"parameters": {"postal_code": NaN}}', headers=headers),
             400, "request.not_json"),
            (client.post("/inquiries/post_gnaf", content=b"[1, 2]", headers=headers), 400, "request.shape"),
            (client.post("/inquiries/post_gnaf", content=b'{"parameters": {}}', headers={}), 401,
             "client.missing"),
            (client.post("/inquiries/post_gnaf", content=b'{"service": "pakna", "parameters": {}}',
                         headers=headers), 400, "request.service"),
            (client.get("/inquiries/post_gnaf"), 405, "http.method"),
            (client.get("/nowhere"), 404, "http.not_found"),
            (client.put("/inquiries/post_gnaf", content=b"{}"), 501, "http.501"),
            (client.post("/_control", content=b'{"failure_rate": 7}'), 400, "control.invalid"),
        ]
        for resp, status, code in cases:
            assert resp.status_code == status, (resp.request.url, resp.text)
            assert resp.headers["Content-Type"].startswith("application/json")
            assert resp.json()["error"]["code"] == code
    # A request line that is not HTTP at all still gets JSON back.
    with socket.create_connection((sim.host, sim.port), timeout=5) as raw:
        raw.sendall(b"HELLO THERE\r\n\r\n")
        answer = raw.recv(4096).decode("latin-1")
    assert "Traceback" not in answer and '"error"' in answer


def test_health_services_and_stats(sim: SimulatorHandle, conn: HttpJsonConnector):
    conn.call(_req("post_gnaf", _sample(sim, "post_gnaf")))
    with httpx.Client(base_url=sim.url, timeout=5) as client:
        assert client.get("/health").json() == {"status": "ok", "services": len(SERVICES), "seed": SEED}
        listed = client.get("/services").json()["services"]
        assert {s["id"] for s in listed} == set(SERVICES) and all("sample" in s for s in listed)
        stats = client.get("/_stats").json()
    assert stats["services"]["post_gnaf"]["requests"] == 1 and stats["services"]["post_gnaf"]["answered"] == 1


# --- headers and idempotency -------------------------------------------------------------------

def test_headers_reach_the_registry(sim: SimulatorHandle, conn: HttpJsonConnector):
    resp = conn.call(_req("post_gnaf", _sample(sim, "post_gnaf"), key="case-42/Inquiry_1"))
    with httpx.Client(base_url=sim.url, timeout=5) as client:
        (seen,) = client.get("/_requests").json()["requests"]
    assert seen["client"] == "IR-MRUD/panjereh" and seen["user"] == "clerk-7" and seen["case"] == "case-42"
    assert seen["purpose"] == CTX.purpose and seen["legal_basis"] == CTX.legal_basis
    assert seen["idempotency_key"] == "case-42/Inquiry_1" and seen["request_id"] == resp.request_id
    assert seen["outcome"] == "OK" and "parameters" not in seen


def test_idempotency_key_replays_without_a_new_call(sim: SimulatorHandle, conn: HttpJsonConnector):
    params = _sample(sim, "nocr_identity")
    first = conn.call(_req("nocr_identity", params, key="job-7"))
    again = conn.call(_req("nocr_identity", params, key="job-7"))
    assert again.replayed and not first.replayed
    assert again.response_body == first.response_body and again.request_id != first.request_id
    stats = sim.stats()
    assert stats["services"]["nocr_identity"] == {"requests": 2, "answered": 1, "replayed": 1, "failed": 0,
                                                  "rejected": 0}
    assert stats["keys"]["nocr_identity"] == {"job-7": 2}
    other = _sample(sim, "nocr_identity", 1)
    with pytest.raises(InquiryRejected) as info:
        conn.call(_req("nocr_identity", other, key="job-7"))
    assert info.value.code == "idempotency.mismatch"


def test_failures_are_not_remembered_so_a_retry_succeeds(sim: SimulatorHandle, conn: HttpJsonConnector):
    sim.configure(failure_rate=1.0)
    request = _req("nocr_identity", _sample(sim, "nocr_identity"), key="job-8")
    with pytest.raises(InquiryUnavailable) as info:
        conn.call(request)
    assert info.value.retryable and info.value.http_status == 503 and info.value.retry_after == 1.0
    assert info.value.response is not None and info.value.response.status == "ERROR"
    sim.configure(failure_rate=0.0)
    assert conn.call(request.retry()).ok
    assert sim.stats()["keys"]["nocr_identity"] == {"job-8": 2}  # one count per attempt that reached it


# --- latency, failures, timeouts ------------------------------------------------------------------

def test_failure_rate_one_makes_every_call_unavailable_then_recovers_by_control(sim: SimulatorHandle,
                                                                                conn: HttpJsonConnector):
    with httpx.Client(base_url=sim.url, timeout=5) as client:
        assert client.post("/_control", json={"failure_rate": 1.0}).json()["failure_rate"] == 1.0
        for sid in ("post_gnaf", "judiciary_criminal_record", "tax_186"):
            with pytest.raises(InquiryUnavailable) as info:
                conn.call(_req(sid, _sample(sim, sid)))
            assert info.value.retryable
        client.post("/_control", json={"failure_rate": 0.0})
    assert conn.call(_req("post_gnaf", _sample(sim, "post_gnaf"))).ok


def test_per_service_overrides(sim: SimulatorHandle, conn: HttpJsonConnector):
    sim.configure(services={"tax_186": {"failure_rate": 1.0}})
    with pytest.raises(InquiryUnavailable):
        conn.call(_req("tax_186", _sample(sim, "tax_186")))
    assert conn.call(_req("post_gnaf", _sample(sim, "post_gnaf"))).ok
    sim.configure(services={"tax_186": None})
    assert conn.call(_req("tax_186", _sample(sim, "tax_186"))).ok


def test_latency_longer_than_the_timeout_is_a_timeout(sim: SimulatorHandle):
    sim.configure(services={"post_gnaf": {"latency_ms": 300}})
    with HttpJsonConnector(for_simulator(sim.url, read_timeout=0.1)) as impatient:
        with pytest.raises(InquiryTimeout) as info:
            impatient.call(_req("post_gnaf", _sample(sim, "post_gnaf")))
        assert info.value.retryable and info.value.response is not None
        assert info.value.response.status == "TIMEOUT"
        assert impatient.call(_req("pakna", _sample(sim, "pakna"))).ok  # other services are not slow


def test_latency_is_applied(sim: SimulatorHandle, conn: HttpJsonConnector):
    sim.configure(latency_ms=120)
    assert conn.call(_req("post_gnaf", _sample(sim, "post_gnaf"))).elapsed_ms >= 100  # a lower bound only


def test_hanging_failures_look_like_timeouts(sim: SimulatorHandle):
    sim.configure(failure_rate=1.0, failure_mode="timeout", hang_ms=300)
    with HttpJsonConnector(for_simulator(sim.url, read_timeout=0.1)) as impatient, \
            pytest.raises(InquiryTimeout):
        impatient.call(_req("post_gnaf", _sample(sim, "post_gnaf")))


def test_failures_are_deterministic_per_seed():
    def pattern() -> list[bool]:
        with start_simulator(seed=99, failure_rate=0.5) as handle, \
                HttpJsonConnector(for_simulator(handle.url)) as c:
            params = registries.sample_parameters(CATALOG.services["post_gnaf"], handle.state.population)
            out = []
            for _ in range(12):
                try:
                    out.append(c.call(_req("post_gnaf", params)).ok)
                except InquiryUnavailable:
                    out.append(False)
            return out

    first = pattern()
    assert first == pattern() and True in first and False in first


def test_independent_inquiries_run_concurrently(sim: SimulatorHandle, conn: HttpJsonConnector):
    sim.configure(latency_ms=200)
    chosen = ["nocr_identity", "post_gnaf", "judiciary_criminal_record", "tax_186", "conscription_status"]
    requests = [_req(sid, _sample(sim, sid)) for sid in chosen]
    started = time.perf_counter()
    results = call_many(conn, requests, max_workers=5)
    elapsed = time.perf_counter() - started
    assert [r.service_id for r in results if isinstance(r, InquiryResponse)] == chosen
    assert all(isinstance(r, InquiryResponse) and r.ok for r in results)
    assert elapsed < 0.6  # five 200 ms calls one after another would take at least 1 s


# --- logging ----------------------------------------------------------------------------------

def test_no_national_code_in_any_log(sim: SimulatorHandle, conn: HttpJsonConnector,
                                     caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    person = sim.state.population.sample_person(2)
    conn.call(_req("nocr_identity", {"national_code": person.national_code, "birth_date": person.birth_date_jalali}))
    conn.call(_req("judiciary_criminal_record", {"national_code": person.national_code}))
    sim.configure(failure_rate=1.0)
    with pytest.raises(InquiryUnavailable):
        conn.call(_req("pakna", {"national_code": person.national_code}))
    assert "inquiry service=nocr_identity" in caplog.text
    assert person.national_code not in caplog.text and person.birth_date_jalali not in caplog.text


# --- population and identifiers --------------------------------------------------------------------

def test_population_is_deterministic_and_valid():
    a, b, other = population(SEED), population(SEED, 300), population(SEED + 1)
    assert a is b
    assert [p.national_code for p in a.persons[:20]] == [p.national_code for p in type(a)(SEED, 300).persons[:20]]
    assert [p.national_code for p in a.persons[:20]] != [p.national_code for p in other.persons[:20]]
    assert len({p.national_code for p in a.persons}) == len(a.persons) > 500
    for p in a.persons:
        assert ids.is_valid_national_code(p.national_code)
        assert CATALOG.identifiers["national_code"].is_valid(p.national_code)
        assert ids.is_valid_postal_code(p.postal_code)
        assert p.birth_date.togregorian().isoformat() == p.birth_date_gregorian
        assert CATALOG.identifiers["birth_date"].is_valid(p.birth_date_jalali)
        if p.age >= 18 and p.gender == "male":
            assert p.facts["military"]["status"]
        if p.mobile:
            assert ids.is_valid_mobile(p.mobile)
        if "bank" in p.facts:
            assert ids.is_valid_iban(p.facts["bank"]["iban"]) and ids.is_valid_card_number(p.facts["bank"]["card"])
        if "vehicle" in p.facts:
            assert ids.is_valid_vin(p.facts["vehicle"]["vin"])
            assert ids.plate_key(ids.format_plate(p.facts["vehicle"]["plate"])) == p.facts["vehicle"]["plate"]
    assert all(ids.is_valid_legal_id(c) for c in a.companies)
    assert sum(p.facts.get("criminal", {}).get("has_effective_record", False) for p in a.persons) < len(a.persons) / 10
    persian = a.persons[0].national_code.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    assert a.lookup_person(persian) is a.persons[0]  # citizens type Persian digits
    assert a.lookup_person(a.unused_national_code()) is None
    assert a.sample_person(0, gender="male", vehicle=True).facts["vehicle"]["owner"] == \
        a.sample_person(0, gender="male", vehicle=True).national_code
    with pytest.raises(LookupError):
        a.sample_person(0, no_such_registry=True)


def test_national_code_validator():
    rng = random.Random(5)
    for _ in range(500):
        code = ids.generate_national_code(rng)
        assert ids.is_valid_national_code(code) and CATALOG.identifiers["national_code"].is_valid(code)
        wrong = code[:9] + str((int(code[9]) + 1) % 10)
        assert not ids.is_valid_national_code(wrong) and not CATALOG.identifiers["national_code"].is_valid(wrong)
    for same in ("0000000000", "1111111111", "5555555555"):
        assert not ids.is_valid_national_code(same)
    assert ids.is_valid_national_code("۰۴۹۹۳۷۰۸۹۹") and ids.normalize_national_code("049-937089-9") == "0499370899"
    for bad in ("049937089", "04993708999", "abcdefghij", None, 499370899, True):
        assert not ids.is_valid_national_code(bad)


def test_other_identifiers():
    rng = random.Random(8)
    assert ids.plate_key("۱۲ ب ۳۴۵ ایران ۶۷") == ids.plate_key("12ب345-67") == ids.plate_key("ایران ۶۷ – ۳۴۵ ب ۱۲")
    assert ids.plate_key("not a plate") is None
    assert ids.is_valid_iban(ids.generate_iban(rng)) and not ids.is_valid_iban("IR000000000000000000000000")
    assert ids.is_valid_postal_code("1345678912") and not ids.is_valid_postal_code("1234567891")  # 2 in first five
    assert ids.parse_jalali("۱۳۷۰/۰۱/۰۱") == jdatetime.date(1370, 1, 1)
    assert ids.parse_jalali("1991-03-21") == jdatetime.date(1370, 1, 1)
    assert ids.parse_jalali("1370/13/01") is None


# --- the command ---------------------------------------------------------------------------------

def test_panjereh_simulator_command():
    from webui import cmd_simulator

    parser = argparse.ArgumentParser(prog="panjereh")
    cmd_simulator.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["simulator", "--port", "0", "--latency-ms", "5", "--failure-rate", "0", "--seed", "3"])
    assert args.func is cmd_simulator._cmd_simulator
    out, stop, codes = io.StringIO(), threading.Event(), []
    runner = threading.Thread(target=lambda: codes.append(cmd_simulator._cmd_simulator(args, out, stop=stop)))
    runner.start()
    try:
        deadline = time.monotonic() + 10
        while "listening on" not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.02)
        url = out.getvalue().split("listening on ")[1].split()[0]
        assert httpx.get(f"{url}/health", timeout=5).json()["seed"] == 3
    finally:
        stop.set()
        runner.join(10)
    assert codes == [0]
    for bad in (["--failure-rate", "1.5"], ["--port", "99999"]):  # the port used to end in an OverflowError
        with pytest.raises(SystemExit):
            parser.parse_args(["simulator", *bad])


def test_control_document_round_trips(sim: SimulatorHandle):
    with httpx.Client(base_url=sim.url, timeout=5) as client:
        doc = client.post("/_control", json={"latency_ms": 10, "services": {"pakna": {"failure_rate": 0.25}}}).json()
        assert doc["latency_ms"] == 10 and doc["services"] == {"pakna": {"failure_rate": 0.25}}
        assert client.get("/_control").json() == doc
        bad = client.post("/_control", json={"services": {"nope": {}}})
        assert bad.status_code == 400 and json.loads(bad.content)["error"]["code"] == "control.invalid"

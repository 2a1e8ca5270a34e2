"""engine.inquiry_log: the hash chain is appended under a lock and never forks."""

from __future__ import annotations

import multiprocessing
import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from engine.clock import VirtualClock
from engine.db import Database
from engine.errors import ConcurrencyError
from engine.inquiry_log import append_fields, append_record, count_records, iter_records, verify_stored_chain
from engine.inquiry_record import GENESIS_HASH, InquiryRecord, link
from engine.inquiry_record import verify_chain as verify_records


def _fields(clock, n: int) -> dict[str, Any]:
    return {"service_id": "sabtahval.person", "instance_id": None, "case_id": f"case-{n}",
            "requester_agency": "agency-1", "requester_user": "clerk1", "subject_hash": "ab" * 32,
            "legal_basis": "law 1", "purpose": "verify identity", "requested_at": clock.now(),
            "responded_at": clock.now() + timedelta(seconds=1), "status": "OK", "idempotency_key": f"k{n}"}


def _append(db, clock, n: int) -> dict[str, Any]:
    for _ in range(50):
        try:
            with db.session_scope() as session:
                return append_fields(session, _fields(clock, n))
        except ConcurrencyError:
            continue
    raise AssertionError("could not append")


def test_records_chain_and_verify(db, clock):
    first = _append(db, clock, 1)
    second = _append(db, clock, 2)
    assert first["seq"] == 1 and first["prev_hash"] == GENESIS_HASH
    assert second["seq"] == 2 and second["prev_hash"] == first["hash"] and second["attempt"] == 1
    with db.session_scope(readonly=True) as session:
        assert verify_stored_chain(session, expected_head=second["hash"]) == []
        stored = list(iter_records(session))
    assert [r.hash for r in stored] == [first["hash"], second["hash"]]
    assert stored[0].requested_at == first["requested_at"]


def test_a_stored_chain_is_the_pure_chain(db, clock):
    """Records appended here link exactly as engine.inquiry_record.link would link them."""
    records = [InquiryRecord(service_id="s", requested_at=clock.now(), status="OK", case_id=f"c{n}")
               for n in range(3)]
    with db.session_scope() as session:
        stored = [append_record(session, record) for record in records]
    expected, prev = [], None
    for record in records:
        prev = link(prev, record)
        expected.append(prev)
    assert stored == expected
    with db.session_scope(readonly=True) as session:
        assert list(iter_records(session)) == expected
        assert verify_records(iter_records(session)) == []


def test_unknown_and_log_assigned_fields_are_refused(db, clock):
    for extra in ({"national_code": "0012345678"}, {"seq": 7}, {"hash": "0" * 64}):
        with pytest.raises(ValueError, match="unknown or log-assigned"), db.session_scope() as session:
            append_fields(session, {**_fields(clock, 1), **extra})
    with pytest.raises(ValueError, match="status"), db.session_scope() as session:
        append_fields(session, {**_fields(clock, 1), "status": "maybe"})


def test_tampering_shows(db, clock):
    for n in range(3):
        _append(db, clock, n)
    with db.session_scope() as session:  # an attacker with database access lifts the trigger
        if db.dialect == "postgresql":
            session.execute(text("ALTER TABLE inquiry_records DISABLE TRIGGER inquiry_records_append_only"))
        else:
            session.execute(text("DROP TRIGGER inquiry_records_no_update"))
        session.execute(text("UPDATE inquiry_records SET purpose = 'curiosity' WHERE seq = 2"))
        if db.dialect == "postgresql":
            session.execute(text("ALTER TABLE inquiry_records ENABLE TRIGGER inquiry_records_append_only"))
    with db.session_scope(readonly=True) as session:
        problems = verify_stored_chain(session)
    assert [(p.position, p.code) for p in problems] == [(1, "hash.mismatch")]


def test_concurrent_appenders_never_fork_the_chain(db, clock):
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def appender(index: int) -> None:
        barrier.wait()
        try:
            for n in range(15):
                _append(db, clock, index * 100 + n)
        except BaseException as exc:  # collected: a thread's failure must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=appender, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with db.session_scope(readonly=True) as session:
        assert count_records(session) == 90
        assert verify_stored_chain(session) == []


def _process_appender(url: str, start, count: int) -> None:
    db = Database(url)
    clock = VirtualClock()
    start.wait()
    for n in range(count):
        _append(db, clock, n)
    db.dispose()


def test_two_processes_append_one_chain(db, db_url):
    db.dispose()
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    procs = [ctx.Process(target=_process_appender, args=(db_url, start, 40)) for _ in range(2)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    with db.session_scope(readonly=True) as session:
        assert count_records(session) == 80
        assert verify_stored_chain(session) == []

"""The inquiry record and its hash chain: sealing, verifying, and catching tampering."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest

from engine.connectors import FakeConnector, InquiryContext, InquiryRequest, InquiryTimeout
from engine.inquiry_record import (
    GENESIS_HASH,
    HASHED_FIELDS,
    InquiryRecord,
    canonical_json,
    chain,
    link,
    record_for,
    seal,
    subject_hash,
    verify_chain,
)

T0 = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
KEY = b"test-subject-key"


def _record(i: int) -> InquiryRecord:
    return InquiryRecord(
        service_id="nocr_identity", requested_at=T0 + timedelta(seconds=i), status="OK", id=f"rec-{i}",
        instance_id="inst-1", case_id=f"case-{i}", element_id="Inquiry_1", requester_agency="IR-MRUD/panjereh",
        requester_user="clerk-7", subject_hash=subject_hash("national_code", "0499370899", KEY),
        legal_basis="آیین‌نامه خدمات الکترونیکی، ماده ۱۱", purpose="صدور پروانه",
        responded_at=T0 + timedelta(seconds=i, milliseconds=120), attempt=1, idempotency_key=f"job-{i}",
        request_hash="a" * 64, response_hash="b" * 64)


def _chain(n: int) -> list[InquiryRecord]:
    out: list[InquiryRecord] = []
    for i in range(n):
        out.append(link(out[-1] if out else None, _record(i)))
    return out


def test_an_intact_chain_verifies():
    records = _chain(5)
    assert verify_chain(records) == []
    assert records[0].prev_hash == GENESIS_HASH and records[0].seq == 1
    assert [r.prev_hash for r in records[1:]] == [r.hash for r in records[:-1]]
    assert verify_chain(records, expected_head=records[-1].hash) == []
    assert verify_chain([]) == []


def test_chain_is_the_hash_over_content_and_predecessor():
    first = link(None, _record(0))
    assert first.hash == chain(None, first) == chain(GENESIS_HASH, first)
    # The record's own prev_hash/hash fields are not trusted by chain(): the argument wins.
    assert chain("f" * 64, first) != first.hash
    # Storage calls seal() with a row's mapping; "hash" in it is ignored.
    assert seal({**first.fields(), "hash": "whatever"}) == first.hash


def test_changing_any_field_breaks_that_record():
    records = _chain(4)
    for name in ("status", "case_id", "subject_hash", "legal_basis", "response_hash", "requester_user"):
        value = "NOT_FOUND" if name == "status" else "tampered"
        tampered = list(records)
        tampered[2] = dataclasses.replace(records[2], **{name: value})
        problems = verify_chain(tampered)
        assert [(p.position, p.code) for p in problems] == [(2, "hash.mismatch")], name


def test_recomputing_the_hash_after_tampering_breaks_the_next_link():
    records = _chain(4)
    forged = dataclasses.replace(records[1], status="DENIED")
    forged = dataclasses.replace(forged, hash=chain(forged.prev_hash, forged))
    problems = verify_chain([records[0], forged, *records[2:]])
    assert [(p.position, p.code) for p in problems] == [(2, "link.broken")]


def test_deleting_a_record_is_detected():
    records = _chain(5)
    problems = verify_chain(records[:2] + records[3:])
    assert {(p.position, p.code) for p in problems} == {(2, "seq.gap"), (2, "link.broken")}
    assert problems[0].record_id == "rec-3"


def test_reordering_records_is_detected():
    records = _chain(4)
    swapped = [records[0], records[2], records[1], records[3]]
    codes = {p.code for p in verify_chain(swapped)}
    assert codes == {"seq.gap", "link.broken"}


def test_cutting_off_the_end_needs_an_anchor():
    records = _chain(4)
    assert verify_chain(records[:3]) == []  # a chain alone cannot show its lost tail...
    problems = verify_chain(records[:3], expected_head=records[-1].hash)  # ...an anchor kept elsewhere can
    assert [p.code for p in problems] == ["head.mismatch"]


def test_a_later_segment_verifies_from_its_start():
    records = _chain(6)
    assert verify_chain(records[3:], start_hash=records[2].hash or "", start_seq=4) == []


def test_canonical_form_is_stable_across_timezones():
    rec = link(None, _record(0))
    tehran = timezone(timedelta(hours=3, minutes=30))
    same = dataclasses.replace(rec, requested_at=rec.requested_at.astimezone(tehran))
    assert canonical_json(same.fields()) == canonical_json(rec.fields())
    assert seal(same.fields()) == rec.hash
    assert b"panjereh.inquiry_record/1" in canonical_json(rec.fields())


def test_record_values_are_checked():
    with pytest.raises(ValueError, match="status"):
        InquiryRecord(service_id="x", requested_at=T0, status="MAYBE")
    with pytest.raises(ValueError, match="timezone"):
        InquiryRecord(service_id="x", requested_at=datetime(2026, 1, 1), status="OK")
    with pytest.raises(ValueError, match="not linked"):
        link(_record(0), _record(1))


def test_fields_match_the_storage_columns():
    from engine.inquiry_log import RECORD_FIELDS  # storage keeps exactly what the hash covers

    assert set(HASHED_FIELDS) == set(RECORD_FIELDS) | {"id", "seq", "prev_hash"}


def _request(code: str = "0499370899") -> InquiryRequest:
    ctx = InquiryContext("IR-MRUD", "panjereh", "clerk-7", "case-42", "صدور پروانه", "ماده ۱۱")
    return InquiryRequest("nocr_identity", {"national_code": code, "birth_date": "1370/01/01"}, ctx, "job-1")


def test_record_for_a_successful_attempt_hashes_the_subject():
    conn = FakeConnector({"nocr_identity": {"status": "OK", "data": {"first_name": "علی"}}})
    request = _request()
    response = conn.call(request)
    rec = record_for(request, response, subject_key=KEY, instance_id="inst-1", element_id="Inquiry_1", attempt=2)
    assert rec.id == request.request_id and rec.status == "OK" and rec.attempt == 2
    assert rec.subject_hash == subject_hash("national_code", "0499370899", KEY)
    assert rec.request_hash == response.request_hash and rec.response_hash == response.response_hash
    assert rec.requester_agency == "IR-MRUD/panjereh" and rec.case_id == "case-42"
    assert "0499370899" not in canonical_json(rec.fields()).decode()
    assert verify_chain([link(None, rec)]) == []


def test_record_for_a_failed_attempt():
    def slow(request: InquiryRequest) -> dict[str, object]:
        raise InquiryTimeout(request.service_id, "transport.timeout", "no answer in time")

    conn = FakeConnector({"nocr_identity": slow})
    request = _request()
    with pytest.raises(InquiryTimeout) as info:
        conn.call(request)
    assert info.value.response is not None
    rec = record_for(request, info.value.response, subject_key=KEY)
    assert rec.status == "TIMEOUT" and rec.response_hash is None and rec.responded_at is None
    assert rec.request_hash == info.value.response.request_hash


def test_the_sealed_bytes_are_the_standard_encoder_s_canonical_json():
    # Outside tools recompute the hash with any JSON library: the bytes must be json.dumps' canonical form.
    import hashlib
    import json

    record = dataclasses.replace(_record(3), purpose="استعلام هویت «ثبت‌احوال»", legal_basis=None,
                                 requester_user='clerk "7"\\n', seq=3, prev_hash="a" * 64)
    fields = record.fields()
    body = {name: (value.astimezone(UTC).isoformat(timespec="microseconds") if isinstance(value, datetime)
                   else value) for name, value in fields.items()}
    body["schema"] = "panjereh.inquiry_record/1"
    standard = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    assert canonical_json(fields) == standard
    assert seal(fields) == hashlib.sha256(standard).hexdigest()

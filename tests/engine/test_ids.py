"""engine.models ids: time-ordered UUIDs (version 7) that only increase in a process; random tokens."""

from __future__ import annotations

import uuid

from engine import models


def test_ids_are_uuid7_in_increasing_order_even_within_a_millisecond():
    ids = [models.new_id() for _ in range(5000)]  # far more than one per millisecond
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    parsed = [uuid.UUID(i) for i in ids]
    assert {u.version for u in parsed} == {7} and {u.variant for u in parsed} == {uuid.RFC_4122}


def test_ids_keep_increasing_when_the_clock_steps_back(monkeypatch):
    now = [2_000_000_000_000_000_000]
    monkeypatch.setattr(models.time, "time_ns", lambda: now[0])
    before = models.new_id()
    now[0] -= 3_600 * 10**9  # the system clock is set back an hour
    after = models.new_id()
    assert after > before
    assert uuid.UUID(before).int >> 80 == 2_000_000_000_000  # the time field is milliseconds since the epoch


def test_tokens_are_random_not_time_ordered():
    tokens = [models.new_token() for _ in range(200)]
    assert {uuid.UUID(t).version for t in tokens} == {4}
    assert tokens != sorted(tokens)

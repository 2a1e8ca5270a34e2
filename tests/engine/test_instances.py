"""engine.instances: rows, lookups, and the optimistic lock that ends every action."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from engine.errors import ConcurrencyError, NotFound
from engine.instances import ClaimedHead, InstanceHead, Instances
from engine.state_store import load_parts, save_parts
from engine.versions import Versions


@pytest.fixture
def version_id(db, clock):
    with db.session_scope() as session:
        return Versions(session, clock).deploy(key="permit", bpmn=b"<definitions/>").id


def test_create_get_find(db, clock, version_id):
    with db.session_scope() as session:
        instances = Instances(session, clock)
        made = instances.create(version_id=version_id, process_id="P", business_key="REQ-1", subject="h" * 64,
                                data={"amount": 3})
        instances.create(version_id=version_id, process_id="P", business_key="REQ-2")
    assert made.status == "running" and made.lock_version == 1 and made.data == {"amount": 3}
    with db.session_scope(readonly=True) as session:
        instances = Instances(session, clock)
        assert instances.get(made.id) == made
        head = instances.head(made.id)  # the same row without data and timestamps
        assert type(head) is InstanceHead
        assert {k: getattr(made, k) for k in head.__dataclass_fields__} == head.__dict__
        assert [i.id for i in instances.find(business_key="REQ-1")] == [made.id]
        assert len(instances.find(status="running")) == 2
        assert [i.id for i in instances.find(subject="h" * 64)] == [made.id]
    with pytest.raises(NotFound), db.session_scope() as session:
        Instances(session, clock).get("nope")
    with pytest.raises(NotFound), db.session_scope() as session:
        Instances(session, clock).head("nope")
    with pytest.raises(ValueError), db.session_scope() as session:
        Instances(session, clock).create(version_id=version_id, process_id="P", status="sleeping")


def test_save_bumps_the_version_and_writes_only_what_is_given(db, clock, version_id):
    with db.session_scope() as session:
        made = Instances(session, clock).create(version_id=version_id, process_id="P", data={"a": 1})
    with db.session_scope() as session:
        assert Instances(session, clock).save(made.id, expected_version=1, status="waiting") == 2
    with db.session_scope(readonly=True) as session:
        now = Instances(session, clock).get(made.id)
    assert now.status == "waiting" and now.data == {"a": 1} and now.lock_version == 2


def test_a_claim_bumps_the_version_at_once_and_finish_writes_only_what_changed(db, clock, version_id):
    with db.session_scope() as session:
        made = Instances(session, clock).create(version_id=version_id, process_id="P", data={"a": 1})
    clock.advance(timedelta(minutes=5))
    with db.session_scope() as session:
        instances = Instances(session, clock)
        claimed = instances.claim(made)
        assert isinstance(claimed, ClaimedHead) and claimed.lock_version == 1
        assert instances.head(made.id).lock_version == 2  # already, inside the transaction
        assert instances.finish(claimed) == 2  # nothing changed: nothing written, no second bump
    with db.session_scope(readonly=True) as session:
        row = Instances(session, clock).get(made.id)
    assert (row.lock_version, row.status, row.data, row.updated_at) == (2, "running", {"a": 1}, clock.now())
    with db.session_scope() as session:
        instances = Instances(session, clock)
        assert instances.claim(made) is None  # a stale head (version 1): nothing happens
        assert instances.head(made.id).lock_version == 2
        claimed = instances.claim(row)
        assert claimed is not None
        assert instances.finish(claimed, status="completed", data={"a": 2}) == 3
    with db.session_scope(readonly=True) as session:
        row = Instances(session, clock).get(made.id)
    assert (row.lock_version, row.status, row.data) == (3, "completed", {"a": 2})
    with pytest.raises(ValueError, match="status"), db.session_scope() as session:
        instances = Instances(session, clock)
        claimed = instances.claim(row)
        assert claimed is not None
        instances.finish(claimed, status="nonsense")


def test_of_two_claims_of_one_version_the_second_waits_and_fails(db, clock, version_id):
    with db.session_scope() as session:
        made = Instances(session, clock).create(version_id=version_id, process_id="P")
    claimed_first = threading.Event()
    results: list[object] = []

    def second() -> None:
        claimed_first.wait(10)
        with db.session_scope() as session:
            results.append(Instances(session, clock).claim(made))

    thread = threading.Thread(target=second)
    thread.start()
    with db.session_scope() as session:
        instances = Instances(session, clock)
        claimed = instances.claim(made)
        assert claimed is not None
        claimed_first.set()
        thread.join(0.3)
        assert thread.is_alive()  # it waits for the first transaction (row lock, or SQLite's write lock)
        instances.finish(claimed, status="waiting")
    thread.join(10)
    assert results == [None]  # the version it saw is gone once the first committed
    with db.session_scope(readonly=True) as session:
        row = Instances(session, clock).get(made.id)
    assert (row.lock_version, row.status) == (2, "waiting")


def test_a_second_action_from_the_same_version_rolls_back_whole(db, clock, version_id):
    with db.session_scope() as session:
        made = Instances(session, clock).create(version_id=version_id, process_id="P")
        save_parts(session, made.id, {"task": {"state": "READY"}})
    with db.session_scope() as session:
        save_parts(session, made.id, {"task": {"state": "COMPLETED", "by": "first"}})
        Instances(session, clock).save(made.id, expected_version=1)
    with pytest.raises(ConcurrencyError, match="changed by another action") as caught, \
            db.session_scope() as session:
        save_parts(session, made.id, {"task": {"state": "COMPLETED", "by": "second"}})
        Instances(session, clock).save(made.id, expected_version=1)
    assert caught.value.retryable
    with db.session_scope(readonly=True) as session:
        assert load_parts(session, made.id) == {"task": {"state": "COMPLETED", "by": "first"}}


def test_concurrent_actions_one_wins(db, clock, version_id):
    with db.session_scope() as session:
        made = Instances(session, clock).create(version_id=version_id, process_id="P")
    barrier = threading.Barrier(5)
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def action(name: str) -> None:
        barrier.wait()
        try:
            with db.session_scope() as session:
                seen = Instances(session, clock).lock(made.id, expected_version=1)  # all saw version 1
                save_parts(session, made.id, {"last": name})
                Instances(session, clock).save(made.id, expected_version=seen.lock_version, data={"by": name})
            outcomes.append(name)
        except ConcurrencyError:
            outcomes.append("lost")
        except BaseException as exc:  # collected: anything else fails the test
            errors.append(exc)

    threads = [threading.Thread(target=action, args=(f"a{i}",)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    winners = [o for o in outcomes if o != "lost"]
    assert len(winners) == 1 and outcomes.count("lost") == 4
    with db.session_scope(readonly=True) as session:
        assert Instances(session, clock).get(made.id).data == {"by": winners[0]}
        assert load_parts(session, made.id) == {"last": winners[0]}


def test_locked_actions_without_a_seen_version_take_turns(db, clock, version_id):
    with db.session_scope() as session:
        made = Instances(session, clock).create(version_id=version_id, process_id="P", data={"n": 0})
    barrier = threading.Barrier(5)
    errors: list[BaseException] = []

    def action() -> None:
        barrier.wait()
        try:
            with db.session_scope() as session:
                instances = Instances(session, clock)
                seen = instances.lock(made.id)  # a timer or a worker: wait, then act on the fresh state
                instances.save(made.id, expected_version=seen.lock_version, data={"n": seen.data["n"] + 1})
        except BaseException as exc:  # collected: anything fails the test
            errors.append(exc)

    threads = [threading.Thread(target=action) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with db.session_scope(readonly=True) as session:
        final = Instances(session, clock).get(made.id)
    assert final.data == {"n": 5} and final.lock_version == 6


def test_lock_reads_the_row(db, clock, version_id):
    with db.session_scope() as session:
        made = Instances(session, clock).create(version_id=version_id, process_id="P")
    with db.session_scope() as session:
        assert Instances(session, clock).lock(made.id).id == made.id
    with pytest.raises(NotFound), db.session_scope() as session:
        Instances(session, clock).lock("nope")

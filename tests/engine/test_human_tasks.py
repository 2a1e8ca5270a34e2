"""engine.inbox: inbox rows, claiming, and exactly one winner when clerks race."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from engine.audit import AuditLog
from engine.errors import AlreadyClaimed, AlreadyCompleted, ConcurrencyError, InvalidState, NotFound
from engine.inbox import HumanTasks

from .conftest import add_instance


def _create(db, clock, instance_id, key="task-1", **options):
    with db.session_scope() as session:
        return HumanTasks(session, clock).create(instance_id=instance_id, task_key=key, element_id="Review",
                                                 name="بررسی مدارک", lane="Clerks", candidate_group="clerks",
                                                 form_ref="review.json", **options)


def test_create_is_idempotent_per_engine_task(db, clock, instance_id):
    first = _create(db, clock, instance_id, due_at=clock.now() + timedelta(days=3))
    again = _create(db, clock, instance_id)
    assert first == again and first.status == "open" and first.version == 1
    assert first.due_at == clock.now() + timedelta(days=3) and first.form_ref == "review.json"


def test_a_new_row_is_returned_as_it_reads_back(db, clock, instance_id):
    from datetime import timezone

    tehran = timezone(timedelta(hours=3, minutes=30))
    made = _create(db, clock, instance_id, key="task-2", assignee="maryam",
                   due_at=(clock.now() + timedelta(days=1)).astimezone(tehran))
    with db.session_scope(readonly=True) as session:
        read = HumanTasks(session, clock).get(made.id)
    assert made == read and made.status == "claimed" and made.due_at.utcoffset() == timedelta(0)


def test_inbox_shows_group_tasks_and_own_claims(db, clock, instance_id):
    open_task = _create(db, clock, instance_id, "a", due_at=clock.now() + timedelta(days=1))
    other_group = None
    with db.session_scope() as session:
        tasks = HumanTasks(session, clock)
        other_group = tasks.create(instance_id=instance_id, task_key="b", element_id="Sign", candidate_group="heads")
        mine = tasks.create(instance_id=instance_id, task_key="c", element_id="Check", assignee="clerk1")
    with db.session_scope(readonly=True) as session:
        tasks = HumanTasks(session, clock)
        assert [t.id for t in tasks.inbox(user="clerk1", groups=["clerks"])] == [open_task.id, mine.id]
        assert [t.id for t in tasks.inbox(user="clerk2", groups=["clerks"])] == [open_task.id]
        assert [t.id for t in tasks.inbox(user="boss", groups=["heads"])] == [other_group.id]
        assert mine.status == "claimed" and mine.assignee == "clerk1"
        assert len(tasks.for_instance(instance_id)) == 3


def test_claim_release_complete(db, clock, instance_id):
    task = _create(db, clock, instance_id)
    with db.session_scope() as session:
        claimed = HumanTasks(session, clock).claim(task.id, user="clerk1", expected_version=1)
    assert claimed.status == "claimed" and claimed.assignee == "clerk1" and claimed.version == 2
    with pytest.raises(AlreadyClaimed, match="claimed by clerk1"), db.session_scope() as session:
        HumanTasks(session, clock).claim(task.id, user="clerk2")
    with pytest.raises(AlreadyClaimed), db.session_scope() as session:
        HumanTasks(session, clock).complete(task.id, user="clerk2")
    with db.session_scope() as session:
        tasks = HumanTasks(session, clock)
        assert tasks.claim(task.id, user="clerk1").version == 2  # own claim again: no-op
        released = tasks.release(task.id, user="clerk1")
    assert released.status == "open" and released.assignee is None
    clock.advance(timedelta(minutes=7))
    with db.session_scope() as session:
        done = HumanTasks(session, clock).complete(task.id, user="clerk2")
    assert done.status == "completed" and done.completed_by == "clerk2" and done.completed_at == clock.now()
    with db.session_scope(readonly=True) as session:
        entries = AuditLog(session, clock).entries(instance_id=instance_id)
    assert [(e.action, e.actor) for e in entries] == [
        ("task.claimed", "clerk1"), ("task.released", "clerk1"), ("task.completed", "clerk2")]


def test_completing_twice_names_who_completed(db, clock, instance_id):
    task = _create(db, clock, instance_id)
    with db.session_scope() as session:
        HumanTasks(session, clock).complete(task.id, user="clerk1")
    with pytest.raises(AlreadyCompleted) as caught, db.session_scope() as session:
        HumanTasks(session, clock).complete(task.id, user="clerk2")
    error = caught.value
    assert error.completed_by == "clerk1" and error.task_id == task.id and not error.retryable
    assert "'بررسی مدارک'" in str(error) and "already completed by clerk1" in str(error)


def test_mark_completed_is_complete_without_the_row_back(db, clock, instance_id):
    first, second = _create(db, clock, instance_id, "a"), _create(db, clock, instance_id, "b")
    clock.advance(timedelta(minutes=3))
    with db.session_scope() as session:
        tasks = HumanTasks(session, clock)
        assert tasks.mark_completed(first.id, user="clerk1") is None
        done = tasks.complete(second.id, user="clerk1")
    with db.session_scope(readonly=True) as session:
        marked = HumanTasks(session, clock).get(first.id)
        entries = AuditLog(session, clock).entries(instance_id=instance_id)
    same = ("status", "assignee", "completed_by", "completed_at", "version")
    assert {k: getattr(marked, k) for k in same} == {k: getattr(done, k) for k in same}
    assert (marked.status, marked.completed_by, marked.completed_at) == ("completed", "clerk1", clock.now())
    assert [(e.action, e.details["task_id"]) for e in entries if e.action == "task.completed"] == [
        ("task.completed", first.id), ("task.completed", second.id)]
    # The same refusals as complete: done already, a stale form, someone else's claim.
    with pytest.raises(AlreadyCompleted, match="clerk1"), db.session_scope() as session:
        HumanTasks(session, clock).mark_completed(first.id, user="clerk2")
    third = _create(db, clock, instance_id, "c")
    with db.session_scope() as session:
        HumanTasks(session, clock).claim(third.id, user="clerk1")
    with pytest.raises(ConcurrencyError), db.session_scope() as session:
        HumanTasks(session, clock).mark_completed(third.id, user="clerk1", expected_version=third.version)
    with pytest.raises(AlreadyClaimed), db.session_scope() as session:
        HumanTasks(session, clock).mark_completed(third.id, user="clerk2")


def test_a_stale_form_is_refused(db, clock, instance_id):
    task = _create(db, clock, instance_id)
    with db.session_scope() as session:
        tasks = HumanTasks(session, clock)
        tasks.claim(task.id, user="clerk1")
        tasks.release(task.id, user="clerk1")
    with pytest.raises(ConcurrencyError, match="changed since you opened it") as caught, \
            db.session_scope() as session:
        HumanTasks(session, clock).complete(task.id, user="clerk2", expected_version=task.version)
    assert caught.value.retryable


def test_cancelled_and_missing_tasks(db, clock, instance_id):
    task = _create(db, clock, instance_id)
    with db.session_scope() as session:
        assert HumanTasks(session, clock).cancel(task.id)
        assert not HumanTasks(session, clock).cancel(task.id)
    with pytest.raises(InvalidState, match="cancelled"), db.session_scope() as session:
        HumanTasks(session, clock).complete(task.id, user="clerk1")
    with pytest.raises(NotFound), db.session_scope() as session:
        HumanTasks(session, clock).complete("no-such-task", user="clerk1")


def test_cancel_for_instance(db, clock, instance_id):
    for key in ("a", "b"):
        _create(db, clock, instance_id, key)
    with db.session_scope() as session:
        assert HumanTasks(session, clock).cancel_for_instance(instance_id) == 2
        assert HumanTasks(session, clock).for_instance(instance_id) == []


def _race(db, clock, task_id: str, clerks: int) -> tuple[list[str], list[AlreadyCompleted], list[BaseException]]:
    """``clerks`` threads complete one task at the same moment, each in its own transaction."""
    barrier = threading.Barrier(clerks)
    won: list[str] = []
    lost: list[AlreadyCompleted] = []
    errors: list[BaseException] = []

    def clerk(name: str) -> None:
        barrier.wait()
        try:
            with db.session_scope() as session:
                HumanTasks(session, clock).complete(task_id, user=name)
            won.append(name)
        except AlreadyCompleted as exc:
            lost.append(exc)
        except BaseException as exc:  # collected: anything else fails the test
            errors.append(exc)

    threads = [threading.Thread(target=clerk, args=(f"clerk{i}",)) for i in range(clerks)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return won, lost, errors


def test_racing_clerks_exactly_one_wins(db, clock):
    clerks, rounds = 4, 15
    with db.session_scope() as session:
        iid = add_instance(session, clock.now())
    for r in range(rounds):
        task_id = _create(db, clock, iid, f"race-{r}").id
        won, lost, errors = _race(db, clock, task_id, clerks)
        assert errors == []
        assert len(won) == 1 and len(lost) == clerks - 1
        assert {exc.completed_by for exc in lost} == set(won)
        with db.session_scope(readonly=True) as session:
            assert HumanTasks(session, clock).get(task_id).completed_by == won[0]
    with db.session_scope(readonly=True) as session:
        completions = AuditLog(session, clock).entries(action="task.completed", limit=1000)
    assert len(completions) == rounds

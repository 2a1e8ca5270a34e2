"""Which instances wait for which message or signal (``event_subscriptions``), inside the caller's transaction.

Every action on an instance brings its rows in line with what the instance
waits for after it (``engine.runtime``); delivery then finds the waiting
instances by event name with one indexed query:

* a **signal** is broadcast: every instance waiting for it gets it, and a
  business key, when given, narrows the broadcast;
* a **message** goes to the instances waiting for it under the message's
  business key (BPMN correlation); without a key it reaches none of them.

Instances that were already waiting when the table was made (migration
0002) are listed in ``subscription_backfill`` (migration 0003) until the
engine has given them their rows (``Engine`` does it before a broadcast).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.orm import Session

from engine.fastsql import execute
from engine.models import EventSubscription, Instance, SubscriptionBackfill

_T = EventSubscription.__table__
_I = Instance.__table__
_INSERT = insert(_T)
_DELETE = delete(_T).where(_T.c.instance_id == bindparam("b_instance"), _T.c.kind == bindparam("b_kind"),
                           _T.c.name == bindparam("b_name"))
_WAITING = (select(_T.c.instance_id).join(_I, _I.c.id == _T.c.instance_id)
            .where(_T.c.kind == bindparam("b_kind"), _T.c.name == bindparam("b_name"), _I.c.status == "waiting")
            .order_by(_I.c.created_at, _I.c.id).limit(bindparam("b_limit")))
_WAITING_KEYED = _WAITING.where(_I.c.business_key == bindparam("b_key"))

_B = SubscriptionBackfill.__table__
_BACKLOG = select(_B.c.instance_id).order_by(_B.c.instance_id)
_DONE = delete(_B).where(_B.c.instance_id == bindparam("b_instance"))

Wait = tuple[str, str]  # (kind, name)


class EventSubscriptions:
    """Keeps and queries the subscription rows."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def update(self, instance_id: str, before: Iterable[Wait], after: Iterable[Wait]) -> None:
        """Insert the waits in ``after`` but not ``before``; delete the reverse (nothing when equal)."""
        old, new = set(before), set(after)
        gone = [{"b_instance": instance_id, "b_kind": k, "b_name": n} for k, n in sorted(old - new)]
        added = [{"instance_id": instance_id, "kind": k, "name": n} for k, n in sorted(new - old)]
        if gone:
            execute(self._session, _DELETE, gone)
        if added:
            execute(self._session, _INSERT, added)

    def waiting(self, kind: str, name: str, *, business_key: str | None = None, limit: int = 10_000) -> list[str]:
        """Ids of the waiting instances subscribed to ``kind``/``name`` (of ``business_key`` if given), oldest first."""
        params = {"b_kind": kind, "b_name": name, "b_limit": limit}
        if business_key is None:
            return list(execute(self._session, _WAITING, params).scalars())
        return list(execute(self._session, _WAITING_KEYED, {**params, "b_key": business_key}).scalars())

    def backlog(self) -> list[str]:
        """Ids of instances still waiting for their rows (see the module docstring); usually none."""
        return list(execute(self._session, _BACKLOG, {}).scalars())

    def backfilled(self, instance_id: str) -> None:
        """Take ``instance_id`` off the backlog."""
        execute(self._session, _DONE, {"b_instance": instance_id})

"""Errors of the durable engine: storage, concurrency, leases and lookups.

Every error here derives from :class:`EngineError`, itself a
:class:`bpmn.errors.PanjerehError`, and says in ``retryable`` whether doing
the same thing again can help (the Temporal SDK's habit): a lost race is
worth repeating after reloading; a task that someone else completed is not.
The edges (web UI, command line) turn these into responses and exit codes.

    PanjerehError
    └── EngineError               base; ``retryable`` says if repeating can help
        ├── ConcurrencyError      another action changed the same rows first
        │   │                     (optimistic version mismatch, SQLite busy,
        │   │                     PostgreSQL serialization failure); reload and
        │   │                     repeat: retryable
        │   ├── AlreadyCompleted  a human task was completed by someone else
        │   │                     (names the task, who and when); not retryable
        │   ├── AlreadyClaimed    a human task is claimed by another user;
        │   │                     not retryable until it is released
        │   └── LeaseLost         a worker's job lease was taken over (it expired
        │                         and another worker took the job) or the job was
        │                         cancelled; the old holder must drop its result:
        │                         not retryable
        ├── JobFailed             raised by a job handler: this attempt failed;
        │                         ``retryable`` says whether a later attempt can
        │                         succeed (registry timeout: yes; refused: no)
        ├── SchemaOutdated        the database is not migrated to the code's
        │                         newest revision (run the migrations)
        ├── NotFound              no row with that id (job, task, incident ...)
        ├── InvalidState          the action does not fit the row's state
        │                         (retrying an incident that is resolved ...)
        └── InvalidData           data given to an action (start data, form
                                  answers, a message's payload) that task data
                                  cannot hold: NaN, a set, an object...; names
                                  the field; nothing was changed
"""

from __future__ import annotations

from datetime import datetime

from bpmn.errors import PanjerehError


class EngineError(PanjerehError):
    """Base of the engine's errors; ``retryable`` says whether repeating can help."""

    retryable: bool = False


class ConcurrencyError(EngineError):
    """Another action changed the same rows first; reload and repeat."""

    retryable = True


class AlreadyCompleted(ConcurrencyError):
    """A human task was already completed, by ``completed_by`` at ``completed_at``."""

    retryable = False

    def __init__(self, task_id: str, task_name: str | None, completed_by: str | None,
                 completed_at: datetime | None) -> None:
        self.task_id = task_id
        self.task_name = task_name
        self.completed_by = completed_by
        self.completed_at = completed_at
        label = f"'{task_name}' ({task_id})" if task_name else task_id
        who = completed_by or "another user"
        when = f" at {completed_at.isoformat()}" if completed_at else ""
        super().__init__(f"task {label} was already completed by {who}{when}")


class AlreadyClaimed(ConcurrencyError):
    """A human task is claimed by ``assignee``; only they can complete or release it."""

    retryable = False

    def __init__(self, task_id: str, task_name: str | None, assignee: str) -> None:
        self.task_id = task_id
        self.task_name = task_name
        self.assignee = assignee
        label = f"'{task_name}' ({task_id})" if task_name else task_id
        super().__init__(f"task {label} is claimed by {assignee}")


class LeaseLost(ConcurrencyError):
    """A worker's lease on a job is no longer valid; its result must be dropped."""

    retryable = False

    def __init__(self, job_id: str, worker_id: str, reason: str) -> None:
        self.job_id = job_id
        self.worker_id = worker_id
        self.reason = reason
        super().__init__(f"worker {worker_id} lost its lease on job {job_id}: {reason}")


class JobFailed(EngineError):
    """A job handler's attempt failed; ``retryable`` decides between backoff and an incident.

    ``details`` (JSON-able, no personal data) is kept with the incident.
    """

    def __init__(self, message: str, *, retryable: bool = True, details: dict[str, object] | None = None) -> None:
        self.retryable = retryable
        self.details = dict(details or {})
        super().__init__(message)


class SchemaOutdated(EngineError):
    """The database schema is older (or newer) than this code expects."""


class NotFound(EngineError):
    """No ``kind`` row has the id ``ident``."""

    def __init__(self, kind: str, ident: str) -> None:
        self.kind = kind
        self.ident = ident
        super().__init__(f"no {kind} with id {ident}")


class InvalidState(EngineError):
    """The action does not fit the current state of the row."""


class InvalidData(EngineError):
    """Data given to an action that task data cannot hold (it is stored as JSON); ``field`` names where."""

    def __init__(self, what: str, field: str, problem: str) -> None:
        self.what = what
        self.field = field
        self.problem = problem
        super().__init__(f"{what}: {field}: {problem}")

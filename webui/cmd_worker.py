"""``panjereh worker``: stand-alone job workers (service tasks, inquiries, timers).

Runs ``--threads`` workers in this process against ``--database-url`` (or
``DATABASE_URL``, or the embedded SQLite file) until SIGTERM/SIGINT, or with
``--once`` until no job is due. Several such processes may share one
PostgreSQL database: jobs are leased with ``FOR UPDATE SKIP LOCKED``.

Which job kinds a worker can run comes from handler factories
(``module:function`` returning ``{kind: handler}``), the engine's own by
default; ``--handlers`` replaces them.

Exit codes: 0 stopped cleanly; 1 the database or the handlers could not be
set up; 2 usage error (including: no handlers configured).
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from bpmn.errors import PanjerehError
from engine.clock import SystemClock
from engine.db import Database
from engine.worker import load_handlers, run_process

# The engine's handler factories: service tasks (inquiries), timers and messages.
DEFAULT_HANDLER_FACTORIES: tuple[str, ...] = ("engine.runtime:job_handlers",)


def register(subparsers: Any) -> None:
    """Add the ``worker`` subcommand to the ``panjereh`` parser."""
    parser = subparsers.add_parser("worker", help="run job workers (service tasks, inquiries, timers)")
    parser.add_argument("--database-url", default=None,
                        help="database URL (default: $DATABASE_URL, else the SQLite file under instance/)")
    parser.add_argument("--threads", type=int, default=2, help="worker threads in this process (default 2)")
    parser.add_argument("--once", action="store_true", help="run the jobs due now, then exit")
    parser.add_argument("--handlers", action="append", metavar="MODULE:FUNCTION", default=None,
                        help="handler factory returning {kind: handler}; repeatable (default: the engine's)")
    parser.add_argument("--migrate", action="store_true", help="bring the schema up to date before starting")
    parser.add_argument("--poll", type=float, default=1.0, help="seconds to wait when no job is due (default 1)")
    parser.add_argument("--lease", type=float, default=None,
                        help="seconds a taken job stays this worker's before another may take it (default 300)")
    parser.set_defaults(func=_cmd_worker)


def _cmd_worker(args: argparse.Namespace, out: Any) -> int:
    if args.threads < 1:
        print("panjereh worker: --threads must be at least 1", file=sys.stderr)
        return 2
    specs = args.handlers if args.handlers is not None else list(DEFAULT_HANDLER_FACTORIES)
    if not specs:
        print("panjereh worker: no job handlers are configured; pass --handlers MODULE:FUNCTION", file=sys.stderr)
        return 2
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    clock = SystemClock()
    db: Database | None = None
    try:
        db = Database(args.database_url)
        if args.migrate:
            db.upgrade()
        db.check_schema()
        handlers = load_handlers(specs, db, clock)
    except (PanjerehError, SQLAlchemyError, ValueError, ImportError, AttributeError) as exc:
        print(f"panjereh worker: {exc}", file=sys.stderr)
        if db is not None:
            db.dispose()
        return 1
    if not handlers:
        print("panjereh worker: the handler factories returned no handlers", file=sys.stderr)
        db.dispose()
        return 2
    out.write(f"panjereh worker: {args.threads} thread(s), kinds {', '.join(sorted(handlers))}\n")
    out.flush()
    options = {"lease": timedelta(seconds=args.lease)} if args.lease else {}
    return run_process(db, clock, handlers, threads=args.threads, once=args.once, poll_interval=args.poll, **options)

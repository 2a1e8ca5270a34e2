"""engine.checkpoint: SQLite's WAL is copied back into the database file by a thread of its own."""

from __future__ import annotations

import shutil
import sqlite3
import time

import pytest
from sqlalchemy import text

from engine.checkpoint import WalCheckpointer
from engine.db import Database

from .conftest import add_instance


def _wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def _rows_in_main_file(tmp_path, db_file) -> int:
    """Instances in a copy of the database file alone: only what a checkpoint has copied out of the WAL."""
    copy = tmp_path / "main-file-only.sqlite3"
    shutil.copyfile(db_file, copy)
    conn = sqlite3.connect(copy)
    try:
        return conn.execute("SELECT count(*) FROM instances").fetchone()[0]
    except sqlite3.OperationalError:  # not even the schema has been copied yet
        return 0
    finally:
        conn.close()


def test_commits_reach_the_database_file_without_waiting_for_the_automatic_checkpoint(tmp_path, clock):
    db_file = tmp_path / "c.sqlite3"
    db = Database(f"sqlite:///{db_file}")
    try:
        db.upgrade()
        assert db.checkpointer is not None
        db.checkpointer.every = 4
        assert _rows_in_main_file(tmp_path, db_file) == 0
        # Far below wal_autocheckpoint (10,000 pages): only the background thread copies pages back.
        # Each batch of 4 writes wakes it once; the test waits for each checkpoint before the next
        # batch, since two wakes that come before the thread runs are one checkpoint (on a busy
        # machine the 4th and 8th write can both come first).
        for batch in (1, 2):
            for _ in range(4):
                with db.session_scope() as s:
                    add_instance(s, clock.now())
            assert _wait_for(lambda batch=batch: db.checkpointer.checkpoints >= batch)
            assert _wait_for(lambda batch=batch: _rows_in_main_file(tmp_path, db_file) == 4 * batch)
        with db.session_scope(readonly=True) as s:  # nothing is lost or hidden by the checkpoints
            assert s.execute(text("SELECT count(*) FROM instances")).scalar_one() == 8
    finally:
        db.dispose()


def test_no_thread_until_the_first_writes_and_none_after_dispose(tmp_path, clock):
    db = Database(f"sqlite:///{tmp_path / 'd.sqlite3'}")
    db.upgrade()
    checkpointer = db.checkpointer
    assert checkpointer is not None
    checkpointer.every = 2
    with db.session_scope(readonly=True):
        pass
    assert checkpointer._thread is None  # reads do not count
    for _ in range(2):
        with db.session_scope() as s:
            add_instance(s, clock.now())
    thread = checkpointer._thread
    assert thread is not None and thread.is_alive()
    db.dispose()
    assert not thread.is_alive()
    with db.session_scope() as s:  # the database still works; the committing connections checkpoint again
        add_instance(s, clock.now())
        add_instance(s, clock.now())
    assert checkpointer._thread is thread


def test_a_failed_block_is_not_counted(tmp_path, clock):
    db = Database(f"sqlite:///{tmp_path / 'f.sqlite3'}")
    try:
        db.upgrade()
        assert db.checkpointer is not None
        with pytest.raises(RuntimeError), db.session_scope() as s:
            add_instance(s, clock.now())
            raise RuntimeError("boom")
        assert db.checkpointer._writes == 0
    finally:
        db.dispose()


def test_a_checkpoint_that_fails_is_logged_and_the_next_is_tried(tmp_path, caplog):
    missing = tmp_path / "no-such-folder" / "x.sqlite3"
    checkpointer = WalCheckpointer(str(missing), every=1)
    checkpointer.committed()
    thread = checkpointer._thread
    assert thread is not None
    thread.join(5)
    assert not thread.is_alive()
    assert "cannot open" in caplog.text and str(missing) in caplog.text
    checkpointer.stop()


def test_postgresql_has_no_checkpointer(db_url):
    db = Database(db_url)
    try:
        assert (db.checkpointer is None) == (db.dialect == "postgresql")
    finally:
        db.dispose()

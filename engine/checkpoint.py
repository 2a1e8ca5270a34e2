"""SQLite WAL checkpoints in a background thread, so that no action pays for one.

In WAL mode every commit appends the pages it changed to the WAL file, and a
*checkpoint* copies them back into the database file. The committing
connection does it itself once the WAL holds ``wal_autocheckpoint`` pages
(``engine.db``), and with ``synchronous=NORMAL`` a checkpoint first makes the
whole WAL durable (``fsync``), then the database file. For the engine that
is about 160 WAL pages a case, and the fsync is what costs: measured on the
bench's reference case, one action in every ~500 took ~100 ms (a 40 MB WAL
flushed to disk), 1.3-1.7 ms a case on average.

:class:`WalCheckpointer` runs passive checkpoints (they never wait for
readers or writers, and never block them) from a thread of its own with its
own connection, every ``every`` write transactions. The sqlite3 module lets
go of the GIL while SQLite works, so the flush overlaps the engine's Python
work. A passive checkpoint cannot finish while commits keep coming, so the
WAL is not reset by it; the committing connection's own automatic
checkpoint still does that when the WAL reaches its size, but by then
almost every page is already copied and flushed, and it is cheap.

Durability is SQLite's own: the same checkpoint, with the same
``synchronous`` setting, only in another thread. A checkpoint that fails
(the file went away, a disk error) is logged and the next one is tried;
nothing depends on it but the WAL's size.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading

log = logging.getLogger(__name__)

CHECKPOINT_EVERY = 48  # write transactions (~800 WAL pages at the engine's ~17 a transaction)


class WalCheckpointer:
    """Passive WAL checkpoints of one SQLite file, in a daemon thread started on the first write."""

    def __init__(self, path: str, *, every: int = CHECKPOINT_EVERY) -> None:
        self.path = path
        self.every = every
        self.checkpoints = 0  # passive checkpoints run (for tests and diagnostics)
        self._writes = 0
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()  # a forked child has no thread, whatever it inherited: it starts its own
        self._start_lock = threading.Lock()

    def committed(self) -> None:
        """Count one write transaction; every ``every``-th wakes the thread (the hot path: no lock)."""
        self._writes += 1  # a lost increment between threads only delays a checkpoint
        if self._writes >= self.every:
            self._writes = 0
            if self._thread is None or self._pid != os.getpid():
                self._start()
            self._wake.set()

    def _start(self) -> None:
        with self._start_lock:
            if self._pid != os.getpid():
                self._pid, self._thread, self._wake = os.getpid(), None, threading.Event()
            if self._thread is None and not self._stopping:
                self._thread = threading.Thread(target=self._run, name="panjereh-wal-checkpoint", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            log.warning("WAL checkpoints: cannot open %s (%s); the committing connections will do them", self.path,
                        exc)
            return
        try:
            # The same durability as the connections that commit (engine.db): the WAL is made durable
            # before pages go back into the database file.
            conn.execute("PRAGMA synchronous=NORMAL")  # (a passive checkpoint never waits: no busy timeout)
            while True:
                self._wake.wait()
                self._wake.clear()
                if self._stopping:
                    return
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.checkpoints += 1
                except sqlite3.OperationalError as exc:
                    # Another process's checkpoint holds the lock (it does the work), or the file went away.
                    level = logging.DEBUG if "locked" in str(exc) or "busy" in str(exc) else logging.WARNING
                    log.log(level, "WAL checkpoint of %s not done: %s", self.path, exc)
                except sqlite3.Error as exc:  # a disk error, say; the next try may work
                    log.warning("WAL checkpoint of %s failed: %s", self.path, exc)
        finally:
            conn.close()

    def stop(self) -> None:
        """Stop the thread (after the checkpoint it is running, if any) and close its connection."""
        with self._start_lock:
            self._stopping = True
            thread = self._thread
        self._wake.set()
        if thread is not None:
            thread.join(timeout=30)

"""SQLAlchemy's async SQLite dialect `sqlite+samhandling`: stdlib sqlite3, at most ONE thread hop per statement.

SQLAlchemy's aiosqlite adapter sends every statement to aiosqlite's thread four times (cursor(),
execute, fetchall, close), each a queue put, a wake-up of that thread and a wake-up of the event loop;
on SQLite that was most of the driver's share of a patient page's CPU (docs/performance.md, round 3).

Here each connection has one thread of its own that owns the sqlite3 connection. A statement that may
wait is one call into it (create the cursor, execute, fetch every row, read description/rowcount/
lastrowid, close), answered with one loop wake-up. Calls on a connection run in the order they were
made (a queue, first in first out).

Transactions: the dialect's BEGIN (`sqlite_begin`: BEGIN IMMEDIATE for the app's writer, see
server/db.py) is sent in the same call as the transaction's first statement, so it takes the write
lock where it did before, in front of the first read, in the thread (it may wait up to the busy
timeout for another process). A transaction without any statement sends nothing.

Once this connection HOLDS the write lock (after BEGIN IMMEDIATE, in WAL mode), its further statements
cannot wait for any lock, and run in the event loop's thread directly (a page's reads and its audit
INSERT: as long as SQLite's own work on them, microseconds); an executemany of more than 50 rows (the
sealer's batches) still goes to the thread. To the thread always: COMMIT (synchronous=FULL: it waits
for the disk); everything outside WAL mode (a writer there may wait for readers: `:memory:`, a file
where WAL is off); everything of a deferred transaction (`immediate=False` tools: a read may meet a
busy lock there).

COMMIT and ROLLBACK are skipped when sqlite3 says no transaction is open (`in_transaction`, read after
every call), as sqlite3 itself would; so the pool's rollback of a returned connection costs nothing.
The sqlite3 connection is opened with check_same_thread=False because of the direct statements; it
is never used by both threads at once: direct only when every call handed to the thread has finished.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections import deque
from queue import SimpleQueue
from threading import Thread
from typing import Any

from sqlalchemy import pool
from sqlalchemy.connectors.asyncio import AsyncAdapt_dbapi_module, AsyncAdapt_terminate
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import AdaptedConnection
from sqlalchemy.util.concurrency import await_only

NAME = "samhandling"
_STOP = object()
_WRITE_LOCKING = ("BEGIN IMMEDIATE", "BEGIN EXCLUSIVE")
_DIRECT_ROWS = 50  # an executemany of more rows goes to the thread (the sealer's batches of 2,000)


def _resolve(future: asyncio.Future, outcome: tuple) -> None:
    if not future.cancelled():
        future.set_result(outcome)


class _Ready:
    """An awaitable that is already done (SQLAlchemy's AsyncConnection insists on one await per call)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __await__(self):
        return self.value
        yield  # noqa: B901 - a generator that never suspends


class _Thread:
    """One thread that owns one sqlite3 connection and runs calls on it in order.

    A call's outcome is (ok, value, in_transaction): exceptions travel as values, so a call whose
    waiter was cancelled never leaves an unretrieved exception behind."""

    def __init__(self) -> None:
        self.connection: sqlite3.Connection | None = None
        self.queued = 0  # calls handed over (written by the caller's thread only)
        self.done = 0  # calls finished, connection untouched since (written by this thread only)
        self._queue: SimpleQueue = SimpleQueue()
        self._thread = Thread(target=self._run, name="sqlite", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        queue = self._queue
        while True:
            future, function, args = queue.get()
            if function is _STOP:
                if self.connection is not None:
                    try:
                        self.connection.close()
                    except Exception:  # noqa: BLE001 - closing at exit or after a failure
                        pass
                    self.connection = None
                if future is not None:
                    self._answer(future, (True, None, False))
                return
            try:
                outcome = (True, function(*args), False)
            except BaseException as error:  # noqa: BLE001 - handed to the caller, re-raised there
                outcome = (False, error, False)
            if self.connection is not None:
                outcome = (outcome[0], outcome[1], self.connection.in_transaction)
            self.done += 1
            self._answer(future, outcome)

    @staticmethod
    def _answer(future: asyncio.Future, outcome: tuple) -> None:
        try:
            future.get_loop().call_soon_threadsafe(_resolve, future, outcome)
        except RuntimeError:  # the loop is closed: nobody waits any more
            pass

    def call(self, function, *args) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        self.queued += 1
        self._queue.put((future, function, args))
        return future

    def stop(self, wait: bool) -> asyncio.Future | None:
        future = asyncio.get_running_loop().create_future() if wait else None
        self._queue.put((future, _STOP, ()))
        return future


def _connect(worker: _Thread, args: tuple, kwargs: dict) -> None:
    # Used from the event loop's thread too, never at the same time (Connection._statement).
    worker.connection = sqlite3.connect(*args, **{**kwargs, "check_same_thread": False})


def _execute(connection: sqlite3.Connection, begin: str | None, operation: str, parameters: Any, many: bool):
    """The whole statement in one call: (description, rows, rowcount, lastrowid)."""
    if begin is not None:
        connection.execute(begin)
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        if description:
            return description, cursor.fetchall(), -1, -1
        return None, None, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


def _is_wal(connection: sqlite3.Connection) -> bool:
    return connection.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"


class Cursor:
    """A DBAPI cursor over rows already fetched in the connection's thread."""

    __slots__ = ("_connection", "description", "rowcount", "lastrowid", "arraysize", "_rows")
    server_side = False

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self.description = None
        self.rowcount = -1
        self.lastrowid = None
        self.arraysize = 1
        self._rows: deque = deque()

    def execute(self, operation: str, parameters: Any = None) -> None:
        self._take(self._connection._statement(operation, parameters, False))

    def executemany(self, operation: str, seq_of_parameters: Any) -> None:
        self._take(self._connection._statement(operation, seq_of_parameters, True))

    def _take(self, result: tuple) -> None:
        self.description, rows, self.rowcount, self.lastrowid = result
        self._rows = deque(rows) if rows else deque()

    def setinputsizes(self, *inputsizes: Any) -> None:
        pass

    def close(self) -> None:
        self._rows.clear()

    async def _async_soft_close(self) -> None:  # SQLAlchemy's async result: nothing is left open
        return

    def __iter__(self):
        while self._rows:
            yield self._rows.popleft()

    def fetchone(self):
        return self._rows.popleft() if self._rows else None

    def fetchmany(self, size: int | None = None) -> list:
        rows = self._rows
        return [rows.popleft() for _ in range(min(size or self.arraysize, len(rows)))]

    def fetchall(self) -> list:
        rows = list(self._rows)
        self._rows.clear()
        return rows


class Connection(AsyncAdapt_terminate, AdaptedConnection):
    """The DBAPI connection SQLAlchemy sees (see the module's docstring for where its calls run)."""

    __slots__ = ("dbapi", "_worker", "_begin", "_in_transaction", "_writing", "_wal")
    await_ = staticmethod(await_only)

    def __init__(self, dbapi: DBAPI, worker: _Thread) -> None:
        self.dbapi = dbapi
        self._worker = worker
        self._connection = worker.connection
        self._begin: str | None = None  # BEGIN to send with the next statement
        self._in_transaction: bool | None = False  # None: not known (a call's answer never came)
        self._writing = False  # in a transaction that holds SQLite's write lock (BEGIN IMMEDIATE)
        self._wal: bool | None = None  # journal_mode=WAL (otherwise a writer may wait for readers)

    def _call(self, function, *args):
        self._in_transaction = None
        ok, value, self._in_transaction = self.await_(self._worker.call(function, *args))
        if not ok:
            raise value
        return value

    def _statement(self, operation: str, parameters: Any, many: bool) -> tuple:
        if self._writing and (not many or len(parameters) <= _DIRECT_ROWS) and self._worker.queued == self._worker.done:
            # Holding the write lock, nothing of ours left in the thread: no lock to wait for, so the
            # statement runs right here instead of a hop (a thread wake-up and a loop wake-up).
            try:
                result = _execute(self._connection, None, operation, parameters, many)
            finally:
                self._in_transaction = self._connection.in_transaction
                self._writing = self._in_transaction
            return self.await_(_Ready(result))  # passes through the event loop's side: no loop iteration
        begin, self._begin = self._begin, None
        try:
            result = self._call(_execute, self._connection, begin, operation, parameters, many)
        except BaseException:
            self._writing = False
            if begin is not None and self._in_transaction is False:
                self._begin = begin  # BEGIN itself failed (or SQLite rolled back): the next statement begins again
            raise
        if begin is not None and begin.upper() in _WRITE_LOCKING:
            if self._wal is None:  # once per connection
                self._wal = self._call(_is_wal, self._connection)
            self._writing = self._wal and self._in_transaction is True
        elif not self._in_transaction:
            self._writing = False
        return result

    def defer_begin(self, statement: str) -> None:
        self._begin = statement

    def cursor(self, server_side: bool = False) -> Cursor:
        return Cursor(self)

    def commit(self) -> None:
        self._begin, self._writing = None, False
        if self._in_transaction is not False:
            self._call(self._connection.commit)

    def rollback(self) -> None:
        self._begin, self._writing = None, False
        if self._in_transaction is not False:
            self._call(self._connection.rollback)

    @property
    def isolation_level(self) -> str | None:
        return self._call(getattr, self._connection, "isolation_level")

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        self._call(setattr, self._connection, "isolation_level", value)

    def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._call(lambda: self._connection.create_function(*args, **kwargs))

    def close(self) -> None:
        self.await_(self._worker.stop(wait=True))

    async def _terminate_graceful_close(self) -> None:
        await self._worker.stop(wait=True)

    def _terminate_force_close(self) -> None:
        self._worker._queue.put((None, _STOP, ()))

    def __del__(self) -> None:  # dropped without close() (an engine never disposed): the thread ends too
        self._worker._queue.put((None, _STOP, ()))


class DBAPI(AsyncAdapt_dbapi_module):
    """sqlite3's module interface (exceptions, version, paramstyle) with an async `connect`."""

    paramstyle = "qmark"

    def __getattr__(self, name: str) -> Any:
        return getattr(sqlite3, name)

    def connect(self, *args: Any, **kwargs: Any) -> Connection:
        worker = _Thread()
        ok, value, _ = await_only(worker.call(_connect, worker, args, kwargs))
        if not ok:
            worker._queue.put((None, _STOP, ()))
            raise value
        return Connection(self, worker)


class SQLiteDialect_samhandling(SQLiteDialect_pysqlite):
    driver = NAME
    supports_statement_cache = True
    is_async = True
    has_terminate = True
    supports_server_side_cursors = False

    def __init__(self, sqlite_begin: str = "BEGIN", **kwargs: Any) -> None:
        """`sqlite_begin`: the statement that opens every transaction (BEGIN, BEGIN IMMEDIATE)."""
        super().__init__(**kwargs)
        self.sqlite_begin = sqlite_begin

    @classmethod
    def import_dbapi(cls) -> DBAPI:
        return DBAPI()

    @classmethod
    def get_pool_class(cls, url):
        return pool.AsyncAdaptedQueuePool if cls._is_url_file_db(url) else pool.StaticPool

    def do_begin(self, dbapi_connection) -> None:
        dbapi_connection.defer_begin(self.sqlite_begin)

    def get_driver_connection(self, connection):
        return connection._connection

    def do_terminate(self, dbapi_connection) -> None:
        dbapi_connection.terminate()


dialect = SQLiteDialect_samhandling
registry.register(f"sqlite.{NAME}", __name__, "SQLiteDialect_samhandling")

"""Declarative base, UTC datetimes and engines (the per-request session: access/middleware.py)."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """Timezone-aware datetimes, stored as UTC on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def make_engine(url: str, echo: bool = False, immediate: bool = True, pool_size: int = 10) -> AsyncEngine:
    """`immediate=False` (SQLite only) keeps deferred transactions: for tools that mostly read.

    `hide_parameters`: bound values (names, birth dates, notes, whole plans) never appear in an
    error's message nor in the SQL echo log; the statement does.

    SQLite, writing (`immediate`): ONE connection. Every request writes (its audit), and SQLite has one
    writer: with more connections the waiting ones busy-wait on the file lock (sleep and retry, no
    order), which multiplied p99 under load. With one connection they queue in the pool, first come
    first served, and the lock is never contended inside a process.
    PostgreSQL: no pre-ping (a round trip on every checkout; a connection found dead is discarded
    and the pool invalidated by SQLAlchemy's disconnect handling instead); `pool_size` (+ as many
    overflow) per process: N processes need N x 2 x pool_size <= max_connections; asyncpg's
    prepared-statement cache stays on (its default)."""
    if url.startswith("sqlite"):
        # aiosqlite's DEBUG log prints every call with its arguments, i.e. the bound values.
        logging.getLogger("aiosqlite").setLevel(logging.INFO)
        single = {"pool_size": 1, "max_overflow": 0, "pool_timeout": 60} if immediate else {}
        engine = create_async_engine(url, echo=echo, hide_parameters=True, connect_args={"timeout": 15}, **single)
        _configure_sqlite(engine, immediate)
        return engine
    return create_async_engine(url, echo=echo, hide_parameters=True, pool_pre_ping=False, pool_size=pool_size,
                               max_overflow=pool_size)


def _configure_sqlite(engine: AsyncEngine, immediate: bool) -> None:
    """WAL, synchronous=FULL, foreign keys, busy timeout; and BEGIN IMMEDIATE.

    Nearly every request writes (every read of patient data is audited), so transactions
    take the write lock up front: no stale-snapshot failures when two requests race.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)

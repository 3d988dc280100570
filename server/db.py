"""Declarative base, UTC datetimes and engines (the per-request session: access/middleware.py)."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from server import sqlite_driver

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
        # Any SQLite URL (sqlite://, sqlite+aiosqlite://) runs on this project's driver: one thread hop per
        # statement (server/sqlite_driver.py). It opens every transaction with `sqlite_begin`.
        url = f"sqlite+{sqlite_driver.NAME}://" + url.split("://", 1)[1]
        single = {"pool_size": 1, "max_overflow": 0, "pool_timeout": 60} if immediate else {}
        engine = create_async_engine(url, echo=echo, hide_parameters=True, connect_args={"timeout": 15},
                                     sqlite_begin="BEGIN IMMEDIATE" if immediate else "BEGIN", **single)
        _configure_sqlite(engine)
        return engine
    return create_async_engine(url, echo=echo, hide_parameters=True, pool_pre_ping=False, pool_size=pool_size,
                               max_overflow=pool_size)


def _configure_sqlite(engine: AsyncEngine) -> None:
    """WAL, synchronous=FULL, foreign keys, busy timeout (BEGIN IMMEDIATE: the driver, `sqlite_begin`).

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


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)

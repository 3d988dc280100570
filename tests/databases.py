"""Test databases: SQLite always; PostgreSQL when TEST_DATABASE_URL is set (required in CI).

Each backend is migrated once per test run with Alembic (so migrations are tested too);
each test then gets a clean copy (SQLite) or truncated tables (PostgreSQL).
"""

from __future__ import annotations

import asyncio
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import text

from server.cli import db_upgrade
from server.db import Base, make_engine
from server.models import import_all
from server.settings import Settings, normalise_database_url

IN_CI = os.environ.get("CI", "").lower() == "true"
PG_URL = os.environ.get("TEST_DATABASE_URL", "")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


def _tables() -> list[str]:
    """Every table the models declare, children first: a new table is never forgotten."""
    import_all()
    return [table.name for table in reversed(Base.metadata.sorted_tables)]


TABLES = _tables()


def run_async(factory):
    """Run `factory()` (a coroutine function) to completion in a fresh thread with its own loop.

    Works whether or not an event loop is already running here (Playwright's sync API runs one).
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()


def require(condition: bool, message: str) -> None:
    """Skip on a developer's machine; fail in CI, where everything must run."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(message)


def migrate(url: str, var_dir: Path) -> None:
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(db_upgrade, Settings(database_url=url, secret_key="x", var_dir=var_dir)).result()


async def _reset_postgres(url: str) -> None:
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


async def truncate_postgres(url: str) -> None:
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()


class Template:
    """A migrated database per backend, prepared once per run."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.sqlite_file: Path | None = None
        self.pg_ready = False

    def fresh_url(self, backend: str, tmp_path: Path) -> str:
        if backend == "sqlite":
            if self.sqlite_file is None:
                self.sqlite_file = self.root / "template.db"
                migrate(f"sqlite+aiosqlite:///{self.sqlite_file}", self.root)
            target = tmp_path / "test.db"
            shutil.copy(self.sqlite_file, target)
            return f"sqlite+aiosqlite:///{target}"
        url = normalise_database_url(PG_URL)
        if not self.pg_ready:
            try:
                run_async(lambda: _reset_postgres(url))
            except Exception as exc:  # noqa: BLE001
                require(False, f"PostgreSQL at TEST_DATABASE_URL is not reachable ({exc})")
            migrate(url, self.root)
            self.pg_ready = True
        else:
            run_async(lambda: truncate_postgres(url))
        return url

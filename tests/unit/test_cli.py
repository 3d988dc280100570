"""Every CLI command, run as an operator runs it: `python -m server.cli ...` against a fresh SQLite
database under tmp_path (a new process each time, so nothing leaks in from the test's imports)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
CODE = re.compile(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}")


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PUBLIC_ORIGIN")}
    return clean | {"SAMHANDLING_VAR_DIR": str(tmp_path), "SECRET_KEY": "cli-test-secret"}


def cli(env: dict[str, str], *args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "server.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_db_upgrade_creates_the_database(env, tmp_path):
    result = cli(env, "db-upgrade")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "samhandling.db").exists()
    again = cli(env, "db-upgrade")  # idempotent
    assert again.returncode == 0, again.stderr


def test_create_admin_on_a_fresh_database_prints_a_working_code(env):
    assert cli(env, "db-upgrade").returncode == 0
    result = cli(env, "create-admin", "Arne Admin")
    assert result.returncode == 0, result.stderr
    assert "Arne Admin" in result.stdout and CODE.search(result.stdout), result.stdout
    verify = cli(env, "audit-verify")
    assert verify.returncode == 0 and "1 events" in verify.stdout, verify.stdout


def test_seed_demo_prints_a_code_for_every_demo_account(env):
    assert cli(env, "db-upgrade").returncode == 0
    result = cli(env, "seed-demo")
    assert result.returncode == 0, result.stderr
    assert len(CODE.findall(result.stdout)) == 5, result.stdout  # patient, clinician, admin, researcher, relative
    assert "researcher" in result.stdout and "Forsker Frida" in result.stdout, result.stdout
    assert "relative" in result.stdout and "Ola Nordmann" in result.stdout and "/relative/code" in result.stdout


def test_audit_verify_reports_an_intact_and_a_broken_chain(env, tmp_path):
    import sqlite3

    assert cli(env, "db-upgrade").returncode == 0
    assert cli(env, "create-admin", "Arne Admin").returncode == 0
    assert cli(env, "create-admin", "Berit Admin").returncode == 0
    ok = cli(env, "audit-verify")
    assert ok.returncode == 0 and "chain intact" in ok.stdout
    with sqlite3.connect(tmp_path / "samhandling.db") as conn:
        conn.execute("UPDATE audit_events SET detail = 'tampered' WHERE seq = 1")
    broken = cli(env, "audit-verify")
    assert broken.returncode == 1 and "BROKEN at event 1" in broken.stdout


def test_seal_chains_what_was_recorded_and_audit_verify_seals_first(env, tmp_path):
    import sqlite3

    assert cli(env, "db-upgrade").returncode == 0
    assert cli(env, "create-admin", "Arne Admin").returncode == 0
    db = tmp_path / "samhandling.db"
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT seq, hash FROM audit_events").fetchall() == [(None, None)]  # recorded, unsealed
    sealed = cli(env, "seal")
    assert sealed.returncode == 0 and "Sealed 1 audit events" in sealed.stdout
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT seq FROM audit_events").fetchall() == [(1,)]
    assert cli(env, "create-admin", "Berit Admin").returncode == 0
    ok = cli(env, "audit-verify")
    assert ok.returncode == 0 and "2 events, chain intact" in ok.stdout


def test_purge_removes_expired_rows_and_says_how_many(env, tmp_path):
    import sqlite3

    assert cli(env, "db-upgrade").returncode == 0
    with sqlite3.connect(tmp_path / "samhandling.db") as conn:
        conn.execute("INSERT INTO sessions (token_hash, created_at, last_seen_at, user_agent) "
                     "VALUES ('old', '2020-01-01 00:00:00+00:00', '2020-01-01 00:00:00+00:00', 'x')")
        conn.execute("INSERT INTO webauthn_challenges (session_id, purpose, challenge, expires_at) "
                     "SELECT id, 'login', x'00', '2020-01-01 00:05:00+00:00' FROM sessions")
    result = cli(env, "purge")
    assert result.returncode == 0, result.stderr
    assert "1 sessions" in result.stdout, result.stdout
    with sqlite3.connect(tmp_path / "samhandling.db") as conn:
        assert conn.execute("SELECT count(*) FROM sessions").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM webauthn_challenges").fetchone()[0] == 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_answers_healthz_without_a_server_header(env):
    assert cli(env, "db-upgrade").returncode == 0
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "server.cli", "serve", "--port", str(port)], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    body, headers = response.read(), response.headers
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.2)
        assert b'"ok"' in body
        assert headers.get("server") is None, headers.get("server")
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_seed_demo_prints_the_port_make_run_serves_on(env):
    """`make run PORT=8080` passes the port on: no printed address may say 8000 then (issue 8)."""
    assert cli(env, "db-upgrade").returncode == 0
    result = cli(env, "seed-demo", "--port", "8080")
    assert result.returncode == 0, result.stderr
    assert "http://localhost:8080/enroll" in result.stdout and "8000" not in result.stdout


def test_make_run_passes_the_port_to_every_command():
    makefile = (ROOT / "Makefile").read_text()
    assert "seed-demo --port $(PORT)" in makefile and "serve --port $(PORT)" in makefile
    assert "CLINIC_PHONE" in makefile  # demo contact details for the clinic

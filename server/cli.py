"""samhandling db-upgrade | serve | seed-demo | create-admin NAME | seal | audit-verify | purge | worker

create-admin prints a code that works at once, without a second administrator's approval: the
CLI is the operator with access to the server (and so to the database and SECRET_KEY), who
could do anything an approval protects against. It bootstraps a fresh installation; in the web
app every staff code needs two administrators (see server/access/codes.py).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from server.settings import ROOT, Settings


def db_upgrade(settings: Settings) -> None:
    from alembic import command
    from alembic.config import Config

    if settings.is_sqlite:
        settings.var_dir.mkdir(parents=True, exist_ok=True)
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", settings.database_url.replace("%", "%%"))
    command.upgrade(config, "head")


async def _with_db(settings: Settings, work):
    from server.db import make_engine, make_sessionmaker
    from server.models import import_all

    import_all()  # every table a foreign key may name (accounts -> patients ...)
    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)() as db:
            result = await work(db)
            await db.commit()
            return result
    finally:
        await engine.dispose()


def create_admin(settings: Settings, name: str) -> str:
    from server.access import codes
    from server.access.service import create_account
    from server.audit.service import AuditContext, record

    async def work(db):
        account = await create_account(db, "admin", name)
        code = await codes.issue(db, settings.secret_key, account.id, None, settings.enrollment_code_days)
        await record(db, AuditContext(None, "cli"), "staff.created", detail=f"account {account.id} admin")
        return code

    return asyncio.run(_with_db(settings, work))


def seal(settings: Settings) -> int:
    """Give the unsealed audit events their chain position and hash (the app does this by itself)."""
    from server.audit.service import seal_database

    return asyncio.run(seal_database(settings.database_url))


def audit_verify(settings: Settings) -> int:
    """Seals what is pending (briefly holding the chain lock, as the app's sealer does), then verifies
    read-only, from one snapshot, in batches: the live service keeps writing meanwhile. Events committed
    after the seal are reported as pending, not as a fault."""
    from server.audit.service import pending_database, seal_database, verify_database

    async def run() -> tuple[int, int | None, int]:
        await seal_database(settings.database_url)
        checked, broken = await verify_database(settings.database_url)
        return checked, broken, await pending_database(settings.database_url)

    checked, broken, waiting = asyncio.run(run())
    later = f" {waiting} newer events not sealed yet (they are checked next time)." if waiting else ""
    if broken is None:
        print(f"Audit log OK: {checked} events, chain intact.{later}")
        return 0
    print(f"Audit log BROKEN at event {broken} (after {checked} good events).{later}")
    return 1


def purge(settings: Settings) -> dict[str, int]:
    from server.access.purge import purge as purge_expired

    return asyncio.run(_with_db(settings, lambda db: purge_expired(db, settings)))


def run_loop(main):
    """Run a long-lived coroutine as the app's own processes run: on uvloop where it is installed (uvicorn,
    from litestar[standard], picks it for `serve` too), else asyncio's loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def worker(settings: Settings, poll: float, lease: float, until_done: bool) -> None:
    """The reminder worker on its own (start the app with RUN_WORKER=false to run only these), on the same
    event loop as the app's in-process worker, with its start-up heap frozen as `serve` does."""
    from datetime import timedelta

    from server.app import settle_heap
    from server.db import make_engine, make_sessionmaker
    from server.models import import_all
    from server.notify import vapid
    from server.notify.worker import run_forever

    import_all()
    settle_heap()

    async def work():
        engine = make_engine(settings.database_url)
        try:
            await run_forever(make_sessionmaker(engine), vapid.load(settings), settings.vapid_subject,
                              every=timedelta(seconds=poll), lease=timedelta(seconds=lease), until_done=until_done)
        finally:
            await engine.dispose()

    run_loop(work())


def serving_app(settings: Settings):
    """The app as a serving process runs it: built, warmed (templates, catalogs, pool at start-up), its
    start-up heap frozen. `serve` in one process and each `serve --workers N` process."""
    from server.app import create_app, settle_heap, warm

    app = create_app(settings)
    warm(app)
    settle_heap()
    return app


def worker_app():
    """The app in one `serve --workers N` worker process (uvicorn imports this; settings from the environment)."""
    import faulthandler

    faulthandler.enable()
    return serving_app(Settings.from_env())


def serve(settings: Settings, host: str, port: int, workers: int = 1) -> None:
    """One process by default (`make run`). `workers` > 1: uvicorn's supervisor runs N worker processes
    on one socket and starts a new one when a worker dies (a crash takes down one worker's requests, not
    the service). faulthandler is on everywhere: a hard crash leaves its Python traceback on stderr.
    No access log: URLs can carry search words (patient names)."""
    import faulthandler
    import os
    from dataclasses import replace

    import uvicorn

    faulthandler.enable()
    os.environ["PYTHONFAULTHANDLER"] = "1"  # worker processes: from their first instruction
    if "PUBLIC_ORIGIN" not in os.environ:
        settings = replace(settings, origin=f"http://localhost:{port}")
        os.environ["PUBLIC_ORIGIN"] = settings.origin  # worker processes read the environment
    print(f"Samhandling runs at http://localhost:{port}  (open this address, not 127.0.0.1: passkeys need it)",
          flush=True)
    if workers > 1:
        # log_level info: the supervisor's "Child process [pid] died" (and its restart) is logged.
        uvicorn.run("server.cli:worker_app", factory=True, host=host, port=port, workers=workers,
                    log_level="info", access_log=False, proxy_headers=False, server_header=False)
    else:
        uvicorn.run(serving_app(settings), host=host, port=port, log_level="warning", access_log=False,
                    proxy_headers=False, server_header=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="samhandling")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("db-upgrade", help="apply database migrations")
    serve_cmd = sub.add_parser("serve", help="run the web server")
    serve_cmd.add_argument("--host", default="127.0.0.1")
    serve_cmd.add_argument("--port", type=int, default=8000)
    serve_cmd.add_argument("--workers", type=int, default=1,
                           help="worker processes under a supervisor that restarts a dead one (default 1)")
    seed_cmd = sub.add_parser("seed-demo", help="create demo data and print one-time codes")
    seed_cmd.add_argument("--port", type=int, default=8000, help="the port `serve` will use (for the printed address)")
    admin = sub.add_parser("create-admin", help="create an administrator and print a one-time code")
    admin.add_argument("name")
    sub.add_parser("seal", help="give unsealed audit events their place in the hash chain (the app does it too)")
    sub.add_parser("audit-verify", help="seal, then check the audit log's hash chain")
    sub.add_parser("purge", help="remove expired sessions, challenges, codes and rate-limit records")
    worker_cmd = sub.add_parser("worker", help="send due reminders (push and inbox); runs until stopped")
    worker_cmd.add_argument("--poll", type=float, default=5.0, help="seconds between rounds when idle")
    worker_cmd.add_argument("--lease", type=float, default=60.0, help="seconds a claimed reminder is held")
    worker_cmd.add_argument("--until-done", action="store_true", help="stop when no reminder is pending")
    args = parser.parse_args(argv)
    settings = Settings.from_env()

    if args.command == "db-upgrade":
        db_upgrade(settings)
    elif args.command == "serve":
        serve(settings, args.host, args.port, args.workers)
    elif args.command == "seed-demo":
        from server.seed import seed_demo

        codes = asyncio.run(_with_db(settings, lambda db: seed_demo(db, settings)))
        print(f"\nDemo accounts (codes work once, for {settings.enrollment_code_days} days; "
              f"open http://localhost:{args.port}/enroll):")
        for role, name, code in codes:
            print(f"  {role:<10} {name:<22} {code}")
        print(f"  (the relative's code works once, for 7 days, at http://localhost:{args.port}/relative/code)")
        print()
    elif args.command == "create-admin":
        code = create_admin(settings, args.name)
        print(f"Administrator {args.name!r} created. One-time enrollment code: {code}")
    elif args.command == "seal":
        print(f"Sealed {seal(settings)} audit events.")
    elif args.command == "audit-verify":
        return audit_verify(settings)
    elif args.command == "worker":
        worker(settings, args.poll, args.lease, args.until_done)
    elif args.command == "purge":
        counts = purge(settings)
        print("Removed " + ", ".join(f"{count} {kind}" for kind, count in counts.items()) + ".")
    return 0


if __name__ == "__main__":
    sys.exit(main())

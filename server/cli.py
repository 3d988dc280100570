"""samhandling db-upgrade | serve | seed-demo | create-admin NAME | audit-verify | purge

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


def audit_verify(settings: Settings) -> int:
    from server.audit.service import verify

    checked, broken = asyncio.run(_with_db(settings, verify))
    if broken is None:
        print(f"Audit log OK: {checked} events, chain intact.")
        return 0
    print(f"Audit log BROKEN at event {broken} (after {checked} good events).")
    return 1


def purge(settings: Settings) -> dict[str, int]:
    from server.access.purge import purge as purge_expired

    return asyncio.run(_with_db(settings, lambda db: purge_expired(db, settings)))


def serve(settings: Settings, host: str, port: int) -> None:
    import os
    from dataclasses import replace

    import uvicorn

    from server.app import create_app

    if "PUBLIC_ORIGIN" not in os.environ:
        settings = replace(settings, origin=f"http://localhost:{port}")

    print(f"Samhandling runs at http://localhost:{port}  (open this address, not 127.0.0.1: passkeys need it)",
          flush=True)
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning", proxy_headers=False,
                server_header=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="samhandling")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("db-upgrade", help="apply database migrations")
    serve_cmd = sub.add_parser("serve", help="run the web server")
    serve_cmd.add_argument("--host", default="127.0.0.1")
    serve_cmd.add_argument("--port", type=int, default=8000)
    sub.add_parser("seed-demo", help="create demo data and print one-time codes")
    admin = sub.add_parser("create-admin", help="create an administrator and print a one-time code")
    admin.add_argument("name")
    sub.add_parser("audit-verify", help="check the audit log's hash chain")
    sub.add_parser("purge", help="remove expired sessions, challenges, codes and rate-limit records")
    args = parser.parse_args(argv)
    settings = Settings.from_env()

    if args.command == "db-upgrade":
        db_upgrade(settings)
    elif args.command == "serve":
        serve(settings, args.host, args.port)
    elif args.command == "seed-demo":
        from server.seed import seed_demo

        codes = asyncio.run(_with_db(settings, lambda db: seed_demo(db, settings)))
        print("\nDemo accounts (codes work once, for 14 days; open http://localhost:8000/enroll):")
        for role, name, code in codes:
            print(f"  {role:<10} {name:<22} {code}")
        print("  (the relative's code is entered at http://localhost:8000/relative/code)")
        print()
    elif args.command == "create-admin":
        code = create_admin(settings, args.name)
        print(f"Administrator {args.name!r} created. One-time enrollment code: {code}")
    elif args.command == "audit-verify":
        return audit_verify(settings)
    elif args.command == "purge":
        counts = purge(settings)
        print("Removed " + ", ".join(f"{count} {kind}" for kind, count in counts.items()) + ".")
    return 0


if __name__ == "__main__":
    sys.exit(main())

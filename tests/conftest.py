"""Fixtures shared by every test: a migrated database per backend, the app, a client, factories."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from server.access import codes, sessions
from server.access.middleware import LANG_COOKIE
from server.access.models import Account
from server.access.service import create_account
from server.app import create_app
from server.db import make_engine, make_sessionmaker
from server.pathway.models import Patient
from server.seed import build_patient
from server.settings import Clinic, Settings
from tests.databases import BACKENDS, IN_CI, PG_URL, Template

BASE_URL = "https://testserver.local"
SECRET = "test-secret-key-for-pytest-only"


def pytest_configure(config):
    if IN_CI and not PG_URL:
        raise pytest.UsageError("CI=true but TEST_DATABASE_URL is not set: the PostgreSQL suite must run in CI")


@pytest.fixture(scope="session")
def db_template(tmp_path_factory) -> Template:
    return Template(tmp_path_factory.mktemp("db-template"))


@pytest.fixture(params=BACKENDS)
def database_url(request, db_template, tmp_path) -> str:
    return db_template.fresh_url(request.param, tmp_path)


# The clinic's contact details (CLINIC_* settings) as the tests see them.
TEST_CLINIC = Clinic(name="Smerteklinikken test", phone="+47 73 00 00 00", address="Testveien 1, 7030 Trondheim",
                     email="smerte@example.no", hours="hverdager 08–15")


@pytest.fixture
def settings(database_url, tmp_path) -> Settings:
    return Settings(database_url=database_url, secret_key=SECRET, rp_id="testserver.local",
                    origin=BASE_URL, var_dir=tmp_path, run_worker=False, clinic=TEST_CLINIC,
                    audit_seal_seconds=0)  # tests seal when they mean to (tests.helpers.seal)


@pytest.fixture
async def client(settings):
    app = create_app(settings)
    async with AsyncTestClient(app=app, base_url=BASE_URL) as test_client:
        # HTTP tests read English (complete, stable wording); bokmål is checked in its own tests
        # and in the browser tests, which use the default language.
        test_client.cookies.set(LANG_COOKIE, "en", domain="testserver.local")
        yield test_client


@pytest.fixture
def app(client):
    return client.app


@pytest.fixture
async def db(client, settings):
    """A database session for arranging and checking; commit what you arrange.

    Its own engine with deferred transactions, so that reading here never blocks the app.
    On SQLite a read snapshot cannot become a write once the app has written meanwhile:
    commit (end the read) before writing again. The World factories do that themselves."""
    engine = make_engine(settings.database_url, immediate=False)
    async with make_sessionmaker(engine)() as session:
        yield session
    await engine.dispose()


class World:
    """Factories for the people and things a test needs."""

    def __init__(self, client: AsyncTestClient, db) -> None:
        self.client = client
        self.db = db

    async def patient(self, name: str = "Kari Nordmann", stage: int = 4, **fields) -> tuple[Patient, Account]:
        from datetime import timedelta

        from server.i18n import today_oslo

        await self.db.commit()
        patient = build_patient(name, stage, fields.pop("received", today_oslo() - timedelta(weeks=6)))
        for key, value in fields.items():
            setattr(patient, key, value)
        self.db.add(patient)
        await self.db.flush()
        account = await create_account(self.db, "patient", name, patient.id)
        await self.db.commit()
        return patient, account

    async def staff(self, role: str = "clinician", name: str = "Lege Lise") -> Account:
        await self.db.commit()
        account = await create_account(self.db, role, name)
        await self.db.commit()
        return account

    async def code_for(self, account: Account) -> str:
        await self.db.commit()
        code = await codes.issue(self.db, SECRET, account.id, None, 14)
        await self.db.commit()
        return code

    async def relative(self, patient: Patient, scopes: tuple[str, ...] = ("see", "act"), name: str = "Ola Nordmann",
                       *, ends_in: timedelta | None = None, account: Account | None = None, passkey: bool = True):
        """A relative of `patient` with a redeemed delegation: (account, delegation); the account has a passkey
        unless `passkey=False` (a relative who stopped before making one)."""
        from server.access.models import Credential, Delegation
        from server.db import utcnow

        await self.db.commit()
        if account is None:
            account = await create_account(self.db, "relative", name)
        if passkey and not await self.db.scalar(select(Credential.id).where(Credential.account_id == account.id)):
            self.db.add(Credential(account_id=account.id, credential_id=f"relative-{account.id}".encode(),
                                   public_key=b"k", sign_count=0, name="Phone"))
        delegation = Delegation(patient_id=patient.id, patient_name=patient.name, relative_name=name,
                                relation="partner", scopes=",".join(scopes),
                                ends_at=utcnow() + (ends_in if ends_in is not None else timedelta(days=365)),
                                relative_account_id=account.id, code_hash="", code_used_at=utcnow())
        self.db.add(delegation)
        await self.db.commit()
        return account, delegation

    async def login_as_relative(self, account: Account, delegation) -> int:
        """Log in as the relative, acting for the delegation's patient. Returns the session id."""
        from server.access.models import UserSession

        await self.login_as(account)
        session_id = await self.db.scalar(select(UserSession.id).where(UserSession.account_id == account.id)
                                          .order_by(UserSession.id.desc()).limit(1))
        await self.db.commit()
        session = await self.db.get(UserSession, session_id)
        session.acting_delegation_id = delegation.id
        await self.db.commit()
        return session_id

    async def login_as(self, account: Account | None) -> None:
        """Give the client a live server-side session for `account` (None: log out)."""
        lang = self.client.cookies.get(LANG_COOKIE)
        self.client.cookies.clear()
        if lang:
            self.client.cookies.set(LANG_COOKIE, lang, domain="testserver.local")
        if account is None:
            return
        await self.db.commit()
        session, token = await sessions.start(self.db, account.id, "pytest")
        await self.db.commit()
        self.client.cookies.set(sessions.COOKIE_NAME, token, domain="testserver.local")


@pytest.fixture
async def world(client, db) -> World:
    return World(client, db)


async def csrf_token(client: AsyncTestClient, path: str = "/login") -> str:
    """The CSRF token as a page gives it to the browser (meta tag), with its cookie set."""
    response = await client.get(path)
    match = re.search(r'name="csrf-token" content="([^"]+)"', response.text)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


async def post_form(client: AsyncTestClient, path: str, data: dict | None = None, *, token_from: str = "/login",
                    headers: dict | None = None):
    token = await csrf_token(client, token_from)
    return await client.post(path, data={**(data or {}), "_csrf_token": token}, headers=headers or {})


ROOT = Path(__file__).resolve().parent.parent


def pytest_collection_modifyitems(config, items):
    """Browser tests run last: Playwright's sync API keeps an event loop running in this thread
    for as long as the browser is open, and pytest-asyncio cannot start its own loop beside it."""
    items.sort(key=lambda item: "/e2e/" in str(item.fspath))

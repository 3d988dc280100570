"""Configuration: one frozen dataclass read from the environment (documented in README.md)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _secret(var_dir: Path, name: str) -> str:
    """Read a generated secret from var/, creating it on first run."""
    path = var_dir / name
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value


def _networks(value: str | None) -> tuple[IPv4Network | IPv6Network, ...]:
    """A list of IPs or CIDRs, separated by commas or spaces; a bad entry stops the start-up."""
    items = (value or "").replace(",", " ").split()
    return tuple(ip_network(item, strict=False) for item in items)


@dataclass(frozen=True)
class Clinic:
    """How to reach the clinic: shown wherever a page says "contact the clinic", and on the printed plan."""

    name: str = "Smerteklinikken"
    phone: str = ""
    address: str = ""
    email: str = ""
    hours: str = ""

    @property
    def tel(self) -> str:
        """The phone number for a `tel:` link: digits and a leading +."""
        return "".join(ch for ch in self.phone if ch.isdigit() or ch == "+")


@dataclass(frozen=True)
class Settings:
    database_url: str
    secret_key: str
    rp_id: str = "localhost"
    rp_name: str = "Samhandling"
    origin: str = "http://localhost:8000"
    debug: bool = False
    session_idle_minutes: int = 30
    session_absolute_hours: int = 12
    enrollment_code_days: int = 14
    var_dir: Path = field(default=ROOT / "var")
    sql_echo: bool = False
    # PostgreSQL connections per process (and as many again in overflow): see db.make_engine.
    db_pool_size: int = 10
    # Proxies whose X-Forwarded-For/-Proto or Forwarded headers are believed (empty: none).
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = ()
    # Web Push: the VAPID private key (PEM or base64url); empty = generated into var/vapid_private.pem.
    vapid_private_key: str = ""
    vapid_subject: str = "mailto:drift@samhandling.invalid"
    # The reminder worker runs inside the app unless this is false (then run `samhandling worker`).
    run_worker: bool = True
    # The audit sealer inside the app looks for unsealed events this often (seconds); 0: not in the app
    # (then run `samhandling seal` yourself, e.g. in a loop: events stay unsealed until it runs).
    audit_seal_seconds: float = 0.5
    clinic: Clinic = field(default_factory=Clinic)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Settings":
        env = dict(os.environ if env is None else env)
        var_dir = Path(env.get("SAMHANDLING_VAR_DIR") or ROOT / "var")
        database_url = env.get("DATABASE_URL") or f"sqlite+aiosqlite:///{var_dir / 'samhandling.db'}"
        return cls(
            database_url=normalise_database_url(database_url),
            secret_key=env.get("SECRET_KEY") or _secret(var_dir, "secret_key"),
            rp_id=env.get("WEBAUTHN_RP_ID", "localhost"),
            rp_name=env.get("WEBAUTHN_RP_NAME", "Samhandling"),
            origin=env.get("PUBLIC_ORIGIN", "http://localhost:8000").rstrip("/"),
            debug=_bool(env.get("DEBUG"), False),
            session_idle_minutes=int(env.get("SESSION_IDLE_MINUTES", "30")),
            session_absolute_hours=int(env.get("SESSION_ABSOLUTE_HOURS", "12")),
            enrollment_code_days=int(env.get("ENROLLMENT_CODE_DAYS", "14")),
            var_dir=var_dir,
            sql_echo=_bool(env.get("SQL_ECHO"), False),
            db_pool_size=int(env.get("DB_POOL_SIZE", "10")),
            trusted_proxies=_networks(env.get("TRUSTED_PROXIES")),
            vapid_private_key=env.get("VAPID_PRIVATE_KEY", ""),
            vapid_subject=env.get("VAPID_SUBJECT") or "mailto:drift@samhandling.invalid",
            run_worker=_bool(env.get("RUN_WORKER"), True),
            audit_seal_seconds=float(env.get("AUDIT_SEAL_SECONDS", "0.5")),
            clinic=Clinic(name=env.get("CLINIC_NAME") or Clinic.name, phone=env.get("CLINIC_PHONE", ""),
                          address=env.get("CLINIC_ADDRESS", ""), email=env.get("CLINIC_EMAIL", ""),
                          hours=env.get("CLINIC_HOURS", "")),
        )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def normalise_database_url(url: str) -> str:
    """Accept plain postgresql:// and sqlite:// URLs and pick the async drivers."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + url.split("://", 1)[1]
    return url

"""Translations (Babel/gettext): bokmål is the default, English complete.

Message ids are English. Catalogs are read from the .po files at start-up and compiled in memory,
so there is no compile step to forget.
"""

from __future__ import annotations

import io
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALES = ("nb", "en")
DEFAULT_LOCALE = "nb"
LANGUAGE_NAMES = {"nb": "Norsk (bokmål)", "en": "English"}
OSLO = ZoneInfo("Europe/Oslo")
CATALOG_DIR = Path(__file__).parent / "translations"


def N_(message: str) -> str:
    """Mark a string for extraction; it is translated where it is shown."""
    return message


@lru_cache(maxsize=None)
def translations(locale: str) -> Translations:
    po = CATALOG_DIR / locale / "LC_MESSAGES" / "messages.po"
    if not po.exists():
        return Translations()
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(fp=buffer)


def pick_locale(cookie_value: str | None) -> str:
    return cookie_value if cookie_value in LOCALES else DEFAULT_LOCALE


def today_oslo() -> date:
    return datetime.now(OSLO).date()

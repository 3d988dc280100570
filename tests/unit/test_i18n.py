"""Translations: every user-facing string is translated to bokmål and English.

The catalogs are checked against a fresh in-process extraction of the source (same mapping as
babel.cfg), so a string added to a template or a .py file without a translation fails here with
the exact msgid to add. Refresh the catalogs with `make messages`; it must extract with
`--ignore-dirs='.*'` (pybabel otherwise skips templates/_components/) and update without
`--omit-header` (that drops the charset and Plural-Forms header).
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from server.i18n import CATALOG_DIR, LOCALES, translations

ROOT = Path(__file__).resolve().parents[2]
SERVER = ROOT / "server"
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None, "_": None, "gettext": None, "ngettext": (1, 2)}
PLACEHOLDER = re.compile(r"%\((\w+)\)[#0 +-]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]")


def _only_server(dirpath: str) -> bool:
    """Walk server/ only. Unlike pybabel's default, do not skip `_components`-style folders:
    templates there are rendered too, so their strings must be translated."""
    rel = Path(os.path.relpath(dirpath, ROOT)).as_posix()
    return (rel == "server" or rel.startswith("server/")) and not Path(dirpath).name.startswith(".")


@lru_cache(maxsize=None)
def extracted() -> dict[str | tuple[str, ...], set[str]]:
    """msgid (a tuple for plural entries) -> the files it comes from."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found: dict[str | tuple[str, ...], set[str]] = {}
    for filename, _lineno, message, _comments, _context in extract_from_dir(
        ROOT, method_map, options_map, keywords=KEYWORDS, directory_filter=_only_server
    ):
        if not message or (isinstance(message, tuple) and not message[0]):
            continue
        found.setdefault(message, set()).add(filename)
    return found


@lru_cache(maxsize=None)
def catalog(locale: str):
    with (CATALOG_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=locale)


def _key(message) -> str:
    return message[0] if isinstance(message, tuple) else message


def test_extraction_sees_python_and_templates():
    messages = extracted()
    files = set().union(*messages.values())
    assert any(f.endswith(".py") for f in files)
    assert any(f.endswith(".html") for f in files)
    assert any("_components/" in f for f in files), "templates under _components/ must be extracted"
    for msgid in ("Log in with passkey", "Referral to the pain clinic", "Assessment"):
        assert msgid in messages
    assert ("%(num)s patient", "%(num)s patients") in messages


@pytest.mark.parametrize("locale", LOCALES)
def test_every_extracted_string_is_translated(locale):
    cat = catalog(locale)
    problems = []
    for message, files in sorted(extracted().items(), key=lambda item: _key(item[0])):
        where = ", ".join(sorted(files))
        entry = cat.get(_key(message))
        if entry is None:
            problems.append(f"missing:      {message!r}  ({where})")
            continue
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        if isinstance(message, tuple) and not isinstance(entry.id, tuple):
            problems.append(f"not plural:   {message!r}  ({where})")
        elif not strings or not all(s.strip() for s in strings):
            problems.append(f"untranslated: {message!r}  ({where})")
        elif entry.fuzzy:
            problems.append(f"fuzzy:        {message!r}  ({where})")
    assert not problems, (
        f"{len(problems)} message(s) need work in server/translations/{locale}/LC_MESSAGES/messages.po "
        "(refresh the catalogs, then translate):\n" + "\n".join(problems)
    )


@pytest.mark.parametrize("locale", LOCALES)
def test_placeholders_are_kept(locale):
    problems = []
    for entry in catalog(locale):
        if not entry.id or not entry.string:
            continue
        ids = entry.id if isinstance(entry.id, tuple) else (entry.id,)
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        expected = set().union(*(PLACEHOLDER.findall(i) for i in ids))
        for index, text in enumerate(strings):
            got = set(PLACEHOLDER.findall(text))
            # A singular form may leave out the count (e.g. "One patient"), nothing else.
            must_have = expected - ({"num"} if isinstance(entry.id, tuple) and index == 0 else set())
            if not must_have <= got or not got <= expected:
                problems.append(f"{entry.id!r} -> {text!r}: expected {sorted(expected)}, got {sorted(got)}")
    for entry, errors in catalog(locale).check():
        problems.extend(f"{entry.id!r}: {error}" for error in errors)
    assert not problems, f"{locale}: placeholders must be copied unchanged:\n" + "\n".join(problems)


@pytest.mark.parametrize("locale", LOCALES)
def test_catalog_header(locale):
    """The header carries the charset and plural rule; `pybabel update --omit-header` drops it."""
    text = (CATALOG_DIR / locale / "LC_MESSAGES" / "messages.po").read_text(encoding="utf-8")
    hint = f"{locale}: the catalog header is missing or incomplete (do not run `pybabel update` with --omit-header)"
    assert '"Plural-Forms: nplurals=2; plural=(n != 1);\\n"' in text, hint
    assert re.search(r'"Content-Type: text/plain; charset=utf-8\\n"', text, re.IGNORECASE), hint
    assert not catalog(locale).fuzzy, f"{locale}: the catalog header is marked fuzzy; remove its '#, fuzzy'"
    assert catalog(locale).num_plurals == 2


def test_bokmal_is_used_at_runtime():
    nb = translations("nb")
    assert nb.gettext("Assessment") == "Utredning"
    assert nb.gettext("Referral to the pain clinic") == "Henvisning til smerteklinikken"
    assert nb.gettext("Extended invitation to collaboration meeting 1") == "Utvidet innkalling til samhandlingsmøte 1"
    assert nb.gettext("Closure") == "Avslutning"
    assert "passnøkkel" in nb.gettext("Log in with passkey")
    assert nb.gettext("Error") == "Feil"
    assert nb.ngettext("%(num)s patient", "%(num)s patients", 1) % {"num": 1} == "1 pasient"
    assert nb.ngettext("%(num)s patient", "%(num)s patients", 3) % {"num": 3} == "3 pasienter"


def test_english_is_complete_at_runtime():
    en = translations("en")
    assert en.gettext("Assessment") == "Assessment"
    assert en.ngettext("%(num)s patient", "%(num)s patients", 3) % {"num": 3} == "3 patients"

"""Quotation marks (issue 8): bokmål quotes with «…», English with “…”. Straight or curly double quotes
in a bokmål text are a mistake (an HTML attribute's quotes inside a message excepted), and a page's own
text carries no quotation marks outside the catalogs (where they would be the same in both languages)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

SERVER = Path(__file__).resolve().parents[2] / "server"
ATTRIBUTE = re.compile(r'\b[\w:-]+="[^"]*"')  # href="…", class="…" inside a message


def _messages(locale: str) -> list[tuple[str, str]]:
    with (SERVER / "translations" / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    found = []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        found += [(str(message.id), text or "") for text in strings]
    return found


def test_bokmal_quotes_with_guillemets():
    wrong = [(msgid, text) for msgid, text in _messages("nb") if re.search(r'["“”„]', ATTRIBUTE.sub("", text))]
    assert not wrong, f"bokmål texts with \" or “ ” (use «…»): {wrong}"


def test_english_quotes_with_curly_quotes():
    wrong = [(msgid, text) for msgid, text in _messages("en") if re.search(r"[«»]", text)]
    assert not wrong, f"English texts with « » (use “…”): {wrong}"


@pytest.mark.parametrize("template", sorted(p.relative_to(SERVER).as_posix() for p in (SERVER / "templates").rglob("*.html")))
def test_no_quotation_marks_in_a_templates_own_text(template):
    source = (SERVER / template).read_text(encoding="utf-8")
    text = re.sub(r"\{#.*?#\}|\{\{.*?\}\}|\{%.*?%\}", "", source, flags=re.DOTALL)
    assert not re.findall(r"[“”„«»]", text), f"{template}: put quoted text through the catalog"


def test_the_scan_sees_a_straight_quote_but_not_an_attribute():
    assert re.search(r'["“”„]', ATTRIBUTE.sub("", 'Trykk på "Send"'))
    assert not re.search(r'["“”„]', ATTRIBUTE.sub("", 'Les <a href="/plan">planen</a> og «Send»'))

"""Small helpers for reading results: counting rows and audit events, reading a page as HTML."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from html.parser import HTMLParser

import icalendar
from sqlalchemy import event, func, select

from server.audit.models import AuditEvent


async def count(db, model, *where) -> int:
    """Rows of `model` matching `where` (the read is ended, so the app can write next)."""
    number = await db.scalar(select(func.count()).select_from(model).where(*where))
    await db.commit()
    return number


async def audit_count(db, action: str, patient_id: int | None = None, **where) -> int:
    """How many audit events `action` there are (for the patient, and other columns, when given)."""
    conditions = [AuditEvent.action == action]
    if patient_id is not None:
        conditions.append(AuditEvent.patient_id == patient_id)
    conditions += [getattr(AuditEvent, key) == value for key, value in where.items()]
    return await count(db, AuditEvent, *conditions)


async def listed_count(db, action: str, patient_id: int | None = None) -> int:
    """How many patients the list events `action` named (all, or how often `patient_id` was listed)."""
    from server.audit.models import AuditEventPatient

    query = (select(func.count()).select_from(AuditEventPatient)
             .join(AuditEvent, AuditEvent.id == AuditEventPatient.event_id).where(AuditEvent.action == action))
    if patient_id is not None:
        query = query.where(AuditEventPatient.patient_id == patient_id)
    number = await db.scalar(query)
    await db.commit()
    return number


async def seal(db) -> int:
    """Seal the audit events recorded so far (as the app's sealer does within a second), on an engine of
    its own that takes the chain lock."""
    from server.audit.service import seal_database

    await db.commit()
    return await seal_database(db.bind.url.render_as_string(hide_password=False))


async def audit_rows(db, action: str, **where) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.action == action,
                                     *[getattr(AuditEvent, key) == value for key, value in where.items()])
    rows = list((await db.scalars(query.order_by(AuditEvent.id))).all())
    await db.commit()
    return rows


# --- HTML -----------------------------------------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    children: list[Element | str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The visible text inside, with whitespace collapsed."""
        parts: list[str] = []

        def walk(node: Element) -> None:
            for child in node.children:
                if isinstance(child, str):
                    parts.append(child)
                elif child.tag not in ("script", "style", "template"):
                    walk(child)

        walk(self)
        return " ".join(" ".join(parts).split())

    def iter(self):
        for child in self.children:
            if isinstance(child, Element):
                yield child
                yield from child.iter()

    def find_all(self, tag: str | None = None, **attrs: str) -> list[Element]:
        """Elements with the tag (any if None) and attribute values (`class_` for class; True: present)."""
        wanted = {key.rstrip("_").replace("_", "-"): value for key, value in attrs.items()}
        return [node for node in self.iter() if (tag is None or node.tag == tag) and all(
            (key in node.attrs) if value is True else node.attrs.get(key) == value for key, value in wanted.items())]

    def find(self, tag: str | None = None, **attrs: str) -> Element | None:
        found = self.find_all(tag, **attrs)
        return found[0] if found else None

    def by_id(self, element_id: str) -> Element | None:
        return self.find(None, id=element_id)


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = Element(tag, {key: value if value is not None else "" for key, value in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag, attrs):
        self.stack[-1].children.append(Element(tag, {key: value or "" for key, value in attrs}))

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, 0, -1):  # close up to the matching open tag (tolerant)
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def html(markup: str) -> Element:
    """Parse a page (or an htmx block) with the standard library: `html(r.text).by_id("x").text`."""
    builder = _Builder()
    builder.feed(markup)
    builder.close()
    return builder.root


# --- Calendar files ---------------------------------------------------------------------------

def calendar_event(text: str) -> icalendar.Event:
    """Parse an .ics file the app wrote (icalendar) and return its one event."""
    calendar = icalendar.Calendar.from_ical(text)
    assert str(calendar["VERSION"]) == "2.0"
    events = calendar.walk("VEVENT")
    assert len(events) == 1, f"expected one event, got {len(events)}"
    return events[0]


def utc_time(event: icalendar.Event, name: str) -> datetime:
    """A DTSTART/DTEND written in UTC (the Z form, no TZID): its value as an aware datetime."""
    assert "TZID" not in event[name].params, f"{name} is not in UTC"
    value = event.decoded(name)
    assert value.utcoffset() == timedelta(0), f"{name} is not in UTC"
    return value


_TRANSACTION = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)", re.IGNORECASE)


class Statements:
    """The SQL statements the app sends while this is open (a listener on its engine), transaction control
    left out."""

    def __init__(self, engine) -> None:
        self.engine, self.seen = engine.sync_engine, []

    def _listen(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if not _TRANSACTION.match(statement):
            self.seen.append(statement)

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._listen)
        return self

    def __exit__(self, *exc) -> None:
        event.remove(self.engine, "before_cursor_execute", self._listen)

    def mentioning(self, table: str) -> list[str]:
        return [s for s in self.seen if re.search(rf"\b{table}\b", s)]

    def counting(self, table: str) -> list[str]:
        """The statements that count rows of `table` (a COUNT of their own, or one riding along in another)."""
        return [s for s in self.mentioning(table) if "count(" in s.lower()]

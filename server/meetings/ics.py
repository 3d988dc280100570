"""An iCalendar (RFC 5545) file for one meeting: UTC times with Z, CRLF, 75-octet folding, escaped text.

UTC with a trailing Z is unambiguous and every calendar shows it in the reader's own time zone, so no
VTIMEZONE is needed. The description carries no health details.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from server.meetings.models import Meeting

PRODID = "-//Samhandling//Samhandlingsmote//NB"


def escape_text(value: str) -> str:
    """TEXT value escaping (RFC 5545 3.3.11): backslash, semicolon, comma and newlines."""
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return value.replace("\r\n", "\\n").replace("\r", "\\n").replace("\n", "\\n")


def fold(line: str) -> str:
    """Fold a content line into chunks of at most 75 octets, never splitting a UTF-8 character."""
    out: list[str] = []
    current, size, limit = "", 0, 75
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            out.append(current)
            current, size, limit = " ", 1, 75  # a continuation line starts with one space
        current += char
        size += width
    out.append(current)
    return "\r\n".join(out)


def utc_stamp(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def meeting_ics(meeting: Meeting, *, summary: str, description: str, location: str, uid_host: str,
                now: datetime, starts_at: datetime | None = None) -> str:
    """`starts_at`: when the reader's part starts, for a participant invited for part of the meeting."""
    ends = meeting.starts_at + timedelta(minutes=meeting.duration_minutes)
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:meeting-{meeting.id}@{uid_host}",
        f"DTSTAMP:{utc_stamp(now)}",
        f"DTSTART:{utc_stamp(starts_at or meeting.starts_at)}",
        f"DTEND:{utc_stamp(ends)}",
        f"SEQUENCE:{max(meeting.version - 1, 0)}",
        f"STATUS:{'CANCELLED' if meeting.status == 'cancelled' else 'CONFIRMED'}",
        f"SUMMARY:{escape_text(summary)}",
    ]
    if location:
        lines.append(f"LOCATION:{escape_text(location)}")
    if meeting.video_link and meeting.format in ("digital", "hybrid"):
        lines.append(f"URL:{meeting.video_link}")
    lines += [f"DESCRIPTION:{escape_text(description)}", "END:VEVENT", "END:VCALENDAR"]
    return "".join(fold(line) + "\r\n" for line in lines)

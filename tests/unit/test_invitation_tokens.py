"""Invitation tokens: signing, parsing, tampering, one invitation per token, expiry and revocation."""

from __future__ import annotations

from datetime import timedelta

import pytest

from server.db import utcnow
from server.meetings import invitations
from server.meetings.models import Invitation
from tests import factories

SECRET = "unit-test-secret"


def _flip(text: str, index: int) -> str:
    """Change one character to another character that is still valid in a token."""
    char = text[index]
    replacement = "1" if char != "1" else "2"
    if not char.isdigit():
        replacement = "A" if char != "A" else "B"
    return text[:index] + replacement + text[index + 1:]


def _invitation(invitation_id: int = 12, nonce: str = "abcdefghijklmnop_-QRST") -> Invitation:
    return Invitation(id=invitation_id, nonce=nonce)


def test_round_trip():
    token = invitations.make_token(SECRET, _invitation())
    invitation_id, nonce, sig = token.split(".")
    assert invitation_id == "12" and nonce == "abcdefghijklmnop_-QRST" and len(sig) == 32
    assert invitations.parse_token(SECRET, token) == (12, "abcdefghijklmnop_-QRST")


@pytest.mark.parametrize("part", [0, 1, 2])
def test_a_flipped_character_in_any_part_is_rejected(part):
    token = invitations.make_token(SECRET, _invitation())
    pieces = token.split(".")
    for index in range(len(pieces[part])):
        changed = list(pieces)
        changed[part] = _flip(pieces[part], index)
        assert invitations.parse_token(SECRET, ".".join(changed)) is None, (part, index)


@pytest.mark.parametrize("bad", ["", "12", "12.abc", "12.abcdefghijklmnop_-QRST", "x.y.z", "0.abcdefghijklmnopqr.a",
                                 "12.abcdefghijklmnop_-QRST.short", "١٢.abcdefghijklmnop_-QRST." + "a" * 32,
                                 "12.abcdefghijklmnop QRST." + "a" * 32, "a" * 500])
def test_malformed_tokens_are_rejected(bad):
    assert invitations.parse_token(SECRET, bad) is None


def test_another_key_or_trailing_text_is_rejected():
    token = invitations.make_token(SECRET, _invitation())
    assert invitations.parse_token("another-secret", token) is None
    assert invitations.parse_token(SECRET, token + "\n") is None
    assert invitations.parse_token(SECRET, token + "x") is None


def test_signature_covers_the_id():
    """The signature of invitation 12 does not sign invitation 13 with the same nonce."""
    token = invitations.make_token(SECRET, _invitation(12))
    _, nonce, sig = token.split(".")
    assert invitations.parse_token(SECRET, f"13.{nonce}.{sig}") is None


# --- Opening links against the database -----------------------------------------------------

async def _two_invitations(db, world, starts_in=timedelta(days=7)):
    patient, _ = await world.patient("Kari Nordmann", stage=4)
    meeting = await factories.meeting(db, patient.id, starts_at=utcnow() + starts_in, duration_minutes=90,
                                      video_link="https://video.example/room",
                                      participants=[factories.participant("gp", "Berit Bø"),
                                                    factories.participant("nav", "Nils Nav", position=1)])
    gp, nav = meeting.participants
    end = invitations.meeting_end(meeting)
    a = Invitation(participant_id=gp.id, nonce="nonce-for-a-0123456789", expires_at=end)
    b = Invitation(participant_id=nav.id, nonce="nonce-for-b-0123456789", expires_at=end)
    db.add_all([a, b])
    await db.commit()
    return meeting, a, b


async def test_a_token_opens_its_own_invitation_and_no_other(db, world):
    _, a, b = await _two_invitations(db, world)
    opened = await invitations.open_link(db, SECRET, invitations.make_token(SECRET, a))
    assert opened.problem == "" and opened.invitation.id == a.id and opened.participant.name == "Berit Bø"
    # A's nonce and signature with B's id: the signature does not match.
    _, nonce, sig = invitations.make_token(SECRET, a).split(".")
    assert (await invitations.open_link(db, SECRET, f"{b.id}.{nonce}.{sig}")).problem == "unknown"
    # Correctly signed for B's id but with A's nonce: the stored nonce does not match.
    forged = Invitation(id=b.id, nonce=a.nonce)
    assert (await invitations.open_link(db, SECRET, invitations.make_token(SECRET, forged))).problem == "unknown"
    # An id that does not exist.
    ghost = Invitation(id=b.id + 100, nonce=a.nonce)
    assert (await invitations.open_link(db, SECRET, invitations.make_token(SECRET, ghost))).problem == "unknown"


async def test_expiry_is_the_meeting_end(db, world):
    meeting, a, _ = await _two_invitations(db, world)
    token = invitations.make_token(SECRET, a)
    end = invitations.meeting_end(meeting)
    assert end - meeting.starts_at == timedelta(minutes=90)
    assert (await invitations.open_link(db, SECRET, token, now=end - timedelta(seconds=1))).problem == ""
    assert (await invitations.open_link(db, SECRET, token, now=end)).problem == "expired"


async def test_refresh_expiry_follows_a_rescheduled_meeting(db, world):
    meeting, a, b = await _two_invitations(db, world)
    meeting.starts_at = meeting.starts_at + timedelta(days=14)
    meeting.duration_minutes = 60
    assert await invitations.refresh_expiry(db, meeting) == 2
    await db.commit()
    new_end = meeting.starts_at + timedelta(minutes=60)
    await db.refresh(a)
    await db.refresh(b)
    assert a.expires_at == new_end and b.expires_at == new_end
    token = invitations.make_token(SECRET, a)
    assert (await invitations.open_link(db, SECRET, token, now=new_end - timedelta(minutes=1))).problem == ""


async def test_revoked_and_cancelled_links_do_not_open(db, world):
    meeting, a, b = await _two_invitations(db, world)
    a.revoked_at = utcnow()
    await db.commit()
    assert (await invitations.open_link(db, SECRET, invitations.make_token(SECRET, a))).problem == "revoked"
    assert (await invitations.open_link(db, SECRET, invitations.make_token(SECRET, b))).problem == ""
    meeting.status = "cancelled"
    await db.commit()
    assert (await invitations.open_link(db, SECRET, invitations.make_token(SECRET, b))).problem == "cancelled"


async def test_a_new_nonce_ends_the_old_link(db, world):
    _, a, _ = await _two_invitations(db, world)
    old = invitations.make_token(SECRET, a)
    a.nonce = "a-brand-new-nonce-000000"
    await db.commit()
    assert (await invitations.open_link(db, SECRET, old)).problem == "unknown"
    assert (await invitations.open_link(db, SECRET, invitations.make_token(SECRET, a))).problem == ""

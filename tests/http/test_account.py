"""The account page: several passkeys (never remove the last), and the enroll page's messages."""

from __future__ import annotations

from sqlalchemy import func, select

from server.access.models import Credential
from tests.conftest import post_form


async def _add_credentials(db, account_id: int, *names: str) -> list[Credential]:
    rows = [Credential(account_id=account_id, credential_id=f"cred-{name}".encode(), public_key=b"k", name=name)
            for name in names]
    db.add_all(rows)
    await db.commit()
    return rows


async def test_account_lists_passkeys_and_removes_one_after_confirmation(client, world, db):
    _, account = await world.patient()
    phone, laptop = await _add_credentials(db, account.id, "Min telefon", "Jobb-PC")
    await world.login_as(account)
    page = (await client.get("/account")).text
    assert "Min telefon" in page and "Jobb-PC" in page and "Not used to log in yet." in page
    confirm = await client.get(f"/account/passkeys/{laptop.id}/remove")
    assert "Remove the passkey “Jobb-PC”?" in confirm.text and "Yes, remove it" in confirm.text
    response = await post_form(client, f"/account/passkeys/{laptop.id}/remove", token_from="/account")
    assert response.status_code == 200 and "The passkey “Jobb-PC” was removed." in response.text
    assert await db.scalar(select(func.count()).select_from(Credential)) == 1


async def test_the_last_passkey_cannot_be_removed(client, world, db):
    _, account = await world.patient()
    (only,) = await _add_credentials(db, account.id, "Min telefon")
    await world.login_as(account)
    assert "You cannot remove your only passkey" in (await client.get("/account")).text
    response = await post_form(client, f"/account/passkeys/{only.id}/remove", token_from="/account")
    assert response.status_code == 422 and "You cannot remove your only passkey" in response.text
    assert await db.scalar(select(func.count()).select_from(Credential)) == 1


async def test_enroll_page_explains_wrong_and_malformed_codes_and_keeps_the_input(client, world):
    _, account = await world.patient()
    code = await world.code_for(account)
    wrong = code[:5] + ("A" if code[5] != "A" else "B") + code[6:]
    response = await post_form(client, "/enroll", {"code": wrong}, token_from="/enroll")
    assert response.status_code == 422
    assert "The code is not correct" in response.text and f'value="{wrong}"' in response.text
    assert "<title>Error: " in response.text and 'aria-invalid="true"' in response.text
    short = await post_form(client, "/enroll", {"code": "ABC"}, token_from="/enroll")
    assert short.status_code == 422 and "12 letters and digits" in short.text
    ok = await post_form(client, "/enroll", {"code": code.lower().replace("-", " ")}, token_from="/enroll")
    assert ok.status_code == 200 and "Create your passkey" in ok.text


async def test_wrong_guesses_at_a_code_do_not_block_its_owner(client, world):
    _, account = await world.patient()
    code = await world.code_for(account)
    wrong = code[:-1] + ("A" if code[-1] != "A" else "B")
    for _ in range(5):
        await post_form(client, "/enroll", {"code": wrong}, token_from="/enroll")
    response = await post_form(client, "/enroll", {"code": code}, token_from="/enroll")
    assert response.status_code == 200 and "Create your passkey" in response.text


async def test_too_many_wrong_codes_from_one_device_is_429(client, world):
    for n in range(10):
        await post_form(client, "/enroll", {"code": f"ZZZZ-ZZZZ-ZZ{n:02d}"}, token_from="/enroll")
    response = await post_form(client, "/enroll", {"code": "ZZZZ-ZZZZ-ZZZZ"}, token_from="/enroll")
    assert response.status_code == 429 and "Wait 15 minutes" in response.text

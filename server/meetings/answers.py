"""The patient's SHM wishes as a typed document (msgspec), decoded once where the wishes are loaded.

The stored JSON keeps its shape (one key per step, written by `wishes.parse_step`); this only reads it.
Missing steps are None; missing fields take the defaults below; unknown keys are ignored, so older
and newer documents both decode.
"""

from __future__ import annotations

from typing import Any

import msgspec


class GpAnswer(msgspec.Struct):
    attend: str = ""  # yes | not_my_gp
    part: str = "whole"  # whole | part


class NavAnswer(msgspec.Struct):
    attend: str = ""  # yes | no | unsure
    part: str = "whole"
    part_note: str = ""


class Relative(msgspec.Struct):
    name: str = ""
    relation: str = ""  # as typed; a relative with access in the app: the delegation's relation key
    part: str = "whole"
    delegation_id: int | None = None  # set when the patient chose a relative who has access in the app


class Other(msgspec.Struct):
    role: str = ""
    name: str = ""
    organisation: str = ""
    contact: str = ""
    part: str = "whole"


class Place(msgspec.Struct):
    choice: str = ""  # home | clinic | gp
    note: str = ""


class Needs(msgspec.Struct):
    interpreter: str = ""
    hearing: bool = False
    vision: bool = False
    wheelchair: bool = False
    times_not_working: str = ""
    other: str = ""


class Topics(msgspec.Struct):
    suggested: list[str] = msgspec.field(default_factory=list)
    text: str = ""


class WishesAnswers(msgspec.Struct):
    gp: GpAnswer | None = None
    nav: NavAnswer | None = None
    relatives: list[Relative] | None = None
    others: list[Other] | None = None
    place: Place | None = None
    needs: Needs | None = None
    topics: Topics | None = None

    def get(self, step: str) -> Any:
        """The answer to the step `step` (None if not answered): for templates that loop over the steps."""
        return getattr(self, step, None) if step in self.__struct_fields__ else None


EMPTY = WishesAnswers()


def _clean(value: Any) -> Any:
    """Drop nulls inside the document (a null field takes its default), keep the rest as it is."""
    if isinstance(value, dict):
        return {key: _clean(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_clean(item) for item in value if item is not None]
    return value


def decode(raw: dict | None) -> WishesAnswers:
    """The stored answers (a JSON object, or None) as a typed document."""
    if not raw:
        return EMPTY
    return msgspec.convert(_clean(raw), WishesAnswers, strict=False)

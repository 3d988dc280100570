"""The form object of each step of the patient's wishes flow (server/meetings/wishes.py).

A step's form reads what was typed and builds the step's answer (the JSON shape stored in
MeetingWishes.answers). The same form checks a stored answer: `answer_as_input` turns it back into
form input, so a draft and a sent answer are held to the same rules with the same wording.
"""

from __future__ import annotations

import re
from typing import Any

from server.forms import Form, ListField, build, choice, text
from server.i18n import N_
from server.meetings.wishes import MAX_LONG, MAX_PEOPLE, MAX_SHORT, OTHER_ROLES, PARTS, PLACES, TOPICS

KEEP_SHORT, KEEP_LONG = MAX_SHORT * 5, MAX_LONG + 100  # what a draft keeps of an over-long answer
DUPLICATE = N_("This person is already on the list.")


def _short(**kwargs: Any):
    return text(max=MAX_SHORT, **kwargs)


def _long():
    return text(max=MAX_LONG, multiline=True)


class StepForm(Form):
    key = ""

    def cut(self, name: str, limit: int = KEEP_SHORT) -> str:
        return self.clean(name)[:limit]

    def check(self) -> bool:
        self.validate()
        self.rows()
        return not self.has_errors()

    def rows(self) -> None:
        """Rules across fields (the rows of people); the fields' own rules ran before."""


class GpForm(StepForm):
    key = "gp"
    attend = choice(("yes", "not_my_gp"), N_("Choose whether your GP should take part."))
    part = choice(PARTS, N_("Choose the whole meeting or a part of it."), required=False)

    def answer(self) -> Any:
        return {"attend": self.cut("attend"), "part": self.cut("part") or "whole"}


class NavForm(StepForm):
    key = "nav"
    attend = choice(("yes", "no", "unsure"), N_("Choose yes, no or “I am not sure”."))
    part = text()
    part_note = _short()

    def answer(self) -> Any:
        if self.clean("attend") == "no":  # the questions about NAV's part are hidden then, and never kept
            return {"attend": "no", "part": "", "part_note": ""}
        return {"attend": self.cut("attend"), "part": self.cut("part") or "whole", "part_note": self.cut("part_note")}


def _part(value: str) -> str:
    return "part" if value == "part" else "whole"


class _People(StepForm):
    """A step with rows of people: the rows in use are stored in order, so the page shows them again
    numbered 0, 1, 2 ...; a message about row i is given for the row's place in that list."""

    def _present(self) -> list[int]:
        raise NotImplementedError

    @property
    def error_map(self) -> dict[str, str]:
        places = {str(i): str(n) for n, i in enumerate(self._present())}
        return {re.sub(r"_(\d+)$", lambda m: "_" + places.get(m.group(1), m.group(1)), name): message
                for name, message in super().error_map.items()}


class _Relatives(_People):
    """Rows of relatives typed by the patient (`name_i`, `relation_i`, `part_i`), and the patient's relatives
    who have access in the app, ticked (`linked`, with `part_d<delegation id>`): such a row is stored with
    the delegation's id and the name and relation the delegation holds."""

    key = "relatives"
    linked_people: dict[int, dict[str, str]] = {}  # delegation id -> {"name", "relation"}: set by relatives_form

    def _linked(self) -> list[int]:
        chosen = set(self.linked.data or [])
        return [i for i in self.linked_people if str(i) in chosen]

    def _present(self) -> list[int]:
        return [i for i in range(MAX_PEOPLE) if self.clean(f"name_{i}") or self.clean(f"relation_{i}")]

    def answer(self) -> Any:
        rows = [{"name": self.linked_people[d]["name"], "relation": self.linked_people[d]["relation"],
                 "part": _part(self.cut(f"part_d{d}")), "delegation_id": d} for d in self._linked()]
        return rows + [{"name": self.cut(f"name_{i}"), "relation": self.cut(f"relation_{i}"),
                        "part": self.cut(f"part_{i}") or "whole"} for i in self._present()]

    def rows(self) -> None:
        seen = {self.linked_people[d]["name"].lower() for d in self._linked()}
        for i in self._present():
            name = self.clean(f"name_{i}")
            if not name and not self[f"name_{i}"].errors:
                self.add_error(f"name_{i}", N_("Write the name of your relative."))
            if name and name.lower() in seen:
                self.add_error(f"name_{i}", DUPLICATE)
            seen.add(name.lower())


class _Others(_People):
    key = "others"

    def _present(self) -> list[int]:
        return [i for i in range(MAX_PEOPLE)
                if any(self.clean(f"{name}_{i}") for name in ("role", "name", "organisation", "contact"))]

    def answer(self) -> Any:
        return [{"role": self.cut(f"role_{i}"), "name": self.cut(f"name_{i}"),
                 "organisation": self.cut(f"organisation_{i}"), "contact": self.cut(f"contact_{i}"),
                 "part": self.cut(f"part_{i}") or "whole"} for i in self._present()]

    def rows(self) -> None:
        seen = set()
        for i in self._present():
            name, organisation = self.clean(f"name_{i}"), self.clean(f"organisation_{i}")
            if self.clean(f"role_{i}") not in OTHER_ROLES and not self[f"role_{i}"].errors:
                self.add_error(f"role_{i}", N_("Choose what kind of helper this is."))
            if not name and not organisation:
                self.add_error(f"name_{i}", N_("Write a name or an organisation."))
            if not self.clean(f"contact_{i}") and not self[f"contact_{i}"].errors:
                self.add_error(f"contact_{i}", N_("Write a phone number or an e-mail address, so the clinic can "
                                                  "reach them."))
            key = (name + "|" + organisation).lower()
            if key in seen:
                self.add_error(f"name_{i}", DUPLICATE)
            seen.add(key)


_RELATIVE_FIELDS = {f"{name}_{i}": (_short() if name != "part" else text()) for i in range(MAX_PEOPLE)
                    for name in ("name", "relation", "part")}
RelativesForm = build("RelativesForm", _RELATIVE_FIELDS | {"linked": ListField()}, _Relatives)
OthersForm = build("OthersForm", {
    f"{name}_{i}": (_short() if name != "part" else text()) for i in range(MAX_PEOPLE)
    for name in ("role", "name", "organisation", "contact", "part")}, _Others)


def relatives_form(data: Any, locale: str, linked_people: dict[int, dict[str, str]]) -> StepForm:
    """The relatives step's form, offering the patient's relatives who have access in the app."""
    fields = _RELATIVE_FIELDS | {"linked": ListField()} | {f"part_d{d}": text() for d in linked_people}
    form_class = build("RelativesForm", fields | {"linked_people": dict(linked_people)}, _Relatives)
    return form_class(data, locale=locale)


class PlaceForm(StepForm):
    key = "place"
    choice = choice(PLACES, N_("Choose where the meeting should take place."))
    note = _long()

    def answer(self) -> Any:
        return {"choice": self.cut("choice"), "note": self.cut("note", KEEP_LONG)}


class NeedsForm(StepForm):
    key = "needs"
    interpreter = _short()
    hearing = text()
    vision = text()
    wheelchair = text()
    times_not_working = _short()
    other = _long()

    def answer(self) -> Any:
        return {"interpreter": self.cut("interpreter"), "hearing": self.hearing.raw == "yes",
                "vision": self.vision.raw == "yes", "wheelchair": self.wheelchair.raw == "yes",
                "times_not_working": self.cut("times_not_working"), "other": self.cut("other", KEEP_LONG)}


class TopicsForm(StepForm):
    key = "topics"
    suggested = ListField()
    text = _long()

    def answer(self) -> Any:
        return {"suggested": [str(t) for t in self.suggested.data or [] if t in TOPICS],
                "text": self.cut("text", KEEP_LONG)}


FORMS: dict[str, type[StepForm]] = {form.key: form for form in (GpForm, NavForm, RelativesForm, OthersForm,
                                                                 PlaceForm, NeedsForm, TopicsForm)}


def step_form(key: str, data: Any, locale: str, linked_people: dict[int, dict[str, str]] | None = None) -> StepForm:
    """`linked_people`: the patient's relatives with access in the app (the relatives step offers them)."""
    if key == "relatives" and linked_people:
        return relatives_form(data, locale, linked_people)
    return FORMS[key](data, locale=locale)


def answer_as_input(key: str, value: Any) -> dict[str, Any]:
    """A stored answer as the form input that would give it."""
    if key in ("relatives", "others"):
        data: dict[str, Any] = {}
        rows = [row for row in (value if isinstance(value, list) else []) if isinstance(row, dict)]
        typed = [row for row in rows if not row.get("delegation_id")]
        for i, row in enumerate(typed):
            if key == "relatives":
                row = {**row, "relation": row.get("relation", "")}
            data |= {f"{name}_{i}": str(v) for name, v in row.items()}
        linked = [row for row in rows if row.get("delegation_id")]
        if linked:
            data["linked"] = [str(row["delegation_id"]) for row in linked]
            data |= {f"part_d{row['delegation_id']}": str(row.get("part", "whole")) for row in linked}
        return data
    value = value if isinstance(value, dict) else {}
    if key == "needs":
        return {name: ("yes" if v is True else "" if v is False else str(v)) for name, v in value.items()}
    if key == "topics":
        return {"suggested": list(value.get("suggested") or []), "text": str(value.get("text", ""))}
    return {name: str(v) for name, v in value.items()}

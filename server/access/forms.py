"""The admin's form for a new staff account."""

from __future__ import annotations

from server.forms import Form, choice, text
from server.i18n import N_

STAFF_ROLES = ("clinician", "admin")
MAX_NAME = 200


class StaffForm(Form):
    name = text(required=N_("Enter the person's full name."), max=MAX_NAME)
    role = choice(STAFF_ROLES, N_("Choose a role."))

    def process(self, *args, **kwargs) -> None:
        super().process(*args, **kwargs)
        if not self.role.raw:
            self.role.data = self.role.raw = "clinician"  # the radio group's default

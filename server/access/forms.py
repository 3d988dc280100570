"""The admin's form for a new staff account."""

from __future__ import annotations

from server.access.delegations import RELATIONS
from server.access.service import STAFF_ROLES
from server.forms import Form, choice, date_field, text
from server.i18n import N_

MAX_NAME = 200


class StaffForm(Form):
    name = text(required=N_("Enter the person's full name."), max=MAX_NAME)
    role = choice(STAFF_ROLES, N_("Choose a role."))

    def process(self, *args, **kwargs) -> None:
        super().process(*args, **kwargs)
        if not self.role.raw:
            self.role.data = self.role.raw = "clinician"  # the radio group's default


class EnrollForm(Form):
    """The one-time code from the clinic (server/access/codes.py checks it)."""

    code = text(required=N_("Enter the code you got from the clinic."))


class PasskeyNameForm(Form):
    """The name a person gives a new passkey (sent as JSON with the credential)."""

    name = text()

    def name_or(self, default: str) -> str:
        return self.clean("name")[:100] or default


class DelegationForm(Form):
    """The patient gives a relative access: who, their relation, and until when (scopes are checkboxes)."""

    name = text(required=N_("Enter the relative's full name."), max=MAX_NAME)
    relation = choice(RELATIONS, N_("Choose how you are related."))
    ends_on = date_field()


class RelativeCodeForm(Form):
    """The one-time code a patient gave their relative (server/access/delegations.py checks it)."""

    code = text(required=N_("Enter the code you got from the person you are a relative of."))

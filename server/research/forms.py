"""The research forms: the patient's answer, the researcher's outcome, the admin's information text."""

from __future__ import annotations

from server.forms import Form, choice, text
from server.i18n import N_
from server.research.models import CONTACT_METHODS

MAX_WHEN = 200
MAX_TEXT = 8000


class AnswerForm(Form):
    """Yes (with how and when to be contacted) or no; one step."""

    answer = choice(("yes", "no"), N_("Choose yes or no."))
    contact_method = choice(CONTACT_METHODS, N_("Choose how you want to be contacted."), required=False)
    contact_when = text(max=MAX_WHEN)

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if ok and self.answer.data == "yes" and not self.contact_method.data:
            self.add_error("contact_method", N_("Choose how you want to be contacted."))
            return False
        return ok


class OutcomeForm(Form):
    outcome = choice(("held", "not_reached"), N_("Choose what happened."))
    meeting_id = text(required=N_("Choose what happened."))


class TextForm(Form):
    body_nb = text(required=N_("Write the text in Norwegian (bokmål)."), max=MAX_TEXT, multiline=True)
    body_en = text(required=N_("Write the text in English."), max=MAX_TEXT, multiline=True)

"""The clinic's patient forms: a new patient, a stage move, the GP's acceptance."""

from __future__ import annotations

from server.forms import Form, date_field, text
from server.i18n import N_, today_oslo
from server.pathway.stages import EXTENDED_INVITATION, FIRST, LAST

MAX_NAME = 200
MAX_TEXT = 2000
CONFLICT = N_("Someone else changed this patient while you had the page open. "
              "Check the current stage below and try again.")


class PatientSearchForm(Form):
    """The clinic's patient search (a query parameter): only its cleaning matters."""

    q = text()


class PatientForm(Form):
    name = text(required=N_("Enter the patient's full name."), max=MAX_NAME)
    birth_date = date_field(required=N_("Enter the date of birth."))
    gp_name = text(required=N_("Enter the name of the patient's GP."), max=MAX_NAME)
    gp_office = text(required=N_("Enter the name of the GP's office."), max=MAX_NAME)
    referral_received_on = date_field(required=N_("Enter the date the referral was received."))

    def validate_birth_date(self, field) -> None:
        if field.day and field.day > today_oslo():
            self.add_error("birth_date", N_("The date of birth must be in the past."))

    def validate_referral_received_on(self, field) -> None:
        if field.day and field.day > today_oslo():
            self.add_error("referral_received_on", N_("The date the referral was received cannot be in the future."))


class StageMoveForm(Form):
    to_stage = text()
    note = text(max=MAX_TEXT, multiline=True)
    reason = text(max=MAX_TEXT, multiline=True)
    version = text()

    def check(self, patient) -> bool:
        """The fields, then the move itself: the patient's version, the target stage, the reason."""
        self.validate()
        if str(patient.version) != self.version.raw:
            self._extra.clear()
            for field in self:
                field.errors = []
            self.add_error("to_stage", CONFLICT)
            return False
        target = int(self.to_stage.data) if self.to_stage.data.isdigit() else 0
        if not FIRST <= target <= LAST:
            self.add_error("to_stage", N_("Choose the stage to move to."))
        elif target == patient.stage:
            self.add_error("to_stage", N_("The patient is already at this stage. Choose another stage."))
        elif target >= EXTENDED_INVITATION and patient.stage < EXTENDED_INVITATION and patient.gp_accepted_on is None:
            self.add_error("to_stage", N_("The extended invitation can only be sent after the GP has accepted. "
                                          "Record the GP's acceptance first."))
        elif target != patient.stage + 1 and not self.reason.errors and not self.reason.data:
            self.add_error("reason", N_("Give a reason when going back or skipping a stage."))
        return not self.has_errors()


class GpAcceptanceForm(Form):
    accepted_on = date_field(required=N_("Enter the date the GP accepted."))
    version = text()

    def check(self, patient) -> bool:
        """The date, and that the form was made from the patient as stored (no other change since)."""
        if self.version.raw and self.version.raw != str(patient.version):
            self.add_error("accepted_on", CONFLICT)
            return False
        if self.validate():
            if self.accepted_on.day > today_oslo():
                self.add_error("accepted_on", N_("The date cannot be in the future."))
            elif self.accepted_on.day < patient.referral_received_on:
                self.add_error("accepted_on", N_("The date cannot be before the referral was received."))
        return not self.has_errors()

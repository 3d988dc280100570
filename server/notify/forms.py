"""The push preferences form on the notifications page."""

from __future__ import annotations

from server.forms import Form, choice, time_field
from server.i18n import N_


class PreferencesForm(Form):
    quiet_start = time_field(required=N_("Enter when quiet hours start, for example 21:00."))
    quiet_end = time_field(required=N_("Enter when quiet hours end, for example 08:00."))
    text = choice(("discreet", "detailed"), N_("Choose how much the notification says."))

    def clock(self, name: str) -> str:
        return getattr(self, name).clock.strftime("%H:%M")

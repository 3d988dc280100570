"""Labels (msgids) for the research pages."""

from __future__ import annotations

from server.i18n import N_

CONTACT_LABELS = {"phone": N_("By phone"), "email": N_("By e-mail"), "letter": N_("By letter"),
                  "clinic": N_("At the clinic")}
KIND_LABELS = {"asked": N_("Request received"), "yes": N_("Answered yes"), "no": N_("Answered no"),
               "withdrawn": N_("Consent withdrawn"), "held": N_("Interview held"),
               "not_reached": N_("Could not reach")}

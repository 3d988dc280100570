"""The form layer: one WTForms form object per form, fed from Litestar's form data, with shared validators.

Like notifications-admin's app/main/validators.py: the same rule has the same wording everywhere
("This can be at most N characters.", "Enter a real date, for example 2027-03-14.", "The text contains
characters that are not allowed."). Every text field refuses NUL and other control characters (a
multi-line field allows line breaks and tabs) before anything else is checked, so such input is
re-rendered with a message (422) and never reaches the database.

A form is built with the reader's language (`Form(data, locale=...)`); its messages are translated when
they are made. Templates get `form.values` (what was typed, to show again) and `form.error_map` (field id
→ message, in page order) for the macros in templates/_components/forms.html: the error summary with a
link to each field, `aria-invalid`, the "Error: " title prefix and the 422 all come from it.
CSRF stays Litestar's (WTForms' own is off).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, time
from typing import Any

from wtforms import Field, StringField
from wtforms import Form as _WTForm
from wtforms.validators import StopValidation, ValidationError

from server.dates import DateError, parse_date, parse_time
from server.i18n import DEFAULT_LOCALE, N_, translations

MAX_INPUT = 10_000  # what is kept of any field, so an over-long answer can be shown and corrected
TOO_LONG = N_("This can be at most %(max)s characters.")
NOT_ALLOWED = N_("The text contains characters that are not allowed. Remove them and try again.")
INVALID_TIME = N_("Enter the time as hours and minutes, for example 10:00.")

# C0 controls, DEL and C1 controls; a multi-line field keeps tab, line feed and carriage return.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_MULTILINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def has_control_characters(value: str, multiline: bool = False) -> bool:
    return bool((_CONTROL_MULTILINE if multiline else _CONTROL).search(value or ""))


class FormInput:
    """Litestar's form data as WTForms' formdata: a FormMultiDict (`await request.form()`, has `getall`) or
    the dict a `Body(URL_ENCODED)` parameter gets (a repeated field is a list). Values are kept as text."""

    def __init__(self, data: Any) -> None:
        self._data = data if data is not None else {}

    def __contains__(self, name: object) -> bool:
        return name in self._data

    def __iter__(self):
        return iter(dict.fromkeys(self._data.keys()))

    def __len__(self) -> int:
        return len(dict.fromkeys(self._data.keys()))

    def getlist(self, name: str) -> list[str]:
        if hasattr(self._data, "getall"):
            values = list(self._data.getall(name, []))
        else:
            value = self._data.get(name)
            values = [] if value is None else list(value) if isinstance(value, (list, tuple)) else [value]
        return [str(value)[:MAX_INPUT] for value in values]


class _Translations:
    """WTForms calls gettext/ngettext on its fields; ours come from the app's catalogs."""

    def __init__(self, locale: str) -> None:
        self._trans = translations(locale)

    def gettext(self, message: str) -> str:
        return self._trans.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self._trans.ngettext(singular, plural, n)


class Form(_WTForm):
    """Base of every form object. `data` is Litestar's form data (or None for a new, prefilled form)."""

    class Meta:
        csrf = False  # Litestar's CSRF middleware guards every POST

        def get_translations(self, form):
            return _Translations(getattr(form, "locale", DEFAULT_LOCALE))

    def __init__(self, data: Any = None, *, locale: str = DEFAULT_LOCALE, initial: Mapping[str, Any] | None = None,
                 **kwargs: Any) -> None:
        self.locale = locale
        self._extra: dict[str, str] = {}
        super().__init__(formdata=FormInput(data) if data is not None else None, data=dict(initial or {}), **kwargs)

    # --- messages -------------------------------------------------------------------------------
    def gettext(self, message: str, **params: Any) -> str:
        text = translations(self.locale).gettext(message)
        return text % params if params else text

    def add_error(self, name: str, message: str, **params: Any) -> None:
        """A rule that needs more than one field, or the database: this message replaces the field's."""
        text = self.gettext(message, **params)
        field = self._fields.get(name)
        if field is not None:
            field.errors = [text]
        else:
            self._extra[name] = text

    @property
    def error_map(self) -> dict[str, str]:
        """Field id → its first message, in the order of the page (form-wide messages first)."""
        fields = {name: field.errors[0] for name, field in self._fields.items() if field.errors}
        return dict(self._extra) | fields

    def has_forbidden_text(self) -> bool:
        """Does any field hold control characters? Such input is shown again, never stored."""
        for field in self:
            if isinstance(field, TextField) and has_control_characters(field.raw, field.multiline):
                return True
            if isinstance(field, ListField) and any(has_control_characters(v) for v in field.data or []):
                return True
        return False

    def has_errors(self) -> bool:
        return bool(self.error_map)

    @property
    def values(self) -> dict[str, str]:
        """What was typed (or prefilled), as text: the page shows it again."""
        return {name: field.shown for name, field in self._fields.items()}

    @property
    def cleaned(self) -> dict[str, Any]:
        """The cleaned values (stripped text), by field name."""
        return {name: field.data if field.data is not None else "" for name, field in self._fields.items()}

    def errors_with_suffix(self, suffix: str) -> dict[str, str]:
        """The error map for a page with one form per item, where field ids end in "-<item>"."""
        return {f"{name}-{suffix}": message for name, message in self.error_map.items()}

    def get(self, name: str, default: str = "") -> str:
        field = self._fields.get(name)
        return field.shown if field is not None else default

    def clean(self, name: str) -> str:
        """The cleaned value: stripped text."""
        return self._fields[name].data or ""


def build(name: str, fields: Mapping[str, Any], base: type[Form] = Form) -> type[Form]:
    """A form class with field names known only at run time (rows, a measure's uid)."""
    return type(name, (base,), dict(fields))


# --- Fields -------------------------------------------------------------------------------------

class TextField(StringField):
    """One line of text (or several with multiline=True): stripped; control characters refused first."""

    def __init__(self, label: str = "", validators: Iterable | None = None, *, multiline: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(label, validators, **kwargs)
        self.multiline = multiline
        self.raw = ""

    def process_formdata(self, valuelist: list[str]) -> None:
        self.raw = valuelist[0] if valuelist else ""
        value = self.raw.replace("\r\n", "\n") if self.multiline else self.raw
        self.data = value.strip()

    def process_data(self, value: Any) -> None:
        self.data = "" if value is None else str(value)
        self.raw = self.data

    @property
    def shown(self) -> str:
        return self.raw

    def pre_validate(self, form: Form) -> None:
        if has_control_characters(self.raw, self.multiline):
            raise StopValidation(self.gettext(NOT_ALLOWED))


class DateField(TextField):
    """A date as a date input sends it (2027-03-14); `day` is the parsed date."""

    day: date | None = None

    def pre_validate(self, form: Form) -> None:
        super().pre_validate(form)
        self.day = None
        if self.data:
            try:
                self.day = parse_date(self.data)
            except DateError as error:
                raise StopValidation(self.gettext(error.message) % error.params) from None


class TimeField(TextField):
    """A clock time typed as 10:00 or 10.00 (Europe/Oslo); `clock` is the parsed time."""

    clock: time | None = None

    def pre_validate(self, form: Form) -> None:
        super().pre_validate(form)
        self.clock = parse_time(self.data)
        if self.data and self.clock is None:
            raise StopValidation(self.gettext(INVALID_TIME))


class ListField(Field):
    """Every value of a repeated field (checkboxes), as text; control characters refused."""

    def process_formdata(self, valuelist: list[str]) -> None:
        self.data = [value for value in valuelist if value]

    def process_data(self, value: Any) -> None:
        self.data = list(value or [])

    @property
    def shown(self) -> list[str]:
        return list(self.data or [])

    def pre_validate(self, form: Form) -> None:
        if any(has_control_characters(value) for value in self.data or []):
            raise StopValidation(self.gettext(NOT_ALLOWED))


# --- Validators (the same wording for the same rule everywhere) -----------------------------------

class Required:
    """The field must be filled in; `message` says what to enter ("Enter the patient's full name.")."""

    def __init__(self, message: str) -> None:
        self.message = message

    def __call__(self, form: Form, field: Field) -> None:
        if not field.data:
            raise StopValidation(field.gettext(self.message))


class MaxLength:
    def __init__(self, limit: int) -> None:
        self.limit = limit

    def __call__(self, form: Form, field: Field) -> None:
        if len(field.data or "") > self.limit:
            raise ValidationError(field.gettext(TOO_LONG) % {"max": self.limit})


class OneOf:
    """The value must be one of `choices`; empty is allowed unless `required`."""

    def __init__(self, choices: Iterable[str], message: str, required: bool = True) -> None:
        self.choices, self.message, self.required = tuple(choices), message, required

    def __call__(self, form: Form, field: Field) -> None:
        if (field.data or self.required) and field.data not in self.choices:
            raise StopValidation(field.gettext(self.message))


def text(*, required: str | None = None, max: int | None = None, multiline: bool = False,
         validators: Iterable = ()) -> TextField:
    """A text field: optional or `required` (its message), at most `max` characters."""
    chain = ([Required(required)] if required else []) + ([MaxLength(max)] if max else []) + list(validators)
    return TextField(validators=chain, multiline=multiline)


def choice(choices: Iterable[str], message: str, *, required: bool = True) -> TextField:
    return TextField(validators=[OneOf(choices, message, required)])


def date_field(*, required: str | None = None) -> DateField:
    return DateField(validators=[Required(required)] if required else [])


def time_field(*, required: str | None = None) -> TimeField:
    return TimeField(validators=[Required(required)] if required else [])

"""Flask-WTF forms of the customers section. The rules (formats, lengths, duplicates, consent) live in the
service, which says what is wrong in words the clerk understands; these forms carry CSRF."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from omnistore.core import validation
from omnistore.customers.services import SIZE_GROUPS, SIZE_MAX, VISIT_NOTE_MAX

YES_NO = [SelectChoice("yes", _l("Yes")), SelectChoice("no", _l("No"))]


def _optional_int(value):
    """ "" → None (no choice); an id → int; anything else → -1, which no row has (the service says so)."""
    if value in (None, "", "None"):
        return None
    number = validation.whole_number(str(value))
    return number if number is not None and 0 <= number < 10**9 else -1


class ContactFields:
    first_name = StringField(_l("First name"))
    last_name = StringField(_l("Last name"))
    email = StringField(
        _l("Email"),
        render_kw={
            "type": "email",
            "autocomplete": "off",
            "inputmode": "email",
            "autocapitalize": "off",
            "spellcheck": "false",
        },
    )
    phone = StringField(_l("Mobile or phone"), render_kw={"type": "tel", "autocomplete": "off", "inputmode": "tel"})
    preferred_location_id = SelectField(_l("Preferred store"), coerce=_optional_int, validate_choice=False)


class NewCustomerForm(ContactFields, FlaskForm):
    # Asked neutrally, nothing pre-selected: the clerk reads the question and ticks the customer's answer.
    consent_email = RadioField(
        _l("May we send news and offers by email?"),
        choices=YES_NO,
        validators=[Optional()],
        default=None,
        validate_choice=False,
    )
    consent_sms = RadioField(
        _l("May we send news and offers by text message (SMS)?"),
        choices=YES_NO,
        validators=[Optional()],
        default=None,
        validate_choice=False,
    )


class EditCustomerForm(ContactFields, FlaskForm):
    locale = SelectField(
        _l("Language"),
        choices=[SelectChoice("de", "Deutsch"), SelectChoice("da", "Dansk"), SelectChoice("en", "English")],
    )
    size_tops = StringField(_l("Tops and jackets"), validators=[Length(max=SIZE_MAX)])
    size_jeans = StringField(_l("Jeans"), validators=[Length(max=SIZE_MAX)])
    size_dresses = StringField(_l("Dresses"), validators=[Length(max=SIZE_MAX)])
    size_shoes = StringField(_l("Shoes"), validators=[Length(max=SIZE_MAX)])

    def sizes(self):
        return {group: getattr(self, f"size_{group}").data or "" for group in SIZE_GROUPS}


class NoteForm(FlaskForm):
    # No max length here: the service says how long the note was, in the message next to the field.
    body = TextAreaField(_l("Note"))


class VisitForm(FlaskForm):
    kind = HiddenField(default="visit")
    note = StringField(_l("What was it about? (optional)"), validators=[Length(max=VISIT_NOTE_MAX * 2)])


class ConfirmForm(FlaskForm):
    """A POST with nothing but the CSRF token (consents, wishlist removal)."""


class EraseForm(FlaskForm):
    confirm = StringField(_l("Type ERASE to confirm"))

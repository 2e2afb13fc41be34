"""Flask-WTF forms shared by the blueprints, and the pieces every form uses: whole numbers and ids read the
one way (core/validation.py), a validator that runs a service's own check, and the errors a view shows."""

from flask import request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, Field, HiddenField, IntegerField, PasswordField, StringField
from wtforms.validators import AnyOf, DataRequired, Length, NumberRange, Optional, StopValidation, ValidationError
from wtforms.widgets import HiddenInput

from omnistore.core import validation
from omnistore.core.errors import DomainError, ValidationFailed
from omnistore.core.formatting import decimal_text

MAX_ID = 10**10 - 1  # ten digits and more is a slip of the finger (or a probe), not a row's id


class WholeNumberField(IntegerField):
    """An integer field that reads numbers the way every other input does (core/validation.py): ASCII
    digits only — Python's int() would take "١٢" as 12 and "1_0" as 10."""

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        self.data = validation.whole_number(valuelist[0])
        if self.data is None:
            raise ValueError(_l("Enter a whole number with the digits 0–9, like 12."))


class IdField(WholeNumberField):
    """A row's id from a hidden field or a select. Left empty it is None (Optional() or DataRequired(message)
    decide); anything but a whole number is the field's one error, in the words of `message` ("We could not
    find that customer."). Give it NumberRange(1, MAX_ID, message) for the range."""

    widget = HiddenInput()

    def __init__(self, label=None, validators=None, *, message, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.message = message

    def process_formdata(self, valuelist):
        if not valuelist or not valuelist[0].strip():
            self.data = None
            return
        self.data = validation.whole_number(valuelist[0])
        if self.data is None:
            raise ValueError(self.message)

    def pre_validate(self, form):
        if self.process_errors:  # not a number: that one message, not NumberRange's as well
            raise StopValidation()


class IdListField(Field):
    """Ids sent in a repeated field (ticked checkboxes named alike): a list of whole numbers 1..MAX_ID. One
    that is not is the field's error, in the words of `message`. The view declares the repetition with
    @form_input(lists=...)."""

    def __init__(self, label=None, validators=None, *, message, **kwargs):
        kwargs.setdefault("default", list)
        super().__init__(label, validators, **kwargs)
        self.message = message

    def process_formdata(self, valuelist):
        numbers = [validation.whole_number(value) for value in valuelist]
        self.data = [number for number in numbers if number is not None and 1 <= number <= MAX_ID]
        if len(self.data) != len(numbers):
            raise ValueError(self.message)

    def _value(self):
        return ""


class PageArgs(FlaskForm):
    """?page= of a paged list: a whole number 1..999999 (anything else shows the first page)."""

    class Meta:
        csrf = False

    page = WholeNumberField(validators=[Optional(), NumberRange(1, 999_999)])


def page_arg():
    """The page a paged list was asked for (?page=), 1 when none or no page number was sent."""
    args = PageArgs(request.args)
    return args.page.data if args.validate() and args.page.data else 1


def id_arg(name, source=None):
    """A row's id sent as `name` in the query string (or in `source`, e.g. request.form), read by IdField's
    rule: None when absent or not an id 1..MAX_ID."""
    meta = type("Meta", (), {"csrf": False})
    form = type(
        "IdArgs",
        (FlaskForm,),
        {"Meta": meta, name: IdField(message="", validators=[Optional(), NumberRange(1, MAX_ID)])},
    )(request.args if source is None else source)
    return form[name].data if form.validate() else None


class ServiceCheck:
    """A validator that runs a service's own check on the field's data (the rule stays in the service, so the
    API and the form say the same). Its refusal becomes the field's error, and the refusal's summary the
    field's `refusal` (shown above the form by the views that show one)."""

    def __init__(self, check):
        self.check = check

    def __call__(self, form, field):
        try:
            self.check(field.data)
        except ValidationFailed as failure:
            field.refusal = failure.message
            words = " ".join(str(v) for v in failure.fields.values()) or str(failure.message)
            raise ValidationError(words) from failure
        except DomainError as refused:
            field.refusal = refused.message
            raise ValidationError(str(refused.message)) from refused


def field_errors(form, keys=None):
    """{key: first error} of a validated form; `keys` names the place a field's error is shown when it is
    not the field's name (a hidden id's error at the visible field)."""
    keys = keys or {}
    return {keys.get(field.name, field.name): str(field.errors[0]) for field in form if field.errors}


def refusal(form):
    """The summary for the first field in error: its service's words, or the form's `refusals` for it."""
    for field in form:
        if field.errors:
            return getattr(field, "refusal", None) or getattr(form, "refusals", {}).get(field.name)
    return None


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])
    next = HiddenField()


class LanguageForm(FlaskForm):
    locale = StringField(validators=[AnyOf(["en", "de", "da"])])
    next = HiddenField()


class HundredthsField(StringField):
    """An amount with up to two decimals, typed the way people type it ("39", "39,00", "39.5"), kept as a whole
    number of hundredths: a price in minor units of a two-decimal currency, a rate in basis points of a percent.
    No thousands separators (is "1.899" 1899 or 1,899?): one way to read each input."""

    def __init__(self, label=None, validators=None, *, maximum=10**9 - 1, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.maximum = maximum

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        self.raw_data = valuelist
        typed = valuelist[0]
        self.data = validation.hundredths(typed[:40] if isinstance(typed, str) else None)
        if self.data is None or self.data > self.maximum:
            self.data = None
            raise ValueError(_l("Enter an amount like 39 or 39,95 (no thousands separator)."))

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        if self.data is None:
            return ""
        return decimal_text(self.data)

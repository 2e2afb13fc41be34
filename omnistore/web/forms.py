"""Flask-WTF forms shared by the blueprints."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, IntegerField, PasswordField, StringField
from wtforms.validators import AnyOf, DataRequired, Length

from ..services import validation


class WholeNumberField(IntegerField):
    """An integer field that reads numbers the way every other input does (services/validation.py): ASCII
    digits only — Python's int() would take "١٢" as 12 and "1_0" as 10."""

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        self.data = validation.whole_number(valuelist[0])
        if self.data is None:
            raise ValueError(_l("Enter a whole number with the digits 0–9, like 12."))


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])
    next = HiddenField()


class LanguageForm(FlaskForm):
    locale = StringField(validators=[AnyOf(["en", "de", "da"])])
    next = HiddenField()

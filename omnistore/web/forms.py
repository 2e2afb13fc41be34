"""Flask-WTF forms shared by the blueprints."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField, StringField
from wtforms.validators import AnyOf, DataRequired, Length


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])
    next = HiddenField()


class LanguageForm(FlaskForm):
    locale = StringField(validators=[AnyOf(["en", "de", "da"])])
    next = HiddenField()

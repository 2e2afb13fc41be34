"""Flask-WTF forms of the orders section: the order builder at the counter, the transfer steps, the order
page's actions. The rules (quantities, addresses, tracking references) live in the services; these forms
carry what was typed and the CSRF token."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token travels."""


class ShipForm(FlaskForm):
    tracking = StringField(_l("Tracking reference"))


class NextForm(FlaskForm):
    next = HiddenField()

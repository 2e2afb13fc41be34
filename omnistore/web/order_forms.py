"""Flask-WTF forms of the orders section: the order builder at the counter, the transfer steps, the order
page's actions. The rules (quantities, addresses, tracking references) live in the services; these forms
carry what was typed and the CSRF token, and the services' messages come back at their fields."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField, TextAreaField


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token travels."""


class ShipForm(FlaskForm):
    tracking = StringField(_l("Tracking reference"))


class CustomerForm(FlaskForm):
    customer_id = HiddenField()


class LineForm(FlaskForm):
    variant_id = HiddenField()
    quantity = HiddenField()  # from a + / − / Remove button
    typed = StringField(_l("Quantity"))  # typed into the line's field


class AddItemForm(FlaskForm):
    code = StringField(_l("Add an item"))


class FulfilmentForm(FlaskForm):
    choice = HiddenField()  # here | store | delivery: the option button tapped
    current = HiddenField()  # the option shown, for a change of store or payment
    pickup_location_id = HiddenField()
    payment_state = HiddenField()
    name = StringField(_l("Name"))
    street = StringField(_l("Street and number"))
    postcode = StringField(_l("Postcode"))
    city = StringField(_l("City"))
    country = StringField(_l("Country"))
    confirm_address = HiddenField()


class PlaceForm(FlaskForm):
    idempotency_key = HiddenField()


class CancelForm(FlaskForm):
    reason = TextAreaField(_l("Reason"))

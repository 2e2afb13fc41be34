"""Flask-WTF forms of the orders section: the order builder at the counter, the transfer steps, the order
page's actions. The rules (quantities, addresses, tracking references) live in the services; these forms
check what was typed with them (ServiceCheck) before a view changes anything, and their errors come back at
the fields."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField, TextAreaField
from wtforms.validators import DataRequired, NumberRange, Optional, ValidationError

from omnistore.catalog import lookups as catalog
from omnistore.core.errors import NotFound
from omnistore.orders import desk as order_desk
from omnistore.orders import order_rules, transfers
from omnistore.web.forms import MAX_ID, IdField, ServiceCheck

NO_CUSTOMER = _l("We could not find that customer.")
NO_VARIANT = _l("We could not find that product variant.")
NO_LOCATION = _l("We could not find that location.")
FULFILMENT_CHOICES = ("here", "store", "delivery")


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _variant_exists(variant_id):
    if variant_id is not None and catalog.get_variant(variant_id) is None:
        raise NotFound(NO_VARIANT)


def _button_quantity(value):
    """A + / − / Remove button's quantity: 0 removes the line, anything else is a quantity."""
    if value not in (None, "", "0"):
        order_rules.check_quantity(value)


class StartArgs(FlaskForm):
    """/orders/new?customer_id=&variant_id=: what a new order starts with (both optional)."""

    class Meta:
        csrf = False

    customer_id = IdField(message=NO_CUSTOMER, validators=[Optional(), NumberRange(1, MAX_ID, NO_CUSTOMER)])
    variant_id = IdField(
        message=NO_VARIANT, validators=[Optional(), NumberRange(1, MAX_ID, NO_VARIANT), ServiceCheck(_variant_exists)]
    )


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token travels (CSRFProtect checks it before any view
    runs, so there is nothing more to validate)."""


class ShipForm(FlaskForm):
    tracking = StringField(_l("Tracking reference"), validators=[ServiceCheck(transfers.clean_tracking)])


class RejectForm(FlaskForm):
    """Units of a line a store cannot supply at pick time: which line, how many, why. The verb
    (orders/rejecting.reject) checks the values and answers at the field."""

    line = IdField(message=_l("That line is not part of this order."), validators=[Optional(), NumberRange(1, MAX_ID)])
    quantity = StringField(_l("How many"), filters=[lambda value: (value or "")[:12]])
    reason = StringField(_l("Why"), filters=[lambda value: (value or "")[:20]])


class ReceiveForm(FlaskForm):
    shelf_location = StringField(_l("Shelf or bin"), filters=[lambda value: (value or "")[:300]])


class CustomerForm(FlaskForm):
    refusals = {"customer_id": _l("Please choose the customer.")}
    error_keys = {"customer_id": "customer"}

    customer_id = IdField(
        message=NO_CUSTOMER, validators=[DataRequired(NO_CUSTOMER), NumberRange(1, MAX_ID, NO_CUSTOMER)]
    )


class LineForm(FlaskForm):
    """`quantity` from a + / − / Remove button, or `typed` into the line's field (where 0 is a mistake:
    Remove is the button for that). Their errors are shown at the line (quantity-<variant id>)."""

    refusals = {"variant_id": NO_VARIANT}

    variant_id = IdField(
        message=NO_VARIANT,
        validators=[DataRequired(NO_VARIANT), NumberRange(1, MAX_ID, NO_VARIANT), ServiceCheck(_variant_exists)],
    )
    quantity = HiddenField()
    typed = StringField(_l("Quantity"))

    def validate_quantity(self, field):
        if not self.variant_id.errors:
            ServiceCheck(_button_quantity)(self, field)

    def validate_typed(self, field):
        if not self.variant_id.errors and self.quantity.data in (None, ""):
            ServiceCheck(order_rules.check_quantity)(self, field)

    def error_keys(self):
        line = f"quantity-{self.variant_id.data}"
        return {"variant_id": "add", "quantity": line, "typed": line}

    def amount(self):
        """The quantity asked for: the button's, else the one typed."""
        return self.quantity.data if self.quantity.data not in (None, "") else self.typed.data


class AddItemForm(FlaskForm):
    error_keys = {"code": "add"}

    code = StringField(
        _l("Add an item"),
        filters=[_strip],
        validators=[DataRequired(_l("Scan a barcode or type a product name, SKU or EAN."))],
    )


class FulfilmentForm(FlaskForm):
    refusals = {"pickup_location_id": _l("Please choose where to collect.")}
    error_keys = {"choice": "fulfilment", "pickup_location_id": "pickup_location"}

    choice = HiddenField()  # here | store | delivery: the option button tapped
    current = HiddenField()  # the option shown, for a change of store or payment
    pickup_location_id = IdField(message=NO_LOCATION, validators=[Optional(), NumberRange(1, MAX_ID, NO_LOCATION)])
    payment_state = HiddenField()
    name = StringField(_l("Name"))
    street = StringField(_l("Street and number"))
    postcode = StringField(_l("Postcode"))
    city = StringField(_l("City"))
    country = StringField(_l("Country"))
    confirm_address = HiddenField()

    def validate_choice(self, field):
        if self.chosen() is None:
            raise ValidationError(_l("Choose how the customer gets the goods."))

    def chosen(self):
        choice = self.choice.data or self.current.data
        return choice if choice in FULFILMENT_CHOICES else None


class OfferForm(FlaskForm):
    """The customer's offer in the builder: a scanned or typed code, or one of their offers tapped."""

    error_keys = {"code": "offer", "issued_offer_id": "offer"}

    code = StringField(_l("Offer code"), filters=[_strip])
    issued_offer_id = IdField(
        message=_l("We could not find that offer."),
        validators=[Optional(), NumberRange(1, MAX_ID, _l("We could not find that offer."))],
    )


class PlaceForm(FlaskForm):
    idempotency_key = HiddenField()


class CancelForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), validators=[ServiceCheck(order_desk.cancel_reason)])

"""The manager's form for a new offer. Every rule is offers/services.py's (define_offer): the form carries the
fields, the verb's ValidationFailed comes back at them."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, StringField
from wtforms.fields.choices import SelectChoice

from omnistore.offers.labels import KIND_LABELS, SCOPE_LABELS


class OfferDefinitionForm(FlaskForm):
    name = StringField(_l("Name (the customer sees it)"))
    kind = RadioField(_l("Discount"), choices=[SelectChoice(k, v) for k, v in KIND_LABELS.items()], default="percent")
    value = StringField(_l("Percent, or amount in the market's currency"))
    scope = RadioField(
        _l("Applies to"), choices=[SelectChoice(k, v) for k, v in SCOPE_LABELS.items()], default="basket"
    )
    category = StringField(_l("Category"))
    product_code = StringField(_l("Product: SKU or EAN of one of its sizes"))
    market = SelectField(_l("Market"), choices=[])
    valid_from = StringField(_l("First day"))
    valid_until = StringField(_l("Last day"))
    uses_per_customer = StringField(_l("Uses per customer"), default="1")

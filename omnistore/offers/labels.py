"""The words for an offer: what it takes off and on what ("15 % off Jackets", "€5.00 off the basket"), for the
screens, the e-mails and the CSV files."""

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from omnistore.core.formatting import money

KIND_LABELS = {"percent": _l("Percent off"), "amount": _l("Amount off")}
SCOPE_LABELS = {"basket": _l("The whole basket"), "category": _l("A category"), "product": _l("A product")}
VIA_LABELS = {"clerk": _l("By a clerk"), "segment": _l("To a segment"), "loyalty": _l("Loyalty reward")}


def offer_value(offer) -> str:
    """What the offer takes off, and on what."""
    if offer.kind == "percent":
        amount = _("%(percent)d %%", percent=offer.value)
    else:
        amount = money(offer.value, offer.market.currency if offer.market else "EUR")
    if offer.scope == "category":
        return _("%(amount)s off %(category)s", amount=amount, category=offer.category)
    if offer.scope == "product":
        return _("%(amount)s off %(product)s", amount=amount, product=offer.product.name if offer.product else "")
    return _("%(amount)s off the basket", amount=amount)

"""The customers section: one blueprint, its views in three modules.

find.py    — search, scan a loyalty card, quick-create, and the picker other pages embed
profile.py — the profile: contact, consents, sizes, figures, open orders, timeline, notes, visits, wishlist,
             recommendations
privacy.py — managers: the access log, export, erase, merge
"""
from flask import Blueprint

bp = Blueprint("customers", __name__, url_prefix="/customers")

from omnistore.clienteling.views import privacy, profile
from omnistore.customers.views import find  # noqa: E402,F401 — the views register themselves on bp

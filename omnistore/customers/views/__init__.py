"""The customers section's blueprint. The app imports the modules that register views on it:

customers/views/find.py      — search, scan a loyalty card, quick-create, the picker other pages embed
clienteling/views/profile.py — the profile: contact, consents, sizes, figures, orders, timeline, notes
clienteling/views/privacy.py — managers: the access log, export, erase, merge
"""

from flask import Blueprint

bp = Blueprint("customers", __name__, url_prefix="/customers")

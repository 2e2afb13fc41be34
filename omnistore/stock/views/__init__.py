"""The stock section's blueprint. The app imports the modules that register views on it:

stock/views/browse.py  — search, scan, product page with the size × colour matrix, the live network panel
stock/views/changes.py — receive and correct stock at this store, a variant's ledger, the ERP's CSV import
stock/views/counts.py  — counts at this store: start, scan item by item, check what was not scanned, submit
"""

from flask import Blueprint

bp = Blueprint("stock", __name__, url_prefix="/stock")

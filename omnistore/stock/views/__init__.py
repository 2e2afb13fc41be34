"""The stock section: one blueprint, its views in two modules.

browse.py  — search, scan, product page with the size × colour matrix, the live network panel
changes.py — receive and correct stock at this store, a variant's ledger, the ERP's CSV import
"""
from flask import Blueprint

bp = Blueprint("stock", __name__, url_prefix="/stock")

from omnistore.stock.views import browse, changes  # noqa: E402,F401 — the views register themselves on bp

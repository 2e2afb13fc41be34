"""The manager's section's blueprint. The app imports the modules that register views on it:

reviews/views/dashboard.py — the dashboard with its charts and league, the orders behind a figure, an order's timeline
reviews/views/handovers.py — the handover log and its exceptions
reviews/views/exports.py   — the CSV exports of the figures, a figure's orders, the handovers and the league
reviews/views/rejections.py — rejections at pick time per store (rate, reasons, re-source success), with its CSV
reviews/views/returns.py   — returns: rate and reasons by store, channel and product, across stores, with its CSV
reviews/views/settings.py  — the store's pickup settings
reviews/views/offers.py    — offers issued and redeemed, the discount given and the sales they brought, with its CSV
reviews/views/counts.py    — counts waiting for a decision on their variances, count accuracy per store, its CSV
reviews/views/query.py     — what these screens read from the query (scope, page, stores); imported by them
reviews/views/formatting.py — durations and rates for the templates and the CSV files, and their template filters
"""

from flask import Blueprint

bp = Blueprint("manager", __name__, url_prefix="/manager")

"""The integration API (JSON under /api/v1, bearer tokens). See DESIGN.md for the contract."""
from flask import Blueprint

from ..extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

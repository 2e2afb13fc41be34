"""Find a product and see where it is: search, scan, product page, network panel (live)."""
from flask import render_template, request

from ..rendering import login_required
from . import bp


@bp.get("/")
@login_required
def index():
    return render_template("stock/search.html", query=request.args.get("q", ""))

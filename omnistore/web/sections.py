"""Sections whose issues have not landed yet: an honest "coming soon" page, behind the same guards."""
from flask import Blueprint, render_template

from .rendering import login_required, role_required

# (blueprint name, URL prefix, title, what it will do, roles allowed or None for every staff member)
PLANNED = []


def _section_view(title, summary, roles):
    def index():
        return render_template("sections/coming_soon.html", title=title, summary=summary)

    return role_required(*roles)(index) if roles else login_required(index)


def register(app):
    for name, prefix, title, summary, roles in PLANNED:
        bp = Blueprint(name, __name__, url_prefix=prefix)
        bp.add_url_rule("/", "index", _section_view(title, summary, roles))
        app.register_blueprint(bp)

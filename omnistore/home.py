"""The tablet home of the staff member's store."""

from flask import Blueprint, render_template
from flask_login import current_user

from omnistore.pickups.queue import queue_summary
from omnistore.web.rendering import login_required

bp = Blueprint("home", __name__)


@bp.get("/")
@login_required
def index():
    location = current_user.location
    return render_template("home/index.html", location=location, summary=queue_summary(location))

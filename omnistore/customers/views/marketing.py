"""The public pages a marketing e-mail links to, at /m/<token>/…: no login, a phone screen, the customer's own
language, rate-limited per address like the order page. The one-tap unsubscribe lives here; the after-purchase
rating pages register on the same blueprint (clienteling/views/followups.py)."""

from flask import Blueprint, current_app, make_response, render_template
from flask_babel import force_locale

from omnistore.core.errors import NotFound
from omnistore.core.extensions import limiter
from omnistore.customers import marketing

bp = Blueprint("marketing", __name__, url_prefix="/m")


def _page_limit():
    return current_app.config["OMNISTORE_PUBLIC_RATE_LIMIT"]


limiter.limit(_page_limit)(bp)


def private(response, status=200):
    response = make_response(response, status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def render_in(locale, template, status=200, **context):
    """A public page written in the customer's language (not the phone's: the e-mail was in theirs)."""
    with force_locale(locale or "en"):
        return private(render_template(template, **context), status)


@bp.get("/<token>/unsubscribe")
def unsubscribe(token):
    """One tap from the e-mail: the consent is withdrawn (a replay answers the same page, changing nothing)."""
    done = marketing.unsubscribe(token)
    return render_in(done.locale, "marketing/unsubscribed.html", done=done)


@bp.errorhandler(NotFound)
def _not_found(error):
    return render_in(None, "marketing/not_found.html", 404, message=error.message)

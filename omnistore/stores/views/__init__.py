"""Sign in, sign out, and the language switch."""

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required

from omnistore.core import formatting
from omnistore.core.extensions import limiter
from omnistore.stores import markets
from omnistore.stores import staff as staff_service
from omnistore.stores.login import sign_in, sign_out
from omnistore.web.forms import LanguageForm, LoginForm

bp = Blueprint("auth", __name__)


def _safe_next(target):
    """Only same-site paths, so a crafted link cannot send a clerk elsewhere after login."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


# Failed sign-ins are throttled per address and per (address, account), never per account alone: a stranger
# guessing a clerk's password elsewhere must not lock the clerk out of the desk. Only failures count there, after
# the answer, so parallel guesses would all pass them: a wider limit on every POST per address, counted before
# the password is checked, bounds those.
def _address_and_account_key():
    email = request.form.get("email", "")
    return f"login:{get_remote_address()}:{staff_service.normalise_email(email if isinstance(email, str) else '')}"


def _failed(response):
    return response.status_code == 422


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["OMNISTORE_LOGIN_REQUEST_RATE_LIMIT"],
    methods=["POST"],
    key_func=lambda: f"login-requests:{get_remote_address()}",
)  # every POST, counted up front
@limiter.limit(lambda: current_app.config["OMNISTORE_LOGIN_ADDRESS_RATE_LIMIT"], methods=["POST"], deduct_when=_failed)
@limiter.limit(
    lambda: current_app.config["OMNISTORE_LOGIN_RATE_LIMIT"],
    methods=["POST"],
    key_func=_address_and_account_key,
    deduct_when=_failed,
)
def login():
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if form.validate_on_submit():
        staff = staff_service.authenticate(form.email.data, form.password.data)
        if staff is not None:
            locale = sign_in(staff)  # a fresh session on every login (no fixation), kept on the server
            if locale and locale != staff.locale:
                staff_service.set_locale(staff, locale)
            return redirect(_safe_next(form.next.data) or url_for("home.index"), code=303)
        form.password.errors.append(_("Email or password is not right, or the account is disabled."))
    status = 422 if request.method == "POST" else 200
    return render_template("auth/login.html", form=form), status


@bp.errorhandler(429)
def _too_many_attempts(_error):
    message = _("Too many sign-in attempts. Please wait a minute and try again.")
    return render_template("auth/login.html", form=LoginForm(), form_error=message), 429


@bp.post("/logout")
@login_required
def logout():
    locale = current_user.locale
    sign_out()  # ends the session on the server: a copy of the cookie opens nothing afterwards
    session["locale"] = locale  # the sign-in page stays in the language the clerk was using
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"), code=303)


@bp.post("/language")
def language():
    form = LanguageForm()
    if form.validate_on_submit():
        if current_user.is_authenticated:
            staff_service.set_locale(current_user, form.locale.data)
        session["locale"] = form.locale.data
    return redirect(_safe_next(form.next.data) or url_for("home.index"), code=303)


# The market's VAT on every screen and document that shows a total (stores/markets.py owns the rule).
@bp.app_template_global("vat_included")
def _vat_included(amount_minor, market):
    return markets.vat_included(amount_minor, market) if market is not None else None


@bp.app_template_global("vat_rate")
def _vat_rate(market):
    """ "25 %" / "19%" for the viewer's language."""
    return formatting.percent(market.vat_rate_bp / 10000) if market is not None else ""

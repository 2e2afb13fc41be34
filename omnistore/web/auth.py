"""Sign in, sign out, and the language switch."""
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from ..extensions import limiter
from ..services import staff as staff_service
from .forms import LanguageForm, LoginForm

bp = Blueprint("auth", __name__)


def _safe_next(target):
    """Only same-site paths, so a crafted link cannot send a clerk elsewhere after login."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def _login_email_key():
    return "login:" + staff_service.normalise_email(request.form.get("email", ""))[:254]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["OMNISTORE_LOGIN_RATE_LIMIT"], methods=["POST"])
@limiter.limit(lambda: current_app.config["OMNISTORE_LOGIN_RATE_LIMIT"], methods=["POST"],
               key_func=_login_email_key)
def login():
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if form.validate_on_submit():
        staff = staff_service.authenticate(form.email.data, form.password.data)
        if staff is not None:
            locale = session.get("locale")
            session.clear()  # a fresh session on every login (no fixation)
            login_user(staff)
            session.permanent = True
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
    logout_user()
    session.clear()
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

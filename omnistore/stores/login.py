"""Staff sessions on the web side: the user loader, the idle timeout, desk presence, and the way to sign-in.

The session itself is kept on the server (stores/sessions.py); the cookie holds Flask-Login's
"<staff id>:<generation>" and the session's random key. Signing out, the idle timeout and the lifetime end
the session there, so a copy of the cookie is worth nothing afterwards.

Decision for the pickup desk (issue 13.6): a desk screen is meant to stay open all day, so the desk's live
queue counts as presence while it is visibly on screen (live.js stops polling in a hidden tab), but only on
the desk screen, only for the staff member's own store, only for a clerk (a manager's or admin's session keeps
the ordinary idle timeout: stores/sessions.counts_as_presence) and only for
OMNISTORE_DESK_SESSION_HOURS after sign-in (a shift). Every other live poll (the stock panel, a queue of
another store) counts as nothing.
"""

import hashlib
from datetime import timedelta
from urllib.parse import urlsplit

from flask import current_app, flash, g, has_request_context, make_response, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from omnistore.core.extensions import htmx
from omnistore.core.types import utcnow
from omnistore.stores import sessions as staff_sessions
from omnistore.web.rendering import is_live_poll

SESSION_KEY = "sk"  # the session's random key in the signed cookie
MAX_ID = 2**31 - 1


def limits():
    config = current_app.config
    return staff_sessions.Limits(
        idle=timedelta(minutes=config["OMNISTORE_IDLE_TIMEOUT_MINUTES"]),
        desk=timedelta(hours=config["OMNISTORE_DESK_SESSION_HOURS"]),
        lifetime=config["PERMANENT_SESSION_LIFETIME"],
    )


def parse_user_id(user_id):
    """(staff id, generation) from Flask-Login's "<id>:<generation>", or (None, None)."""
    staff_id, _sep, generation = str(user_id or "").partition(":")
    if not (staff_id.isdigit() and generation.isdigit()) or int(staff_id) > MAX_ID or int(generation) > MAX_ID:
        return None, None
    return int(staff_id), int(generation)


# --- the shortcut of an unchanged live poll ---------------------------------------------------------------
#
# An open panel or desk asks every few seconds whether anything changed. While nothing did, its screen answers
# 204 after a statement or three (the session fields and its fingerprint), without loading the staff member or
# rewriting the session cookie. Whatever else may be the case (not signed in, idle too long, the session seen
# from elsewhere, a stale or unparsable request, a changed figure) takes the ordinary way: the checks of
# Flask-Login and the idle timeout, then the view.


def poll_identity():
    """(staff id, session generation, hash of the session's key) from the cookie of a live poll, or None when
    anything is unusual (then the ordinary way decides)."""
    staff_id, generation = parse_user_id(session.get("_user_id"))
    key = session.get(SESSION_KEY)
    if staff_id is None or not isinstance(key, str):
        return None
    if any("\x00" in value for value in request.args.values()):
        return None
    if session.get("_id") != current_app.login_manager._session_identifier_generator():
        return None  # seen from another address or browser: Flask-Login's session protection decides
    return staff_id, generation, staff_sessions.hash_key(key)


def poll_session_holds(generation, answer, now=None):
    """Whether the session an unchanged poll read (`answer`: session_generation, active, session_open,
    started_at, last_seen_at) still holds for the cookie's generation, by the server's clock."""
    if answer is None or not answer.active or answer.session_generation != generation or not answer.session_open:
        return False
    return staff_sessions.verdict(answer.started_at, answer.last_seen_at, limits(), now) is None


def desk_presence_due(role, started_at, last_seen_at, now=None):
    """Whether a poll of the staff member's own desk queue would move the session's clock on now (see the
    module's docstring and check_session): then it must take the ordinary way."""
    rules, now = limits(), now or utcnow()
    signed = staff_sessions.Signed(0, 0, role, started_at, last_seen_at)
    return staff_sessions.counts_as_presence(signed, rules, now) and now - last_seen_at >= rules.step


def answer_unchanged_poll(staff_id):
    """The poll is answered 204 by its screen: signed in as `staff_id` (loaded only if anything asks more), and
    the session cookie is not sent again (web/__init__.py)."""
    current_app.login_manager._update_request_context_with_user(PollingStaff(staff_id, session["_user_id"]))
    g.session_untouched = True


class PollingStaff:
    """current_user for an unchanged poll: signed in; the staff member is loaded only if anything asks more."""

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def __init__(self, staff_id, session_id):
        self.id = staff_id
        self._session_id = session_id

    def get_id(self):
        return self._session_id

    def __getattr__(self, name):
        staff = self.__dict__.get("_staff")
        if staff is None:
            staff = self.__dict__["_staff"] = load_user(self._session_id)
        return getattr(staff, name)


def load_user(user_id):
    """Flask-Login's user loader: the staff member of an open server-side session with this cookie's key."""
    staff_id, generation = parse_user_id(user_id)
    key = session.get(SESSION_KEY)
    if staff_id is None or not isinstance(key, str):
        return None
    found = staff_sessions.load(staff_id, generation, key)
    if found is None:
        return None
    staff, g.staff_session = found
    return staff


def sign_in(staff):
    """A fresh session (no fixation) on the server and in the cookie; returns the language chosen before."""
    locale = session.get("locale")
    session.clear()
    login_user(staff)
    session[SESSION_KEY] = staff_sessions.start(staff, limits())
    session.permanent = True
    return locale


def sign_out():
    """End the session on the server too: a copy of the cookie opens nothing afterwards."""
    staff_sessions.end(session.get(SESSION_KEY))
    logout_user()
    session.clear()


def offline_scope():
    """An opaque name for this session's copies on the tablet (its saved pages, its queue of forms waiting to
    be sent: web/sw.js, static/js/offline.js), or "" when no one is signed in. It changes with every sign-in and
    says nothing about who: the tablet forgets every copy whose name is not the current session's."""
    if not has_request_context():  # an e-mail rendered for the outbox
        return ""
    key = session.get(SESSION_KEY)
    if not current_user.is_authenticated or not isinstance(key, str):
        return ""
    return hashlib.sha256(f"offline:{key}".encode()).hexdigest()[:24]


def mark_offline_scope(response):
    """Every page says whose it is, for the service worker: it keeps copies of a signed-in session's pages
    and forgets all of them at the first page of a signed-out one (the sign-in page after sign-out, or after
    the idle timeout)."""
    if response.mimetype == "text/html":
        response.headers["X-Offline-Scope"] = offline_scope()
    return response


def is_desk_presence():
    """A poll of the pickup desk's queue of the staff member's own store (see the module's docstring)."""
    if request.endpoint != "pickups.queue" or not is_live_poll():
        return False
    code = request.args.get("location", "").strip().upper()
    return not code or code == current_user.location.code


def check_session():
    """Before every request of a signed-in staff member: end a session idle or older than its lifetime, and
    note activity (a live poll is not activity, except the desk's presence)."""
    if request.endpoint == "static" or not current_user.is_authenticated:  # a stylesheet loads no one
        return None
    signed = g.get("staff_session")
    if signed is None:  # an unchanged poll answered without loading the staff member (stock/browse.py)
        return None
    rules, now = limits(), utcnow()
    why = staff_sessions.verdict(signed.started_at, signed.last_seen_at, rules, now)
    if why is None:
        if not is_live_poll() or (is_desk_presence() and staff_sessions.counts_as_presence(signed, rules, now)):
            staff_sessions.touch(signed, rules, now)
        return None
    staff_sessions.expire(signed)
    locale = current_user.locale
    logout_user()
    session.clear()
    session["locale"] = locale
    if why == "idle":
        minutes = max(1, round(current_app.config["OMNISTORE_IDLE_TIMEOUT_MINUTES"]))
        flash(_("You were signed out after %(minutes)d minutes without activity.", minutes=minutes), "info")
    else:
        flash(
            _(
                "Your session ended after %(hours)d hours. Please sign in again.",
                hours=round(rules.lifetime.total_seconds() / 3600),
            ),
            "info",
        )
    return to_sign_in()


def page_path():
    """The page the person is on: for an htmx request the page around it (HX-Current-URL, same origin
    only), for a plain GET or a boosted link this address, for a plain POST the page the form was on
    (Referer, same origin)."""
    if htmx and not (htmx.boosted and request.method == "GET"):  # a boosted link goes to its own address
        return same_origin_path(request.headers.get("HX-Current-URL", ""))
    if request.method == "GET":
        return request.full_path.rstrip("?")
    return same_origin_path(request.referrer or "")


def same_origin_path(url):
    """ "/path?query" of a URL of this site, else None (never the sign-in page itself)."""
    try:
        parts = urlsplit(url[:2000])
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or parts.netloc != request.host or not parts.path.startswith("/"):
        return None
    if parts.path.startswith("//") or parts.path == url_for("auth.login") or any(ord(char) < 32 for char in url):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


def to_sign_in():
    """Send the person to the sign-in page, and back to where they were after signing in. An htmx request
    (a live panel's poll, a tap inside a component) gets an HX-Redirect, so the whole page goes to sign-in
    instead of the sign-in page being swapped into the component."""
    target = url_for("auth.login", next=page_path())
    if htmx:
        response = make_response("", 401)
        response.headers["HX-Redirect"] = target
        response.vary.add("HX-Request")
        return response
    return redirect(target)

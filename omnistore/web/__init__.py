"""What every page shares: security headers, the request's timing, error handlers, the session cookie."""

from time import perf_counter, time

from flask import g
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user

from omnistore.core.db import read_in_autocommit
from omnistore.web import i18n
from omnistore.web.errors import register_error_handlers
from omnistore.web.form_input import check_request_shape
from omnistore.web.offline import register_offline
from omnistore.web.retry import close_session_quietly, end_reading_in_request

# htmx runs with allowEval=false and no inline scripts or styles, so the policy can stay strict.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; media-src 'self' blob:; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'; manifest-src 'self'; worker-src 'self'"
)


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, except that a response marked `g.session_untouched` (a live panel's
    poll answered 204: nothing in the session changed, and polling must not extend a session anyway) does
    not re-send the cookie just to refresh its expiry."""

    def should_set_cookie(self, app, session):
        if g.get("session_untouched") and not session.modified:
            return False
        return super().should_set_cookie(app, session)


def register_web(app):
    i18n.init_app(app)
    register_error_handlers(app)
    app.session_interface = _SessionInterface()
    # Ended inside the request, and the session closed before Flask-SQLAlchemy's teardown (teardowns run last
    # registered first) so that a lost connection cannot fail the request after its answer (web/retry.py).
    app.after_request_funcs.setdefault(None, []).insert(0, end_reading_in_request)  # runs last
    app.teardown_appcontext(close_session_quietly)

    register_offline(app)

    @app.get("/healthz")
    def healthz():
        """For load balancers (and the benchmark's baseline): the process answers; touches no database."""
        return "ok", 200, {"Content-Type": "text/plain", "Cache-Control": "no-store"}

    def _start_timer():
        g.request_started = perf_counter()
        g.request_started_at = time()  # wall clock: what a live page has seen (rendering.live_since)
        read_in_autocommit()  # before any hook reads: no BEGIN and COMMIT around the request's reads

    # First of all the hooks (the extensions' and the blueprints' too), so Server-Timing counts them all.
    app.before_request_funcs.setdefault(None, []).insert(0, _start_timer)

    app.before_request(check_request_shape)  # files, lists, JSON or NUL bytes where a form's text belongs

    @app.after_request
    def _security_headers(response):
        headers = response.headers
        if "request_started" in g:  # the app's own time, for browsers' dev tools and the benchmark
            headers["Server-Timing"] = f"app;dur={(perf_counter() - g.request_started) * 1000:.2f}"
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(self), microphone=(), geolocation=()")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if app.config.get("SESSION_COOKIE_SECURE"):
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if current_user and current_user.is_authenticated:
            headers.setdefault("Cache-Control", "no-store")  # staff pages hold live, personal data
        return response

"""The live stream: an open page hears that its network panel or desk queue changed, and fetches it only then.

`GET /live/stream?variant=<id>&desk=1[&location=CODE][&since=MS]` — server-sent events (text/event-stream) for
the open page's live components: the stock of up to MAX_VARIANTS variants (their network panels) and the pickup
desk of the staff member's store (an admin may name another with `location`, as on the desk). Each event is
`event: change` with the changed topics as data (`variant:12 desk:3`); static/js/live.js then fetches that
component the way its poll does. `since` is when the page's components were rendered (their data-live-since,
ms since the epoch): just before `ready`, a `change` for all the asked topics comes first unless the process's
hub is sure none of them changed since then (core/live.Hub.caught_up); without `since` it always comes.
`event: end` says the session ended (signed out, disabled, idle): the page stops listening and its poll takes
the ordinary way to the sign-in page.

The same rules as every request: signed in (Flask-Login and the idle timeout before the view), the desk's store
scope (`_desk_location`), and the session checked again every OMNISTORE_LIVE_STREAM_CHECK_SECONDS while the
stream is open; a sign-out or a disabled account ends its streams at once (stores/sessions.py notes their
topics). Opening or holding a stream is not activity (web/rendering.live_stream).

Where the server cannot hold streams (sync workers, SQLite, OMNISTORE_LIVE_PUSH=0) the answer is 204 — an
EventSource does not reconnect after it — and the page keeps polling.
"""

import time

from flask import Blueprint, Response, abort, current_app, request, session
from flask_login import current_user

from omnistore.core import live
from omnistore.core.extensions import db
from omnistore.pickups import live as desk_live
from omnistore.pickups.views.desk import _desk_location
from omnistore.stock.summaries import variant_topic
from omnistore.stores import login
from omnistore.stores import sessions as staff_sessions
from omnistore.web.rendering import live_stream, login_required

bp = Blueprint("live", __name__, url_prefix="/live")

MAX_VARIANTS = 4  # a page shows one panel; a few more are harmless, many are not a page
RETRY_MS = 3000  # the browser's wait before it opens a dropped stream again


@bp.get("/stream")
@live_stream
@login_required
def stream():
    topics = set()
    variants = request.args.getlist("variant")
    if len(variants) > MAX_VARIANTS or not all(v.isascii() and v.isdigit() and 0 < int(v) < 2**31 for v in variants):
        abort(400)
    topics.update(variant_topic(int(v)) for v in variants)
    if request.args.get("desk") == "1":
        topics.add(desk_live.desk_topic(_desk_location().id))  # the desk's scope: own store, an admin any
    if not topics:
        abort(400)
    app = current_app._get_current_object()
    if not app.config["OMNISTORE_LIVE_PUSH"] or not live.available(app, request.environ):
        return "", 204
    staff_id, generation = login.parse_user_id(session.get("_user_id"))
    key = session.get(login.SESSION_KEY)
    asked = " ".join(sorted(topics))
    since = _since(request.args.get("since"))
    topics |= {staff_sessions.session_topic(key), staff_sessions.staff_topic(current_user.id)}
    config = app.config
    checks = Checks(app, staff_id, generation, key, config["OMNISTORE_LIVE_STREAM_CHECK_SECONDS"])
    response = Response(
        _events(app, topics, asked, since, checks, config["OMNISTORE_LIVE_STREAM_SECONDS"]),
        mimetype="text/event-stream",
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"  # a proxy passes each event on at once
    return response


class Checks:
    """The stream's session, checked again from time to time (one statement, no connection kept)."""

    def __init__(self, app, staff_id, generation, key, every):
        self.app, self.staff_id, self.generation, self.key, self.every = app, staff_id, generation, key, every
        self.due = time.monotonic() + every

    def holds(self):
        self.due = time.monotonic() + self.every
        with self.app.app_context():
            try:
                found = staff_sessions.times(self.staff_id, self.generation, self.key)
                return found is not None and staff_sessions.verdict(*found, login.limits()) is None
            finally:
                db.session.remove()


def _since(given):
    """The page's render time from `since` (ms since the epoch) in seconds, or None when missing or not a time."""
    if not given or len(given) > 15 or not (given.isascii() and given.isdigit()):
        return None
    return int(given) / 1000


def _events(app, topics, asked, since, checks, lifetime):
    ends = time.monotonic() + lifetime
    with live.subscribed(app, topics) as subscription:
        # The catch-up comes before `ready`, in one write: a page that sees the stream open has already
        # asked for whatever it may have missed, so nothing it fetches afterwards is the opening's.
        missed = since is None or not subscription.hub.caught_up(asked.split(), since)
        catch_up = f"event: change\ndata: {asked}\n\n" if missed else ""
        yield f"retry: {RETRY_MS}\n{catch_up}event: ready\ndata: {asked}\n\n"
        while True:
            now = time.monotonic()
            if now >= ends:
                return  # the browser opens it again (and refreshes once, in case it missed something)
            changed = subscription.get(min(checks.due, ends) - now)
            if any(topic.startswith(("session:", "staff:")) for topic in changed):
                yield "event: end\ndata: signed-out\n\n"
                return
            if changed:
                yield f"event: change\ndata: {' '.join(sorted(changed))}\n\n"
            if time.monotonic() >= checks.due:
                if not checks.holds():
                    yield "event: end\ndata: signed-out\n\n"
                    return
                yield ": still here\n\n"  # a keep-alive: proxies and the browser see the stream alive

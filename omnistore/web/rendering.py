"""The helpers every view uses: one fragment for both paths, and the guard decorators."""

import time
from functools import wraps

from flask import Response, abort, current_app, g, make_response, render_template, request
from flask_login import current_user, login_required

from omnistore.core import csvfile
from omnistore.core.extensions import htmx

__all__ = [
    "LIVE_PARAM",
    "csv_download",
    "is_live_poll",
    "live_poll",
    "live_since",
    "login_required",
    "render_page_or_partial",
    "role_required",
    "wants_fragment",
]

LIVE_PARAM = "v"  # the fingerprint a live panel or queue sends back when it polls


def wants_fragment():
    """A fragment for htmx requests, except boosted navigations and history restores (they need pages)."""
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def render_page_or_partial(page, partial, status_code=200, **context):
    """Render `partial` for an htmx request, else `page` (which includes the same partial)."""
    response = make_response(render_template(partial if wants_fragment() else page, **context), status_code)
    response.vary.add("HX-Request")
    return response


def csv_download(filename, header, rows):
    """A CSV file as a download, written by the one CSV writer in the language's number format."""
    from omnistore.web.i18n import formatting_locale

    return Response(
        csvfile.write(header, rows, locale=formatting_locale()),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


def role_required(*roles):
    """Allow only staff with one of `roles` ("admin" is always allowed); 403 for the rest."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_user.role != "admin" and current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def live_poll(view):
    """Marks a view that open pages poll with the fingerprint they show (?v=…): such a request is the page
    keeping itself up to date, not the clerk at work, so it does not count as activity (web/__init__.py)."""
    view.live_poll = True
    return view


def live_since():
    """When this request began, in ms since the epoch: a live component's data-live-since. Its stream, opened
    later, hears what changed since then (pickups/views/live.py), so the page fetches only if it missed something;
    the start, not the render, because the data was read after it."""
    return int(g.get("request_started_at", time.time()) * 1000)


def live_stream(view):
    """Marks the live stream (pickups/views/live.py): an open page listening for changes, like a poll not the
    clerk at work."""
    view.live_stream = True
    return view


def is_live_poll():
    """Whether this request is a live page's poll (see live_poll) or its stream (live_stream)."""
    if request.method != "GET":
        return False
    view = current_app.view_functions.get(request.endpoint)
    return getattr(view, "live_stream", False) or (LIVE_PARAM in request.args and getattr(view, "live_poll", False))

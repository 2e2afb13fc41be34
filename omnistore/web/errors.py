"""Errors split three ways: JSON for the API, a fragment for htmx, a full page otherwise."""

import logging

from flask import jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError
from werkzeug.exceptions import HTTPException, InternalServerError

from omnistore.core.errors import DomainError
from omnistore.core.extensions import db
from omnistore.web.rendering import wants_fragment

log = logging.getLogger(__name__)

API_PREFIX = "/api/"
# Longest URL the API reads (path and query as sent, in bytes); longer is a JSON 414. Below gunicorn's own
# request-line limit (4094 with the method and protocol), so the app answers before the server would.
MAX_URL_LENGTH = 4000


def _messages():
    return {
        400: _("The request could not be understood."),
        401: _("Please sign in."),
        403: _("You do not have permission to do that."),
        404: _("We could not find that page or record."),
        405: _("That action is not available here."),
        409: _("That clashes with a change made a moment ago. Reload and try again."),
        413: _("That upload is too large."),
        414: _("That address is too long."),
        415: _("That kind of content is not accepted here."),
        422: _("Please check your input."),
        429: _("Too many attempts. Please wait a moment and try again."),
        500: _("Something went wrong on our side. Nothing was changed; please try again."),
    }


JSON_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
    500: "server_error",
}


def error_response(status, message, code=None, **detail):
    """The one place that decides how an error looks to whoever asked."""
    message = str(message)  # services may hand over a lazy (translated) string
    if request.path.startswith(API_PREFIX):
        body = {"error": {"code": code or JSON_CODES.get(status, "error"), "message": message}}
        if detail:
            body["error"].update(detail)
        return jsonify(body), status
    if wants_fragment():
        # Shown in the page's message area, whichever element made the request.
        headers = {"HX-Retarget": "#toasts", "HX-Reswap": "innerHTML"}
        return render_template("errors/_message.html", status=status, message=message), status, headers
    return render_template("errors/error.html", status=status, message=message), status


def register_error_handlers(app):
    @app.errorhandler(CSRFError)
    def _csrf(error):
        return error_response(400, _("Your session form expired. Reload the page and try again."), "csrf")

    @app.errorhandler(DomainError)
    def _domain(error):
        db.session.rollback()
        # A detail named like error_response's own parameters (InvalidTransition's "status") is renamed.
        detail = {
            f"current_{key}" if key in ("status", "message", "code") else key: value
            for key, value in error.detail.items()
        }
        return error_response(error.status, error.message, error.code, **detail)

    @app.errorhandler(DataError)
    def _data_error(error):
        # A value the database cannot hold (a NUL byte, a number out of range) is bad input, not a crash.
        db.session.rollback()
        log.info("refused a value the database cannot store: %s", error.orig)
        return error_response(400, _("The request contains a value that cannot be stored."), "invalid_value")

    @app.errorhandler(HTTPException)
    def _http(error):
        if error.code is None or error.code < 400:
            return error
        message = _messages().get(error.code) or _messages()[400 if error.code < 500 else 500]
        response = error_response(error.code, message)
        if error.code == 405 and hasattr(error, "valid_methods") and error.valid_methods:
            response = app.make_response(response)
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response

    @app.errorhandler(Exception)
    def _unexpected(error):
        db.session.rollback()
        if app.testing and not app.config.get("OMNISTORE_SHOW_ERROR_PAGES"):
            raise error  # tests see the real exception
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, _messages()[500], code="server_error")

    app.register_error_handler(InternalServerError, _unexpected)

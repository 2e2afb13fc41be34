"""A lost database connection costs no one an error page where it need not.

- A read-only request (GET, HEAD) whose connection died (a database restart, `pg_terminate_backend`, a
  failover) is run once more from the start on a fresh connection: SQLAlchemy has invalidated the pool's
  connections by then, so the second run gets a new one. A request that may have written is never re-run;
  it gets the app's error page ("Nothing was changed; please try again") like any other failure.
- The request's reading transaction is ended inside the request (the last after_request step), not in
  teardown: a failure there used to escape Flask after the response was made, and the WSGI server answered
  with its own bare 500 without the app's headers. Only SELECTs ran in that transaction (services own
  their write transactions), so when its COMMIT fails the answer already made stands.
"""

import logging

from flask import Flask, g, request
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from omnistore.core.db import end_reading
from omnistore.core.extensions import db

log = logging.getLogger(__name__)

READ_ONLY = ("GET", "HEAD")
_RETRIED = "omnistore.db_retried"  # in the WSGI environ: this request has been run again once already


class _RunAgain(Exception):
    pass


def lost_connection(error):
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


class App(Flask):
    def handle_user_exception(self, e):
        if lost_connection(e) and request.method in READ_ONLY and not request.environ.get(_RETRIED):
            raise _RunAgain from e
        return super().handle_user_exception(e)

    def full_dispatch_request(self):
        try:
            return super().full_dispatch_request()
        except _RunAgain as again:
            log.warning(
                "database connection lost during %s %s; running it again on a fresh connection",
                request.method,
                request.path,
                exc_info=again.__cause__,
            )
            request.environ[_RETRIED] = True
            _forget_the_connection()
            for name in ("_login_user", "staff_session"):  # loaded through the lost connection
                g.pop(name, None)
            return super().full_dispatch_request()


def _forget_the_connection():
    try:
        db.session.remove()
    except SQLAlchemyError:  # closing a dead connection may complain; it is gone either way
        log.info("closing the lost connection failed", exc_info=True)


def end_reading_in_request(response):
    """after_request (registered first, so it runs last): end the reading transaction while the app can
    still answer; see the module's docstring."""
    try:
        end_reading()
    except SQLAlchemyError:
        log.warning("ending the reading transaction failed (connection lost?); the answer stands", exc_info=True)
        _forget_the_connection()
    return response


def close_session_quietly(_error=None):
    """teardown: nothing of the response depends on it any more, so a failure is logged, not raised."""
    _forget_the_connection()

"""Forms a tablet may send again: an `Idempotency-Key` header makes a second delivery apply nothing.

A tablet that lost the Wi-Fi keeps some forms in its queue (static/js/offline.js) and sends them when the
connection is back; a form whose answer never came is sent again the same way. Each carries the key it was
given when the clerk tapped. The view marked `@replay_safe` runs inside one transaction that first claims
the key (a `FormSubmission` row, unique on the key's hash per staff member): a second request with the same
key — later, or at the same moment from another connection — finds the claim and is answered "already
done" (200, `Idempotent-Replayed: true`, no body) without running the view. A view that refuses (4xx) or
fails rolls back with its claim, so a corrected form can be sent under the same key. Without the header a
view runs as before.
"""

from functools import wraps

from flask import current_app, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from omnistore.core import idempotency
from omnistore.core.db import transaction
from omnistore.core.errors import ValidationFailed
from omnistore.core.extensions import db

HEADER = "Idempotency-Key"


class _Refused(Exception):
    """The view answered with an error: roll back the claim with whatever the view wrote."""

    def __init__(self, response):
        self.response = response


def _replayed(earlier):
    response = current_app.make_response(("", 200))
    response.headers["Idempotent-Replayed"] = "true"
    response.headers["X-Submission-Status"] = str(earlier.status_code)
    return response


def replay_safe(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        raw = request.headers.get(HEADER)
        if raw is None or not current_user.is_authenticated:
            return view(*args, **kwargs)
        try:
            key = idempotency.scoped_key(raw.strip(), staff=current_user)
        except ValidationFailed as failure:
            return f"{failure.message} {failure.fields['idempotency_key']}", 422, {"Content-Type": "text/plain"}
        if key is None:
            return _("Send an Idempotency-Key with 1 to 150 visible characters, or none."), 422
        earlier = idempotency.submitted(key)
        if earlier is not None:
            return _replayed(earlier)
        staff_id, endpoint = current_user.id, (request.endpoint or "")[:100]
        try:
            with transaction() as session:
                claim = idempotency.FormSubmission(key_hash=key, staff_id=staff_id, endpoint=endpoint, status_code=0)
                session.add(claim)
                session.flush()  # the claim first: the same key at the same moment waits here, then fails
                response = current_app.make_response(view(*args, **kwargs))
                if response.status_code >= 400:
                    raise _Refused(response)
                claim.status_code = response.status_code
        except _Refused as refused:
            return refused.response
        except IntegrityError:  # another request with this key committed first
            db.session.rollback()
            earlier = idempotency.submitted(key)
            if earlier is None:
                raise
            return _replayed(earlier)
        return response

    return wrapper

"""Idempotency keys: a request sent again with the same key applies nothing twice.

The rule for a key (1 to 150 visible ASCII characters), scoped to who sends it (a staff member or an API
client) and stored only as its SHA-256: a client may put anything in a key, personal data too, and the hash
still finds the earlier request again. Placing an order keeps the hash on the order (orders/placing.py);
the staff's forms that a tablet may send again after a lost connection (web/replay.py) keep it here, in a
`FormSubmission` row written in the same transaction as the change itself.
"""

import hashlib
import re
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import BigInteger, ForeignKey, Integer, SmallInteger, String, delete
from sqlalchemy.orm import Mapped, mapped_column

from omnistore.core.errors import ValidationFailed
from omnistore.core.extensions import db
from omnistore.core.types import UTCDateTime, utcnow

IDEMPOTENCY_KEY_MAX = 150
_KEY_CHARS = re.compile(r"[\x21-\x7e]+")
KEPT_FOR = timedelta(days=30)  # a tablet offline for longer than this has bigger problems than a replay


def scoped_key(idempotency_key, *, staff=None, api_client=None):
    """The stored form of a client's key (None for no key), or ValidationFailed for a key out of shape."""
    if idempotency_key in (None, ""):
        return None
    if (
        not isinstance(idempotency_key, str)
        or len(idempotency_key) > IDEMPOTENCY_KEY_MAX
        or not _KEY_CHARS.fullmatch(idempotency_key)
    ):
        raise ValidationFailed(
            _("The idempotency key is not valid."),
            {"idempotency_key": _("Use 1 to %(max)d visible ASCII characters.", max=IDEMPOTENCY_KEY_MAX)},
        )
    if api_client is not None:
        scoped = f"api:{api_client.id}:{idempotency_key}"
    elif staff is not None:
        scoped = f"staff:{staff.id}:{idempotency_key}"
    else:
        scoped = f"any:{idempotency_key}"
    return hash_key(scoped)


def hash_key(scoped_key):
    """What is stored of an idempotency key: its SHA-256."""
    return hashlib.sha256(scoped_key.encode()).hexdigest()


class FormSubmission(db.Model):
    """A staff form that was applied under an idempotency key: the key's hash, who, where, and the answer's
    status. No body is kept (it would copy personal data); a replay is answered from the status alone."""

    __tablename__ = "form_submission"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    endpoint: Mapped[str] = mapped_column(String(100))
    status_code: Mapped[int] = mapped_column(SmallInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


def submitted(key_hash):
    """The earlier submission under this key, or None."""
    return db.session.scalar(db.select(FormSubmission).where(FormSubmission.key_hash == key_hash))


def forget_old(now=None):
    """Delete submissions older than KEPT_FOR; returns how many. Safe to run at any time, concurrently too."""
    from omnistore.core.db import transaction

    cutoff = (now or utcnow()) - KEPT_FOR
    with transaction() as session:
        return session.execute(delete(FormSubmission).where(FormSubmission.created_at < cutoff)).rowcount

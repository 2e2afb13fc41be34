"""Staff logins and API clients: creation, authentication, roles and store scope."""
import hashlib
import re
import secrets
from datetime import timedelta
from functools import cache

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm.attributes import set_committed_value
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db
from ..models import ApiClient, Location, Staff
from ..models._types import utcnow
from ..models.staff import LOCALES, ROLES
from . import audit, staff_sessions
from .db import transaction
from .errors import Conflict, NotFound, ValidationFailed

MIN_PASSWORD_LENGTH = 8
LAST_USED_RESOLUTION = timedelta(minutes=1)  # an API client's last_used_at is written at most this often
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@cache
def _dummy_hash():
    """Checked when the email is unknown too, so a login takes as long whether or not the account exists."""
    return generate_password_hash("not-a-password")


def normalise_email(email):
    return (email or "").strip().lower()


def create_staff(email, *, role, location_code, password, name="", locale="en"):
    email = normalise_email(email)
    errors = {}
    if not EMAIL_RE.match(email) or len(email) > 254:
        errors["email"] = "Enter a valid email address."
    if role not in ROLES:
        errors["role"] = f"Role must be one of: {', '.join(ROLES)}."
    if len(password or "") < MIN_PASSWORD_LENGTH:
        errors["password"] = f"The password needs at least {MIN_PASSWORD_LENGTH} characters."
    if locale not in LOCALES:
        errors["locale"] = f"Language must be one of: {', '.join(LOCALES)}."
    with transaction() as session:
        location = session.scalar(select(Location).where(Location.code == (location_code or "").upper()))
        if location is None:
            errors["location"] = f"No location with code {location_code!r}."
        if errors:
            raise ValidationFailed("The staff member could not be created.", errors)
        if session.scalar(select(Staff.id).where(Staff.email == email)):
            raise Conflict(f"A staff member with email {email} exists already.")
        staff = Staff(
            email=email, name=name.strip() or email.split("@")[0], role=role, location=location,
            password_hash=generate_password_hash(password), locale=locale,
        )
        session.add(staff)
        session.flush()
        audit.record("staff.created", entity=staff, location_id=location.id, role=role)
    return staff


def authenticate(email, password):
    """The active staff member with these credentials, or None. Records the attempt either way."""
    email = normalise_email(email)[:254]
    staff = db.session.scalar(select(Staff).where(Staff.email == email)) if email else None
    ok = check_password_hash(staff.password_hash if staff else _dummy_hash(), password or "")
    with transaction():
        if staff is not None and ok and staff.active:
            staff.last_login_at = utcnow()
            audit.record("staff.login", entity=staff, staff=staff)
            return staff
        audit.record("staff.login_failed", entity=("staff", staff.id if staff else ""), email=email)
    return None


def set_locale(staff, locale):
    if locale not in LOCALES:
        raise ValidationFailed("Unknown language.", {"locale": "Unknown language."})
    with transaction():
        staff = db.session.merge(staff)
        staff.locale = locale
    return staff


def disable_staff(email):
    with transaction() as session:
        staff = session.scalar(select(Staff).where(Staff.email == normalise_email(email)))
        if staff is None:
            raise NotFound(f"No staff member with email {email}.")
        staff.active = False
        staff.session_generation += 1  # ends every open session
        staff_sessions.end_all(staff.id)
        audit.record("staff.disabled", entity=staff, location_id=staff.location_id)
    return staff


def list_staff():
    return db.session.scalars(select(Staff).order_by(Staff.location_id, Staff.role, Staff.email)).all()


def can_act_at(staff, location_id):
    """A clerk or manager acts at their own location; an admin anywhere."""
    return staff.is_admin or staff.location_id == location_id


# --- API clients ---------------------------------------------------------------------------------

def _hash_token(token):
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_client(name):
    """Create a client and return (client, token). The token is shown once; only its hash is kept."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationFailed("Give the integration a name of 1 to 100 characters.", {"name": "Required."})
    token = "os_" + secrets.token_urlsafe(32)
    with transaction() as session:
        if session.scalar(select(ApiClient.id).where(func.lower(ApiClient.name) == name.lower())):
            raise Conflict(f"An API client named {name!r} exists already.")
        client = ApiClient(name=name, token_hash=_hash_token(token), token_prefix=token[:10])
        session.add(client)
        session.flush()
        audit.record("api_client.created", entity=client, api_client=client)
    return client, token


def authenticate_api_token(token):
    if not token or len(token) > 200:
        return None
    client = db.session.scalar(select(ApiClient).where(ApiClient.token_hash == _hash_token(token)))
    return client if client is not None and client.active else None


def note_api_client_use(client):
    """Keep last_used_at roughly current without a write on every request (one per client and minute).

    The UPDATE is conditional, so several app processes do not each write within the same minute.
    """
    now = utcnow()
    if client.last_used_at is not None and now - client.last_used_at < LAST_USED_RESOLUTION:
        return
    with transaction() as session:
        session.execute(
            update(ApiClient)
            .where(ApiClient.id == client.id,
                   or_(ApiClient.last_used_at.is_(None), ApiClient.last_used_at < now - LAST_USED_RESOLUTION))
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )
    # Mirror the stored value without marking the object dirty (no second UPDATE at the next flush).
    set_committed_value(client, "last_used_at", now)


def revoke_api_client(name):
    with transaction() as session:
        client = session.scalar(select(ApiClient).where(ApiClient.name == name))
        if client is None:
            raise NotFound(f"No API client named {name!r}.")
        client.active = False
        audit.record("api_client.revoked", entity=client)
    return client

"""Staff logins and API clients: creation, authentication, roles and store scope."""

import hashlib
import re
import secrets
from datetime import timedelta
from functools import cache

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm.attributes import set_committed_value
from werkzeug.security import check_password_hash, generate_password_hash

from omnistore.core import audit
from omnistore.core.channels import CHANNELS
from omnistore.core.db import transaction
from omnistore.core.errors import Conflict, ForbiddenScope, NotFound, ReadOnlyClient, ValidationFailed
from omnistore.core.extensions import db
from omnistore.core.types import utcnow
from omnistore.stores import sessions as staff_sessions
from omnistore.stores.models import DEFAULT_API_CHANNELS, LOCALES, ROLES, ApiClient, Location, Staff

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
            email=email,
            name=name.strip() or email.split("@")[0],
            role=role,
            location=location,
            password_hash=generate_password_hash(password),
            locale=locale,
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


def create_api_client(name, *, channels=DEFAULT_API_CHANNELS, stores=None, read_only=False, all_status_urls=False):
    """Create a client and return (client, token). The token is shown once; only its hash is kept.

    Scope: `channels` (order channels it may read and act on; default the web shop's own), `stores`
    (location codes; None for the whole network), `read_only`, and `all_status_urls` (see the status URL
    of in-scope orders other clients or the counter placed, not only its own).
    """
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationFailed("Give the integration a name of 1 to 100 characters.", {"name": "Required."})
    channels = sorted({str(channel).strip().lower() for channel in channels})
    unknown = [channel for channel in channels if channel not in CHANNELS]
    if not channels or unknown:
        raise ValidationFailed(f"Channels must be some of {', '.join(CHANNELS)}.", {"channels": "Not known."})
    token = "os_" + secrets.token_urlsafe(32)
    with transaction() as session:
        if stores is not None:
            stores = sorted({str(code).strip().upper() for code in stores})
            known = set(session.scalars(select(Location.code).where(Location.code.in_(stores))))
            if not stores or set(stores) - known:
                raise ValidationFailed(
                    f"No location with the code {', '.join(sorted(set(stores) - known))}.", {"stores": "Not known."}
                )
        if session.scalar(select(ApiClient.id).where(func.lower(ApiClient.name) == name.lower())):
            raise Conflict(f"An API client named {name!r} exists already.")
        client = ApiClient(
            name=name,
            token_hash=_hash_token(token),
            token_prefix=token[:10],
            channels=channels,
            stores=stores,
            read_only=bool(read_only),
            all_status_urls=bool(all_status_urls),
        )
        session.add(client)
        session.flush()
        audit.record(
            "api_client.created",
            entity=client,
            api_client=client,
            channels=channels,
            stores=stores,
            read_only=bool(read_only),
            all_status_urls=bool(all_status_urls),
        )
    return client, token


# --- API scope: the one owner of what a token may see and do ------------------------------------------
# Reads outside the scope are "not found" (so order numbers cannot be probed); writes to a forbidden store
# or channel are refused with ForbiddenScope, any write by a read-only client with ReadOnlyClient.


def api_store_in_scope(client, location_code):
    """May `client` read and act on the location with this code? (None: a network-wide record.)"""
    if client.stores is None:
        return True
    return location_code is not None and location_code.upper() in client.stores


def api_order_store(order):
    """The store an order belongs to: its pickup store, else the store that sold it; None for a web delivery."""
    location = order.pickup_location if order.fulfilment == "pickup" else order.origin_location
    return location.code if location is not None else None


def api_order_in_scope(client, order):
    """Its own orders always; others when both the channel and the store are in the client's scope."""
    if order.placed_by_api_client_id == client.id:
        return True
    return order.channel in (client.channels or ()) and api_store_in_scope(client, api_order_store(order))


def api_sees_status_url(client, order):
    """The status URL is the customer's QR credential: only for the client that placed the order, or one
    explicitly allowed to see those of every in-scope order."""
    return order.placed_by_api_client_id == client.id or bool(client.all_status_urls)


def require_api_write(client):
    if client.read_only:
        raise ReadOnlyClient("This API token may only read.")


def require_api_network(client):
    """Network-wide writes (the catalogue) need a token not limited to some stores."""
    require_api_write(client)
    if client.stores is not None:
        raise ForbiddenScope("This API token is limited to some stores; the catalogue is the whole network's.")


def require_api_order_scope(client, *, channel, fulfilment, pickup_location_code):
    """May `client` place an order on this channel for this store? ForbiddenScope otherwise."""
    require_api_write(client)
    if channel not in (client.channels or ()):
        raise ForbiddenScope(f"This API token may not place {channel} orders.", channel=channel)
    if fulfilment == "delivery" and client.stores is not None:
        raise ForbiddenScope("This API token is limited to some stores: it may place pickup orders there only.")
    if fulfilment == "pickup" and not api_store_in_scope(client, pickup_location_code):
        raise ForbiddenScope("This API token may not place orders for that pickup store.")


def list_api_clients():
    return db.session.scalars(select(ApiClient).order_by(ApiClient.name)).all()


def describe_api_scope(client):
    """One line for operators: what the token may see and do."""
    stores = ", ".join(client.stores) if client.stores is not None else "every store"
    access = "read-only" if client.read_only else "read-write"
    urls = "every status URL in scope" if client.all_status_urls else "status URLs of its own orders"
    return f"channels {', '.join(client.channels)}; {stores}; {access}; {urls}"


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
            .where(
                ApiClient.id == client.id,
                or_(ApiClient.last_used_at.is_(None), ApiClient.last_used_at < now - LAST_USED_RESOLUTION),
            )
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

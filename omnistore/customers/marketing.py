"""The one consent gate every marketing e-mail passes: `send(customer, MarketingEmail(...))`.

A marketing e-mail is anything the customer did not ask for by buying (a follow-up after a purchase, a clerk's
outreach, "available near you"); the e-mails about an order itself are transactional and live in
orders/notifications.py. Every marketing path names a **kind** registered here (`register_kind`), and calls
`send`, which, under the customer's row lock (the same lock an edit, an erase or a merge takes):

1. checks the consent in force for the kind's channel (`services.current_consents`, read afresh): no consent on
   record, or a withdrawn one, sends nothing;
2. applies the kind's frequency cap (so many per customer per period, per key where the kind says so: a variant,
   an order), counted over the `MarketingSend` rows written under this same lock — two senders at once cannot
   both pass;
3. renders templates/emails/marketing/<template>.{txt,html} in the customer's language, with a one-tap
   unsubscribe link at the foot, and queues it through the outbox (core/outbox.py) in the caller's transaction.

The unsubscribe link carries the send's own token (192 random bits, stored, so it is revoked by erasure and
never names the customer); `unsubscribe(token)` records a withdrawal of the channel's consent as a Consent row
(a consent change, audited) the first time, and answers the same confirmation when replayed.

No other module queues a marketing e-mail: tests/services/test_marketing_sweep.py checks that only
orders/notifications.py and this module call `outbox.enqueue_email`, and sweeps every registered kind.
"""

import re
import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from omnistore.core import audit
from omnistore.core.db import transaction
from omnistore.core.errors import NotFound
from omnistore.core.extensions import db
from omnistore.core.outbox import enqueue_email
from omnistore.core.public_url import public_url
from omnistore.core.types import utcnow
from omnistore.customers.models import CONSENT_CHANNELS, CUSTOMER_LOCALES, Consent, Customer, MarketingSend
from omnistore.customers.services import current_consents, lock_customer

TOPIC_PREFIX = "marketing."
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True)
class Cap:
    """At most `count` e-mails of a kind per customer within `period` (per key when the kind counts by key)."""

    count: int
    period: timedelta


@dataclass(frozen=True)
class MarketingKind:
    name: str  # the outbox topic is "marketing.<name>"
    label: object  # what the kind is, for people (lazy string)
    channel: str = "email"  # the consent it needs
    cap: object = None  # a function of the app config returning a Cap, or None: no cap
    per_key: bool = False  # the cap counts per (customer, kind, key) instead of per (customer, kind)


KINDS: dict[str, MarketingKind] = {}


def register_kind(kind: MarketingKind) -> MarketingKind:
    """Declare a marketing path (at import of the module that sends it). The sweep test enumerates these."""
    if kind.channel not in CONSENT_CHANNELS:
        raise ValueError(f"unknown consent channel {kind.channel!r}")
    if KINDS.get(kind.name, kind) != kind:
        raise ValueError(f"marketing kind {kind.name!r} registered twice")
    KINDS[kind.name] = kind
    return kind


@dataclass
class MarketingEmail:
    kind: str
    template: str  # templates/emails/marketing/<template>.{txt,html}
    subject: object  # a (lazy) string, rendered in the customer's language
    context: dict = field(default_factory=dict)
    key: str = ""  # what a per-key cap counts by
    staff: object = None  # who sent it (outreach), for the timeline and the figures
    location: object = None  # the store it comes from (its name heads the e-mail)
    detail: dict = field(default_factory=dict)  # kept on the send: what it carried (export shows it)


@dataclass(frozen=True)
class Outcome:
    """What the gate decided: `sent` (with the send and its outbox message) or why not."""

    reason: str  # "sent", "no_consent", "no_address", "capped", "inactive"
    send: MarketingSend | None = None

    @property
    def sent(self):
        return self.reason == "sent"


def new_token():
    """A link's credential: 192 random bits, URL-safe (the pickup QR's strength)."""
    return secrets.token_urlsafe(24)


def well_formed(token) -> bool:
    """What a token from a link may look like before the database is asked (no NUL, no huge string)."""
    return isinstance(token, str) and TOKEN_PATTERN.fullmatch(token) is not None


def unsubscribe_url(token) -> str:
    return f"{public_url()}/m/{token}/unsubscribe"


def customer_locale(customer) -> str:
    return customer.locale if customer.locale in CUSTOMER_LOCALES else "en"


def consent_in_force(customer, channel) -> bool:
    """Whether the newest consent on record for `channel` is a grant (read afresh from the database)."""
    if customer.id is not None and customer in db.session:
        db.session.expire(customer, ["consents"])
    return bool(current_consents(customer).get(channel, {}).get("granted"))


def _capped(session, customer_id, kind, key, now):
    cap = kind.cap(current_app.config) if kind.cap is not None else None
    if cap is None:
        return False
    if cap.count <= 0:
        return True
    query = select(func.count(MarketingSend.id)).where(
        MarketingSend.customer_id == customer_id,
        MarketingSend.kind == kind.name,
        MarketingSend.created_at > now - cap.period,
    )
    if kind.per_key:
        query = query.where(MarketingSend.key == key)
    return session.scalar(query) >= cap.count


def send(customer, email: MarketingEmail, *, now=None) -> Outcome:
    """Queue `email` to `customer` if the consent for its kind's channel is in force and its cap allows it;
    in the caller's transaction (or one of its own). Returns the Outcome; never raises for a refusal."""
    kind = KINDS[email.kind]
    now = now or utcnow()
    with transaction() as session:
        customer = lock_customer(session, customer.id)
        if customer is None or not customer.active:
            return Outcome("inactive")
        if kind.channel != "email" or not customer.email:
            return Outcome("no_address")
        if not consent_in_force(customer, kind.channel):
            return Outcome("no_consent")
        if _capped(session, customer.id, kind, email.key, now):
            return Outcome("capped")
        record = MarketingSend(
            customer_id=customer.id,
            kind=kind.name,
            key=str(email.key)[:64],
            token=new_token(),
            staff_id=email.staff.id if email.staff is not None else None,
            location_id=email.location.id if email.location is not None else None,
            detail=email.detail,
            created_at=now,
        )
        session.add(record)
        locale = customer_locale(customer)
        context = {
            "locale": locale,
            "first_name": customer.first_name,
            "store": email.location,
            "unsubscribe_url": unsubscribe_url(record.token),
            **email.context,
        }
        with force_locale(locale):
            subject = context["subject"] = str(email.subject)
            text = render_template(f"emails/marketing/{email.template}.txt", **context)
            html = render_template(f"emails/marketing/{email.template}.html", **context)
        message = enqueue_email(
            TOPIC_PREFIX + kind.name,
            to=customer.email,
            subject=subject,
            text=text,
            html=html,
            customer_id=customer.id,
            locale=locale,
            marketing_kind=kind.name,
        )
        session.flush()
        record.outbox_message_id = message.id
    return Outcome("sent", record)


@dataclass(frozen=True)
class Unsubscribed:
    locale: str
    channel: str
    first_time: bool  # False when the link was used before (a replay changes nothing)


def unsubscribe(token, *, now=None) -> Unsubscribed:
    """The one-tap link: withdraw the consent of the send's channel (a Consent row, audited) the first time the
    link is used; a replay, or a link to a profile erased since, changes nothing and answers the same."""
    token = token if well_formed(token) else None
    now = now or utcnow()
    with transaction() as session:
        record = session.scalar(select(MarketingSend).where(MarketingSend.token == token)) if token else None
        if record is None:
            raise NotFound(_l("This link is no longer valid."))
        kind = KINDS.get(record.kind)
        channel = kind.channel if kind is not None else "email"
        customer = lock_customer(session, record.customer_id)
        claimed = session.execute(
            update(MarketingSend)
            .where(MarketingSend.id == record.id, MarketingSend.unsubscribed_at.is_(None))
            .values(unsubscribed_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        locale = customer_locale(customer) if customer is not None else "en"
        if claimed and customer is not None and customer.active and consent_in_force(customer, channel):
            session.add(
                Consent(customer_id=customer.id, channel=channel, granted=False, source_channel="web", recorded_at=now)
            )
            audit.record(
                "customer.consent",
                entity=customer,
                channel=channel,
                granted=False,
                via="unsubscribe",
                kind=record.kind,
            )
    return Unsubscribed(locale=locale, channel=channel, first_time=bool(claimed))


def sends_of(customer_ids, *, kind=None):
    """The sends to these customers, newest first (the profile's timeline, the export)."""
    query = select(MarketingSend).where(MarketingSend.customer_id.in_(list(customer_ids)))
    if kind is not None:
        query = query.where(MarketingSend.kind == kind)
    return db.session.scalars(query.order_by(MarketingSend.created_at.desc(), MarketingSend.id.desc())).all()


def locale_of_token(token):
    """The language of the customer a token was sent to (the confirmation page is written in it), or None."""
    if not well_formed(token):
        return None
    customer = db.session.scalar(
        select(Customer)
        .join(MarketingSend, MarketingSend.customer_id == Customer.id)
        .where(MarketingSend.token == token)
    )
    return customer_locale(customer) if customer is not None else None

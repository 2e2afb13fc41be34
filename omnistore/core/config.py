"""Settings from the environment (OMNISTORE_*), with sane defaults for a laptop."""

import os
import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent  # omnistore/
ROOT = PACKAGE.parent
INSTANCE = ROOT / "instance"


class SettingError(ValueError):
    """A setting in the environment that cannot be used: the app refuses to start and says which and why."""


def _env(name, default=None):
    return os.environ.get(f"OMNISTORE_{name}", default)


# --- typed parsing: each turns the environment's text into the value, or raises ValueError with what it expects --


def text(value):
    return value


def boolean(value):
    word = str(value).strip().lower()
    if word in {"1", "true", "yes", "on"}:
        return True
    if word in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError("expected on or off (1/0, true/false, yes/no)")


def integer(minimum=None):
    def parse(value):
        word = str(value).strip()
        if not (word.isascii() and word.lstrip("-").isdigit()):
            raise ValueError("expected a whole number")
        number = int(word)
        if minimum is not None and number < minimum:
            raise ValueError(f"expected a whole number of at least {minimum}")
        return number

    return parse


def number(minimum=0.0):
    def parse(value):
        word = str(value).strip()
        try:
            result = float(word) if word.isascii() and "_" not in word else None
        except ValueError:
            result = None
        if result is None or result != result or result in (float("inf"), float("-inf")):
            raise ValueError("expected a number")
        if result < minimum:
            raise ValueError(f"expected a number of at least {minimum:g}")
        return result

    return parse


def rate_limit(value):
    """ "10 per minute" as Flask-Limiter reads it."""
    from limits import parse_many

    try:
        parse_many(value)
    except ValueError:
        raise ValueError("expected a rate such as '10 per minute'") from None
    return value


def url(value):
    value = str(value).strip().rstrip("/")
    if value and not value.startswith(("http://", "https://")):
        raise ValueError("expected an address starting with http:// or https://")
    return value


def countries(value):
    """ "DE,DK" → ("DE", "DK"): ISO 3166 alpha-2 codes."""
    codes = tuple(code.strip().upper() for code in str(value).split(",") if code.strip())
    if not codes or not all(len(code) == 2 and code.isascii() and code.isalpha() for code in codes):
        raise ValueError("expected country codes separated by commas, such as 'DE,DK'")
    return codes


def transfer_days(value):
    """ "50:1,400:2,*:3" → ((50.0, 1), (400.0, 2), (None, 3)): days by distance in km, `*` beyond."""
    steps = []
    try:
        for part in str(value).split(","):
            limit, sep, days = part.strip().partition(":")
            if not sep:
                raise ValueError
            steps.append((None if limit.strip() == "*" else number()(limit), integer(0)(days)))
    except ValueError:
        steps = []
    if not steps or steps[-1][0] is not None or any(limit is None for limit, _days in steps[:-1]):
        raise ValueError("expected km:days steps ending with '*:<days>', such as '50:1,400:2,*:3'")
    return tuple(steps)


@dataclass(frozen=True)
class Setting:
    name: str  # the environment variable, without OMNISTORE_
    key: str  # the key in app.config
    parse: object
    default: str | None  # as it would be written in the environment


# Every setting the README documents, read one way. Special cases (database, secret key, auto setup) follow.
SETTINGS = (
    # The market today's data moved into (stores/markets.py), and its currency when the migration made it; the
    # currency of every other market, and of this one afterwards, is the market's own.
    Setting("DEFAULT_MARKET", "OMNISTORE_DEFAULT_MARKET", text, "DE"),
    Setting("CURRENCY", "OMNISTORE_CURRENCY", text, "EUR"),
    Setting("LOW_STOCK_THRESHOLD", "OMNISTORE_LOW_STOCK_THRESHOLD", integer(0), "2"),
    Setting("LIVE_REFRESH_SECONDS", "OMNISTORE_LIVE_REFRESH_SECONDS", number(0.5), "3"),
    Setting("PICKUP_QUEUE_REFRESH_SECONDS", "OMNISTORE_PICKUP_QUEUE_REFRESH_SECONDS", number(0.5), "2"),
    # Push (core/live.py): open panels and desks hear of changes on a stream and fetch only then, where the server
    # holds streams (gunicorn's gevent worker, PostgreSQL); their poll is the fallback. A stream is closed and
    # opened again after LIVE_STREAM_SECONDS, its session is checked again every LIVE_STREAM_CHECK_SECONDS (a
    # sign-out ends it at once), and while it is open the page still refreshes every LIVE_PUSH_REFRESH_SECONDS.
    Setting("LIVE_PUSH", "OMNISTORE_LIVE_PUSH", boolean, "1"),
    Setting("LIVE_STREAM_SECONDS", "OMNISTORE_LIVE_STREAM_SECONDS", number(1), "300"),
    Setting("LIVE_STREAM_CHECK_SECONDS", "OMNISTORE_LIVE_STREAM_CHECK_SECONDS", number(0.1), "30"),
    Setting("LIVE_PUSH_REFRESH_SECONDS", "OMNISTORE_LIVE_PUSH_REFRESH_SECONDS", number(1), "60"),
    # Wrong short codes tolerated per clerk and per store within the window (counted in the audit trail).
    Setting("PICKUP_CODE_ATTEMPTS_PER_CLERK", "OMNISTORE_PICKUP_CODE_ATTEMPTS_PER_CLERK", integer(1), "5"),
    Setting("PICKUP_CODE_ATTEMPTS_PER_STORE", "OMNISTORE_PICKUP_CODE_ATTEMPTS_PER_STORE", integer(1), "20"),
    Setting("PICKUP_CODE_WINDOW_SECONDS", "OMNISTORE_PICKUP_CODE_WINDOW_SECONDS", integer(1), "600"),
    Setting("IDLE_TIMEOUT_MINUTES", "OMNISTORE_IDLE_TIMEOUT_MINUTES", number(0.05), "30"),
    # An open pickup desk's visible queue keeps its session open this long after sign-in (a shift).
    Setting("DESK_SESSION_HOURS", "OMNISTORE_DESK_SESSION_HOURS", number(0), "10"),
    Setting("RATELIMIT_STORAGE_URI", "RATELIMIT_STORAGE_URI", text, "memory://"),
    # Failed sign-ins: per address and account, and per address (any account). Never per account alone,
    # or anyone could lock a clerk out of the desk.
    Setting("LOGIN_RATE_LIMIT", "OMNISTORE_LOGIN_RATE_LIMIT", rate_limit, "10 per minute"),
    Setting("LOGIN_ADDRESS_RATE_LIMIT", "OMNISTORE_LOGIN_ADDRESS_RATE_LIMIT", rate_limit, "30 per minute"),
    # Every sign-in POST per address, counted before the password is checked: the failure limits above are
    # counted after the answer, so parallel guesses would all pass them; this one caps those too.
    Setting("LOGIN_REQUEST_RATE_LIMIT", "OMNISTORE_LOGIN_REQUEST_RATE_LIMIT", rate_limit, "60 per minute"),
    # Proxy hops in front of the app whose X-Forwarded-For/-Proto are trusted (0: none, the app faces clients).
    # Behind the TLS proxy set 1, or every client has the proxy's address and shares one sign-in throttle.
    Setting("TRUSTED_PROXIES", "OMNISTORE_TRUSTED_PROXIES", integer(0), "0"),
    # Database connections each web process keeps open (PostgreSQL), and how many more it may open at a peak (closed
    # again when returned). A gevent worker serves hundreds of tablets at once: a pool smaller than what it has in
    # flight means connections opened and closed all day, a PostgreSQL backend started for each.
    Setting("DB_POOL_SIZE", "OMNISTORE_DB_POOL_SIZE", integer(1), "20"),
    Setting("DB_POOL_OVERFLOW", "OMNISTORE_DB_POOL_OVERFLOW", integer(0), "10"),
    Setting("API_RATE_LIMIT", "OMNISTORE_API_RATE_LIMIT", rate_limit, "600 per minute"),
    # The customer's order page (/o/<token>), per address: every request, and its actions (POSTs).
    Setting("PUBLIC_RATE_LIMIT", "OMNISTORE_PUBLIC_RATE_LIMIT", rate_limit, "120 per minute"),
    Setting("PUBLIC_ACTION_RATE_LIMIT", "OMNISTORE_PUBLIC_ACTION_RATE_LIMIT", rate_limit, "20 per minute"),
    # How often an open order page asks whether the order moved on (it reloads itself when it did).
    Setting("PUBLIC_REFRESH_SECONDS", "OMNISTORE_PUBLIC_REFRESH_SECONDS", integer(1), "15"),
    Setting("SECURE_COOKIES", "SESSION_COOKIE_SECURE", boolean, "0"),
    Setting("URL_SCHEME", "PREFERRED_URL_SCHEME", text, "http"),
    # Where customers reach the app from their phones: the base of the status links in emails and QR codes.
    Setting("PUBLIC_URL", "OMNISTORE_PUBLIC_URL", url, "http://127.0.0.1:5000"),
    # Ordering: counter holds, promised days, delivery fees and countries (orders/drafts, orders/placing,
    # orders/sourcing).
    # Counts (stock/counts.py): a variance goes to the manager when it is more than this many units, or more
    # than this percentage of the expected figure.
    Setting("COUNT_VARIANCE_UNITS", "OMNISTORE_COUNT_VARIANCE_UNITS", integer(0), "2"),
    Setting("COUNT_VARIANCE_PERCENT", "OMNISTORE_COUNT_VARIANCE_PERCENT", integer(0), "10"),
    Setting("HOLD_MINUTES", "OMNISTORE_HOLD_MINUTES", integer(1), "15"),
    Setting("TRANSFER_DAYS", "OMNISTORE_TRANSFER_DAYS", transfer_days, "50:1,400:2,*:3"),
    Setting("DELIVERY_DAYS", "OMNISTORE_DELIVERY_DAYS", integer(0), "2"),
    # The default market's delivery terms when the markets migration makes it; afterwards each market's own.
    Setting("SHIPPING_FEE_MINOR", "OMNISTORE_SHIPPING_FEE_MINOR", integer(0), "495"),
    Setting("FREE_SHIPPING_FROM_MINOR", "OMNISTORE_FREE_SHIPPING_FROM_MINOR", integer(0), "5000"),
    Setting("DELIVERY_COUNTRIES", "OMNISTORE_DELIVERY_COUNTRIES", countries, "DE,DK"),
    # Rejections at pick time (orders/rejecting.py): how long the rejecting store is not sourced for that
    # variant, and how long a pickup customer has to choose before the default (wait for a transfer) applies.
    Setting("REJECTION_EXCLUDE_HOURS", "OMNISTORE_REJECTION_EXCLUDE_HOURS", number(0), "72"),
    Setting("REJECTION_CHOICE_HOURS", "OMNISTORE_REJECTION_CHOICE_HOURS", number(0), "24"),
    # Pick deadlines (orders/pick_deadlines.py): opening hours a store has to pick what it was asked for; later
    # it is flagged on its lists, the desk and the manager's rejections page.
    Setting("PICK_HOURS", "OMNISTORE_PICK_HOURS", number(0.25), "4"),
    # Returns (returns/window.py): days after collection or delivery a customer may bring goods back, for the
    # whole network. Purchases made at a distance (web, app, phone) always get at least the legal 14 days.
    Setting("RETURN_WINDOW_DAYS", "OMNISTORE_RETURN_WINDOW_DAYS", integer(1), "30"),
    # Lifecycle stages (clienteling/lifecycle.py): loyal from this many orders within this many months (or a
    # loyalty tier above basic); at risk when a buyer is silent (no order, no visit) longer than their usual
    # rhythm × the factor (at least the floor), or longer than the at-risk days, whichever comes first; lapsed
    # when silent longer than the lapsed days.
    Setting("LOYAL_ORDERS", "OMNISTORE_LOYAL_ORDERS", integer(1), "3"),
    Setting("LOYAL_MONTHS", "OMNISTORE_LOYAL_MONTHS", integer(1), "12"),
    Setting("AT_RISK_DAYS", "OMNISTORE_AT_RISK_DAYS", integer(1), "120"),
    Setting("AT_RISK_RHYTHM_FACTOR", "OMNISTORE_AT_RISK_RHYTHM_FACTOR", number(1.0), "2"),
    Setting("AT_RISK_FLOOR_DAYS", "OMNISTORE_AT_RISK_FLOOR_DAYS", integer(1), "30"),
    Setting("LAPSED_DAYS", "OMNISTORE_LAPSED_DAYS", integer(1), "365"),
    # Loyalty rewards (offers/services.py): points a reward costs (0: the chain does not redeem points), the
    # reward's percentage off the basket, and the days it can be used.
    Setting("LOYALTY_REWARD_POINTS", "OMNISTORE_LOYALTY_REWARD_POINTS", integer(0), "0"),
    Setting("LOYALTY_REWARD_PERCENT", "OMNISTORE_LOYALTY_REWARD_PERCENT", integer(1), "10"),
    Setting("LOYALTY_REWARD_DAYS", "OMNISTORE_LOYALTY_REWARD_DAYS", integer(1), "90"),
    # After a purchase (clienteling/followups.py): days after collection or delivery the follow-up e-mail goes,
    # and the rating at or below which the store calls the customer back.
    Setting("FOLLOWUP_DAYS", "OMNISTORE_FOLLOWUP_DAYS", integer(1), "7"),
    Setting("FOLLOWUP_LOW_RATING", "OMNISTORE_FOLLOWUP_LOW_RATING", integer(1), "2"),
    # A clerk's outreach from the profile (clienteling/outreach.py): at most so many per customer per period, all
    # staff together; orders within so many days of one count for the clerk who sent it.
    Setting("OUTREACH_LIMIT", "OMNISTORE_OUTREACH_LIMIT", integer(1), "1"),
    Setting("OUTREACH_PERIOD_DAYS", "OMNISTORE_OUTREACH_PERIOD_DAYS", integer(1), "7"),
    Setting("OUTREACH_ATTRIBUTION_DAYS", "OMNISTORE_OUTREACH_ATTRIBUTION_DAYS", integer(1), "14"),
    # "Available near you" (clienteling/nearby.py): a store is near a customer when it is their preferred store or
    # within this many km of it (or of the store where the interest was recorded); at most one such e-mail per
    # customer and variant in this many days; the e-mail's button holds the unit this many hours; an order draft
    # whose holds expired unplaced counts as an interest for this many days.
    Setting("NEARBY_KM", "OMNISTORE_NEARBY_KM", number(0), "25"),
    Setting("NEARBY_PERIOD_DAYS", "OMNISTORE_NEARBY_PERIOD_DAYS", integer(1), "14"),
    Setting("NEARBY_HOLD_HOURS", "OMNISTORE_NEARBY_HOLD_HOURS", number(1), "48"),
    Setting("NEARBY_DRAFT_DAYS", "OMNISTORE_NEARBY_DRAFT_DAYS", integer(1), "30"),
    # Outgoing email. Without a host, emails stay in the outbox (the admin's Outbox page shows them).
    Setting("SMTP_HOST", "OMNISTORE_SMTP_HOST", text, ""),
    Setting("SMTP_PORT", "OMNISTORE_SMTP_PORT", integer(1), "587"),
    Setting("SMTP_USER", "OMNISTORE_SMTP_USER", text, ""),
    Setting("SMTP_PASSWORD", "OMNISTORE_SMTP_PASSWORD", text, ""),
    Setting("SMTP_STARTTLS", "OMNISTORE_SMTP_STARTTLS", boolean, "1"),
    Setting("SMTP_FROM", "OMNISTORE_SMTP_FROM", text, "omnistore <no-reply@omnistore.local>"),
    # Outbox delivery: attempts before a message is marked failed, the first retry's wait (doubling after),
    # the network timeout, and how often the worker sweeps the outbox for retries (a new message wakes it).
    Setting("OUTBOX_MAX_ATTEMPTS", "OMNISTORE_OUTBOX_MAX_ATTEMPTS", integer(1), "8"),
    Setting("OUTBOX_RETRY_SECONDS", "OMNISTORE_OUTBOX_RETRY_SECONDS", number(0), "60"),
    Setting("OUTBOX_TIMEOUT_SECONDS", "OMNISTORE_OUTBOX_TIMEOUT_SECONDS", number(0.1), "10"),
    Setting("OUTBOX_POLL_SECONDS", "OMNISTORE_OUTBOX_POLL_SECONDS", number(0.1), "30"),
)
SPECIAL = ("DATABASE_URL", "SECRET_KEY", "AUTO_SETUP", "IN_PROCESS_WORKER")  # read in from_environment itself


def setting(name) -> Setting:
    return next(s for s in SETTINGS if s.name == name)


def default(name):
    """A setting's default, parsed (for code that runs without an app)."""
    found = setting(name)
    return found.parse(found.default)


def read(found: Setting, environ=None):
    """One setting from the environment (or its default), parsed; SettingError names it when it is bad."""
    environ = os.environ if environ is None else environ
    raw = environ.get(f"OMNISTORE_{found.name}")
    try:
        return found.parse(found.default if raw is None else raw)
    except ValueError as error:
        raise SettingError(f"OMNISTORE_{found.name}={raw!r}: {error}") from None


def _secret_key():
    """A key from the environment, or one kept in instance/ so sessions survive restarts on a laptop."""
    if key := _env("SECRET_KEY"):
        return key
    INSTANCE.mkdir(exist_ok=True)
    path = INSTANCE / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def from_environment():
    """The configuration dictionary handed to Flask; SettingError for a value that cannot be used."""
    database_url = _env("DATABASE_URL")
    default_sqlite = database_url is None
    if default_sqlite:
        INSTANCE.mkdir(exist_ok=True)
        database_url = f"sqlite:///{INSTANCE / 'omnistore.db'}"
    auto_setup = Setting("AUTO_SETUP", "OMNISTORE_AUTO_SETUP", boolean, "1" if default_sqlite else "0")
    # The laptop: each web process runs the periodic jobs and delivers the outbox itself. Production: web
    # processes only enqueue, and `flask --app app worker` does the work (core/worker.py).
    in_process_worker = Setting(
        "IN_PROCESS_WORKER", "OMNISTORE_IN_PROCESS_WORKER", boolean, "1" if default_sqlite else "0"
    )
    config = {
        "SECRET_KEY": _secret_key(),
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(database_url),
        # A laptop's first `flask run` migrates and loads the demo; production runs `flask db upgrade`.
        "OMNISTORE_AUTO_SETUP": read(auto_setup),
        "OMNISTORE_IN_PROCESS_WORKER": read(in_process_worker),
    }
    config.update({found.key: read(found) for found in SETTINGS})
    return config


def normalise_database_url(url):
    """Accept the usual postgres:// spellings and use the psycopg 3 driver for them."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


DEFAULTS = {
    # Pooled connections are pinged when they sat unused for a while (core/db.py), not before every use.
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": False},
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    # The cookie is set at sign-in and lives as long as the session may (the server ends it earlier on sign-out
    # or the idle timeout: stores/login.py), so it need not be signed and sent again on every request.
    "SESSION_REFRESH_EACH_REQUEST": False,
    "PERMANENT_SESSION_LIFETIME": timedelta(hours=12),
    "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session; idle timeout bounds that
    "BABEL_DEFAULT_LOCALE": "en",
    "BABEL_DEFAULT_TIMEZONE": "Europe/Berlin",
    "BABEL_TRANSLATION_DIRECTORIES": str(PACKAGE / "translations"),
    "LANGUAGES": {"en": "English", "de": "Deutsch", "da": "Dansk"},
    "RATELIMIT_HEADERS_ENABLED": False,
    "RATELIMIT_STRATEGY": "moving-window",
    "MAX_CONTENT_LENGTH": 20 * 1024 * 1024,
    "JSON_SORT_KEYS": False,
}

"""Settings from the environment (OMNISTORE_*), with sane defaults for a laptop."""
import os
import secrets
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instance"


def _env(name, default=None):
    return os.environ.get(f"OMNISTORE_{name}", default)


def _bool(value):
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


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
    """The configuration dictionary handed to Flask."""
    database_url = _env("DATABASE_URL")
    default_sqlite = database_url is None
    if default_sqlite:
        INSTANCE.mkdir(exist_ok=True)
        database_url = f"sqlite:///{INSTANCE / 'omnistore.db'}"
    return {
        "SECRET_KEY": _secret_key(),
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(database_url),
        # A laptop's first `flask run` migrates and loads the demo; production runs `flask db upgrade`.
        "OMNISTORE_AUTO_SETUP": _bool(_env("AUTO_SETUP", "1" if default_sqlite else "0")),
        "OMNISTORE_CURRENCY": _env("CURRENCY", "EUR"),
        "OMNISTORE_LOW_STOCK_THRESHOLD": int(_env("LOW_STOCK_THRESHOLD", "2")),
        "OMNISTORE_LIVE_REFRESH_SECONDS": float(_env("LIVE_REFRESH_SECONDS", "3")),
        "OMNISTORE_PICKUP_QUEUE_REFRESH_SECONDS": float(_env("PICKUP_QUEUE_REFRESH_SECONDS", "2")),
        # Wrong short codes tolerated per clerk and per store within the window (counted in the audit trail).
        "OMNISTORE_PICKUP_CODE_ATTEMPTS_PER_CLERK": int(_env("PICKUP_CODE_ATTEMPTS_PER_CLERK", "5")),
        "OMNISTORE_PICKUP_CODE_ATTEMPTS_PER_STORE": int(_env("PICKUP_CODE_ATTEMPTS_PER_STORE", "20")),
        "OMNISTORE_PICKUP_CODE_WINDOW_SECONDS": int(_env("PICKUP_CODE_WINDOW_SECONDS", "600")),
        "OMNISTORE_IDLE_TIMEOUT_MINUTES": float(_env("IDLE_TIMEOUT_MINUTES", "30")),
        # An open pickup desk's visible queue keeps its session open this long after sign-in (a shift).
        "OMNISTORE_DESK_SESSION_HOURS": float(_env("DESK_SESSION_HOURS", "10")),
        "RATELIMIT_STORAGE_URI": _env("RATELIMIT_STORAGE_URI", "memory://"),
        # Failed sign-ins: per address and account, and per address (any account). Never per account alone,
        # or anyone could lock a clerk out of the desk.
        "OMNISTORE_LOGIN_RATE_LIMIT": _env("LOGIN_RATE_LIMIT", "10 per minute"),
        "OMNISTORE_LOGIN_ADDRESS_RATE_LIMIT": _env("LOGIN_ADDRESS_RATE_LIMIT", "30 per minute"),
        "OMNISTORE_API_RATE_LIMIT": _env("API_RATE_LIMIT", "600 per minute"),
        # The customer's order page (/o/<token>), per address: every request, and its actions (POSTs).
        "OMNISTORE_PUBLIC_RATE_LIMIT": _env("PUBLIC_RATE_LIMIT", "120 per minute"),
        "OMNISTORE_PUBLIC_ACTION_RATE_LIMIT": _env("PUBLIC_ACTION_RATE_LIMIT", "20 per minute"),
        # How often an open order page asks whether the order moved on (it reloads itself when it did).
        "OMNISTORE_PUBLIC_REFRESH_SECONDS": int(_env("PUBLIC_REFRESH_SECONDS", "15")),
        "SESSION_COOKIE_SECURE": _bool(_env("SECURE_COOKIES", "0")),
        "PREFERRED_URL_SCHEME": _env("URL_SCHEME", "http"),
        # Where customers reach the app from their phones: the base of the status links in emails and QR codes.
        "OMNISTORE_PUBLIC_URL": _env("PUBLIC_URL", "http://127.0.0.1:5000").rstrip("/"),
        # Outgoing email. Without a host, emails stay in the outbox (the admin's Outbox page shows them).
        "OMNISTORE_SMTP_HOST": _env("SMTP_HOST", ""),
        "OMNISTORE_SMTP_PORT": int(_env("SMTP_PORT", "587")),
        "OMNISTORE_SMTP_USER": _env("SMTP_USER", ""),
        "OMNISTORE_SMTP_PASSWORD": _env("SMTP_PASSWORD", ""),
        "OMNISTORE_SMTP_STARTTLS": _bool(_env("SMTP_STARTTLS", "1")),
        "OMNISTORE_SMTP_FROM": _env("SMTP_FROM", "omnistore <no-reply@omnistore.local>"),
        # Outbox delivery: attempts before a message is marked failed, the first retry's wait (doubling after),
        # the network timeout, and whether each process delivers right after a commit that queued something.
        "OMNISTORE_OUTBOX_MAX_ATTEMPTS": int(_env("OUTBOX_MAX_ATTEMPTS", "8")),
        "OMNISTORE_OUTBOX_RETRY_SECONDS": float(_env("OUTBOX_RETRY_SECONDS", "60")),
        "OMNISTORE_OUTBOX_TIMEOUT_SECONDS": float(_env("OUTBOX_TIMEOUT_SECONDS", "10")),
        "OMNISTORE_OUTBOX_AUTODELIVER": _bool(_env("OUTBOX_AUTODELIVER", "1")),
        "OMNISTORE_OUTBOX_POLL_SECONDS": float(_env("OUTBOX_POLL_SECONDS", "30")),
    }


def normalise_database_url(url):
    """Accept the usual postgres:// spellings and use the psycopg 3 driver for them."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


DEFAULTS = {
    # Pooled connections are pinged when they sat unused for a while (services/db.py), not before every use.
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": False},
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    # The cookie is set at sign-in and lives as long as the session may (the server ends it earlier on sign-out
    # or the idle timeout: web/sessions.py), so it need not be signed and sent again on every request.
    "SESSION_REFRESH_EACH_REQUEST": False,
    "PERMANENT_SESSION_LIFETIME": timedelta(hours=12),
    "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session; idle timeout bounds that
    "BABEL_DEFAULT_LOCALE": "en",
    "BABEL_DEFAULT_TIMEZONE": "Europe/Berlin",
    "BABEL_TRANSLATION_DIRECTORIES": str(Path(__file__).resolve().parent / "translations"),
    "LANGUAGES": {"en": "English", "de": "Deutsch", "da": "Dansk"},
    "RATELIMIT_HEADERS_ENABLED": False,
    "RATELIMIT_STRATEGY": "moving-window",
    "MAX_CONTENT_LENGTH": 20 * 1024 * 1024,
    "JSON_SORT_KEYS": False,
}

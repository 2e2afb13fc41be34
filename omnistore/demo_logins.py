"""The demo's logins as the running app knows them: the shared password, the addresses, and the hint printed
at each later start on a laptop (first_run.py). The demo network itself is built by the tooling
(`omnistore_tools.demo`, `flask --app app demo`), which takes these from here."""

from sqlalchemy import select

from omnistore.core.extensions import db
from omnistore.core.public_url import public_url
from omnistore.stores.models import Staff

DEMO_PASSWORD = "omnistore-demo"
DEMO_DOMAIN = "omnistore-demo.de"
ADMIN_EMAIL = f"admin@{DEMO_DOMAIN}"


def staff_email(role, code):
    return f"{role}.{code.lower()}@{DEMO_DOMAIN}"


def demo_logins_hint():
    """A short reminder for later starts: how to sign in to the demo (or how to add a login)."""
    if db.session.scalar(select(Staff.id).where(Staff.email == ADMIN_EMAIL)) is None:
        return (
            f"omnistore: open {public_url()} — add a login with "
            "`flask --app app staff create EMAIL --role admin --location CODE`."
        )
    return (
        f"omnistore: open {public_url()} — demo logins {ADMIN_EMAIL} or {staff_email('clerk', 'HAM')}, "
        f"password {DEMO_PASSWORD}; `flask --app app demo` lists all logins."
    )

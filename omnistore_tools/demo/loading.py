"""Loading the demo: `load_demo()` builds it in one transaction unless it is there already, and reports the
logins and what the database holds."""

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from omnistore.catalog.models import Product, Variant
from omnistore.core.db import transaction
from omnistore.core.errors import Conflict
from omnistore.core.extensions import db
from omnistore.core.public_url import public_url
from omnistore.customers.models import Customer
from omnistore.demo_logins import ADMIN_EMAIL, DEMO_PASSWORD, staff_email
from omnistore.orders.models import Order
from omnistore.stock.models import StockLevel
from omnistore.stores.models import Location, Staff
from omnistore_tools.demo.building import _Builder
from omnistore_tools.demo.data import CPH_ONLY_SKU, SITES


@dataclass
class DemoResult:
    created: bool  # False: the demo was loaded already and nothing changed
    counts: dict[str, int] = field(default_factory=dict)
    password: str = DEMO_PASSWORD
    url: str = field(default_factory=public_url)  # where this app is reached (as `flask run` serves it)

    @property
    def logins(self):
        """(location code, location name, role, email) for the admin and every store's clerk and manager."""
        rows = [("HAM", "Hamburg", "admin", ADMIN_EMAIL)]
        for site in SITES:
            if site.kind == "store":
                rows += [(site.code, site.name, role, staff_email(role, site.code)) for role in ("clerk", "manager")]
        return rows

    def logins_text(self):
        state = "loaded" if self.created else "was already loaded; nothing changed"
        figures = ", ".join(f"{value:,} {name}" for name, value in self.counts.items())
        lines = [
            f"omnistore demo network {state}. The database holds {figures}.",
            f"Open {self.url} and sign in. Password for every demo login: {self.password}",
            "",
            f"  {'admin':<22} {ADMIN_EMAIL:<36} (acts at every location)",
        ]
        stores = [row for row in self.logins if row[2] != "admin"]
        for clerk, manager in zip(stores[::2], stores[1::2], strict=True):
            lines.append(f"  {clerk[0]} {clerk[1]:<18} {clerk[3]:<36} {manager[3]}")
        lines += [
            "",
            f'Try: search "mueller"; in Hamburg, order {CPH_ONLY_SKU} (Nordwind Fjord Parka, Navy / XL) — '
            "only København has it.",
        ]
        return "\n".join(lines)


def demo_counts():
    models = (
        ("locations", Location),
        ("products", Product),
        ("variants", Variant),
        ("stock levels", StockLevel),
        ("customers", Customer),
        ("orders", Order),
        ("staff", Staff),
    )
    return {name: db.session.scalar(select(func.count()).select_from(model)) for name, model in models}


def load_demo() -> DemoResult:
    """Load the demo network in one transaction; if it is there already, change nothing and report."""
    try:
        with transaction() as session:
            if _demo_present(session):
                created = False
            else:
                _Builder(session).build()
                created = True
    except IntegrityError:
        # Another process loaded it at the same moment (PostgreSQL): report theirs.
        if not _demo_present(db.session):
            raise
        created = False
    return DemoResult(created=created, counts=demo_counts())


def _demo_present(session):
    codes = [site.code for site in SITES]
    found = set(session.scalars(select(Location.code).where(Location.code.in_(codes))))
    admin = session.scalar(select(Staff.id).where(Staff.email == ADMIN_EMAIL))
    if found == set(codes) and admin is not None:
        return True
    clashing = sorted(found) + ([ADMIN_EMAIL] if admin else [])
    if clashing:
        raise Conflict(
            "The database holds part of the demo network but not all of it "
            f"({', '.join(clashing)}); load the demo into an empty database."
        )
    return False

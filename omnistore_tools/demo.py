"""The demo network: a small fashion chain in Germany and Denmark to click through on a laptop.

`load_demo()` builds it in one transaction. It is idempotent: on a database that already holds the demo
it changes nothing and just reports again; on a database that holds only part of it (e.g. a location
coded HAM that the demo did not create) it refuses with `Conflict` rather than mixing data. The
catalogue, stock and customers come from a seeded `random.Random`, so the same demo comes out every time;
timestamps are relative to the moment of loading, and pickup tokens and short codes are fresh secrets.

What is in it
- 13 stores — HAM Hamburg, BER Berlin, MUC München, CGN Köln, FRA Frankfurt, STR Stuttgart,
  DUS Düsseldorf, LEJ Leipzig, HAJ Hannover (Europe/Berlin); CPH København, AAR Aarhus, ODE Odense,
  AAL Aalborg (Europe/Copenhagen) — and the warehouse WH1 in Kassel. AAL has its pickup desk off.
- 160 styles with about 2,000 variants (apparel and shoes, ten invented brands, among them
  "Müller & Söhne" so that "mueller" finds "Müller"), EAN-13s with valid check digits, one EUR price.
- Stock at the warehouse and most stores, each StockLevel explained by its StockMovement rows; some
  variants are sold out at a store (a row with on_hand 0) while other locations have them.
- 240 customers (German and Danish names), consents with when/where, staff notes, orders on every
  channel; "Jürgen Müller" (HAM) and "Søren Kjær" (CPH) are always the first two.
- Orders in every status of DESIGN.md, pickup and delivery; at HAM: orders to prepare, two arriving, five
  ready (one checked in, one overdue, one on the way) and one collected today. Every pickup store also has
  handovers spread over the last five weeks (RECENT_HANDOVERS), in opening hours, for the manager's review.
- Staff: clerk.<code>@omnistore-demo.de and manager.<code>@omnistore-demo.de per store (code in lower
  case, e.g. clerk.ham@omnistore-demo.de), and admin@omnistore-demo.de (home HAM, acts everywhere).
  Every demo login has the password DEMO_PASSWORD ("omnistore-demo").

Known fixtures later tests can rely on
- CPH_ONLY_SKU = "NWD-001-NAV-XL": Nordwind "Fjord Parka", Navy / XL. Only København (CPH) has it
  (on_hand 2, nothing allocated); Hamburg has a stock row with 0 (sold out); no other location has a row;
  no demo order touches any variant of style NWD-001. Other Navy sizes of the parka are in stock at HAM.

How the demo orders touch stock (the ledger explains every figure):
- placed: "allocation" (+allocated) at the line's source location;
- in transit: the source's "transfer_out" takes on_hand and allocated off (goods are on the road);
- ready: the pickup store holds the goods allocated — for goods from elsewhere its "transfer_in" adds
  on_hand and allocated;
- collected: "handover" at the pickup store (−on_hand, −allocated); a refused line is a "release";
- expired / cancelled: "release" (−allocated) where the goods are;
- delivery shipped: "handover" to the carrier at the source (−on_hand, −allocated); delivered: no change.
"""
import random
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.security import generate_password_hash

from omnistore.catalog.models import Product, Variant
from omnistore.catalog.services import ean13_check_digit, search_forms, search_text_for
from omnistore.core.db import transaction
from omnistore.core.errors import Conflict
from omnistore.core.extensions import db
from omnistore.core.public_url import public_url
from omnistore.core.types import utcnow
from omnistore.customers.models import Consent, Customer, CustomerNote, CustomerVisit
from omnistore.customers.services import LOYALTY_PREFIX
from omnistore.demo_logins import ADMIN_EMAIL, DEMO_PASSWORD, staff_email
from omnistore.orders import pickup_codes
from omnistore.orders import services as orders
from omnistore.orders.models import Order, OrderEvent, OrderLine, Pickup, Transfer
from omnistore.pickups import services as pickups
from omnistore.stock import summaries
from omnistore.stock.models import StockLevel, StockMovement
from omnistore.stores.models import Location, Staff

CPH_ONLY_SKU = "NWD-001-NAV-XL"
_RANDOM_SEED = 2026


# --- the network -----------------------------------------------------------------------------------

_WEEK = ("mon", "tue", "wed", "thu", "fri", "sat")
_DE_HOURS = {day: [["10:00", "20:00"]] for day in _WEEK} | {"sun": []}
_DK_HOURS = {day: [["10:00", "18:00"]] for day in ("mon", "tue", "wed")} | {
    "thu": [["10:00", "19:00"]], "fri": [["10:00", "19:00"]], "sat": [["10:00", "16:00"]], "sun": [],
}
_CPH_HOURS = _DK_HOURS | {"sat": [["10:00", "18:00"]], "sun": [["11:00", "16:00"]]}
_WAREHOUSE_HOURS = {day: [["06:00", "22:00"]] for day in _WEEK[:5]} | {"sat": [["06:00", "14:00"]], "sun": []}


@dataclass(frozen=True)
class _Site:
    code: str
    name: str
    street: str
    postcode: str
    city: str
    country: str
    latitude: float
    longitude: float
    phone: str
    stocking: float  # share of the catalogue the location carries
    hold_days: int = 7
    pickup: bool = True
    kind: str = "store"

    @property
    def timezone(self):
        return "Europe/Copenhagen" if self.country == "DK" else "Europe/Berlin"

    @property
    def opening_hours(self):
        if self.kind == "warehouse":
            return _WAREHOUSE_HOURS
        if self.code == "CPH":
            return _CPH_HOURS
        return _DK_HOURS if self.country == "DK" else _DE_HOURS


SITES = (
    _Site("HAM", "Hamburg", "Mönckebergstraße 7", "20095", "Hamburg", "DE", 53.5503, 10.0006,
          "+49 40 3250 1200", 0.75),
    _Site("BER", "Berlin", "Tauentzienstraße 9", "10789", "Berlin", "DE", 52.5019, 13.3418,
          "+49 30 2196 4410", 0.75),
    _Site("MUC", "München", "Kaufingerstraße 12", "80331", "München", "DE", 48.1374, 11.5718,
          "+49 89 2602 3310", 0.7),
    _Site("CGN", "Köln", "Schildergasse 45", "50667", "Köln", "DE", 50.9362, 6.9542, "+49 221 2716 880", 0.6),
    _Site("FRA", "Frankfurt", "Zeil 90", "60313", "Frankfurt am Main", "DE", 50.1147, 8.6847,
          "+49 69 9203 4470", 0.6),
    _Site("STR", "Stuttgart", "Königstraße 26", "70173", "Stuttgart", "DE", 48.7787, 9.1780,
          "+49 711 2294 610", 0.5, hold_days=5),
    _Site("DUS", "Düsseldorf", "Schadowstraße 41", "40212", "Düsseldorf", "DE", 51.2258, 6.7804,
          "+49 211 8693 120", 0.55),
    _Site("LEJ", "Leipzig", "Petersstraße 20", "04109", "Leipzig", "DE", 51.3387, 12.3745,
          "+49 341 2126 730", 0.45, hold_days=5),
    _Site("HAJ", "Hannover", "Georgstraße 14", "30159", "Hannover", "DE", 52.3737, 9.7386,
          "+49 511 3007 450", 0.45),
    _Site("CPH", "København", "Frederiksberggade 16", "1459", "København K", "DK", 55.6780, 12.5720,
          "+45 33 12 45 80", 0.7, hold_days=10),
    _Site("AAR", "Aarhus", "Søndergade 43", "8000", "Aarhus C", "DK", 56.1546, 10.2073, "+45 86 12 33 40", 0.5),
    _Site("ODE", "Odense", "Vestergade 60", "5000", "Odense C", "DK", 55.3955, 10.3852, "+45 66 14 27 90", 0.4),
    _Site("AAL", "Aalborg", "Bispensgade 20", "9000", "Aalborg", "DK", 57.0484, 9.9212, "+45 98 16 52 30", 0.4,
          pickup=False),
    _Site("WH1", "Kassel warehouse", "Sandershäuser Straße 34", "34123", "Kassel", "DE", 51.3150, 9.5206,
          "+49 561 5079 900", 0.9, pickup=False, kind="warehouse"),
)
STORE_CODES = tuple(site.code for site in SITES if site.kind == "store")

# --- the catalogue ---------------------------------------------------------------------------------

# (name, code, GS1 company prefix: 40–44 Germany, 57 Denmark)
_BRANDS = (
    ("Nordwind", "NWD", "4061234"), ("Müller & Söhne", "MUE", "4049876"), ("Elbkante", "ELB", "4063311"),
    ("Isarwerk", "ISW", "4058802"), ("Rheinfaden", "RHF", "4052290"), ("Lindgrün", "LGR", "4067745"),
    ("Havbrise", "HAV", "5701234"), ("Skovly", "SKV", "5709987"), ("Bølge", "BLG", "5705566"),
    ("Kystlinje", "KYS", "5703321"),
)
_ALPHA = ("XS", "S", "M", "L", "XL", "XXL")
_SHOES = tuple(str(size) for size in range(36, 47))
# category: (sizes, style nouns, price range in cents (both ending in 995), weight, blurb)
_CATEGORIES = {
    "Jackets": (_ALPHA, ("Parka", "Rain Jacket", "Shell Jacket", "Quilted Jacket", "Field Jacket", "Wool Coat",
                         "Puffer Jacket", "Trench Coat"), (12995, 32995), 3,
                "Wind- and water-repellent, made for North Sea weather."),
    "Knitwear": (_ALPHA, ("Merino Crew Knit", "Cable Cardigan", "Roll-Neck Sweater", "Lambswool V-Neck",
                          "Fisherman Sweater", "Half-Zip Knit"), (5995, 14995), 3,
                 "Soft, warm knit that keeps its shape wash after wash."),
    "Jeans": (("28/32", "30/32", "31/32", "32/32", "33/34", "34/32", "36/34"),
              ("Slim Jeans", "Straight Jeans", "Tapered Jeans", "Relaxed Jeans", "Bootcut Jeans"),
              (6995, 12995), 3, "Organic cotton denim with a little stretch."),
    "Shirts": (("S", "M", "L", "XL", "XXL"), ("Oxford Shirt", "Flannel Shirt", "Linen Shirt", "Poplin Shirt",
                                               "Denim Shirt", "Overshirt"), (3995, 8995), 3,
               "A shirt for the office and the weekend."),
    "Dresses": (("34", "36", "38", "40", "42", "44"), ("Wrap Dress", "Shirt Dress", "Knit Dress", "Midi Dress",
                                                       "Slip Dress"), (5995, 15995), 2,
                "Easy to wear, easy to combine."),
    "T-shirts": (_ALPHA, ("Organic Tee", "Pocket Tee", "Long-Sleeve Tee", "Striped Tee", "Heavy Tee"),
                 (1995, 3995), 2, "Heavyweight organic cotton jersey."),
    "Sneakers": (_SHOES, ("Court Sneaker", "Runner", "Canvas Low", "Leather Sneaker", "Trail Runner"),
                 (7995, 16995), 2, "Cushioned sole, leather lining."),
    "Boots": (_SHOES, ("Chelsea Boot", "Lace-Up Boot", "Winter Boot", "Hiking Boot"), (12995, 24995), 1,
              "Goodyear-welted, resoleable."),
    "Accessories": (("One size",), ("Wool Scarf", "Beanie", "Knit Gloves", "Canvas Tote", "Strickmütze"),
                    (1995, 5995), 1, "The finishing touch."),
}
_STYLE_WORDS = ("Fjord", "Alster", "Harbour", "Dune", "Heath", "Isar", "Skagen", "Nordic", "Storm", "Linden",
                "Bornholm", "Elbe", "Kiel", "Moor", "Birch", "Tide", "Hygge", "Øresund", "Föhr", "Lübeck")
_COLOURS = (("Black", "BLK"), ("Navy", "NAV"), ("Olive", "OLV"), ("Sand", "SND"), ("Grey", "GRY"),
            ("Off-white", "OWH"), ("Bordeaux", "BDX"), ("Rust", "RST"), ("Forest", "FOR"), ("Camel", "CML"),
            ("Stone", "STN"), ("Sky", "SKY"), ("Mustard", "MUS"))
_DENIM = (("Indigo", "IND"), ("Black", "BLK"), ("Stone", "STN"), ("Light blue", "LBL"))
_STYLE_COUNT = 160

# --- people ----------------------------------------------------------------------------------------

_DE_FIRST = ("Anna", "Lena", "Jürgen", "Jörg", "Björn", "Günther", "Käthe", "Lukas", "Jonas", "Leonie", "Emma",
             "Mia", "Felix", "Maximilian", "Sophie", "Hannah", "Paul", "Tobias", "Katrin", "Sabine", "Stefan",
             "Andreas", "Özlem", "Mehmet", "Ömer", "Jana", "Marie", "Moritz", "Till", "Frauke", "Hauke", "Gesa")
_DE_LAST = ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
            "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz",
            "Zimmermann", "Braun", "Krüger", "Hartmann", "Lange", "Werner", "Krause", "Lehmann", "Köhler",
            "Jäger", "Böhm", "Weiß", "Groß", "Fuchs", "Yılmaz", "Petersen", "Jansen")
_DK_FIRST = ("Mette", "Søren", "Jens", "Lars", "Anne", "Kirsten", "Mads", "Frederik", "Sofie", "Ida", "Freja",
             "Rasmus", "Emil", "Nikolaj", "Line", "Camilla", "Bjørn", "Astrid", "Signe", "Mikkel", "Kasper",
             "Maja", "Asger", "Æsa", "Jørgen", "Gry", "Sune", "Trine")
_DK_LAST = ("Nielsen", "Jensen", "Hansen", "Pedersen", "Andersen", "Christensen", "Larsen", "Sørensen",
            "Rasmussen", "Jørgensen", "Petersen", "Madsen", "Kristensen", "Olsen", "Thomsen", "Poulsen",
            "Johansen", "Møller", "Mortensen", "Holm", "Kjær", "Lund", "Dalsgaard", "Bækgaard", "Østergaard",
            "Aagaard", "Frølund", "Skovgaard")
_DE_ADDRESSES = (("Eppendorfer Weg", "20259", "Hamburg"), ("Schulterblatt", "20357", "Hamburg"),
                 ("Kastanienallee", "10435", "Berlin"), ("Weserstraße", "12045", "Berlin"),
                 ("Gärtnerplatz", "80469", "München"), ("Venloer Straße", "50672", "Köln"),
                 ("Berger Straße", "60316", "Frankfurt am Main"), ("Tübinger Straße", "70178", "Stuttgart"),
                 ("Nordstraße", "40477", "Düsseldorf"), ("Karl-Heine-Straße", "04229", "Leipzig"),
                 ("Lister Meile", "30161", "Hannover"), ("Ostertorsteinweg", "28203", "Bremen"),
                 ("Holstenstraße", "24103", "Kiel"), ("Friedrich-Ebert-Straße", "34117", "Kassel"))
_DK_ADDRESSES = (("Nørrebrogade", "2200", "København N"), ("Vesterbrogade", "1620", "København V"),
                 ("Østerbrogade", "2100", "København Ø"), ("Jægersborggade", "2200", "København N"),
                 ("Amagerbrogade", "2300", "København S"), ("Jægergårdsgade", "8000", "Aarhus C"),
                 ("Kongensgade", "5000", "Odense C"), ("Jomfru Ane Gade", "9000", "Aalborg"),
                 ("Algade", "4000", "Roskilde"))
_NOTES = (
    "Prefers a phone call rather than an SMS when an order is ready.",
    "Asked about the Fjord Parka in XL — call when it is back in Hamburg.",
    "Bevorzugt Abholung samstags vormittags.",
    "Möchte keine Papiertüte, bringt eigene Tasche mit.",
    "Foretrækker afhentning efter kl. 16.",
    "Returned boots in March: the last runs small, recommend one size up.",
    "Stammkundin, kennt das Team. Interessiert an Strick von Müller & Söhne.",
    "Styling appointment booked for the Christmas party season.",
    "Kunden vil gerne have besked, når nye sneakers kommer hjem.",
    "Collects for her husband too — he is in the system as well.",
)
RECENT_HANDOVERS = {"HAM": 24, "CPH": 18}  # collected pickups in the last five weeks; 8 at other pickup stores
_CHECK_IN_NOTES = ("At the desk.", "Parked outside, blue estate car.", "Waiting by the entrance.", "")
_VISIT_NOTES = ("Tried on knitwear, will come back.", "Asked about the new arrivals.", "", "Picked up a gift voucher.",
                "Looked at winter boots.", "")
_SIZE_GROUP = {"Jackets": "tops", "Knitwear": "tops", "Shirts": "tops", "T-shirts": "tops", "Jeans": "jeans",
               "Dresses": "dresses", "Sneakers": "shoes", "Boots": "shoes"}
_TOPICS = ("new arrivals", "sale", "sneakers", "knitwear", "events")


# --- result ----------------------------------------------------------------------------------------

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
            f"Try: search \"mueller\"; in Hamburg, order {CPH_ONLY_SKU} (Nordwind Fjord Parka, Navy / XL) — "
            "only København has it.",
        ]
        return "\n".join(lines)


def demo_counts():
    models = (("locations", Location), ("products", Product), ("variants", Variant), ("stock levels", StockLevel),
              ("customers", Customer), ("orders", Order), ("staff", Staff))
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


# --- building --------------------------------------------------------------------------------------

_EMAIL_LETTERS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "æ": "ae", "ø": "oe", "å": "aa", "ı": "i"})


def _email_part(text):
    """"Jürgen" → "juergen", "Æsa" → "aesa": what people put in their email address."""
    decomposed = unicodedata.normalize("NFKD", text.lower().translate(_EMAIL_LETTERS))
    return re.sub(r"[^a-z0-9]+", "-", decomposed.encode("ascii", "ignore").decode()).strip("-")


def _mobile_number(rng, country):
    """A mobile number in E.164: +45 and 8 digits, or +49 and a 15x/16x/17x network with 8 digits."""
    if country == "DK":
        return f"+45{rng.choice('2345678')}{rng.randint(0, 9999999):07d}"
    return f"+49{rng.choice(('151', '160', '170', '171', '176', '177'))}{rng.randint(0, 99999999):08d}"


def _hours(value):
    return timedelta(hours=value)


@dataclass
class _Variant:
    id: int
    sku: str
    price: int
    style: int  # 1-based style number


class _Ledger:
    """Stock levels kept in memory while the demo is built, with the movements that explain them."""

    def __init__(self):
        self.levels = {}  # (variant_id, location_id) -> [on_hand, allocated, movement count, last change]
        self.movements = []

    def available(self, variant_id, location_id):
        level = self.levels.get((variant_id, location_id))
        return level[0] - level[1] if level else 0

    def move(self, variant_id, location_id, kind, at, on_hand=0, allocated=0, reason="", order=None,
             staff_id=None):
        level = self.levels.setdefault((variant_id, location_id), [0, 0, 0, at])
        level[0] += on_hand
        level[1] += allocated
        level[2] += 1
        level[3] = max(level[3], at)
        if not 0 <= level[1] <= level[0]:
            raise AssertionError(f"demo builder broke stock of variant {variant_id} at {location_id}: {level}")
        self.movements.append(dict(
            variant_id=variant_id, location_id=location_id, kind=kind, on_hand_delta=on_hand,
            allocated_delta=allocated, reason=reason, reference=order if order is not None else "demo",
            staff_id=staff_id, api_client_id=None, created_at=at,
        ))

    def level_rows(self):
        return [dict(variant_id=v, location_id=loc, on_hand=oh, allocated=al, version=n, updated_at=at)
                for (v, loc), (oh, al, n, at) in self.levels.items()]


class _Builder:
    def __init__(self, session):
        self.session = session
        self.rng = random.Random(_RANDOM_SEED)
        self.now = utcnow()
        self.ledger = _Ledger()
        self.orders, self.lines, self.transfers, self.pickups, self.events = [], [], [], [], []
        self.short_codes = set()

    # -- helpers
    # Core inserts on the table: one executemany per table (the ORM's bulk path splits the rows into many
    # statements by which values are None).
    def insert(self, model, rows):
        if rows:
            self.session.execute(insert(model.__table__), rows)

    def insert_many(self, model, rows):
        """Many plain rows (ints, strings, times): COPY on PostgreSQL, where executemany costs a round trip
        per row; an executemany elsewhere."""
        if not rows or self.session.get_bind().dialect.name != "postgresql":
            self.insert(model, rows)
            return
        columns = list(rows[0])
        raw = self.session.connection().connection.driver_connection  # psycopg 3, inside our transaction
        with raw.cursor() as cursor, cursor.copy(
            f"COPY {model.__tablename__} ({', '.join(columns)}) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row([row[name] for name in columns])

    def insert_returning(self, model, rows):
        table = model.__table__
        result = self.session.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows)
        return [row[0] for row in result]

    def build(self):
        self.build_locations()
        self.build_staff()
        self.build_catalogue()
        self.build_stock()
        self.build_customers()
        self.build_history()
        self.build_orders()
        self.flush_orders()
        self.insert_many(StockLevel, self.ledger.level_rows())
        self.insert_many(StockMovement, self.ledger.movements)
        summaries.rebuild_summaries()  # the levels went in without the stock verbs

    # -- network and people
    def build_locations(self):
        rows = [dict(
            code=s.code, name=s.name, kind=s.kind, street=s.street, postcode=s.postcode, city=s.city,
            country=s.country, phone=s.phone, latitude=s.latitude, longitude=s.longitude, timezone=s.timezone,
            opening_hours=s.opening_hours, pickup_enabled=s.pickup, hold_days=s.hold_days,
            reminder_day=s.hold_days - 2, active=True, notes="demo network",
            # Stores keep their last unit for walk-in customers; the warehouse needs two days to ship.
            safety_stock=0 if s.kind == "warehouse" else 1, lead_time_days=2 if s.kind == "warehouse" else 0,
            transfer_capacity=500 if s.kind == "warehouse" else 20,
        ) for s in SITES]
        ids = self.insert_returning(Location, rows)
        self.site = {s.code: s for s in SITES}
        self.loc = {s.code: i for s, i in zip(SITES, ids, strict=True)}
        self.code_of = {i: c for c, i in self.loc.items()}

    def person(self, country):
        first, last = (_DK_FIRST, _DK_LAST) if country == "DK" else (_DE_FIRST, _DE_LAST)
        return self.rng.choice(first), self.rng.choice(last)

    def build_staff(self):
        password_hash = generate_password_hash(DEMO_PASSWORD)  # scrypt once, shared by every demo login
        rows = [dict(email=ADMIN_EMAIL, name="Demo Admin", role="admin", location_id=self.loc["HAM"])]
        for site in SITES:
            if site.kind == "store":
                for role in ("clerk", "manager"):
                    rows.append(dict(email=staff_email(role, site.code), name=" ".join(self.person(site.country)),
                                     role=role, location_id=self.loc[site.code]))
        for row in rows:
            row.update(password_hash=password_hash, locale="en", active=True, session_generation=1,
                       created_at=self.now - timedelta(days=400))
        ids = self.insert_returning(Staff, rows)
        self.staff = {(row["role"], row["location_id"]): i for row, i in zip(rows, ids, strict=True)}

    def clerk(self, location_id):
        return self.staff.get(("clerk", location_id))

    # -- catalogue and stock
    def styles(self):
        """(brand, name, category, colours) per style; style 1 is the parka with the CPH-only size."""
        rng = self.rng
        categories = list(_CATEGORIES)
        weights = [_CATEGORIES[c][3] for c in categories]
        styles = [(_BRANDS[0], "Fjord Parka", "Jackets", [("Navy", "NAV"), ("Olive", "OLV")]),
                  (_BRANDS[1], "Loden Jacket", "Jackets", [("Forest", "FOR"), ("Grey", "GRY")])]
        seen = {(b[0], n) for b, n, _c, _col in styles}
        while len(styles) < _STYLE_COUNT:
            category = rng.choices(categories, weights)[0]
            brand = rng.choice(_BRANDS)
            name = f"{rng.choice(_STYLE_WORDS)} {rng.choice(_CATEGORIES[category][1])}"
            if (brand[0], name) in seen:
                continue
            seen.add((brand[0], name))
            palette = _DENIM if category == "Jeans" else _COLOURS
            colours = rng.sample(palette, rng.choices((1, 2, 3), (3, 5, 2))[0])
            styles.append((brand, name, category, colours))
        return styles

    def build_catalogue(self):
        rng = self.rng
        styles = self.styles()
        products, variants, serial = [], [], dict.fromkeys((b[1] for b in _BRANDS), 0)
        for number, (brand, name, category, colours) in enumerate(styles, start=1):
            sizes, _nouns, (low, high), _w, blurb = _CATEGORIES[category]
            style_code = f"{brand[1]}-{number:03d}"
            price = 24995 if number == 1 else rng.randrange(low, high + 1, 1000)
            product = dict(
                style_code=style_code, name=name, brand=brand[0], category=category,
                description=f"{brand[0]} {name}. {blurb}", image_url="",
                created_at=self.now - timedelta(days=200), updated_at=self.now - timedelta(days=200),
            )
            products.append(product)
            first_variant = len(variants)
            for colour, colour_code in colours:
                for size in sizes:
                    serial[brand[1]] += 1
                    body = f"{brand[2]}{serial[brand[1]]:05d}"
                    size_code = "OS" if size == "One size" else size.replace("/", "-")
                    variants.append(dict(
                        style=number, sku=f"{style_code}-{colour_code}-{size_code}", ean=body + ean13_check_digit(body),
                        size=size, colour=colour, price_minor=price,
                        created_at=self.now - timedelta(days=200), updated_at=self.now - timedelta(days=200),
                    ))
            product["search_text"] = search_text_for(
                dict(name=name, brand=brand[0], style_code=style_code, category=category), variants[first_variant:]
            )
        product_ids = self.insert_returning(Product, products)
        for row in variants:
            row["product_id"] = product_ids[row["style"] - 1]
        styles_of = [row.pop("style") for row in variants]
        variant_ids = self.insert_returning(Variant, variants)
        self.variants = [_Variant(i, row["sku"], row["price_minor"], style)
                         for i, row, style in zip(variant_ids, variants, styles_of, strict=True)]
        self.by_sku = {v.sku: v for v in self.variants}
        self.size_of = {i: row["size"] for i, row in zip(variant_ids, variants, strict=True)}
        self.category_of = {number: category for number, (_b, _n, category, _c) in enumerate(styles, start=1)}
        self.orderable = [v for v in self.variants if v.style != 1]  # orders leave the parka alone

    def build_stock(self):
        rng, ledger = self.rng, self.ledger
        opening = self.now - timedelta(days=120)
        parka = {  # style 1, Navy: explicit, so the CPH-only size and HAM's other sizes never change
            "NWD-001-NAV-XS": {"WH1": 4, "HAM": 1}, "NWD-001-NAV-S": {"WH1": 6, "HAM": 2, "CPH": 1},
            "NWD-001-NAV-M": {"WH1": 8, "HAM": 3, "BER": 2, "CPH": 2}, "NWD-001-NAV-L": {"WH1": 5, "HAM": 2, "MUC": 1},
            CPH_ONLY_SKU: {"CPH": 2, "HAM": 0}, "NWD-001-NAV-XXL": {"WH1": 2},
        }
        for variant in self.variants:
            if variant.sku in parka:
                plan = parka[variant.sku]
            else:
                plan = {}
                for site in SITES:
                    if rng.random() >= site.stocking:
                        continue
                    if site.kind == "warehouse":
                        plan[site.code] = rng.randint(3, 40)
                    else:
                        plan[site.code] = 0 if rng.random() < 0.12 else rng.choice((1, 1, 2, 2, 3, 3, 4, 5, 6, 8))
            for code, quantity in plan.items():
                location_id = self.loc[code]
                if code == "WH1":
                    ledger.move(variant.id, location_id, "receipt", opening, on_hand=quantity,
                                reason="goods receipt from supplier")
                    continue
                received = quantity or rng.randint(1, 3)
                ledger.move(variant.id, location_id, "import", opening, on_hand=received,
                            reason="opening stock from ERP")
                if quantity == 0:  # sold out here: the till sold what came in
                    ledger.move(variant.id, location_id, "adjustment", opening + timedelta(days=rng.randint(5, 60)),
                                on_hand=-received, reason="sold at the till (POS sync)")

    # -- customers
    def build_customers(self):
        rng = self.rng
        rows, emails, phones = [], set(), set()
        fixed = [("Jürgen", "Müller", "DE", "HAM"), ("Søren", "Kjær", "DK", "CPH")]
        de_stores = [s.code for s in SITES if s.kind == "store" and s.country == "DE"]
        dk_stores = [s.code for s in SITES if s.kind == "store" and s.country == "DK"]
        for number in range(1, 241):
            if number <= len(fixed):
                first, last, country, home = fixed[number - 1]
            else:
                country = "DK" if rng.random() < 0.35 else "DE"
                first, last = self.person(country)
                home = rng.choice(dk_stores if country == "DK" else de_stores)
            local = f"{_email_part(first)}.{_email_part(last)}"
            email = f"{local}@kunde.omnistore-demo.{country.lower()}"
            while email in emails:
                email = f"{local}{rng.randint(2, 99)}@kunde.omnistore-demo.{country.lower()}"
            emails.add(email)
            phone = None
            if number <= len(fixed) or rng.random() < 0.8:
                while phone is None or phone in phones:
                    phone = _mobile_number(rng, country)
                phones.add(phone)
            has_email = number <= len(fixed) or rng.random() < 0.9 or phone is None
            loyal = number <= len(fixed) or rng.random() < 0.6
            points = rng.randint(0, 4000) if loyal else 0
            sizes = {}
            if rng.random() < 0.6:
                sizes = {"tops": rng.choice(_ALPHA), "shoes": rng.choice(_SHOES)}
            preferences = {}
            if rng.random() < 0.5:
                preferences = {"contact": rng.choice(("email", "sms", "phone")),
                               "topics": rng.sample(_TOPICS, 2)}
            rows.append(dict(
                first_name=first, last_name=last, email=email if has_email else None, phone=phone,
                loyalty_number=f"{LOYALTY_PREFIX}{number * 7919 % 10000000:07d}" if loyal else None,
                loyalty_tier="gold" if points > 3000 else "silver" if points > 1500 else "basic",
                loyalty_points=points, preferred_location_id=self.loc[home], sizes=sizes, preferences=preferences,
                search_name=search_forms(f"{first} {last}"),
                created_channel=rng.choices(("store", "web", "app", "phone"), (4, 3, 2, 1))[0],
                created_at=self.now - timedelta(days=rng.uniform(100, 900)), erased_at=None,
            ))
        ids = self.insert_returning(Customer, rows)
        self.customer_rows = list(zip(ids, rows, strict=True))
        self.fixed_customers = dict(zip(("HAM", "CPH"), ids, strict=False))
        self.customers = {"DE": [], "DK": []}
        consents, notes = [], []
        for customer_id, row in zip(ids, rows, strict=True):
            home = row["preferred_location_id"]
            country = self.site[self.code_of[home]].country
            self.customers[country].append(customer_id)
            at, channel = row["created_at"], row["created_channel"]
            where = dict(source_channel=channel, location_id=home if channel == "store" else None,
                         staff_id=self.clerk(home) if channel == "store" else None)
            for kind, present, share in (("email", row["email"], 0.65), ("sms", row["phone"], 0.35)):
                if present and self.rng.random() < share:
                    consents.append(dict(customer_id=customer_id, channel=kind, granted=True, recorded_at=at, **where))
                    if self.rng.random() < 0.1:
                        consents.append(dict(customer_id=customer_id, channel=kind, granted=False, source_channel="web",
                                             location_id=None, staff_id=None,
                                             recorded_at=at + timedelta(days=self.rng.randint(10, 90))))
            if customer_id == ids[0] or self.rng.random() < 0.25:
                for _ in range(self.rng.choice((1, 1, 2))):
                    notes.append(dict(customer_id=customer_id, staff_id=self.clerk(home), location_id=home,
                                      body=self.rng.choice(_NOTES),
                                      created_at=self.now - timedelta(days=self.rng.uniform(1, 90))))
        self.insert(Consent, consents)
        self.insert(CustomerNote, notes)

    # -- purchase history: what the customers bought before the stock ledger opened (120 days ago)
    def build_history(self):
        """Two to six past orders per customer on every channel (collected pickups and delivered parcels, 4–30
        months ago, before the ledger's opening stock, so they move no stock), in the customer's sizes. Styles
        come in outfits that customers tend to buy together, so recommendations have something to say; and
        store visits. Jürgen Müller has a fixed history with a knit and a jacket bought together by others."""
        rng = self.rng
        by_style = defaultdict(list)
        for variant in self.orderable:
            by_style[variant.style].append(variant)
        groups = defaultdict(list)
        for style in by_style:
            groups[_SIZE_GROUP.get(self.category_of[style], "other")].append(style)
        outfits = []
        for _ in range(24):  # a jacket or knit with a shirt or tee, jeans and shoes, sometimes an accessory
            outfit = [rng.choice(groups["tops"]), rng.choice(groups["tops"]), rng.choice(groups["shoes"])]
            if groups["jeans"]:
                outfit.append(rng.choice(groups["jeans"]))
            outfits.append(list(dict.fromkeys(outfit)))
        self.outfits = outfits
        visits = []
        for customer_id, row in self.customer_rows:
            sizes = dict(row["sizes"]) or {"tops": rng.choice(_ALPHA), "shoes": rng.choice(_SHOES)}
            sizes.setdefault("jeans", rng.choice(("30/32", "31/32", "32/32", "33/34", "34/32")))
            sizes.setdefault("dresses", rng.choice(("36", "38", "40")))
            home = row["preferred_location_id"]
            favourite = rng.choice(outfits)
            count = 5 if customer_id == self.fixed_customers["HAM"] else rng.choice((2, 2, 3, 3, 4, 6))
            for number in range(count):
                outfit = favourite if number == 0 or rng.random() < 0.5 else rng.choice(outfits)
                styles = rng.sample(outfit, min(len(outfit), rng.choice((2, 2, 3))))
                lines = []
                for style in styles:
                    size = sizes.get(_SIZE_GROUP.get(self.category_of[style], ""), "One size")
                    fitting = [v for v in by_style[style] if self.size_of[v.id] in (size, "One size")]
                    if fitting:
                        lines.append((rng.choice(fitting), 1))
                if lines:
                    self.history_order(customer_id, home, lines, self.now - timedelta(days=rng.uniform(125, 900)))
            if rng.random() < 0.3 or customer_id == self.fixed_customers["HAM"]:
                for _ in range(rng.choice((1, 2, 3))):
                    visits.append(dict(customer_id=customer_id, kind="visit", channel="store", location_id=home,
                                       staff_id=self.clerk(home), note=rng.choice(_VISIT_NOTES),
                                       created_at=self.now - timedelta(days=rng.uniform(1, 120))))
        self.insert(CustomerVisit, visits)

    def history_order(self, customer_id, home, lines, placed_at):
        rng = self.rng
        channel = rng.choices(("web", "store", "app", "phone"), (4, 4, 2, 1))[0]
        delivery = channel in ("web", "app", "phone") and rng.random() < 0.5
        country = self.site[self.code_of[home]].country
        origin = home if channel in ("store", "phone") else None
        placer = self.clerk(origin) if origin else None
        total = sum(v.price * q for v, q in lines)
        common = dict(channel=channel, customer_id=customer_id, payment_state="paid", origin_location_id=origin,
                      tracking_reference="", currency="EUR", total_minor=total, idempotency_key=None,
                      placed_by_staff_id=placer, promised_at=placed_at + timedelta(days=3), placed_at=placed_at)
        source = self.loc["WH1"] if delivery or rng.random() < 0.4 else home
        if delivery:
            street, postcode, city = rng.choice(_DK_ADDRESSES if country == "DK" else _DE_ADDRESSES)
            row = next(r for i, r in self.customer_rows if i == customer_id)
            shipped, delivered = placed_at + _hours(rng.uniform(6, 20)), placed_at + _hours(rng.uniform(30, 70))
            tracking = f"00340434{rng.randint(0, 10**12 - 1):012d}"
            order = self.new_order(fulfilment="delivery", status="delivered", pickup_location_id=None,
                                   delivery_address=dict(name=f"{row['first_name']} {row['last_name']}",
                                                         street=f"{street} {rng.randint(1, 140)}",
                                                         postcode=postcode, city=city, country=country),
                                   updated_at=delivered, **dict(common, tracking_reference=tracking))
            self.event(order, "placed", placed_at, "", "placed", placer, origin, channel=channel)
            self.event(order, "shipped", shipped, "placed", "shipped", self.clerk(source), source, tracking=tracking)
            self.event(order, "delivered", delivered, "shipped", "delivered", tracking=tracking)
            transfer = len(self.transfers)
            self.transfers.append(dict(order=order, source_location_id=source, destination_location_id=None,
                                       status="received", tracking_reference=tracking, created_at=placed_at,
                                       picked_at=shipped - _hours(1), shipped_at=shipped, received_at=delivered))
            status = "delivered"
        else:
            ready = placed_at + _hours(rng.uniform(1, 4) if source == home else rng.uniform(26, 60))
            collected = ready + _hours(rng.uniform(2, 96))
            order = self.new_order(fulfilment="pickup", status="collected", pickup_location_id=home,
                                   delivery_address={}, updated_at=collected, **common)
            self.event(order, "placed", placed_at, "", "placed", placer, origin, channel=channel)
            self.event(order, "ready", ready, "placed", "ready", self.clerk(home), home)
            if rng.random() < 0.3:
                self.event(order, "checked_in", collected - timedelta(minutes=5), location_id=home)
            handler = self.clerk(home)
            self.event(order, "collected", collected, "ready", "collected", handler, home, verification="qr",
                       refused=0)
            self.pickups.append(dict(
                order=order, token=pickup_codes.new_token(), short_code=self.short_code(), shelf_location="",
                ready_at=ready, pickup_by=pickups.pickup_by_for(self.site[self.code_of[home]], ready),
                reminded_at=None, on_the_way_at=None, checked_in_at=None, check_in_note="", collected_at=collected,
                collected_by_staff_id=handler, verification="qr", payment_collected_at=None))
            transfer = None
            status = "collected"
        for variant, quantity in lines:
            self.lines.append(dict(order=order, variant_id=variant.id, quantity=quantity,
                                   unit_price_minor=variant.price, source_location_id=source, transfer=transfer,
                                   status=status, status_reason=""))

    # -- orders
    def build_orders(self):
        rng = self.rng
        ham_plan = [("placed", "local"), ("placed", "remote"), ("in_transit", "remote"), ("in_transit", "remote"),
                    ("ready", "local"), ("ready", "remote"), ("ready", "checked_in"), ("ready", "on_the_way"),
                    ("ready", "overdue"), ("collected", "today"), ("collected", "partial"), ("collected", "local"),
                    ("collected", "remote"), ("collected", "remote"), ("collected", "local"),
                    ("expired", "remote"), ("cancelled", "local"), ("cancelled", "remote")]
        cph_plan = [("placed", "local"), ("in_transit", "remote"), ("ready", "local"), ("ready", "checked_in"),
                    ("collected", "today"), ("collected", "remote"), ("collected", "local"), ("expired", "local"),
                    ("cancelled", "remote")]
        statuses = ("collected",) * 5 + ("ready", "ready", "placed", "in_transit", "expired", "cancelled")
        for site in SITES:
            if not site.pickup:
                continue
            plan = {"HAM": ham_plan, "CPH": cph_plan}.get(site.code)
            if plan is None:
                plan = [(rng.choice(statuses), rng.choice(("local", "remote"))) for _ in range(9)]
            for number, (status, flavour) in enumerate(plan):
                # Jürgen Müller has a ready order at HAM, Søren Kjær one at CPH (plan entry 4 resp. 2).
                regular = (site.code == "HAM" and number in (4, 12)) or (site.code == "CPH" and number == 2)
                self.pickup_order(site, status, flavour, self.fixed_customers[site.code] if regular else None)
            # Handovers of the last five weeks, so the manager's dashboard has something to show.
            for _ in range(RECENT_HANDOVERS.get(site.code, 8)):
                self.pickup_order(site, "collected", "remote" if rng.random() < 0.3 else "local", recent=True)
        for status, count in (("placed", 8), ("shipped", 8), ("delivered", 40), ("cancelled", 6)):
            for _ in range(count):
                self.delivery_order(status)

    def choose_lines(self, count, location_id=None, exclude=None):
        """`count` (variant, quantity) pairs available at `location_id`, or None if it has too little."""
        rng, chosen = self.rng, []
        for _ in range(200):
            variant = rng.choice(self.orderable)
            quantity = 2 if rng.random() < 0.1 else 1
            if variant in (v for v, _q in chosen) or self.ledger.available(variant.id, location_id) < quantity:
                continue
            chosen.append((variant, quantity))
            if len(chosen) == count:
                return chosen
        return None

    def remote_source(self, pickup_id, count):
        """A source other than the pickup store (the warehouse mostly) and lines it can supply."""
        others = [i for c, i in self.loc.items() if i != pickup_id and c != "WH1"]
        while True:
            source = self.loc["WH1"] if self.rng.random() < 0.6 else self.rng.choice(others)
            lines = self.choose_lines(count, source)
            if lines:
                return source, lines

    def new_order(self, **fields):
        self.orders.append(fields)
        return len(self.orders) - 1

    def event(self, order, kind, at, from_status="", to_status="", staff_id=None, location_id=None, **detail):
        self.events.append(dict(order=order, kind=kind, from_status=from_status, to_status=to_status,
                                staff_id=staff_id, api_client_id=None, location_id=location_id, detail=detail,
                                created_at=at))

    def channel(self, pickup_id, fulfilment):
        rng = self.rng
        weights = (45, 25, 20, 10) if fulfilment == "pickup" else (55, 30, 5, 10)
        channel = rng.choices(("web", "app", "store", "phone"), weights)[0]
        origin = pickup_id if channel in ("store", "phone") else None
        if origin is None and channel in ("store", "phone"):
            origin = self.loc[rng.choice(STORE_CODES)]
        if channel == "web":
            payment = "paid" if rng.random() < 0.8 or fulfilment == "delivery" else "pay_at_pickup"
        elif channel == "app":
            payment = "paid"
        else:
            payment = "pay_at_pickup" if fulfilment == "pickup" and rng.random() < 0.5 else "paid"
        return channel, origin, payment

    def short_code(self):
        """The product's own code generator (one alphabet, the desk's), unique within the demo."""
        while True:
            code = pickup_codes.new_short_code()
            if code not in self.short_codes:
                self.short_codes.add(code)
                return code

    def pickup_order(self, site, status, flavour, customer_id=None, recent=False):
        rng, ledger = self.rng, self.ledger
        pickup_id = self.loc[site.code]
        clerk = self.clerk(pickup_id)
        hold = timedelta(days=site.hold_days)
        count = 2 if flavour == "partial" else rng.choice((1, 1, 1, 2, 2, 3))
        lines = None
        if flavour != "remote" and status != "in_transit":
            lines = self.choose_lines(count, pickup_id)
        source = pickup_id
        if lines is None:
            source, lines = self.remote_source(pickup_id, count)
        remote = source != pickup_id

        # Timeline, worked out backwards from the state the order is in now.
        picking = _hours(rng.uniform(2, 6))
        shipping = _hours(rng.uniform(2, 8))
        travel = _hours(rng.uniform(18, 40))
        to_shelf = _hours(rng.uniform(0.5, 2))
        lead = picking + shipping + travel + to_shelf if remote else _hours(rng.uniform(1, 5))
        ready_at = collected_at = ended_at = None
        if status == "placed":
            placed_at = self.now - _hours(rng.uniform(0.5, 5 if remote else 1.5))
        elif status == "in_transit":
            placed_at = self.now - picking - shipping - _hours(rng.uniform(1, 16))
        elif status == "cancelled":
            placed_at = self.now - timedelta(days=rng.uniform(1, 60))
            ended_at = placed_at + _hours(rng.uniform(0.5, 6))
        else:
            if status == "ready":
                ready_at = self.now - {
                    # past the end of its pickup-by day (pickups.pickup_by_for: at most a day after `hold`)
                    "overdue": hold + timedelta(days=1) + _hours(rng.uniform(3, 20)),
                    "checked_in": _hours(rng.uniform(20, 50)),
                    "on_the_way": _hours(rng.uniform(4, 30)),
                }.get(flavour, timedelta(hours=rng.uniform(2, site.hold_days * 24 - 30)))
            elif status == "collected" and flavour == "today":
                local = self.now.astimezone(ZoneInfo(site.timezone))
                since_midnight = local - local.replace(hour=0, minute=0, second=0, microsecond=0)
                collected_at = self.now - since_midnight * rng.uniform(0.2, 0.6)
                ready_at = collected_at - _hours(rng.uniform(3, 48))
            elif status == "collected" and recent:
                collected_at = self.opening_time(site, days_ago=rng.randint(1, 35))
                ready_at = collected_at - _hours(rng.uniform(2, 70))
            elif status == "collected":
                ready_at = self.now - timedelta(days=rng.uniform(2, 90))
                collected_at = min(ready_at + _hours(rng.uniform(2, site.hold_days * 24 - 12)),
                                   ready_at + (self.now - ready_at) / 2)
            else:  # expired
                ready_at = self.now - hold - timedelta(days=rng.uniform(2, 60))
                ended_at = pickups.pickup_by_for(site, ready_at) + _hours(rng.uniform(1, 12))  # the next expiry run
            placed_at = ready_at - lead

        channel, origin, payment = self.channel(pickup_id, "pickup")
        placer = self.clerk(origin) if origin else None
        total = sum(v.price * q for v, q in lines)
        order = self.new_order(
            channel=channel, customer_id=customer_id or rng.choice(self.customers[site.country]), fulfilment="pickup",
            status=status, payment_state=payment, pickup_location_id=pickup_id, origin_location_id=origin,
            delivery_address={}, tracking_reference="", currency="EUR", total_minor=total, idempotency_key=None,
            placed_by_staff_id=placer, promised_at=placed_at + lead + _hours(2), placed_at=placed_at,
            updated_at=placed_at,
        )
        self.event(order, "placed", placed_at, "", "placed", placer, origin, channel=channel)
        for variant, quantity in lines:
            ledger.move(variant.id, source, "allocation", placed_at, allocated=quantity,
                        reason="allocated to order", order=order, staff_id=placer)
        last = placed_at

        transfer = None
        if remote:
            picked_at, shipped_at = placed_at + picking, placed_at + picking + shipping
            received_at = shipped_at + travel
            self.event(order, "sourced", placed_at, location_id=source, source=self.code_of[source])
            transfer_status = {"placed": "picked" if picked_at < self.now else "requested",
                               "in_transit": "shipped", "cancelled": "cancelled"}.get(status, "received")
            transfer = len(self.transfers)
            self.transfers.append(dict(
                order=order, source_location_id=source, destination_location_id=pickup_id, status=transfer_status,
                tracking_reference="" if transfer_status in ("requested", "picked", "cancelled") else
                f"TR-{self.code_of[source]}-{rng.randint(1000, 9999)}",
                created_at=placed_at,
                picked_at=picked_at if transfer_status in ("picked", "shipped", "received") else None,
                shipped_at=shipped_at if transfer_status in ("shipped", "received") else None,
                received_at=received_at if transfer_status == "received" else None,
            ))
            if status in ("in_transit", "ready", "collected", "expired"):
                self.event(order, "picked", picked_at, staff_id=self.clerk(source), location_id=source)
                self.event(order, "shipped", shipped_at, "placed", "in_transit", self.clerk(source), source)
                for variant, quantity in lines:
                    ledger.move(variant.id, source, "transfer_out", shipped_at, on_hand=-quantity,
                                allocated=-quantity, reason=f"transfer to {site.code}", order=order)
                last = shipped_at
            if status in ("ready", "collected", "expired"):
                self.event(order, "received", received_at, staff_id=clerk, location_id=pickup_id)
                for variant, quantity in lines:
                    ledger.move(variant.id, pickup_id, "transfer_in", received_at, on_hand=quantity,
                                allocated=quantity, reason=f"transfer from {self.code_of[source]}", order=order,
                                staff_id=clerk)
        elif ready_at is not None:
            self.event(order, "picked", ready_at - _hours(0.3), staff_id=clerk, location_id=pickup_id)

        pickup = dict(order=order, token=pickup_codes.new_token(), short_code=self.short_code(), shelf_location="",
                      ready_at=ready_at, pickup_by=pickups.pickup_by_for(site, ready_at) if ready_at else None,
                      reminded_at=None, on_the_way_at=None, checked_in_at=None, check_in_note="", collected_at=None,
                      collected_by_staff_id=None, verification="", payment_collected_at=None)
        self.pickups.append(pickup)
        if ready_at is not None:
            pickup["shelf_location"] = f"{rng.choice('ABCD')}-{rng.randint(1, 24):02d}"
            self.event(order, "ready", ready_at, "in_transit" if remote else "placed", "ready", clerk, pickup_id,
                       shelf=pickup["shelf_location"])
            self.event(order, "notified", ready_at + timedelta(minutes=1), channel="email", topic="order.ready")
            last = ready_at
            reminder = ready_at + timedelta(days=site.hold_days - 2)
            if reminder < (collected_at or ended_at or self.now):
                pickup["reminded_at"] = reminder
                self.event(order, "reminded", reminder, channel="email", topic="order.reminder")
            if flavour in ("checked_in", "on_the_way"):
                pickup["on_the_way_at"] = self.now - timedelta(minutes=rng.randint(10, 40))
                self.event(order, "on_the_way", pickup["on_the_way_at"])
                last = pickup["on_the_way_at"]
            if flavour == "checked_in":
                pickup["checked_in_at"] = self.now - timedelta(minutes=rng.randint(1, 8))
                pickup["check_in_note"] = rng.choice(_CHECK_IN_NOTES)
                self.event(order, "checked_in", pickup["checked_in_at"], note=pickup["check_in_note"])
                last = pickup["checked_in_at"]

        line_status = {"placed": "allocated", "in_transit": "shipped", "ready": "picked", "collected": "collected",
                       "expired": "released", "cancelled": "released"}[status]
        for number, (variant, quantity) in enumerate(lines):
            refused = flavour == "partial" and number == 1
            self.lines.append(dict(
                order=order, variant_id=variant.id, quantity=quantity, unit_price_minor=variant.price,
                source_location_id=source, transfer=transfer, status="refused" if refused else line_status,
                status_reason="Did not fit" if refused else "",
            ))

        if status == "collected":
            handler = self.staff[(rng.choice(("clerk", "manager")), pickup_id)]
            verification = rng.choice(("qr", "qr", "code_name", "id"))
            pickup.update(collected_at=collected_at, collected_by_staff_id=handler, verification=verification)
            if payment == "pay_at_pickup":
                pickup["payment_collected_at"] = collected_at
            refused = 0
            for number, (variant, quantity) in enumerate(lines):
                if flavour == "partial" and number == 1:
                    refused += quantity
                    ledger.move(variant.id, pickup_id, "release", collected_at, allocated=-quantity,
                                reason="refused at pickup: did not fit", order=order, staff_id=handler)
                else:
                    ledger.move(variant.id, pickup_id, "handover", collected_at, on_hand=-quantity,
                                allocated=-quantity, reason="handed over at the pickup desk", order=order,
                                staff_id=handler)
            self.event(order, "collected", collected_at, "ready", "collected", handler, pickup_id,
                       verification=verification, refused=refused)
            last = collected_at
        elif status == "expired":
            for variant, quantity in lines:
                ledger.move(variant.id, pickup_id, "release", ended_at, allocated=-quantity,
                            reason="pickup expired", order=order)
            self.event(order, "expired", ended_at, "ready", "expired", location_id=pickup_id)
            last = ended_at
        elif status == "cancelled":
            reason = rng.choice(("customer asked to cancel", "payment failed", "found it elsewhere"))
            for variant, quantity in lines:
                ledger.move(variant.id, source, "release", ended_at, allocated=-quantity,
                            reason=f"order cancelled: {reason}", order=order, staff_id=placer)
            self.event(order, "cancelled", ended_at, "placed", "cancelled", placer, origin, reason=reason)
            last = ended_at
        self.orders[order]["updated_at"] = last

    def opening_time(self, site, days_ago):
        """A moment between 10:00 and 19:00 (store time) about `days_ago` days ago, on a day other than Sunday."""
        zone = ZoneInfo(site.timezone)
        day = (self.now - timedelta(days=days_ago)).astimezone(zone)
        if day.weekday() == 6:
            day -= timedelta(days=1)
        opening = day.replace(hour=10, minute=0, second=0, microsecond=0)
        return (opening + _hours(self.rng.uniform(0, 9))).astimezone(self.now.tzinfo)

    def delivery_order(self, status):
        rng, ledger = self.rng, self.ledger
        country = "DK" if rng.random() < 0.3 else "DE"
        customer_id = rng.choice(self.customers[country])
        lines = None
        source = self.loc["WH1"]
        if rng.random() < 0.25:  # ship-from-store
            source = self.loc[rng.choice([s.code for s in SITES if s.kind == "store" and s.country == country])]
            lines = self.choose_lines(rng.choice((1, 1, 2)), source)
        if lines is None:
            source = self.loc["WH1"]
            lines = self.choose_lines(rng.choice((1, 1, 2, 3)), source)
        street, postcode, city = rng.choice(_DK_ADDRESSES if country == "DK" else _DE_ADDRESSES)
        first, last_name = self.person(country)
        address = dict(name=f"{first} {last_name}", street=f"{street} {rng.randint(1, 140)}", postcode=postcode,
                       city=city, country=country)
        placed_at = self.now - {"placed": _hours(rng.uniform(1, 20)), "shipped": _hours(rng.uniform(20, 60))}.get(
            status, timedelta(days=rng.uniform(3, 90)))
        shipped_at = placed_at + _hours(rng.uniform(4, 20))
        delivered_at = shipped_at + _hours(rng.uniform(20, 60))
        tracking = f"00340434{rng.randint(0, 10**12 - 1):012d}" if status in ("shipped", "delivered") else ""
        channel, origin, payment = self.channel(None, "delivery")
        placer = self.clerk(origin) if origin else None
        order = self.new_order(
            channel=channel, customer_id=customer_id, fulfilment="delivery", status=status, payment_state=payment,
            pickup_location_id=None, origin_location_id=origin, delivery_address=address,
            tracking_reference=tracking, currency="EUR", total_minor=sum(v.price * q for v, q in lines),
            idempotency_key=None, placed_by_staff_id=placer, promised_at=placed_at + timedelta(days=3),
            placed_at=placed_at, updated_at=placed_at,
        )
        self.event(order, "placed", placed_at, "", "placed", placer, origin, channel=channel)
        for variant, quantity in lines:
            ledger.move(variant.id, source, "allocation", placed_at, allocated=quantity,
                        reason="allocated to order", order=order, staff_id=placer)
        transfer = len(self.transfers)
        self.transfers.append(dict(
            order=order, source_location_id=source, destination_location_id=None,
            status={"placed": "requested", "shipped": "shipped", "delivered": "received"}.get(status, "cancelled"),
            tracking_reference=tracking, created_at=placed_at,
            picked_at=shipped_at - _hours(1) if tracking else None, shipped_at=shipped_at if tracking else None,
            received_at=delivered_at if status == "delivered" else None,
        ))
        last = placed_at
        if tracking:
            packer = self.clerk(source)
            self.event(order, "picked", shipped_at - _hours(1), staff_id=packer, location_id=source)
            self.event(order, "shipped", shipped_at, "placed", "shipped", packer, source, tracking=tracking)
            for variant, quantity in lines:
                ledger.move(variant.id, source, "handover", shipped_at, on_hand=-quantity, allocated=-quantity,
                            reason="handed to the carrier", order=order, staff_id=packer)
            last = shipped_at
        if status == "delivered":
            self.event(order, "delivered", delivered_at, "shipped", "delivered", tracking=tracking)
            last = delivered_at
        if status == "cancelled":
            last = placed_at + _hours(rng.uniform(0.5, 3))
            for variant, quantity in lines:
                ledger.move(variant.id, source, "release", last, allocated=-quantity,
                            reason="order cancelled: customer asked to cancel", order=order, staff_id=placer)
            self.event(order, "cancelled", last, "placed", "cancelled", placer, origin,
                       reason="customer asked to cancel")
        line_status = {"placed": "allocated", "shipped": "shipped", "delivered": "delivered"}.get(status, "released")
        for variant, quantity in lines:
            self.lines.append(dict(order=order, variant_id=variant.id, quantity=quantity,
                                   unit_price_minor=variant.price, source_location_id=source, transfer=transfer,
                                   status=line_status, status_reason=""))
        self.orders[order]["updated_at"] = last

    def flush_orders(self):
        """Insert the orders, number them like the app does (OS-<yy>-<id>), then everything hanging off them."""
        order_ids = self.insert_returning(Order, [dict(row, number=None) for row in self.orders])
        numbers = [orders.order_number(order_id, row["placed_at"])
                   for row, order_id in zip(self.orders, order_ids, strict=True)]
        table = Order.__table__
        self.session.execute(update(table).where(table.c.id == bindparam("order_id")).values(number=bindparam("n")),
                             [dict(order_id=i, n=n) for i, n in zip(order_ids, numbers, strict=True)])
        for row in self.transfers:
            row["order_id"] = order_ids[row.pop("order")]
        transfer_ids = self.insert_returning(Transfer, self.transfers) if self.transfers else []
        for rows in (self.lines, self.pickups, self.events):
            for row in rows:
                row["order_id"] = order_ids[row.pop("order")]
        for row in self.lines:
            index = row.pop("transfer")
            row["transfer_id"] = transfer_ids[index] if index is not None else None
        self.insert(OrderLine, self.lines)
        self.insert(Pickup, self.pickups)
        self.insert(OrderEvent, self.events)
        for movement in self.ledger.movements:
            if isinstance(movement["reference"], int):
                movement["reference"] = numbers[movement["reference"]]

"""The demo's customers and their purchase history (a part of the demo builder)."""

import re
import unicodedata
from collections import defaultdict
from datetime import timedelta

from omnistore.catalog.search_text import search_forms
from omnistore.customers.finding import LOYALTY_PREFIX
from omnistore.customers.models import Consent, Customer, CustomerNote, CustomerVisit
from omnistore.orders import pickup_codes
from omnistore.pickups import preparing
from omnistore_tools.demo.data import (
    _ALPHA,
    _DE_ADDRESSES,
    _DK_ADDRESSES,
    _NOTES,
    _SHOES,
    _SIZE_GROUP,
    _TOPICS,
    _VISIT_NOTES,
    SITES,
    _hours,
)

_EMAIL_LETTERS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "æ": "ae", "ø": "oe", "å": "aa", "ı": "i"})


def _email_part(text):
    """ "Jürgen" → "juergen", "Æsa" → "aesa": what people put in their email address."""
    decomposed = unicodedata.normalize("NFKD", text.lower().translate(_EMAIL_LETTERS))
    return re.sub(r"[^a-z0-9]+", "-", decomposed.encode("ascii", "ignore").decode()).strip("-")


def _mobile_number(rng, country):
    """A mobile number in E.164: +45 and 8 digits, or +49 and a 15x/16x/17x network with 8 digits."""
    if country == "DK":
        return f"+45{rng.choice('2345678')}{rng.randint(0, 9999999):07d}"
    return f"+49{rng.choice(('151', '160', '170', '171', '176', '177'))}{rng.randint(0, 99999999):08d}"


class _Customers:
    """The part of the demo builder (`building._Builder`) that makes the customers, their consents, notes and
    visits, and the purchase history from before the stock ledger opened."""

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
                preferences = {"contact": rng.choice(("email", "sms", "phone")), "topics": rng.sample(_TOPICS, 2)}
            rows.append(
                dict(
                    first_name=first,
                    last_name=last,
                    email=email if has_email else None,
                    phone=phone,
                    loyalty_number=f"{LOYALTY_PREFIX}{number * 7919 % 10000000:07d}" if loyal else None,
                    loyalty_tier="gold" if points > 3000 else "silver" if points > 1500 else "basic",
                    loyalty_points=points,
                    preferred_location_id=self.loc[home],
                    sizes=sizes,
                    preferences=preferences,
                    search_name=search_forms(f"{first} {last}"),
                    created_channel=rng.choices(("store", "web", "app", "phone"), (4, 3, 2, 1))[0],
                    created_at=self.now - timedelta(days=rng.uniform(100, 900)),
                    erased_at=None,
                )
            )
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
            where = dict(
                source_channel=channel,
                location_id=home if channel == "store" else None,
                staff_id=self.clerk(home) if channel == "store" else None,
            )
            for kind, present, share in (("email", row["email"], 0.65), ("sms", row["phone"], 0.35)):
                if present and self.rng.random() < share:
                    consents.append(dict(customer_id=customer_id, channel=kind, granted=True, recorded_at=at, **where))
                    if self.rng.random() < 0.1:
                        consents.append(
                            dict(
                                customer_id=customer_id,
                                channel=kind,
                                granted=False,
                                source_channel="web",
                                location_id=None,
                                staff_id=None,
                                recorded_at=at + timedelta(days=self.rng.randint(10, 90)),
                            )
                        )
            if customer_id == ids[0] or self.rng.random() < 0.25:
                for _ in range(self.rng.choice((1, 1, 2))):
                    notes.append(
                        dict(
                            customer_id=customer_id,
                            staff_id=self.clerk(home),
                            location_id=home,
                            body=self.rng.choice(_NOTES),
                            created_at=self.now - timedelta(days=self.rng.uniform(1, 90)),
                        )
                    )
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
                    visits.append(
                        dict(
                            customer_id=customer_id,
                            kind="visit",
                            channel="store",
                            location_id=home,
                            staff_id=self.clerk(home),
                            note=rng.choice(_VISIT_NOTES),
                            created_at=self.now - timedelta(days=rng.uniform(1, 120)),
                        )
                    )
        self.insert(CustomerVisit, visits)

    def history_order(self, customer_id, home, lines, placed_at):
        rng = self.rng
        channel = rng.choices(("web", "store", "app", "phone"), (4, 4, 2, 1))[0]
        delivery = channel in ("web", "app", "phone") and rng.random() < 0.5
        country = self.site[self.code_of[home]].country
        origin = home if channel in ("store", "phone") else None
        placer = self.clerk(origin) if origin else None
        market = self.market_of[origin] if origin else country
        total = sum(v.prices[market] * q for v, q in lines)
        common = dict(
            channel=channel,
            customer_id=customer_id,
            payment_state="paid",
            origin_location_id=origin,
            tracking_reference="",
            market_code=market,
            currency=self.currency[market],
            total_minor=total,
            idempotency_key=None,
            placed_by_staff_id=placer,
            promised_at=placed_at + timedelta(days=3),
            placed_at=placed_at,
        )
        source = self.loc["WH1"] if delivery or rng.random() < 0.4 else home
        if delivery:
            street, postcode, city = rng.choice(_DK_ADDRESSES if country == "DK" else _DE_ADDRESSES)
            row = next(r for i, r in self.customer_rows if i == customer_id)
            shipped, delivered = placed_at + _hours(rng.uniform(6, 20)), placed_at + _hours(rng.uniform(30, 70))
            tracking = f"00340434{rng.randint(0, 10**12 - 1):012d}"
            order = self.new_order(
                fulfilment="delivery",
                status="delivered",
                pickup_location_id=None,
                delivery_address=dict(
                    name=f"{row['first_name']} {row['last_name']}",
                    street=f"{street} {rng.randint(1, 140)}",
                    postcode=postcode,
                    city=city,
                    country=country,
                ),
                updated_at=delivered,
                **dict(common, tracking_reference=tracking),
            )
            self.event(order, "placed", placed_at, "", "placed", placer, origin, channel=channel)
            self.event(order, "shipped", shipped, "placed", "shipped", self.clerk(source), source, tracking=tracking)
            self.event(order, "delivered", delivered, "shipped", "delivered", tracking=tracking)
            transfer = len(self.transfers)
            self.transfers.append(
                dict(
                    order=order,
                    source_location_id=source,
                    destination_location_id=None,
                    status="received",
                    tracking_reference=tracking,
                    created_at=placed_at,
                    picked_at=shipped - _hours(1),
                    shipped_at=shipped,
                    received_at=delivered,
                )
            )
            status = "delivered"
        else:
            ready = placed_at + _hours(rng.uniform(1, 4) if source == home else rng.uniform(26, 60))
            collected = ready + _hours(rng.uniform(2, 96))
            order = self.new_order(
                fulfilment="pickup",
                status="collected",
                pickup_location_id=home,
                delivery_address={},
                updated_at=collected,
                **common,
            )
            self.event(order, "placed", placed_at, "", "placed", placer, origin, channel=channel)
            self.event(order, "ready", ready, "placed", "ready", self.clerk(home), home)
            if rng.random() < 0.3:
                self.event(order, "checked_in", collected - timedelta(minutes=5), location_id=home)
            handler = self.clerk(home)
            self.event(order, "collected", collected, "ready", "collected", handler, home, verification="qr", refused=0)
            self.pickups.append(
                dict(
                    order=order,
                    token=pickup_codes.new_token(),
                    short_code=self.short_code(),
                    shelf_location="",
                    ready_at=ready,
                    pickup_by=preparing.pickup_by_for(self.site[self.code_of[home]], ready),
                    reminded_at=None,
                    on_the_way_at=None,
                    checked_in_at=None,
                    check_in_note="",
                    collected_at=collected,
                    collected_by_staff_id=handler,
                    verification="qr",
                    payment_collected_at=None,
                )
            )
            transfer = None
            status = "collected"
        for variant, quantity in lines:
            self.lines.append(
                dict(
                    order=order,
                    variant_id=variant.id,
                    quantity=quantity,
                    unit_price_minor=variant.prices[common["market_code"]],
                    source_location_id=source,
                    transfer=transfer,
                    status=status,
                    status_reason="",
                )
            )

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

The package: `data` (the sites, the catalogue's words, people), `loading` (`load_demo`, `DemoResult`),
`building` (the builder: network, staff, catalogue, stock) with its parts `customers` and `orders`.
"""

from omnistore.demo_logins import ADMIN_EMAIL, DEMO_PASSWORD, staff_email
from omnistore_tools.demo.data import CPH_ONLY_SKU, RECENT_HANDOVERS, SITES, STORE_CODES
from omnistore_tools.demo.loading import DemoResult, demo_counts, load_demo

__all__ = [
    "ADMIN_EMAIL",
    "CPH_ONLY_SKU",
    "DEMO_PASSWORD",
    "RECENT_HANDOVERS",
    "SITES",
    "STORE_CODES",
    "DemoResult",
    "demo_counts",
    "load_demo",
    "staff_email",
]

"""The demo's fixed data: the network's sites and their opening hours, the words the catalogue is made of,
people's names, addresses and notes; the random seed that makes the same demo every time, and `_hours`, the
builders' way of spreading times."""

from dataclasses import dataclass
from datetime import timedelta

from omnistore.stores.locations import TIMEZONE_OF_COUNTRY

CPH_ONLY_SKU = "NWD-001-NAV-XL"
_RANDOM_SEED = 2026


# --- the network -----------------------------------------------------------------------------------

_WEEK = ("mon", "tue", "wed", "thu", "fri", "sat")
_DE_HOURS = {day: [["10:00", "20:00"]] for day in _WEEK} | {"sun": []}
_DK_HOURS = {day: [["10:00", "18:00"]] for day in ("mon", "tue", "wed")} | {
    "thu": [["10:00", "19:00"]],
    "fri": [["10:00", "19:00"]],
    "sat": [["10:00", "16:00"]],
    "sun": [],
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
        return TIMEZONE_OF_COUNTRY[self.country]

    @property
    def opening_hours(self):
        if self.kind == "warehouse":
            return _WAREHOUSE_HOURS
        if self.code == "CPH":
            return _CPH_HOURS
        return _DK_HOURS if self.country == "DK" else _DE_HOURS


SITES = (
    _Site("HAM", "Hamburg", "Mönckebergstraße 7", "20095", "Hamburg", "DE", 53.5503, 10.0006, "+49 40 3250 1200", 0.75),
    _Site("BER", "Berlin", "Tauentzienstraße 9", "10789", "Berlin", "DE", 52.5019, 13.3418, "+49 30 2196 4410", 0.75),
    _Site("MUC", "München", "Kaufingerstraße 12", "80331", "München", "DE", 48.1374, 11.5718, "+49 89 2602 3310", 0.7),
    _Site("CGN", "Köln", "Schildergasse 45", "50667", "Köln", "DE", 50.9362, 6.9542, "+49 221 2716 880", 0.6),
    _Site("FRA", "Frankfurt", "Zeil 90", "60313", "Frankfurt am Main", "DE", 50.1147, 8.6847, "+49 69 9203 4470", 0.6),
    _Site(
        "STR",
        "Stuttgart",
        "Königstraße 26",
        "70173",
        "Stuttgart",
        "DE",
        48.7787,
        9.1780,
        "+49 711 2294 610",
        0.5,
        hold_days=5,
    ),
    _Site(
        "DUS", "Düsseldorf", "Schadowstraße 41", "40212", "Düsseldorf", "DE", 51.2258, 6.7804, "+49 211 8693 120", 0.55
    ),
    _Site(
        "LEJ",
        "Leipzig",
        "Petersstraße 20",
        "04109",
        "Leipzig",
        "DE",
        51.3387,
        12.3745,
        "+49 341 2126 730",
        0.45,
        hold_days=5,
    ),
    _Site("HAJ", "Hannover", "Georgstraße 14", "30159", "Hannover", "DE", 52.3737, 9.7386, "+49 511 3007 450", 0.45),
    _Site(
        "CPH",
        "København",
        "Frederiksberggade 16",
        "1459",
        "København K",
        "DK",
        55.6780,
        12.5720,
        "+45 33 12 45 80",
        0.7,
        hold_days=10,
    ),
    _Site("AAR", "Aarhus", "Søndergade 43", "8000", "Aarhus C", "DK", 56.1546, 10.2073, "+45 86 12 33 40", 0.5),
    _Site("ODE", "Odense", "Vestergade 60", "5000", "Odense C", "DK", 55.3955, 10.3852, "+45 66 14 27 90", 0.4),
    _Site(
        "AAL",
        "Aalborg",
        "Bispensgade 20",
        "9000",
        "Aalborg",
        "DK",
        57.0484,
        9.9212,
        "+45 98 16 52 30",
        0.4,
        pickup=False,
    ),
    _Site(
        "WH1",
        "Kassel warehouse",
        "Sandershäuser Straße 34",
        "34123",
        "Kassel",
        "DE",
        51.3150,
        9.5206,
        "+49 561 5079 900",
        0.9,
        pickup=False,
        kind="warehouse",
    ),
)
STORE_CODES = tuple(site.code for site in SITES if site.kind == "store")

# --- the catalogue ---------------------------------------------------------------------------------

# (name, code, GS1 company prefix: 40–44 Germany, 57 Denmark)
_BRANDS = (
    ("Nordwind", "NWD", "4061234"),
    ("Müller & Söhne", "MUE", "4049876"),
    ("Elbkante", "ELB", "4063311"),
    ("Isarwerk", "ISW", "4058802"),
    ("Rheinfaden", "RHF", "4052290"),
    ("Lindgrün", "LGR", "4067745"),
    ("Havbrise", "HAV", "5701234"),
    ("Skovly", "SKV", "5709987"),
    ("Bølge", "BLG", "5705566"),
    ("Kystlinje", "KYS", "5703321"),
)
_ALPHA = ("XS", "S", "M", "L", "XL", "XXL")
_SHOES = tuple(str(size) for size in range(36, 47))
# category: (sizes, style nouns, price range in cents (both ending in 995), weight, blurb)
_CATEGORIES = {
    "Jackets": (
        _ALPHA,
        (
            "Parka",
            "Rain Jacket",
            "Shell Jacket",
            "Quilted Jacket",
            "Field Jacket",
            "Wool Coat",
            "Puffer Jacket",
            "Trench Coat",
        ),
        (12995, 32995),
        3,
        "Wind- and water-repellent, made for North Sea weather.",
    ),
    "Knitwear": (
        _ALPHA,
        (
            "Merino Crew Knit",
            "Cable Cardigan",
            "Roll-Neck Sweater",
            "Lambswool V-Neck",
            "Fisherman Sweater",
            "Half-Zip Knit",
        ),
        (5995, 14995),
        3,
        "Soft, warm knit that keeps its shape wash after wash.",
    ),
    "Jeans": (
        ("28/32", "30/32", "31/32", "32/32", "33/34", "34/32", "36/34"),
        ("Slim Jeans", "Straight Jeans", "Tapered Jeans", "Relaxed Jeans", "Bootcut Jeans"),
        (6995, 12995),
        3,
        "Organic cotton denim with a little stretch.",
    ),
    "Shirts": (
        ("S", "M", "L", "XL", "XXL"),
        ("Oxford Shirt", "Flannel Shirt", "Linen Shirt", "Poplin Shirt", "Denim Shirt", "Overshirt"),
        (3995, 8995),
        3,
        "A shirt for the office and the weekend.",
    ),
    "Dresses": (
        ("34", "36", "38", "40", "42", "44"),
        ("Wrap Dress", "Shirt Dress", "Knit Dress", "Midi Dress", "Slip Dress"),
        (5995, 15995),
        2,
        "Easy to wear, easy to combine.",
    ),
    "T-shirts": (
        _ALPHA,
        ("Organic Tee", "Pocket Tee", "Long-Sleeve Tee", "Striped Tee", "Heavy Tee"),
        (1995, 3995),
        2,
        "Heavyweight organic cotton jersey.",
    ),
    "Sneakers": (
        _SHOES,
        ("Court Sneaker", "Runner", "Canvas Low", "Leather Sneaker", "Trail Runner"),
        (7995, 16995),
        2,
        "Cushioned sole, leather lining.",
    ),
    "Boots": (
        _SHOES,
        ("Chelsea Boot", "Lace-Up Boot", "Winter Boot", "Hiking Boot"),
        (12995, 24995),
        1,
        "Goodyear-welted, resoleable.",
    ),
    "Accessories": (
        ("One size",),
        ("Wool Scarf", "Beanie", "Knit Gloves", "Canvas Tote", "Strickmütze"),
        (1995, 5995),
        1,
        "The finishing touch.",
    ),
}
_STYLE_WORDS = (
    "Fjord",
    "Alster",
    "Harbour",
    "Dune",
    "Heath",
    "Isar",
    "Skagen",
    "Nordic",
    "Storm",
    "Linden",
    "Bornholm",
    "Elbe",
    "Kiel",
    "Moor",
    "Birch",
    "Tide",
    "Hygge",
    "Øresund",
    "Föhr",
    "Lübeck",
)
_COLOURS = (
    ("Black", "BLK"),
    ("Navy", "NAV"),
    ("Olive", "OLV"),
    ("Sand", "SND"),
    ("Grey", "GRY"),
    ("Off-white", "OWH"),
    ("Bordeaux", "BDX"),
    ("Rust", "RST"),
    ("Forest", "FOR"),
    ("Camel", "CML"),
    ("Stone", "STN"),
    ("Sky", "SKY"),
    ("Mustard", "MUS"),
)
_DENIM = (("Indigo", "IND"), ("Black", "BLK"), ("Stone", "STN"), ("Light blue", "LBL"))
_STYLE_COUNT = 160

# --- people ----------------------------------------------------------------------------------------

_DE_FIRST = (
    "Anna",
    "Lena",
    "Jürgen",
    "Jörg",
    "Björn",
    "Günther",
    "Käthe",
    "Lukas",
    "Jonas",
    "Leonie",
    "Emma",
    "Mia",
    "Felix",
    "Maximilian",
    "Sophie",
    "Hannah",
    "Paul",
    "Tobias",
    "Katrin",
    "Sabine",
    "Stefan",
    "Andreas",
    "Özlem",
    "Mehmet",
    "Ömer",
    "Jana",
    "Marie",
    "Moritz",
    "Till",
    "Frauke",
    "Hauke",
    "Gesa",
)
_DE_LAST = (
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Schäfer",
    "Koch",
    "Bauer",
    "Richter",
    "Klein",
    "Wolf",
    "Schröder",
    "Neumann",
    "Schwarz",
    "Zimmermann",
    "Braun",
    "Krüger",
    "Hartmann",
    "Lange",
    "Werner",
    "Krause",
    "Lehmann",
    "Köhler",
    "Jäger",
    "Böhm",
    "Weiß",
    "Groß",
    "Fuchs",
    "Yılmaz",
    "Petersen",
    "Jansen",
)
_DK_FIRST = (
    "Mette",
    "Søren",
    "Jens",
    "Lars",
    "Anne",
    "Kirsten",
    "Mads",
    "Frederik",
    "Sofie",
    "Ida",
    "Freja",
    "Rasmus",
    "Emil",
    "Nikolaj",
    "Line",
    "Camilla",
    "Bjørn",
    "Astrid",
    "Signe",
    "Mikkel",
    "Kasper",
    "Maja",
    "Asger",
    "Æsa",
    "Jørgen",
    "Gry",
    "Sune",
    "Trine",
)
_DK_LAST = (
    "Nielsen",
    "Jensen",
    "Hansen",
    "Pedersen",
    "Andersen",
    "Christensen",
    "Larsen",
    "Sørensen",
    "Rasmussen",
    "Jørgensen",
    "Petersen",
    "Madsen",
    "Kristensen",
    "Olsen",
    "Thomsen",
    "Poulsen",
    "Johansen",
    "Møller",
    "Mortensen",
    "Holm",
    "Kjær",
    "Lund",
    "Dalsgaard",
    "Bækgaard",
    "Østergaard",
    "Aagaard",
    "Frølund",
    "Skovgaard",
)
_DE_ADDRESSES = (
    ("Eppendorfer Weg", "20259", "Hamburg"),
    ("Schulterblatt", "20357", "Hamburg"),
    ("Kastanienallee", "10435", "Berlin"),
    ("Weserstraße", "12045", "Berlin"),
    ("Gärtnerplatz", "80469", "München"),
    ("Venloer Straße", "50672", "Köln"),
    ("Berger Straße", "60316", "Frankfurt am Main"),
    ("Tübinger Straße", "70178", "Stuttgart"),
    ("Nordstraße", "40477", "Düsseldorf"),
    ("Karl-Heine-Straße", "04229", "Leipzig"),
    ("Lister Meile", "30161", "Hannover"),
    ("Ostertorsteinweg", "28203", "Bremen"),
    ("Holstenstraße", "24103", "Kiel"),
    ("Friedrich-Ebert-Straße", "34117", "Kassel"),
)
_DK_ADDRESSES = (
    ("Nørrebrogade", "2200", "København N"),
    ("Vesterbrogade", "1620", "København V"),
    ("Østerbrogade", "2100", "København Ø"),
    ("Jægersborggade", "2200", "København N"),
    ("Amagerbrogade", "2300", "København S"),
    ("Jægergårdsgade", "8000", "Aarhus C"),
    ("Kongensgade", "5000", "Odense C"),
    ("Jomfru Ane Gade", "9000", "Aalborg"),
    ("Algade", "4000", "Roskilde"),
)
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
_VISIT_NOTES = (
    "Tried on knitwear, will come back.",
    "Asked about the new arrivals.",
    "",
    "Picked up a gift voucher.",
    "Looked at winter boots.",
    "",
)
_SIZE_GROUP = {
    "Jackets": "tops",
    "Knitwear": "tops",
    "Shirts": "tops",
    "T-shirts": "tops",
    "Jeans": "jeans",
    "Dresses": "dresses",
    "Sneakers": "shoes",
    "Boots": "shoes",
}
_TOPICS = ("new arrivals", "sale", "sneakers", "knitwear", "events")


def _hours(value):
    return timedelta(hours=value)

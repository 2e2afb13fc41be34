"""The German and Danish catalogues stay complete, compiled and correct, and the app really uses them.

When a test here fails because of a new string: `flask --app app translations update`, translate the
empty/fuzzy entries in omnistore/translations/{de,da}/LC_MESSAGES/messages.po, then
`flask --app app translations compile` (see omnistore/i18n_tools.py).
"""

from datetime import UTC, datetime

import pytest
from babel.messages.pofile import read_po
from flask_babel import force_locale
from flask_login import login_user

from omnistore import i18n_tools
from omnistore.web.i18n import local_datetime, money

LOCALES = i18n_tools.LOCALES
HOW_TO_FIX = (
    "run `flask --app app translations update`, translate the entries listed above in "
    "omnistore/translations/{de,da}/LC_MESSAGES/messages.po, then `flask --app app translations compile`"
)


@pytest.fixture(scope="module")
def extracted():
    """Every message in the sources right now (not the committed .pot, which may be behind)."""
    return i18n_tools.extract()


def catalog(locale):
    with open(i18n_tools.po_path(locale), "rb") as handle:
        return read_po(handle, locale=locale)


# --- (a) every string in the sources has a German and a Danish translation ----------------------------


def test_extraction_finds_the_strings_we_know_about(extracted):
    ids = {message.id for message in extracted if message.id}
    assert "Sign out" in ids  # templates/base.html, {{ _() }}
    assert "Clerk" in ids  # omnistore/web/i18n.py, lazy_gettext as _l
    assert "You were signed out after %(minutes)d minutes without activity." in ids  # gettext as _
    assert "Email" in ids  # omnistore/web/forms.py, a form label
    assert len(ids) > 50


def test_extraction_covers_every_keyword_and_underscore_folders(tmp_path):
    """templates/_components/ must not be skipped (Babel's default filter skips "_" folders)."""
    (tmp_path / "omnistore" / "web").mkdir(parents=True)
    (tmp_path / "templates" / "_components").mkdir(parents=True)
    (tmp_path / "omnistore" / "web" / "thing.py").write_text(
        'A = _l("lazy one")\nB = lazy_gettext("lazy two")\nC = gettext("plain")\n'
        'D = ngettext("%(num)d bag", "%(num)d bags", 2)\nE = _("underscore")\n'
    )
    (tmp_path / "templates" / "_components" / "_bit.html").write_text(
        '{{ _("from a component") }} {{ ngettext("one item", "%(num)d items", n) }} {{ _("Hello %(name)s", name=x) }}'
    )
    (tmp_path / "templates" / "page.html").write_text('{% extends "base.html" %}{{ gettext("page string") }}')
    ids = {
        message.id if isinstance(message.id, str) else tuple(message.id)
        for message in i18n_tools.extract(root=tmp_path)
        if message.id
    }
    assert ids == {
        "lazy one",
        "lazy two",
        "plain",
        ("%(num)d bag", "%(num)d bags"),
        "underscore",
        "from a component",
        ("one item", "%(num)d items"),
        "Hello %(name)s",
        "page string",
    }


@pytest.mark.parametrize("locale", LOCALES)
def test_every_message_is_translated(extracted, locale):
    missing = i18n_tools.missing_translations(extracted, catalog(locale))
    assert not missing, (
        f"{len(missing)} message(s) without a {locale} translation (empty or fuzzy):\n  "
        + "\n  ".join(missing)
        + f"\nTo fix: {HOW_TO_FIX}."
    )


def test_the_committed_template_holds_every_message(extracted):
    """messages.pot is what translators work from; it must not lag behind the sources."""
    with open(i18n_tools.TEMPLATE, "rb") as handle:
        committed = {
            message.id if isinstance(message.id, str) else tuple(message.id)
            for message in read_po(handle)
            if message.id
        }
    current = {message.id if isinstance(message.id, str) else tuple(message.id) for message in extracted if message.id}
    assert current <= committed, f"not in messages.pot: {sorted(map(str, current - committed))}; {HOW_TO_FIX}"


def test_check_command_agrees(extracted):
    from click.testing import CliRunner

    result = CliRunner().invoke(i18n_tools.translations, ["check"])
    complete = not i18n_tools.check(extracted)
    assert (result.exit_code == 0) == complete, result.output


def test_cli_group_is_registered(app):
    result = app.test_cli_runner().invoke(args=["translations", "--help"])
    assert result.exit_code == 0 and "translations update" in result.output


# --- (b) the committed .mo files say exactly what the .po files say -------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
def test_committed_mo_matches_po(locale):
    path = i18n_tools.mo_path(locale)
    assert path.exists(), f"{path.name} for {locale} is missing: run `flask --app app translations compile`"
    fresh = i18n_tools.mo_messages(i18n_tools.compiled(catalog(locale)))
    committed = i18n_tools.mo_messages(path.read_bytes())
    differ = sorted(str(key) for key in fresh.keys() ^ committed.keys()) + sorted(
        str(key) for key in fresh.keys() & committed.keys() if fresh[key] != committed[key]
    )
    assert not differ, (
        f"{locale} messages.mo is stale ({len(differ)} entries differ, e.g. {differ[:5]}): "
        "run `flask --app app translations compile` and commit the .mo"
    )


# --- (c) placeholders survive translation ----------------------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
def test_placeholders_match(locale):
    problems = i18n_tools.placeholder_problems(catalog(locale))
    assert not problems, f"{locale}: placeholders differ from the msgid:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Page %(page)d of %(pages)d", ["%(page)d", "%(pages)d"]),
        ("%(pages)d Seiten, Seite %(page)d", ["%(page)d", "%(pages)d"]),
        ("50 %% off", []),
        ("50 %", ["%<stray>"]),
        ("100 % sicher", ["%s"]),  # Python reads "% s" as a placeholder too
        ("%s and %d", ["%d", "%s"]),
        ("Hello {name}", ["{name}"]),
        ("Nothing here.", []),
    ],
)
def test_placeholder_parsing(text, expected):
    assert i18n_tools.placeholders(text) == expected


def test_placeholder_problems_are_reported():
    from babel.messages.catalog import Catalog

    broken = Catalog(locale="de")
    broken.add("You searched for: %(query)s", "Gesucht: %(suche)s")
    broken.add("Page %(page)d of %(pages)d", "Seite %(page)d von %(pages)d")
    broken.add(("%(num)d bag", "%(num)d bags"), ("eine Tüte", "%(num)d Tüten"))  # fine: singular spelled out
    broken.add(("%(num)d item", "%(num)d items"), ("%(num)d Artikel", "viele Artikel"))  # plural lost its number
    problems = i18n_tools.placeholder_problems(broken)
    assert len(problems) == 2
    assert "%(suche)s" in problems[0] and "viele Artikel" in problems[1]


# --- (d) pages really come out in German and Danish ------------------------------------------------------

NAV = {
    "de": ["Abmelden", "Bestand", "Abholungen", "Kunden", "Bestellungen", "Verkäufer:in"],
    "da": ["Log ud", "Lager", "Afhentninger", "Kunder", "Ordrer", "Ekspedient"],
}


@pytest.mark.parametrize(("locale", "store"), [("de", "HAM"), ("da", "CPH")])
def test_home_page_in_the_clerks_language(client, make, locale, store):
    location = make.location(store)
    clerk = make.staff("clerk", location, locale=locale)
    assert client.login(clerk.email).status_code == 303
    page = client.get("/").get_data(as_text=True)
    assert f'<html lang="{locale}">' in page
    for text in NAV[locale]:
        assert text in page, f"{text!r} missing from the {locale} home page"
    assert "Sign out" not in page and "Pickups" not in page


def test_language_switch_on_the_login_page(client):
    page = client.get("/login", headers={"Accept-Language": "da"}).get_data(as_text=True)
    assert "Log ind" in page and "Adgangskode" in page
    page = client.get("/login", headers={"Accept-Language": "de-DE,de;q=0.9"}).get_data(as_text=True)
    assert "Anmelden" in page and "Passwort" in page


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("de", "Sie wurden nach 30 Minuten ohne Aktivität abgemeldet. Keine Produkte zu „Jacke“ gefunden."),
        ("da", "Du er blevet logget ud efter 30 minutter uden aktivitet. Ingen produkter passer til »Jacke«."),
    ],
)
def test_placeholders_are_filled_in_translations(app, locale, expected):
    from flask import render_template_string
    from flask_babel import gettext

    with app.test_request_context(), force_locale(locale):
        python_side = gettext("You were signed out after %(minutes)d minutes without activity.", minutes=30)
        template_side = render_template_string('{{ _("No products match “%(query)s”.", query=q) }}', q="Jacke")
    assert f"{python_side} {template_side}" == expected


# Babel (CLDR) separates amount and symbol with a no-break space.
MONEY = {"en": "€89.95", "de": "89,95\u00a0€", "da": "89,95\u00a0€"}


@pytest.mark.parametrize("locale", ["en", "de", "da"])
def test_money_for_the_locale(app, locale):
    with app.test_request_context(), force_locale(locale):
        assert money(8995) == MONEY[locale]
        assert money(None) == ""
    with app.test_request_context(), force_locale("da"):
        assert money(8995, "DKK") == "89,95\u00a0kr."


@pytest.mark.parametrize(
    ("locale", "store", "expected", "in_london"),
    [
        ("de", "HAM", "16.07.24, 00:30", "15.07.24, 23:30"),  # 22:30 UTC is the next day in Hamburg (CEST)
        ("da", "CPH", "16.07.2024 00.30", "15.07.2024 23.30"),
    ],
)
def test_dates_in_the_stores_time_zone_and_locale(app, make, locale, store, expected, in_london):
    clerk = make.staff("clerk", make.location(store), locale=locale)
    moment = datetime(2024, 7, 15, 22, 30, tzinfo=UTC)
    with app.test_request_context():
        login_user(clerk)
        assert local_datetime(moment) == expected
        assert local_datetime(None) == ""
        london = make.location("LON", timezone="Europe/London")
        assert local_datetime(moment, london) == in_london  # an explicit location wins


def test_money_and_dates_on_a_rendered_page(app, make):
    from flask import render_template_string

    clerk = make.staff("clerk", make.location("CPH"), locale="da")
    with app.test_request_context():
        login_user(clerk)
        html = render_template_string(
            "{{ _('Total') }}: {{ 8995 | money }} · {{ when | local_datetime }} · {{ 'clerk' | role_label }}",
            when=datetime(2024, 1, 15, 8, 5, tzinfo=UTC),
        )
    assert html == "I alt: 89,95\u00a0€ · 15.01.2024 09.05 · Ekspedient"

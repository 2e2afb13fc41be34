"""Translation catalogues: extract, update, compile, check (English source; German and Danish ship).

When you add or change a user-facing string:

1. Wrap it and extract: ``_("…")`` / ``gettext`` / ``ngettext`` in Python, ``lazy_gettext`` / ``_l`` for
   strings built at import time, ``{{ _("…", name=value) }}`` in templates (placeholders are
   ``%(name)s``, a literal percent sign is ``%%``). Then run::

       flask --app app translations update

   It re-extracts ``omnistore/**.py`` and ``templates/**.html`` (see ``babel.cfg``) into
   ``omnistore/translations/messages.pot``, merges that into ``de`` and ``da``
   ``LC_MESSAGES/messages.po`` (new strings arrive empty, changed ones marked ``#, fuzzy``) and compiles.

2. Translate: fill in every empty ``msgstr`` in both ``messages.po`` files, check each ``#, fuzzy`` guess
   and delete its fuzzy flag. Keep every ``%(placeholder)s`` exactly as in the msgid.

3. Compile and commit: ``flask --app app translations compile`` writes the ``.mo`` files the app loads.
   Commit ``.pot``, ``.po`` and ``.mo`` together.

``flask --app app translations check`` (and ``tests/test_translations.py``) fails while a string lacks a
translation, a placeholder differs or a ``.mo`` is stale. Without an app at hand, the same commands run
as ``python -m omnistore.i18n_tools update|compile|check``.
"""

import io
import re
from datetime import UTC, datetime
from gettext import GNUTranslations
from pathlib import Path

import click
from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
MAPPING = ROOT / "babel.cfg"
TRANSLATIONS = Path(__file__).resolve().parent / "translations"
TEMPLATE = TRANSLATIONS / "messages.pot"
LOCALES = ("de", "da")
LANGUAGE_TEAMS = {"de": "omnistore German", "da": "omnistore Danish"}
KEYWORDS = {
    **DEFAULT_KEYWORDS,
    "lazy_gettext": None,
    "_l": None,
    "lazy_ngettext": (1, 2),
    "lazy_pgettext": ((1, "c"), 2),
}
COMMENT_TAGS = ("Translators:",)
SKIP_DIRS = {"__pycache__", "node_modules", "instance", "build", "dist"}
WRITE_OPTIONS = {"width": 100, "include_lineno": False}  # no line numbers: fewer diffs and conflicts
POT_HEADER = (
    "# Translations template for omnistore: generated, do not edit (edit the .po files).\n"
    "# Regenerate with `flask --app app translations update`; see omnistore/i18n_tools.py."
)
PO_HEADER = (
    "# {language} translations for omnistore.\n"
    "# Workflow: `flask --app app translations update`, translate, `translations compile`;\n"
    "# see omnistore/i18n_tools.py."
)
_VOLATILE_HEADER = re.compile(rb'^"(POT-Creation-Date|PO-Revision-Date): .*\\n"\n', re.MULTILINE)


def po_path(locale):
    return TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"


def mo_path(locale):
    return TRANSLATIONS / locale / "LC_MESSAGES" / "messages.mo"


def _walk_directory(dirpath):
    name = Path(dirpath).name
    # Babel's default filter also skips "_"-prefixed folders, which would lose templates/_components.
    return not name.startswith(".") and name not in SKIP_DIRS


def extract(root=ROOT):
    """Every message in the sources, as a fresh template catalogue (nothing is written)."""
    with open(MAPPING, encoding="utf-8") as mapping:
        method_map, options_map = parse_mapping_cfg(mapping, str(MAPPING))
    catalog = Catalog(
        project="omnistore", copyright_holder="omnistore", charset="utf-8", fuzzy=False, header_comment=POT_HEADER
    )
    found = extract_from_dir(
        str(root),
        method_map,
        options_map,
        keywords=KEYWORDS,
        comment_tags=COMMENT_TAGS,
        strip_comment_tags=True,
        directory_filter=_walk_directory,
    )
    for filename, lineno, message, comments, context in found:
        catalog.add(message, None, [(Path(filename).as_posix(), lineno)], auto_comments=comments, context=context)
    return catalog


def _serialise(catalog):
    buffer = io.BytesIO()
    write_po(buffer, catalog, **WRITE_OPTIONS)
    return buffer.getvalue()


def _write_if_changed(path, data, volatile=_VOLATILE_HEADER):
    """Write `data` unless the file already says the same (ignoring creation/revision dates)."""
    if path.exists() and volatile.sub(b"", path.read_bytes()) == volatile.sub(b"", data):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return True


def read_catalog(path, locale=None):
    with open(path, "rb") as handle:
        return read_po(handle, locale=locale)


def write_template(catalog):
    """messages.pot from an extracted catalogue; True when it changed."""
    catalog.creation_date = datetime.now(UTC)
    return _write_if_changed(TEMPLATE, _serialise(catalog))


def update_locale(locale, template):
    """Merge the template into LOCALE's messages.po (creating it if needed); True when it changed."""
    path = po_path(locale)
    if path.exists():
        catalog = read_catalog(path, locale)
    else:
        catalog = Catalog(
            locale=locale,
            project="omnistore",
            copyright_holder="omnistore",
            fuzzy=False,
            language_team=LANGUAGE_TEAMS.get(locale),
            last_translator="omnistore team",
            header_comment=PO_HEADER.format(language=Locale.parse(locale).english_name),
        )
        catalog.revision_date = datetime.now(UTC)
    catalog.update(template)
    return _write_if_changed(path, _serialise(catalog))


def compiled(catalog):
    """The .mo bytes for a catalogue (fuzzy and empty entries left out, as at run time)."""
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    return buffer.getvalue()


def compile_locale(locale):
    """messages.po → messages.mo; True when the .mo changed."""
    return _write_if_changed(mo_path(locale), compiled(read_catalog(po_path(locale), locale)), re.compile(b"^$"))


def mo_messages(data):
    """The message dictionary gettext loads from .mo bytes (header excluded)."""
    messages = dict(GNUTranslations(io.BytesIO(data))._catalog)
    messages.pop("", None)
    return messages


# --- checks ---------------------------------------------------------------------------------------

_PLACEHOLDER = re.compile(
    r"%(?:\((?P<name>[^)]*)\))?[#0\- +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?(?P<type>[diouxXeEfFgGcrsa%])"
    r"|\{(?P<brace>[A-Za-z_]\w*)[^{}]*\}"
)


def placeholders(text):
    """The format placeholders in `text`, e.g. ['%(minutes)d'], plus '%<stray>' for a lone percent sign."""
    found = []
    for match in _PLACEHOLDER.finditer(text):
        if match["type"] == "%":
            continue
        if match["brace"]:
            found.append("{" + match["brace"] + "}")
        elif match["name"] is not None:
            found.append(f"%({match['name']}){match['type']}")
        else:
            found.append(f"%{match['type']}")
    rest = _PLACEHOLDER.sub("", text)
    found.extend("%<stray>" for _index in range(rest.count("%")))
    return sorted(found)


def _where(message):
    return ", ".join(sorted({filename for filename, _lineno in message.locations})) or "?"


def missing_translations(template, catalog):
    """msgids of `template` without a usable (non-empty, non-fuzzy) translation in `catalog`."""
    missing = []
    for message in template:
        if not message.id:
            continue
        translated = catalog.get(message.id, context=message.context)
        strings = translated.string if translated is not None else None
        forms = list(strings) if isinstance(strings, (list, tuple)) else [strings]
        if translated is None or translated.fuzzy or not all(form and form.strip() for form in forms):
            missing.append(f"{_msgid_text(message)}  ({_where(message)})")
    return missing


def _msgid_text(message):
    return " | ".join(message.id) if isinstance(message.id, (list, tuple)) else message.id


def placeholder_problems(catalog):
    """Translations whose placeholders differ from their msgid's."""
    problems = []
    for message in catalog:
        if not message.id or not message.string or message.fuzzy:
            continue
        if isinstance(message.id, (list, tuple)):
            singular, plural = (placeholders(text) for text in message.id)
            allowed = set(singular) | set(plural)
            for index, form in enumerate(message.string):
                got = placeholders(form or "")
                # A singular form may spell the number out ("one bag"), so only unknown ones are wrong.
                if not set(got) <= allowed or (index > 0 and not set(plural) <= set(got)):
                    problems.append(f"{_msgid_text(message)!r} → [{index}] {form!r}: {got} vs {plural}")
        else:
            expected, got = placeholders(message.id), placeholders(message.string)
            if expected != got:
                problems.append(f"{message.id!r} → {message.string!r}: {got} vs {expected}")
    return problems


def stale_mo(locale):
    """True when messages.mo does not hold exactly what messages.po compiles to."""
    path = mo_path(locale)
    if not path.exists():
        return True
    fresh = mo_messages(compiled(read_catalog(po_path(locale), locale)))
    return fresh != mo_messages(path.read_bytes())


def check(template=None):
    """Problems per locale (an empty dict when everything is complete and compiled)."""
    template = template if template is not None else extract()
    problems = {}
    for locale in LOCALES:
        if not po_path(locale).exists():
            problems[locale] = [f"{po_path(locale).relative_to(ROOT)} is missing"]
            continue
        catalog = read_catalog(po_path(locale), locale)
        found = [f"untranslated or fuzzy: {item}" for item in missing_translations(template, catalog)]
        found += [f"placeholders differ: {item}" for item in placeholder_problems(catalog)]
        if stale_mo(locale):
            found.append(f"{mo_path(locale).relative_to(ROOT)} is out of date: run `translations compile`")
        if found:
            problems[locale] = found
    return problems


# --- command line ---------------------------------------------------------------------------------


def _relative(path):
    return path.relative_to(ROOT).as_posix()


@click.group("translations")
def translations():
    """German and Danish catalogues. After adding or changing a user-facing string:

    \b
    1. flask --app app translations update    (extract, merge into de/da, compile)
    2. translate the empty and "#, fuzzy" entries in
       omnistore/translations/{de,da}/LC_MESSAGES/messages.po
    3. flask --app app translations compile   (then commit .pot, .po and .mo)

    `translations check` fails while anything is missing. Details: omnistore/i18n_tools.py.
    """


@translations.command("update")
@click.option("--compile/--no-compile", "compile_too", default=True, help="Also write the .mo files.")
def update_command(compile_too):
    """Extract the strings, merge them into de and da, compile (step 1 of 3)."""
    template = extract()
    changed = write_template(template)
    click.echo(f"{_relative(TEMPLATE)}: {len(template)} messages{'' if changed else ' (unchanged)'}")
    template = read_catalog(TEMPLATE)
    for locale in LOCALES:
        changed = update_locale(locale, template)
        todo = missing_translations(template, read_catalog(po_path(locale), locale))
        state = "updated" if changed else "unchanged"
        click.echo(f"{_relative(po_path(locale))}: {state}, {len(todo)} to translate")
    if compile_too:
        _compile_all()


def _compile_all():
    for locale in LOCALES:
        changed = compile_locale(locale)
        click.echo(f"{_relative(mo_path(locale))}: {'compiled' if changed else 'up to date'}")


@translations.command("compile")
def compile_command():
    """Compile de and da messages.po into the .mo files the app loads (step 3 of 3)."""
    _compile_all()


@translations.command("check")
def check_command():
    """Fail when a string lacks a translation, a placeholder differs or a .mo is stale."""
    problems = check()
    for locale, items in problems.items():
        click.echo(f"{locale}: {len(items)} problem(s)", err=True)
        for item in items:
            click.echo(f"  {item}", err=True)
    if problems:
        raise click.ClickException("translations are incomplete: run `translations update`, translate, compile")
    click.echo("de and da: every message translated, placeholders match, .mo files up to date.")


if __name__ == "__main__":
    translations()

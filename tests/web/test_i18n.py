"""Templates translate in the request's language, and in another one where code forces it (e.g. an email)."""

from flask import render_template_string
from flask_babel import force_locale, refresh


def test_templates_follow_the_locale_in_force(app):
    def stock():
        return render_template_string('{{ _("Stock") }} · {{ ngettext("%(num)d store", "%(num)d stores", 2) }}')

    with app.app_context(), app.test_request_context("/", headers={"Accept-Language": "da"}):
        assert stock().startswith("Lager")
        with force_locale("de"):
            assert stock().startswith("Bestand")
        assert stock().startswith("Lager")
        with force_locale("en"):
            assert stock().startswith("Stock")
    with app.app_context(), app.test_request_context("/", headers={"Accept-Language": "de"}):
        assert stock().startswith("Bestand")
        refresh()
        assert stock().startswith("Bestand")

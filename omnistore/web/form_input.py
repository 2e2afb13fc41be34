"""The one place where every form's input is checked for its shape, before any view reads it.

A browser's form sends each text field once, as text, form-encoded (multipart only for an upload). Anything
else — a file where a text field belongs, a field sent twice, JSON or another content type, a NUL byte — is
refused here with a 400 and a message that says what was wrong, so no view (nor WTForms) ever sees a file
or a list where it expects a string. A view that takes an upload or a repeated field says so with
`@form_input(files=..., lists=...)`.
"""

from flask import current_app, request
from flask_babel import gettext as _

from omnistore.web.errors import API_PREFIX, error_response

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def form_input(*, files=(), lists=()):
    """Mark a view that accepts uploads in the fields `files` and repeated values in the fields `lists`
    (field names, or prefixes ending in "-" for numbered fields such as "refuse_reason-")."""

    def mark(view):
        view.form_files = frozenset(files)
        view.form_lists = frozenset(lists)
        return view

    return mark


def _declared(names, field):
    return field in names or any(name.endswith("-") and field.startswith(name) for name in names)


def check_request_shape():
    """Before every request: refuse input no form of ours can send (see the module's docstring)."""
    if any("\x00" in value for value in (request.path, *request.args.values())):
        return _refused(_("The request contains a value that cannot be stored."))
    if request.method not in BODY_METHODS or request.path.startswith(API_PREFIX):
        return None
    mimetype = request.mimetype
    if mimetype not in FORM_TYPES:
        if mimetype or (request.content_length or 0) > 0:
            return _refused(_("This form takes form fields only, not other content."))
        return None
    view = current_app.view_functions.get(request.endpoint)
    allowed_files = getattr(view, "form_files", frozenset())
    allowed_lists = getattr(view, "form_lists", frozenset())
    for field in request.files:
        if not _declared(allowed_files, field):
            return _refused(_("The field “%(field)s” takes text, not a file.", field=field[:40]))
    for field, values in request.form.lists():
        if len(values) > 1 and not _declared(allowed_lists, field):
            return _refused(_("The field “%(field)s” was sent more than once.", field=field[:40]))
        if any("\x00" in value for value in values):
            return _refused(_("The request contains a value that cannot be stored."))
    for field, uploads in request.files.lists():
        if len(uploads) > 1 and not _declared(allowed_lists, field):
            return _refused(_("The field “%(field)s” was sent more than once.", field=field[:40]))
    return None


def _refused(message):
    return error_response(400, message, "bad_form_input")

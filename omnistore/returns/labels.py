"""The words of returns in the viewer's language: statuses, grades, reasons, dispositions, refund methods."""

from flask_babel import lazy_gettext as _l

STATUS_LABELS = {
    "received": _l("Received"),
    "graded": _l("Graded"),
    "refund_pending": _l("Refund pending"),
    "refunded": _l("Refunded"),
    "refused": _l("Refused"),
}
GRADE_LABELS = {
    "resell": _l("Resell"),
    "damaged": _l("Damaged"),
    "defective": _l("Defective"),
    "not_ours": _l("Not ours (refuse)"),
}
REASON_LABELS = {
    "does_not_fit": _l("Does not fit"),
    "not_as_described": _l("Not as described"),
    "defective": _l("Defective"),
    "wrong_item": _l("Wrong item sent"),
    "changed_mind": _l("Changed their mind"),
    "other": _l("Other"),
}
DISPOSITION_LABELS = {
    "restocked": _l("Back in stock here"),
    "written_off": _l("Booked out"),
    "refused": _l("Refused, handed back"),
}
METHOD_LABELS = {
    "online": _l("Refund by the web shop / payment provider"),
    "till": _l("Refund at the till"),
    "none": _l("No refund"),
}


def label(mapping, key):
    return str(mapping.get(key, key))

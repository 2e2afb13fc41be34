"""The store's pickup settings, as its manager (or an admin, for any store) sets them: hold and reminder days,
pickup hours, whether the desk takes orders, its pick deadline, and what the store gives to other stores' orders."""

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField
from wtforms.validators import InputRequired, NumberRange, Optional

from omnistore.core.errors import NotFound, ValidationFailed
from omnistore.orders import pick_deadlines
from omnistore.reviews.views import bp
from omnistore.reviews.views.query import store_choices
from omnistore.stores import locations as location_service
from omnistore.stores.models import WEEKDAYS
from omnistore.web.forms import WholeNumberField
from omnistore.web.rendering import role_required

WEEKDAY_LABELS = {
    "mon": _l("Monday"),
    "tue": _l("Tuesday"),
    "wed": _l("Wednesday"),
    "thu": _l("Thursday"),
    "fri": _l("Friday"),
    "sat": _l("Saturday"),
    "sun": _l("Sunday"),
}


class PickupSettingsForm(FlaskForm):
    hold_days = WholeNumberField(_l("Hold days"), validators=[InputRequired(), NumberRange(1, 60)])
    reminder_day = WholeNumberField(_l("Reminder on day"), validators=[InputRequired(), NumberRange(0, 59)])
    pickup_enabled = BooleanField(_l("Pickup desk open for orders"))
    use_store_hours = BooleanField(_l("Pickup whenever the store is open"))
    mon = StringField(WEEKDAY_LABELS["mon"], validators=[Optional()])
    tue = StringField(WEEKDAY_LABELS["tue"], validators=[Optional()])
    wed = StringField(WEEKDAY_LABELS["wed"], validators=[Optional()])
    thu = StringField(WEEKDAY_LABELS["thu"], validators=[Optional()])
    fri = StringField(WEEKDAY_LABELS["fri"], validators=[Optional()])
    sat = StringField(WEEKDAY_LABELS["sat"], validators=[Optional()])
    sun = StringField(WEEKDAY_LABELS["sun"], validators=[Optional()])
    transfer_capacity = WholeNumberField(
        _l("Outgoing transfers per day"), validators=[InputRequired(), NumberRange(0, 10_000)]
    )
    safety_stock = WholeNumberField(
        _l("Safety stock (units kept for this store)"), validators=[InputRequired(), NumberRange(0, 10_000)]
    )
    sourcing_enabled = BooleanField(_l("Supplies other stores' orders"))
    pick_hours = StringField(_l("Pick within (opening hours)"), validators=[Optional()])


def _settings_location():
    code = request.args.get("store", "")[:20]
    if current_user.is_admin and code and code.upper() != "NETWORK":
        found = location_service.get_location(code, include_inactive=True)
        if found is None:
            raise NotFound(_l("No store with that code."))
        return found
    return current_user.location


@bp.route("/settings", methods=["GET", "POST"])
@role_required("manager")
def settings():
    location = _settings_location()
    form = PickupSettingsForm()
    if request.method == "GET":
        form.hold_days.data, form.reminder_day.data = location.hold_days, location.reminder_day
        form.pickup_enabled.data, form.sourcing_enabled.data = location.pickup_enabled, location.sourcing_enabled
        form.transfer_capacity.data, form.safety_stock.data = location.transfer_capacity, location.safety_stock
        form.use_store_hours.data = not location.pickup_hours
        form.pick_hours.data = "" if location.pick_hours is None else f"{location.pick_hours:g}"
        for day in WEEKDAYS:
            source = location.pickup_hours or location.opening_hours or {}
            getattr(form, day).data = location_service.format_hours(source.get(day, []))
    elif form.validate_on_submit():
        hours, bad = {}, False
        if not form.use_store_hours.data:
            for day in WEEKDAYS:
                field = getattr(form, day)
                parsed = location_service.parse_hours((field.data or "")[:200])
                if parsed is None:
                    field.errors = [_("Give the hours as 09:30-20:00, several separated by commas.")]
                    bad = True
                hours[day] = parsed or []
        if not bad:
            try:
                _location, changes = location_service.update_pickup_settings(
                    location,
                    location_service.PickupSettings(
                        hold_days=form.hold_days.data,
                        reminder_day=form.reminder_day.data,
                        pickup_enabled=form.pickup_enabled.data,
                        sourcing_enabled=form.sourcing_enabled.data,
                        transfer_capacity=form.transfer_capacity.data,
                        safety_stock=form.safety_stock.data,
                        pickup_hours=hours,
                        pick_hours=(form.pick_hours.data or "")[:20],
                    ),
                    staff=current_user,
                )
            except ValidationFailed as failure:
                for name, message in failure.fields.items():
                    if hasattr(form, name):
                        getattr(form, name).errors = [str(message)]
            else:
                flash(_("Pickup settings saved.") if changes else _("Nothing changed."), "info")
                return redirect(
                    url_for("manager.settings", store=location.code if current_user.is_admin else None), 303
                )
    status = 422 if request.method == "POST" else 200
    return render_template(
        "manager/settings.html",
        form=form,
        location=location,
        weekdays=WEEKDAYS,
        stores=store_choices(),
        network_pick_hours=f"{pick_deadlines.pick_hours():g}",
    ), status

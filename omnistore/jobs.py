"""Every periodic job, in one list: what `flask --app app worker` runs (and, on a laptop, each web process's
in-process worker). A new job is one line: a name, how often, a verb that takes `now` and returns a report whose
str() says what it did, and what the job is about (shown on the Outbox page). The verb must be idempotent and
safe to run twice at once (its own claims: conditional updates, FOR UPDATE SKIP LOCKED); the worker adds a lock
and a claim on the due time around it (core/periodic.py).

It names verbs of several domains, so it sits above them all, like cli.py; the worker machinery in the core
knows no job and is handed this list."""

from datetime import timedelta

from flask_babel import lazy_gettext as _l

from omnistore.clienteling import followups, lifecycle, nearby
from omnistore.core import idempotency
from omnistore.core.outbox_delivery import deliver_all_due
from omnistore.core.periodic import Job
from omnistore.orders import rejection_choices
from omnistore.orders.drafts import release_all_expired_holds
from omnistore.pickups import deadlines


def _outbox_sweep(config):
    return timedelta(seconds=config["OMNISTORE_OUTBOX_POLL_SECONDS"])


JOBS = (
    Job("holds.release", timedelta(minutes=1), release_all_expired_holds, _l("units held for drafts whose time is up")),
    Job("pickups.deadlines", timedelta(minutes=15), deadlines.run, _l("pickup reminders, and expiry after pickup-by")),
    Job(
        "pickups.rejections",
        timedelta(minutes=15),
        rejection_choices.run,
        _l("the default for rejected pickup lines whose customer has not chosen"),
    ),
    Job(
        "nearby.notify",
        timedelta(minutes=5),
        nearby.run,
        _l("e-mails to customers whose wished-for items came back in a store near them"),
    ),
    Job(
        "submissions.forget", timedelta(days=1), idempotency.forget_old, _l("keys of forms sent from tablets long ago")
    ),
    Job(
        "customers.stages",
        timedelta(hours=1),
        lifecycle.record_stage_changes,
        _l("each customer's lifecycle stage, when it changed (for the movements between stages)"),
    ),
    Job(
        "followups.send",
        timedelta(hours=1),
        followups.run,
        _l("the question after a purchase, some days after collection or delivery"),
    ),
    Job("outbox.deliver", _outbox_sweep, deliver_all_due, _l("retries, and anything a missed wake-up left")),
)

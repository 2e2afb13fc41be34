"""Flask commands for operators and scripts: staff, market, api-token, demo, seed, bench, worker, holds, pickups,
outbox, webhooks.

demo, seed, bench, bench-ordering and bench-capacity are tooling (the package omnistore_tools): registered here,
imported only when one of them runs, so a web process never loads the load generator."""

import importlib
import sys

import click
from flask import Flask

from omnistore.core.channels import CHANNELS
from omnistore.core.errors import DomainError
from omnistore.core.extensions import db
from omnistore.stores import locations, markets
from omnistore.stores import staff as staff_service
from omnistore.stores.models import DEFAULT_API_CHANNELS, Market


def _fail(error: DomainError):
    message = error.message
    for field, problem in (getattr(error, "fields", None) or {}).items():
        message += f"\n  {field}: {problem}"
    raise click.ClickException(message)


# The verb's fields as `location save` names them, so a refusal points at the option to correct.
_LOCATION_OPTIONS = {"code": "CODE", "latitude": "--lat", "longitude": "--lon", "opening_hours": "--hours"}


def _week_hours(specs):
    """["mon-fri=09:30-20:00", "sun=closed"] → {"mon": "09:30-20:00", …, "sun": ""} (the verb checks the hours)."""
    from omnistore.stores.models import WEEKDAYS

    week = {}
    for spec in specs:
        days, sep, hours = spec.partition("=")
        first, _dash, last = days.strip().lower().partition("-")
        last = last or first
        if not sep or first not in WEEKDAYS or last not in WEEKDAYS or WEEKDAYS.index(first) > WEEKDAYS.index(last):
            raise DomainError(f"--hours takes DAYS=HOURS, like mon-fri=09:30-20:00 or sun=closed, not {spec!r}.")
        hours = hours.strip()
        for day in WEEKDAYS[WEEKDAYS.index(first) : WEEKDAYS.index(last) + 1]:
            week[day] = "" if hours.lower() == "closed" else hours
    return week


class _LazyCommand(click.Command):
    """A command whose module is imported only when it is run (or its --help is asked for): `flask --help` lists
    it with the help given here (the real command's first paragraph); everything else comes from the real command
    in `target` ("module:attribute")."""

    def __init__(self, name, target, help):
        super().__init__(name, help=help)
        self._target = target

    def real(self) -> click.Command:
        module, _, attribute = self._target.partition(":")
        return getattr(importlib.import_module(module), attribute)

    def make_context(self, info_name, args, parent=None, **extra):
        return self.real().make_context(info_name, args, parent=parent, **extra)

    def get_params(self, ctx):
        return self.real().get_params(ctx)


def _print_status(app, jobs):
    from omnistore.core import periodic
    from omnistore.core.types import utcnow

    now = utcnow()
    found = periodic.status(jobs, app.config, now)

    def ago(moment):
        return "never" if moment is None else f"{int((now - moment).total_seconds())} s ago"

    if found.ok:
        for beat in found.alive:
            since = f"{beat.started_at:%Y-%m-%d %H:%M} UTC"
            click.echo(f"worker {beat.id} ({beat.kind}): alive, seen {ago(beat.seen_at)}, up since {since}")
    else:
        click.echo(f"NO WORKER ALIVE (last heard from: {ago(found.last_seen)})")
    for row in found.jobs:
        state = row.state
        if state is None:
            click.echo(f"{row.job.name:<20} every {row.every}  never ran")
            continue
        outcome = state.last_outcome or "running"
        detail = state.last_error if state.last_outcome == "failed" else state.last_report
        late = "  LATE" if row.late else ""
        click.echo(
            f"{row.job.name:<20} every {row.every}  last {ago(state.last_started_at)}: {outcome}"
            f"{' — ' + detail if detail else ''}{late}"
        )
    if not found.ok:
        sys.exit(1)


def register_cli(app: Flask):
    @app.cli.group()
    def staff():
        """Staff logins: create, list, disable."""

    @staff.command("create")
    @click.argument("email")
    @click.option("--role", type=click.Choice(["clerk", "manager", "admin"]), required=True)
    @click.option("--location", "location_code", required=True, help="Home location code, e.g. HAM.")
    @click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
    @click.option("--name", default="", help="Shown on screen and in the audit trail.")
    @click.option("--locale", type=click.Choice(["en", "de", "da"]), default="en")
    def staff_create(email, role, location_code, password, name, locale):
        """Add a staff login."""
        try:
            member = staff_service.create_staff(
                email, role=role, location_code=location_code, password=password, name=name, locale=locale
            )
        except DomainError as error:
            _fail(error)
        click.echo(f"Created {member.role} {member.email} at {member.location.code}.")

    @staff.command("list")
    def staff_list():
        """List staff logins."""
        for member in staff_service.list_staff():
            state = "" if member.active else "  (disabled)"
            click.echo(f"{member.location.code:<8} {member.role:<8} {member.email}{state}")

    @staff.command("disable")
    @click.argument("email")
    def staff_disable(email):
        """Disable a login and end its open sessions."""
        try:
            member = staff_service.disable_staff(email)
        except DomainError as error:
            _fail(error)
        click.echo(f"Disabled {member.email}; open sessions are signed out.")

    @app.cli.group()
    def market():
        """Markets: the countries the chain sells in, their currency, VAT and delivery terms."""

    @market.command("save")
    @click.argument("code")
    @click.option("--name", default=None, help="Shown to staff, e.g. Danmark.")
    @click.option("--currency", default=None, help="ISO 4217, e.g. DKK.")
    @click.option("--locale", type=click.Choice(["en", "de", "da"]), default=None, help="The customers' language.")
    @click.option("--vat", "vat_rate_bp", type=int, default=None, help="VAT rate in basis points: 2500 is 25 %.")
    @click.option("--shipping-fee", "shipping_fee_minor", type=int, default=None, help="In minor units.")
    @click.option("--free-shipping-from", "free_shipping_from_minor", type=int, default=None, help="In minor units.")
    @click.option(
        "--postcode",
        "postcode_rule",
        type=click.Choice([key for key in markets.POSTCODE_RULES if key] + ["none"]),
        default=None,
        help="The postcode rule of the country's delivery addresses (none: no check).",
    )
    @click.option(
        "--return-window",
        "return_window",
        default=None,
        help="Days goods may come back (online purchases get at least 14); 'network' for OMNISTORE_RETURN_WINDOW_DAYS.",
    )
    def market_save(code, return_window, **given):
        """Make a market or change its terms (a known country, DE or DK, starts from its usual terms). The markets
        screen (Markets, for admins) saves through the same verb."""
        import dataclasses

        code = code.strip().upper()
        if given.get("postcode_rule") == "none":
            given["postcode_rule"] = ""
        if return_window is not None:
            window = return_window.strip().lower()
            if window == "network":
                given["return_window_days"] = None
            elif window.isdigit():
                given["return_window_days"] = int(window)
            else:
                _fail(DomainError("--return-window takes a number of days or 'network'."))
        current = db.session.get(Market, code)
        if current is not None:
            base = markets.terms_of(current)
        elif code in markets.KNOWN_MARKETS:
            base = markets.KNOWN_MARKETS[code]
        else:
            base = markets.MarketTerms(code, code, "", "en", 0, 0, 0)
        terms = dataclasses.replace(
            base,
            code=code,
            **{k: v for k, v in given.items() if v is not None or k == "return_window_days"},
        )
        try:
            saved = markets.save_market(terms)
        except DomainError as error:
            _fail(error)
        click.echo(f"Market {saved.code}: {saved.name}, {saved.currency}, VAT {saved.vat_rate_bp / 100:g} %.")

    @market.command("list")
    def market_list():
        """List the markets and their stores."""
        for found in markets.list_markets():
            codes = " ".join(loc.code for loc in locations.list_locations() if loc.market_code == found.code)
            click.echo(f"{found.code}  {found.currency}  VAT {found.vat_rate_bp / 100:g} %  {found.name}: {codes}")

    @market.command("assign")
    @click.argument("location_code")
    @click.argument("market_code")
    def market_assign(location_code, market_code):
        """Move a location into a market (it sells at that market's prices from now on)."""
        try:
            location = markets.assign_location(location_code, market_code)
        except DomainError as error:
            _fail(error)
        click.echo(f"{location.code} now sells in market {location.market_code}.")

    @app.cli.group()
    def location():
        """Locations: the chain's stores and warehouses."""

    @location.command("save")
    @click.argument("code")
    @click.option("--name", default=None, help="Shown to staff and customers, e.g. Hamburg Mönckebergstraße.")
    @click.option("--kind", type=click.Choice(locations.LOCATION_KINDS), default=None, help="[new: store]")
    @click.option("--market", default=None, help="The market it sells in, e.g. DE (required for a new location).")
    @click.option("--street", default=None)
    @click.option("--postcode", default=None, help="Checked against the market's postcode rule.")
    @click.option("--city", default=None)
    @click.option("--country", default=None, help="ISO 3166 code [new: the market's].")
    @click.option("--phone", default=None)
    @click.option("--lat", "latitude", type=float, default=None, help="Latitude (required for a new location).")
    @click.option("--lon", "longitude", type=float, default=None, help="Longitude (required for a new location).")
    @click.option("--timezone", default=None, help="e.g. Europe/Copenhagen [new: the country's].")
    @click.option(
        "--hours",
        multiple=True,
        metavar="DAYS=HOURS",
        help="Opening hours, repeatable: mon-fri=09:30-20:00, sat=10:00-16:00, sun=closed (a new location needs them).",
    )
    def location_save(code, hours, **given):
        """Make a store or warehouse, or change what is given of it (validated and audited)."""
        try:
            opening = _week_hours(hours) if hours else None
            saved, made = locations.save_location(locations.LocationDetails(code, opening_hours=opening, **given))
        except DomainError as error:
            fields = getattr(error, "fields", None) or {}
            error.fields = {_LOCATION_OPTIONS.get(name, f"--{name}"): problem for name, problem in fields.items()}
            _fail(error)
        click.echo(
            f"{'Made' if made else 'Saved'} {saved.kind} {saved.code}: {saved.name}, {saved.city or '-'}, "
            f"market {saved.market_code}, {saved.timezone}."
        )

    @location.command("list")
    def location_list():
        """List the locations, inactive ones too."""
        for found in locations.list_locations(include_inactive=True):
            state = "" if found.active else "  (inactive)"
            click.echo(f"{found.code}  {found.kind}  {found.market_code}  {found.name}, {found.city}{state}")

    @app.cli.group("api-token")
    def api_token():
        """Bearer tokens for integrations (web shop, ERP)."""

    @api_token.command("create")
    @click.argument("name")
    @click.option(
        "--channel",
        "channels",
        multiple=True,
        type=click.Choice(CHANNELS),
        help="An order channel it may read and act on (repeat for several). Default: web.",
    )
    @click.option(
        "--store",
        "stores",
        multiple=True,
        metavar="CODE",
        help="A location it may read and act on (repeat for several). Default: the whole network.",
    )
    @click.option("--read-only", is_flag=True, help="It may only read.")
    @click.option(
        "--all-status-urls",
        is_flag=True,
        help="It sees the status URL (the customer's QR link) of every order in its scope, "
        "not only of the orders it placed.",
    )
    def api_token_create(name, channels, stores, read_only, all_status_urls):
        """Create a token for NAME and print it (only its hash is stored: keep it safe)."""
        try:
            _client, token = staff_service.create_api_client(
                name,
                channels=channels or DEFAULT_API_CHANNELS,
                stores=stores or None,
                read_only=read_only,
                all_status_urls=all_status_urls,
            )
        except DomainError as error:
            _fail(error)
        click.echo(token)

    @api_token.command("list")
    def api_token_list():
        """List integration tokens with their scope."""
        for client in staff_service.list_api_clients():
            state = "" if client.active else "  (revoked)"
            click.echo(f"{client.name:<24} {client.token_prefix}…  {staff_service.describe_api_scope(client)}{state}")

    @api_token.command("revoke")
    @click.argument("name")
    def api_token_revoke(name):
        """Revoke the token of NAME."""
        try:
            staff_service.revoke_api_client(name)
        except DomainError as error:
            _fail(error)
        click.echo(f"Revoked the token of {name}.")

    @app.cli.command("demo")
    def demo():
        """Load the demo network (idempotent) and print its logins."""
        from omnistore_tools.demo import load_demo

        try:
            result = load_demo()
        except DomainError as error:
            _fail(error)
        click.echo(result.logins_text())

    @app.cli.command("seed")
    @click.option(
        "--stores", type=click.IntRange(1, 9999), required=True, help="Number of seed stores (codes S001, S002, …)."
    )
    @click.option(
        "--products",
        type=click.IntRange(1, 9_999_999),
        required=True,
        help="Number of products counted as SKUs (variants), in styles of 5 sizes. Every seed store "
        "stocks every one: --stores 200 --products 25000 makes 5,000,000 stock rows.",
    )
    @click.option(
        "--customers",
        type=click.IntRange(0, 9_999_999),
        default=1000,
        show_default=True,
        help="Number of seed customers.",
    )
    @click.option(
        "--pickup-orders",
        type=click.IntRange(0, 50_000_000),
        default=0,
        show_default=True,
        help="Number of seed pickup orders over the last year (for the manager's review; adds the seed "
        "admin admin@seed.omnistore-demo.de).",
    )
    def seed(stores, products, customers, pickup_orders):
        """Create or grow a large synthetic network for benchmarks.

        Re-running adds only what is missing (never deletes); seed data never collides with the demo.
        Seed clerks: clerk.s001@seed.omnistore-demo.de …, password omnistore-demo.
        """
        from omnistore_tools.seed import seed_network, seed_pickup_orders

        def progress(label, total):
            return click.progressbar(length=total, label=f"{label:<13}", file=sys.stderr)

        try:
            result = seed_network(stores, products, customers, progress=progress)
            order_result = seed_pickup_orders(pickup_orders, progress=progress) if pickup_orders else None
        except DomainError as error:
            _fail(error)
        click.echo(result.summary_text())
        if order_result:
            click.echo(order_result.summary_text())

    @app.cli.command("worker")
    @click.option(
        "--status",
        "show_status",
        is_flag=True,
        help="Show when each job last ran and which workers are alive (exit code 1 when none is), then exit.",
    )
    def worker(show_status):
        """Run every periodic job on its schedule and deliver the outbox (until SIGTERM or Ctrl-C).

        Run one or more, on any machines: each due time of a job runs once, and the web processes only enqueue.
        Start it after `flask db upgrade` and before the web processes."""
        from omnistore.core import worker as worker_process
        from omnistore.jobs import JOBS

        if show_status:
            _print_status(app, JOBS)
            return
        import logging
        import signal

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        runner = worker_process.Worker(app, JOBS)

        def stop(signum, _frame):
            logging.getLogger("omnistore.worker").info("%s: stopping", signal.Signals(signum).name)
            runner.stop_soon()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        runner.run()

    @app.cli.group()
    def holds():
        """Units held for order drafts at the counter."""

    @holds.command("release")
    def holds_release():
        """Release holds whose time is up, once (the worker does it every minute; safe beside it)."""
        from omnistore.orders.drafts import release_all_expired_holds

        click.echo(f"Released {release_all_expired_holds().units} held unit(s).")

    @app.cli.group()
    def submissions():
        """Forms sent with an idempotency key (a tablet's queue sent after a lost connection)."""

    @submissions.command("forget")
    def submissions_forget():
        """Forget the keys of forms sent more than 30 days ago (the worker does it daily; safe to run concurrently)."""
        from omnistore.core.idempotency import forget_old

        click.echo(f"Forgot {forget_old()} submission key(s).")

    @app.cli.group()
    def pickups():
        """Click-and-collect: time limits."""

    @pickups.command("expire")
    def pickups_expire():
        """Send due pickup reminders and expire ready orders past their pickup-by date (stock back, customer
        and webhooks told), once. The worker does it every 15 minutes; idempotent and safe beside it."""
        from omnistore.pickups.deadlines import run

        report = run()
        for number, problem in report.problems:
            click.echo(f"{number}: {problem}", err=True)
        click.echo(str(report))

    @pickups.command("rejections")
    def pickups_rejections():
        """Decide rejected pickup lines whose customers have not chosen in time: sent from another store when
        one can, else left out (orders/rejection_choices.py). Cron it (e.g. every 15 minutes); idempotent."""
        from omnistore.orders.rejection_choices import run

        report = run()
        for number, problem in report.problems:
            click.echo(f"{number}: {problem}", err=True)
        click.echo(str(report))

    @app.cli.group()
    def outbox():
        """The outbox of emails and webhooks."""

    @outbox.command("deliver")
    @click.option(
        "--limit",
        type=click.IntRange(1, 10000),
        default=500,
        show_default=True,
        help="At most this many messages per round.",
    )
    def outbox_deliver(limit):
        """Deliver what is due, once (the worker delivers as messages are queued). Safe beside it."""
        from omnistore.core.outbox_delivery import deliver_all_due

        click.echo(str(deliver_all_due(limit=limit)))

    @app.cli.group()
    def webhooks():
        """Webhook endpoints: where order.ready / collected / expired / cancelled are POSTed (signed)."""

    @webhooks.command("add")
    @click.argument("name")
    @click.argument("url")
    @click.option("--event", "events", multiple=True, help="Only this event (repeatable); default: every event.")
    def webhooks_add(name, url, events):
        """Register URL under NAME and print its signing secret (shown once: give it to the receiver)."""
        from omnistore.core import webhooks as webhook_service

        try:
            endpoint = webhook_service.add_endpoint(name, url, events)
        except DomainError as error:
            _fail(error)
        click.echo(endpoint.secret)

    @webhooks.command("list")
    def webhooks_list():
        """List the endpoints and the events each receives."""
        from omnistore.core import webhooks as webhook_service

        for endpoint in webhook_service.list_endpoints():
            state = "" if endpoint.active else "  (disabled)"
            click.echo(f"{endpoint.name:<20} {endpoint.url}  {','.join(endpoint.events) or 'all events'}{state}")

    @webhooks.command("disable")
    @click.argument("name")
    def webhooks_disable(name):
        """Stop sending to NAME (deliveries already queued are still attempted)."""
        from omnistore.core import webhooks as webhook_service

        try:
            webhook_service.disable_endpoint(name)
        except DomainError as error:
            _fail(error)
        click.echo(f"Disabled the webhook endpoint {name}.")

    from omnistore.i18n_tools import translations

    app.cli.add_command(translations)

    app.cli.add_command(
        _LazyCommand(
            "bench",
            "omnistore_tools.bench.command:bench",
            "Benchmark the staff pages on a large synthetic network, in-process and through gunicorn.",
        )
    )
    app.cli.add_command(
        _LazyCommand(
            "bench-ordering",
            "omnistore_tools.bench.ordering:bench_ordering",
            "Benchmark the sourcing engine (p95 of a proposal; target ≤ 50 ms at 200 stores) and order placement "
            "(orders per second with CLIENTS concurrent clients; run it on PostgreSQL).",
        )
    )
    app.cli.add_command(
        _LazyCommand(
            "bench-capacity",
            "omnistore_tools.bench.capacity:bench_capacity",
            "How many tablets the app and its database carry: a store day replayed across N simulated tablets "
            "(largest N with action p95 ≤ 150 ms and every open panel fresh within 2 s).",
        )
    )

"""The demo's orders: pickups in every status at every pickup store, deliveries, and the handovers of the last
five weeks (a part of the demo builder)."""

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, update

from omnistore.orders import pickup_codes
from omnistore.orders import services as orders
from omnistore.orders.models import Order, OrderEvent, OrderLine, Pickup, Transfer
from omnistore.pickups import preparing
from omnistore_tools.demo.data import (
    _CHECK_IN_NOTES,
    _DE_ADDRESSES,
    _DK_ADDRESSES,
    RECENT_HANDOVERS,
    SITES,
    STORE_CODES,
    _hours,
)


class _Orders:
    """The part of the demo builder (`building._Builder`) that makes the orders in every status, pickup and
    delivery, with their transfers, events and the stock movements they cause."""

    # -- orders
    def build_orders(self):
        rng = self.rng
        ham_plan = [
            ("placed", "local"),
            ("placed", "remote"),
            ("in_transit", "remote"),
            ("in_transit", "remote"),
            ("ready", "local"),
            ("ready", "remote"),
            ("ready", "checked_in"),
            ("ready", "on_the_way"),
            ("ready", "overdue"),
            ("collected", "today"),
            ("collected", "partial"),
            ("collected", "local"),
            ("collected", "remote"),
            ("collected", "remote"),
            ("collected", "local"),
            ("expired", "remote"),
            ("cancelled", "local"),
            ("cancelled", "remote"),
        ]
        cph_plan = [
            ("placed", "local"),
            ("in_transit", "remote"),
            ("ready", "local"),
            ("ready", "checked_in"),
            ("collected", "today"),
            ("collected", "remote"),
            ("collected", "local"),
            ("expired", "local"),
            ("cancelled", "remote"),
        ]
        statuses = ("collected",) * 5 + ("ready", "ready", "placed", "in_transit", "expired", "cancelled")
        for site in SITES:
            if not site.pickup:
                continue
            plan = {"HAM": ham_plan, "CPH": cph_plan}.get(site.code)
            if plan is None:
                plan = [(rng.choice(statuses), rng.choice(("local", "remote"))) for _ in range(9)]
            for number, (status, flavour) in enumerate(plan):
                # Jürgen Müller has a ready order at HAM, Søren Kjær one at CPH (plan entry 4 resp. 2).
                regular = (site.code == "HAM" and number in (4, 12)) or (site.code == "CPH" and number == 2)
                self.pickup_order(site, status, flavour, self.fixed_customers[site.code] if regular else None)
            # Handovers of the last five weeks, so the manager's dashboard has something to show.
            for _ in range(RECENT_HANDOVERS.get(site.code, 8)):
                self.pickup_order(site, "collected", "remote" if rng.random() < 0.3 else "local", recent=True)
        for status, count in (("placed", 8), ("shipped", 8), ("delivered", 40), ("cancelled", 6)):
            for _ in range(count):
                self.delivery_order(status)

    def choose_lines(self, count, location_id=None, exclude=None):
        """`count` (variant, quantity) pairs available at `location_id`, or None if it has too little."""
        rng, chosen = self.rng, []
        for _ in range(200):
            variant = rng.choice(self.orderable)
            quantity = 2 if rng.random() < 0.1 else 1
            if variant in (v for v, _q in chosen) or self.ledger.available(variant.id, location_id) < quantity:
                continue
            chosen.append((variant, quantity))
            if len(chosen) == count:
                return chosen
        return None

    def remote_source(self, pickup_id, count):
        """A source other than the pickup store (the warehouse mostly) and lines it can supply."""
        others = [i for c, i in self.loc.items() if i != pickup_id and c != "WH1"]
        while True:
            source = self.loc["WH1"] if self.rng.random() < 0.6 else self.rng.choice(others)
            lines = self.choose_lines(count, source)
            if lines:
                return source, lines

    def new_order(self, **fields):
        self.orders.append(fields)
        return len(self.orders) - 1

    def event(self, order, kind, at, from_status="", to_status="", staff_id=None, location_id=None, **detail):
        self.events.append(
            dict(
                order=order,
                kind=kind,
                from_status=from_status,
                to_status=to_status,
                staff_id=staff_id,
                api_client_id=None,
                location_id=location_id,
                detail=detail,
                created_at=at,
            )
        )

    def channel(self, pickup_id, fulfilment):
        rng = self.rng
        weights = (45, 25, 20, 10) if fulfilment == "pickup" else (55, 30, 5, 10)
        channel = rng.choices(("web", "app", "store", "phone"), weights)[0]
        origin = pickup_id if channel in ("store", "phone") else None
        if origin is None and channel in ("store", "phone"):
            origin = self.loc[rng.choice(STORE_CODES)]
        if channel == "web":
            payment = "paid" if rng.random() < 0.8 or fulfilment == "delivery" else "pay_at_pickup"
        elif channel == "app":
            payment = "paid"
        else:
            payment = "pay_at_pickup" if fulfilment == "pickup" and rng.random() < 0.5 else "paid"
        return channel, origin, payment

    def short_code(self):
        """The product's own code generator (one alphabet, the desk's), unique within the demo."""
        while True:
            code = pickup_codes.new_short_code()
            if code not in self.short_codes:
                self.short_codes.add(code)
                return code

    def pickup_order(self, site, status, flavour, customer_id=None, recent=False):
        rng, ledger = self.rng, self.ledger
        pickup_id = self.loc[site.code]
        clerk = self.clerk(pickup_id)
        hold = timedelta(days=site.hold_days)
        count = 2 if flavour == "partial" else rng.choice((1, 1, 1, 2, 2, 3))
        lines = None
        if flavour != "remote" and status != "in_transit":
            lines = self.choose_lines(count, pickup_id)
        source = pickup_id
        if lines is None:
            source, lines = self.remote_source(pickup_id, count)
        remote = source != pickup_id

        # Timeline, worked out backwards from the state the order is in now.
        picking = _hours(rng.uniform(2, 6))
        shipping = _hours(rng.uniform(2, 8))
        travel = _hours(rng.uniform(18, 40))
        to_shelf = _hours(rng.uniform(0.5, 2))
        lead = picking + shipping + travel + to_shelf if remote else _hours(rng.uniform(1, 5))
        ready_at = collected_at = ended_at = None
        if status == "placed":
            placed_at = self.now - _hours(rng.uniform(0.5, 5 if remote else 1.5))
        elif status == "in_transit":
            placed_at = self.now - picking - shipping - _hours(rng.uniform(1, 16))
        elif status == "cancelled":
            placed_at = self.now - timedelta(days=rng.uniform(1, 60))
            ended_at = placed_at + _hours(rng.uniform(0.5, 6))
        else:
            if status == "ready":
                ready_at = self.now - {
                    # past the end of its pickup-by day (preparing.pickup_by_for: at most a day after `hold`)
                    "overdue": hold + timedelta(days=1) + _hours(rng.uniform(3, 20)),
                    "checked_in": _hours(rng.uniform(20, 50)),
                    "on_the_way": _hours(rng.uniform(4, 30)),
                }.get(flavour, timedelta(hours=rng.uniform(2, site.hold_days * 24 - 30)))
            elif status == "collected" and flavour == "today":
                local = self.now.astimezone(ZoneInfo(site.timezone))
                since_midnight = local - local.replace(hour=0, minute=0, second=0, microsecond=0)
                collected_at = self.now - since_midnight * rng.uniform(0.2, 0.6)
                ready_at = collected_at - _hours(rng.uniform(3, 48))
            elif status == "collected" and recent:
                collected_at = self.opening_time(site, days_ago=rng.randint(1, 35))
                ready_at = collected_at - _hours(rng.uniform(2, 70))
            elif status == "collected":
                ready_at = self.now - timedelta(days=rng.uniform(2, 90))
                collected_at = min(
                    ready_at + _hours(rng.uniform(2, site.hold_days * 24 - 12)), ready_at + (self.now - ready_at) / 2
                )
            else:  # expired
                ready_at = self.now - hold - timedelta(days=rng.uniform(2, 60))
                ended_at = preparing.pickup_by_for(site, ready_at) + _hours(rng.uniform(1, 12))  # the next expiry run
            placed_at = ready_at - lead

        channel, origin, payment = self.channel(pickup_id, "pickup")
        placer = self.clerk(origin) if origin else None
        market = self.market_of[origin or pickup_id]  # the selling store's market, else the pickup store's
        total = sum(v.prices[market] * q for v, q in lines)
        order = self.new_order(
            channel=channel,
            customer_id=customer_id or rng.choice(self.customers[site.country]),
            fulfilment="pickup",
            status=status,
            payment_state=payment,
            pickup_location_id=pickup_id,
            origin_location_id=origin,
            delivery_address={},
            tracking_reference="",
            market_code=market,
            currency=self.currency[market],
            total_minor=total,
            idempotency_key=None,
            placed_by_staff_id=placer,
            promised_at=placed_at + lead + _hours(2),
            placed_at=placed_at,
            updated_at=placed_at,
        )
        self.event(order, "placed", placed_at, "", "placed", placer, origin, channel=channel)
        for variant, quantity in lines:
            ledger.move(
                variant.id,
                source,
                "allocation",
                placed_at,
                allocated=quantity,
                reason="allocated to order",
                order=order,
                staff_id=placer,
            )
        last = placed_at

        transfer = None
        if remote:
            picked_at, shipped_at = placed_at + picking, placed_at + picking + shipping
            received_at = shipped_at + travel
            self.event(order, "sourced", placed_at, location_id=source, source=self.code_of[source])
            transfer_status = {
                "placed": "picked" if picked_at < self.now else "requested",
                "in_transit": "shipped",
                "cancelled": "cancelled",
            }.get(status, "received")
            transfer = len(self.transfers)
            self.transfers.append(
                dict(
                    order=order,
                    source_location_id=source,
                    destination_location_id=pickup_id,
                    status=transfer_status,
                    tracking_reference=""
                    if transfer_status in ("requested", "picked", "cancelled")
                    else f"TR-{self.code_of[source]}-{rng.randint(1000, 9999)}",
                    created_at=placed_at,
                    picked_at=picked_at if transfer_status in ("picked", "shipped", "received") else None,
                    shipped_at=shipped_at if transfer_status in ("shipped", "received") else None,
                    received_at=received_at if transfer_status == "received" else None,
                )
            )
            if status in ("in_transit", "ready", "collected", "expired"):
                self.event(order, "picked", picked_at, staff_id=self.clerk(source), location_id=source)
                self.event(order, "shipped", shipped_at, "placed", "in_transit", self.clerk(source), source)
                for variant, quantity in lines:
                    ledger.move(
                        variant.id,
                        source,
                        "transfer_out",
                        shipped_at,
                        on_hand=-quantity,
                        allocated=-quantity,
                        reason=f"transfer to {site.code}",
                        order=order,
                    )
                last = shipped_at
            if status in ("ready", "collected", "expired"):
                self.event(order, "received", received_at, staff_id=clerk, location_id=pickup_id)
                for variant, quantity in lines:
                    ledger.move(
                        variant.id,
                        pickup_id,
                        "transfer_in",
                        received_at,
                        on_hand=quantity,
                        allocated=quantity,
                        reason=f"transfer from {self.code_of[source]}",
                        order=order,
                        staff_id=clerk,
                    )
        elif ready_at is not None:
            self.event(order, "picked", ready_at - _hours(0.3), staff_id=clerk, location_id=pickup_id)

        pickup = dict(
            order=order,
            token=pickup_codes.new_token(),
            short_code=self.short_code(),
            shelf_location="",
            ready_at=ready_at,
            pickup_by=preparing.pickup_by_for(site, ready_at) if ready_at else None,
            reminded_at=None,
            on_the_way_at=None,
            checked_in_at=None,
            check_in_note="",
            collected_at=None,
            collected_by_staff_id=None,
            verification="",
            payment_collected_at=None,
        )
        self.pickups.append(pickup)
        if ready_at is not None:
            pickup["shelf_location"] = f"{rng.choice('ABCD')}-{rng.randint(1, 24):02d}"
            self.event(
                order,
                "ready",
                ready_at,
                "in_transit" if remote else "placed",
                "ready",
                clerk,
                pickup_id,
                shelf=pickup["shelf_location"],
            )
            self.event(order, "notified", ready_at + timedelta(minutes=1), channel="email", topic="order.ready")
            last = ready_at
            reminder = ready_at + timedelta(days=site.hold_days - 2)
            if reminder < (collected_at or ended_at or self.now):
                pickup["reminded_at"] = reminder
                self.event(order, "reminded", reminder, channel="email", topic="order.reminder")
            if flavour in ("checked_in", "on_the_way"):
                pickup["on_the_way_at"] = self.now - timedelta(minutes=rng.randint(10, 40))
                self.event(order, "on_the_way", pickup["on_the_way_at"])
                last = pickup["on_the_way_at"]
            if flavour == "checked_in":
                pickup["checked_in_at"] = self.now - timedelta(minutes=rng.randint(1, 8))
                pickup["check_in_note"] = rng.choice(_CHECK_IN_NOTES)
                self.event(order, "checked_in", pickup["checked_in_at"], note=pickup["check_in_note"])
                last = pickup["checked_in_at"]

        line_status = {
            "placed": "allocated",
            "in_transit": "shipped",
            "ready": "picked",
            "collected": "collected",
            "expired": "released",
            "cancelled": "released",
        }[status]
        for number, (variant, quantity) in enumerate(lines):
            refused = flavour == "partial" and number == 1
            self.lines.append(
                dict(
                    order=order,
                    variant_id=variant.id,
                    quantity=quantity,
                    unit_price_minor=variant.prices[market],
                    source_location_id=source,
                    transfer=transfer,
                    status="refused" if refused else line_status,
                    status_reason="Did not fit" if refused else "",
                )
            )

        if status == "collected":
            handler = self.staff[(rng.choice(("clerk", "manager")), pickup_id)]
            verification = rng.choice(("qr", "qr", "code_name", "id"))
            pickup.update(collected_at=collected_at, collected_by_staff_id=handler, verification=verification)
            if payment == "pay_at_pickup":
                pickup["payment_collected_at"] = collected_at
            refused = 0
            for number, (variant, quantity) in enumerate(lines):
                if flavour == "partial" and number == 1:
                    refused += quantity
                    ledger.move(
                        variant.id,
                        pickup_id,
                        "release",
                        collected_at,
                        allocated=-quantity,
                        reason="refused at pickup: did not fit",
                        order=order,
                        staff_id=handler,
                    )
                else:
                    ledger.move(
                        variant.id,
                        pickup_id,
                        "handover",
                        collected_at,
                        on_hand=-quantity,
                        allocated=-quantity,
                        reason="handed over at the pickup desk",
                        order=order,
                        staff_id=handler,
                    )
            self.event(
                order,
                "collected",
                collected_at,
                "ready",
                "collected",
                handler,
                pickup_id,
                verification=verification,
                refused=refused,
            )
            last = collected_at
        elif status == "expired":
            for variant, quantity in lines:
                ledger.move(
                    variant.id,
                    pickup_id,
                    "release",
                    ended_at,
                    allocated=-quantity,
                    reason="pickup expired",
                    order=order,
                )
            self.event(order, "expired", ended_at, "ready", "expired", location_id=pickup_id)
            last = ended_at
        elif status == "cancelled":
            reason = rng.choice(("customer asked to cancel", "payment failed", "found it elsewhere"))
            for variant, quantity in lines:
                ledger.move(
                    variant.id,
                    source,
                    "release",
                    ended_at,
                    allocated=-quantity,
                    reason=f"order cancelled: {reason}",
                    order=order,
                    staff_id=placer,
                )
            self.event(order, "cancelled", ended_at, "placed", "cancelled", placer, origin, reason=reason)
            last = ended_at
        self.orders[order]["updated_at"] = last

    def opening_time(self, site, days_ago):
        """A moment between 10:00 and 19:00 (store time) about `days_ago` days ago, on a day other than Sunday."""
        zone = ZoneInfo(site.timezone)
        day = (self.now - timedelta(days=days_ago)).astimezone(zone)
        if day.weekday() == 6:
            day -= timedelta(days=1)
        opening = day.replace(hour=10, minute=0, second=0, microsecond=0)
        return (opening + _hours(self.rng.uniform(0, 9))).astimezone(self.now.tzinfo)

    def delivery_order(self, status):
        rng, ledger = self.rng, self.ledger
        country = "DK" if rng.random() < 0.3 else "DE"
        customer_id = rng.choice(self.customers[country])
        lines = None
        source = self.loc["WH1"]
        if rng.random() < 0.25:  # ship-from-store
            source = self.loc[rng.choice([s.code for s in SITES if s.kind == "store" and s.country == country])]
            lines = self.choose_lines(rng.choice((1, 1, 2)), source)
        if lines is None:
            source = self.loc["WH1"]
            lines = self.choose_lines(rng.choice((1, 1, 2, 3)), source)
        street, postcode, city = rng.choice(_DK_ADDRESSES if country == "DK" else _DE_ADDRESSES)
        first, last_name = self.person(country)
        address = dict(
            name=f"{first} {last_name}",
            street=f"{street} {rng.randint(1, 140)}",
            postcode=postcode,
            city=city,
            country=country,
        )
        placed_at = self.now - {"placed": _hours(rng.uniform(1, 20)), "shipped": _hours(rng.uniform(20, 60))}.get(
            status, timedelta(days=rng.uniform(3, 90))
        )
        shipped_at = placed_at + _hours(rng.uniform(4, 20))
        delivered_at = shipped_at + _hours(rng.uniform(20, 60))
        tracking = f"00340434{rng.randint(0, 10**12 - 1):012d}" if status in ("shipped", "delivered") else ""
        channel, origin, payment = self.channel(None, "delivery")
        market = self.market_of[origin] if origin else country  # the selling store's, else the delivery country's
        placer = self.clerk(origin) if origin else None
        order = self.new_order(
            channel=channel,
            customer_id=customer_id,
            fulfilment="delivery",
            status=status,
            payment_state=payment,
            pickup_location_id=None,
            origin_location_id=origin,
            delivery_address=address,
            tracking_reference=tracking,
            market_code=market,
            currency=self.currency[market],
            total_minor=sum(v.prices[market] * q for v, q in lines),
            idempotency_key=None,
            placed_by_staff_id=placer,
            promised_at=placed_at + timedelta(days=3),
            placed_at=placed_at,
            updated_at=placed_at,
        )
        self.event(order, "placed", placed_at, "", "placed", placer, origin, channel=channel)
        for variant, quantity in lines:
            ledger.move(
                variant.id,
                source,
                "allocation",
                placed_at,
                allocated=quantity,
                reason="allocated to order",
                order=order,
                staff_id=placer,
            )
        transfer = len(self.transfers)
        self.transfers.append(
            dict(
                order=order,
                source_location_id=source,
                destination_location_id=None,
                status={"placed": "requested", "shipped": "shipped", "delivered": "received"}.get(status, "cancelled"),
                tracking_reference=tracking,
                created_at=placed_at,
                picked_at=shipped_at - _hours(1) if tracking else None,
                shipped_at=shipped_at if tracking else None,
                received_at=delivered_at if status == "delivered" else None,
            )
        )
        last = placed_at
        if tracking:
            packer = self.clerk(source)
            self.event(order, "picked", shipped_at - _hours(1), staff_id=packer, location_id=source)
            self.event(order, "shipped", shipped_at, "placed", "shipped", packer, source, tracking=tracking)
            for variant, quantity in lines:
                ledger.move(
                    variant.id,
                    source,
                    "handover",
                    shipped_at,
                    on_hand=-quantity,
                    allocated=-quantity,
                    reason="handed to the carrier",
                    order=order,
                    staff_id=packer,
                )
            last = shipped_at
        if status == "delivered":
            self.event(order, "delivered", delivered_at, "shipped", "delivered", tracking=tracking)
            last = delivered_at
        if status == "cancelled":
            last = placed_at + _hours(rng.uniform(0.5, 3))
            for variant, quantity in lines:
                ledger.move(
                    variant.id,
                    source,
                    "release",
                    last,
                    allocated=-quantity,
                    reason="order cancelled: customer asked to cancel",
                    order=order,
                    staff_id=placer,
                )
            self.event(
                order, "cancelled", last, "placed", "cancelled", placer, origin, reason="customer asked to cancel"
            )
        line_status = {"placed": "allocated", "shipped": "shipped", "delivered": "delivered"}.get(status, "released")
        for variant, quantity in lines:
            self.lines.append(
                dict(
                    order=order,
                    variant_id=variant.id,
                    quantity=quantity,
                    unit_price_minor=variant.prices[market],
                    source_location_id=source,
                    transfer=transfer,
                    status=line_status,
                    status_reason="",
                )
            )
        self.orders[order]["updated_at"] = last

    def flush_orders(self):
        """Insert the orders, number them like the app does (OS-<yy>-<id>), then everything hanging off them."""
        order_ids = self.insert_returning(Order, [dict(row, number=None) for row in self.orders])
        numbers = [
            orders.order_number(order_id, row["placed_at"])
            for row, order_id in zip(self.orders, order_ids, strict=True)
        ]
        table = Order.__table__
        self.session.execute(
            update(table).where(table.c.id == bindparam("order_id")).values(number=bindparam("n")),
            [dict(order_id=i, n=n) for i, n in zip(order_ids, numbers, strict=True)],
        )
        for row in self.transfers:
            row["order_id"] = order_ids[row.pop("order")]
        transfer_ids = self.insert_returning(Transfer, self.transfers) if self.transfers else []
        for rows in (self.lines, self.pickups, self.events):
            for row in rows:
                row["order_id"] = order_ids[row.pop("order")]
        for row in self.lines:
            index = row.pop("transfer")
            row["transfer_id"] = transfer_ids[index] if index is not None else None
        self.insert(OrderLine, self.lines)
        self.insert(Pickup, self.pickups)
        self.insert(OrderEvent, self.events)
        for movement in self.ledger.movements:
            if isinstance(movement["reference"], int):
                movement["reference"] = numbers[movement["reference"]]

"""The status words of orders (a pickup's status is its order's), order lines and transfers, defined once.

Each status is a StrEnum member whose value is what the database stores (so `order.status == "placed"` and
`order.status == OrderStatus.PLACED` are the same test, and no migration follows from this module). Beside
each enum: its translated labels, title-case for badges and lists ("Ready for pickup"), and for orders and
lines also the lower-case words that go into sentences ("it is ready for pickup"). Which moves an order may
make is orders/services.TRANSITIONS' business, not this module's.

Templates reach the labels through the filters `status_label`, `status_word`, `line_status_label`,
`line_status_word` and `transfer_label`, and this module as the global `status_groups` (web/i18n.py).
"""

from enum import StrEnum

from flask_babel import lazy_gettext as _l


class OrderStatus(StrEnum):
    PLACED = "placed"
    IN_TRANSIT = "in_transit"
    READY = "ready"
    COLLECTED = "collected"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    SHIPPED = "shipped"
    DELIVERED = "delivered"


class LineStatus(StrEnum):
    ALLOCATED = "allocated"
    PICKED = "picked"
    SHORT = "short"
    COLLECTED = "collected"
    REFUSED = "refused"
    RELEASED = "released"
    SHIPPED = "shipped"
    DELIVERED = "delivered"


class TransferStatus(StrEnum):
    REQUESTED = "requested"
    PICKED = "picked"
    SHIPPED = "shipped"
    RECEIVED = "received"
    CANCELLED = "cancelled"


# --- which statuses each fulfilment knows, and the groups the services ask about ------------------------

PICKUP_STATUSES = (
    OrderStatus.PLACED,
    OrderStatus.IN_TRANSIT,
    OrderStatus.READY,
    OrderStatus.COLLECTED,
    OrderStatus.EXPIRED,
    OrderStatus.CANCELLED,
)
DELIVERY_STATUSES = (OrderStatus.PLACED, OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.CANCELLED)
ORDER_STATUSES = tuple(OrderStatus)
PREPARING_STATUSES = (OrderStatus.PLACED, OrderStatus.IN_TRANSIT)  # a pickup not yet ready
OPEN_PICKUP_STATUSES = PREPARING_STATUSES + (OrderStatus.READY,)  # something to collect
OPEN_STATUSES = OPEN_PICKUP_STATUSES + (OrderStatus.SHIPPED,)
FINAL_STATUSES = (OrderStatus.COLLECTED, OrderStatus.EXPIRED, OrderStatus.CANCELLED, OrderStatus.DELIVERED)

LINE_STATUSES = tuple(LineStatus)
RESERVED_LINE_STATUSES = (LineStatus.ALLOCATED, LineStatus.PICKED)  # reserved for the customer where they are
HELD_LINE_STATUSES = RESERVED_LINE_STATUSES + (LineStatus.SHIPPED,)  # still to be collected (shipped: on its way)
INACTIVE_LINE_STATUSES = (LineStatus.SHORT, LineStatus.RELEASED, LineStatus.REFUSED)  # goods not on their way

TRANSFER_STATUSES = tuple(TransferStatus)
OPEN_TRANSFER_STATUSES = (TransferStatus.REQUESTED, TransferStatus.PICKED)  # not yet on the road
UNRECEIVED_TRANSFER_STATUSES = OPEN_TRANSFER_STATUSES + (TransferStatus.SHIPPED,)  # neither received nor cancelled


# --- translated labels ------------------------------------------------------------------------------------

ORDER_STATUS_LABELS = {
    OrderStatus.PLACED: _l("Placed"),
    OrderStatus.IN_TRANSIT: _l("In transit"),
    OrderStatus.READY: _l("Ready for pickup"),
    OrderStatus.COLLECTED: _l("Collected"),
    OrderStatus.EXPIRED: _l("Expired"),
    OrderStatus.CANCELLED: _l("Cancelled"),
    OrderStatus.SHIPPED: _l("Shipped"),
    OrderStatus.DELIVERED: _l("Delivered"),
}
ORDER_STATUS_WORDS = {
    OrderStatus.PLACED: _l("placed"),
    OrderStatus.IN_TRANSIT: _l("in transit"),
    OrderStatus.READY: _l("ready for pickup"),
    OrderStatus.COLLECTED: _l("collected"),
    OrderStatus.EXPIRED: _l("expired"),
    OrderStatus.CANCELLED: _l("cancelled"),
    OrderStatus.SHIPPED: _l("shipped"),
    OrderStatus.DELIVERED: _l("delivered"),
}
LINE_STATUS_LABELS = {
    LineStatus.ALLOCATED: _l("Reserved"),
    LineStatus.PICKED: _l("Picked"),
    LineStatus.SHORT: _l("Short"),
    LineStatus.COLLECTED: _l("Collected"),
    LineStatus.REFUSED: _l("Refused"),
    LineStatus.RELEASED: _l("Back in stock"),
    LineStatus.SHIPPED: _l("Shipped"),
    LineStatus.DELIVERED: _l("Delivered"),
}
LINE_STATUS_WORDS = {
    LineStatus.ALLOCATED: _l("reserved"),
    LineStatus.PICKED: _l("picked"),
    LineStatus.SHORT: _l("short"),
    LineStatus.COLLECTED: _l("collected"),
    LineStatus.REFUSED: _l("refused"),
    LineStatus.RELEASED: _l("released"),
    LineStatus.SHIPPED: _l("shipped"),
    LineStatus.DELIVERED: _l("delivered"),
}
TRANSFER_STATUS_LABELS = {
    TransferStatus.REQUESTED: _l("To pick"),
    TransferStatus.PICKED: _l("Picked"),
    TransferStatus.SHIPPED: _l("Shipped"),
    TransferStatus.RECEIVED: _l("Received"),
    TransferStatus.CANCELLED: _l("Cancelled"),
}


def _look_up(table):
    def label(status):
        """The translated label of `status` (a member or its stored string); an unknown value as it is."""
        return table.get(status, status)

    return label


order_label = _look_up(ORDER_STATUS_LABELS)
order_word = _look_up(ORDER_STATUS_WORDS)
line_label = _look_up(LINE_STATUS_LABELS)
line_word = _look_up(LINE_STATUS_WORDS)
transfer_label = _look_up(TRANSFER_STATUS_LABELS)

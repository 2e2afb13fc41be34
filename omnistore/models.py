"""Every model, imported in one place: the package imports it first, so all are mapped before any is used
(their relationships name each other across domains), and Alembic compares them with the database."""

from omnistore.catalog.models import Product, Variant
from omnistore.core.audit import AuditEvent
from omnistore.core.idempotency import FormSubmission
from omnistore.core.outbox import OutboxMessage
from omnistore.core.webhooks import WebhookEndpoint
from omnistore.customers.models import (
    Consent,
    Customer,
    CustomerAccess,
    CustomerMerge,
    CustomerNote,
    CustomerVisit,
    WishlistItem,
)
from omnistore.orders.models import DraftHold, DraftLine, Order, OrderDraft, OrderEvent, OrderLine, Pickup, Transfer
from omnistore.reviews.models import ReviewDay, ReviewDirty, ReviewFact
from omnistore.stock.models import StockLevel, StockMovement, VariantStock
from omnistore.stores.models import ApiClient, Location, Staff, StaffSession

__all__ = [
    "ApiClient",
    "AuditEvent",
    "Consent",
    "Customer",
    "CustomerAccess",
    "CustomerMerge",
    "CustomerNote",
    "CustomerVisit",
    "DraftHold",
    "DraftLine",
    "FormSubmission",
    "Location",
    "Order",
    "OrderDraft",
    "OrderEvent",
    "OrderLine",
    "OutboxMessage",
    "Pickup",
    "Product",
    "ReviewDay",
    "ReviewDirty",
    "ReviewFact",
    "Staff",
    "StaffSession",
    "StockLevel",
    "StockMovement",
    "Transfer",
    "Variant",
    "VariantStock",
    "WebhookEndpoint",
    "WishlistItem",
]

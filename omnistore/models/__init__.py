"""All models, importable from one place (Alembic and the services use this)."""
from .audit import AuditEvent
from .catalog import Product, Variant
from .customers import Consent, Customer, CustomerAccess, CustomerMerge, CustomerNote, CustomerVisit, WishlistItem
from .drafts import DraftHold, DraftLine, OrderDraft
from .locations import Location
from .orders import Order, OrderEvent, OrderLine, Pickup, Transfer
from .outbox import OutboxMessage
from .reviews import ReviewDay, ReviewDirty, ReviewFact
from .staff import ApiClient, Staff, StaffSession
from .stock import StockLevel, StockMovement, VariantStock
from .webhooks import WebhookEndpoint

__all__ = [
    "ApiClient", "AuditEvent", "Consent", "Customer", "CustomerAccess", "CustomerMerge", "CustomerNote",
    "CustomerVisit", "DraftHold", "DraftLine", "Location", "Order", "OrderDraft", "OrderEvent",
    "OrderLine", "OutboxMessage", "Pickup", "Product", "ReviewDay", "ReviewDirty", "ReviewFact", "Staff",
    "StaffSession", "StockLevel", "StockMovement", "Transfer", "Variant", "VariantStock", "WebhookEndpoint",
    "WishlistItem",
]

"""Every model, imported in one place: the package imports it first, so all are mapped before any is used
(their relationships name each other across domains), and Alembic compares them with the database."""

from omnistore.catalog.models import Product, Variant, VariantPrice
from omnistore.clienteling.models import CustomerStageChange, NearbyAlert, NearbyScan, PurchaseFollowUp
from omnistore.core.audit import AuditEvent
from omnistore.core.idempotency import FormSubmission
from omnistore.core.outbox import OutboxMessage
from omnistore.core.periodic import JobState, WorkerBeat
from omnistore.core.webhooks import WebhookEndpoint
from omnistore.customers.models import (
    Consent,
    Customer,
    CustomerAccess,
    CustomerMerge,
    CustomerNote,
    CustomerVisit,
    MarketingSend,
    NotifyRequest,
    WishlistItem,
)
from omnistore.offers.models import IssuedOffer, Offer, OfferRedemption
from omnistore.orders.models import (
    DraftHold,
    DraftLine,
    LineRejection,
    Order,
    OrderDraft,
    OrderEvent,
    OrderLine,
    Pickup,
    Transfer,
    TransferItem,
)
from omnistore.returns.models import Return, ReturnLine, ReturnSending
from omnistore.reviews.models import AcquisitionSpend, ReviewDay, ReviewDirty, ReviewFact
from omnistore.stock.models import CountTask, StockCount, StockCountLine, StockLevel, StockMovement, VariantStock
from omnistore.stores.models import ApiClient, Location, Market, Staff, StaffSession

__all__ = [
    "AcquisitionSpend",
    "ApiClient",
    "AuditEvent",
    "Consent",
    "CountTask",
    "Customer",
    "CustomerAccess",
    "CustomerMerge",
    "CustomerNote",
    "CustomerStageChange",
    "CustomerVisit",
    "DraftHold",
    "DraftLine",
    "FormSubmission",
    "IssuedOffer",
    "JobState",
    "LineRejection",
    "MarketingSend",
    "Location",
    "Market",
    "Offer",
    "OfferRedemption",
    "NearbyAlert",
    "NearbyScan",
    "NotifyRequest",
    "Order",
    "OrderDraft",
    "OrderEvent",
    "OrderLine",
    "OutboxMessage",
    "Pickup",
    "PurchaseFollowUp",
    "Product",
    "Return",
    "ReturnLine",
    "ReturnSending",
    "ReviewDay",
    "ReviewDirty",
    "ReviewFact",
    "Staff",
    "StaffSession",
    "StockCount",
    "StockCountLine",
    "StockLevel",
    "StockMovement",
    "Transfer",
    "TransferItem",
    "Variant",
    "VariantPrice",
    "VariantStock",
    "WebhookEndpoint",
    "WorkerBeat",
    "WishlistItem",
]

"""Who did what to which record, when and from where."""

from datetime import datetime

from flask import has_request_context, request
from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from omnistore.core.extensions import db
from omnistore.core.types import UTCDateTime, utcnow


class AuditEvent(db.Model):
    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_entity", "entity_type", "entity_id", "created_at"),
        Index("ix_audit_event_location_at", "location_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    action: Mapped[str] = mapped_column(String(64))  # e.g. "staff.login", "order.cancelled"
    entity_type: Mapped[str] = mapped_column(String(32), default="")
    entity_id: Mapped[str] = mapped_column(String(64), default="")
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    api_client_id: Mapped[int | None] = mapped_column(ForeignKey("api_client.id"))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"))
    ip_address: Mapped[str] = mapped_column(String(45), default="")
    detail: Mapped[dict] = mapped_column(db.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    staff = relationship("Staff")


def record(action, *, entity=None, staff=None, api_client=None, location_id=None, **detail):
    """Add an AuditEvent for `action` on `entity` (a model instance or a (type, id) pair)."""
    entity_type, entity_id = "", ""
    if isinstance(entity, tuple):
        entity_type, entity_id = entity
    elif entity is not None:
        entity_type, entity_id = entity.__tablename__, entity.id
    if location_id is None and staff is not None:
        location_id = staff.location_id
    event = AuditEvent(
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id or ""),
        staff_id=staff.id if staff is not None else None,
        api_client_id=api_client.id if api_client is not None else None,
        location_id=location_id,
        ip_address=(request.remote_addr or "")[:45] if has_request_context() else "",
        detail=detail,
    )
    db.session.add(event)
    return event

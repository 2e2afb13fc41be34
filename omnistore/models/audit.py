"""Who did what to which record, when and from where."""
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ._types import UTCDateTime, utcnow


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

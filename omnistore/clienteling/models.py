"""What clienteling keeps of its own: the history of each customer's lifecycle stage (clienteling/lifecycle.py)."""

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from omnistore.core.extensions import db
from omnistore.core.types import UTCDateTime, one_of

# The stages' names, in the order of the journey (lifecycle.Stage spells the same words).
STAGE_NAMES = ("acquisition", "first_purchase", "loyal", "at_risk", "lapsed")


class CustomerStageChange(db.Model):
    """A customer entered `stage` (from `from_stage`; None: the first stage recorded for them) at `since`.
    Written by the periodic job lifecycle.record_stage_changes, only when the stage changed: the newest row per
    customer is the stage they were last seen in."""

    __tablename__ = "customer_stage_change"
    __table_args__ = (
        one_of("stage", STAGE_NAMES, "stage"),
        one_of("coalesce(from_stage, 'acquisition')", STAGE_NAMES, "from_stage"),
        Index("ix_customer_stage_change_customer", "customer_id", "id"),
        Index("ix_customer_stage_change_since", "since"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    from_stage: Mapped[str | None] = mapped_column(String(16))
    stage: Mapped[str] = mapped_column(String(16))
    since: Mapped[datetime] = mapped_column(UTCDateTime)

"""Products (styles) and their variants (SKUs)."""

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from omnistore.core.extensions import db
from omnistore.core.types import UTCDateTime, utcnow


class Product(db.Model):
    __tablename__ = "product"
    __table_args__ = (
        # PostgreSQL only: trigrams make the search's LIKE '%word%' an index probe (pg_trgm); SQLite scans.
        Index(
            "ix_product_search_text_trgm",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    style_code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    brand: Mapped[str] = mapped_column(String(100), default="")
    category: Mapped[str] = mapped_column(String(100), default="", index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    image_url: Mapped[str] = mapped_column(String(500), default="")
    # Lower-cased, accent-folded name/brand/style for search ("Müller" is stored as "mueller muller").
    search_text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Indexed: the newest change is the search's cue that the catalogue's words changed (stock/search.py).
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, index=True)

    variants: Mapped[list["Variant"]] = relationship(
        back_populates="product", order_by="Variant.id", cascade="all, delete-orphan"
    )

    def __repr__(self):
        return f"<Product {self.style_code}>"


class Variant(db.Model):
    __tablename__ = "variant"
    __table_args__ = (CheckConstraint("length(ean) = 13", name="ean_length"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id", ondelete="CASCADE"), index=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    ean: Mapped[str] = mapped_column(String(13), unique=True)
    size: Mapped[str] = mapped_column(String(32), default="")
    colour: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    product: Mapped[Product] = relationship(back_populates="variants")
    # One price per market it is sold in (none: not sellable there); see catalog/prices.py.
    prices: Mapped[list["VariantPrice"]] = relationship(
        back_populates="variant", order_by="VariantPrice.market_code", cascade="all, delete-orphan"
    )

    @property
    def label(self):
        return " / ".join(part for part in (self.colour, self.size) if part)

    def __repr__(self):
        return f"<Variant {self.sku}>"


class VariantPrice(db.Model):
    """A variant's price in one market, VAT included, in the market's currency's minor units (cents, øre):
    the same in store, online and by phone within that market."""

    __tablename__ = "variant_price"
    __table_args__ = (CheckConstraint("amount_minor >= 0", name="amount_minor"),)

    variant_id: Mapped[int] = mapped_column(ForeignKey("variant.id", ondelete="CASCADE"), primary_key=True)
    market_code: Mapped[str] = mapped_column(ForeignKey("market.code"), primary_key=True, index=True)
    amount_minor: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    variant: Mapped[Variant] = relationship(back_populates="prices")

"""The discount an offer gives on a basket: which lines it applies to (the basket, a category or a product),
the amount in minor units (a percentage rounded half up to a whole minor unit, or a fixed amount never more
than what it applies to), and its share on each line (proportional, the remainders to the largest shares,
so the lines add up to the discount exactly and no line goes below zero). Pure arithmetic: no session."""

from dataclasses import dataclass


@dataclass(frozen=True)
class BasketLine:
    """A line as the discount sees it."""

    product_id: int
    category: str
    quantity: int
    unit_price_minor: int

    @property
    def total_minor(self):
        return self.quantity * self.unit_price_minor


@dataclass(frozen=True)
class Discount:
    """What an offer takes off: the total, and each line's share (same order as the lines asked)."""

    total_minor: int
    per_line: tuple  # of int, one per basket line

    @property
    def applies(self):
        return self.total_minor > 0


NO_DISCOUNT = Discount(0, ())


def applies_to(offer, line: BasketLine) -> bool:
    if offer.scope == "basket":
        return True
    if offer.scope == "category":
        return (line.category or "").casefold() == (offer.category or "").casefold()
    return line.product_id == offer.product_id


def percent_of(amount_minor: int, percent: int) -> int:
    """`percent` % of an amount, rounded half up to a whole minor unit."""
    return (amount_minor * percent * 2 + 100) // 200


def discount_for(offer, lines) -> Discount:
    """The discount `offer` (kind, value, scope, category, product_id) gives on `lines` (BasketLines)."""
    lines = tuple(lines)
    eligible = [i for i, line in enumerate(lines) if applies_to(offer, line) and line.total_minor > 0]
    base = sum(lines[i].total_minor for i in eligible)
    if base <= 0:
        return Discount(0, tuple(0 for _ in lines))
    total = percent_of(base, offer.value) if offer.kind == "percent" else min(offer.value, base)
    return Discount(total, spread(total, [lines[i].total_minor if i in eligible else 0 for i in range(len(lines))]))


def spread(total: int, weights) -> tuple:
    """`total` split over `weights` in proportion, in whole units, adding up to `total` exactly; the units left
    by rounding down go to the largest remainders (then the earlier line). Never more than a line's weight."""
    weights = list(weights)
    base = sum(weights)
    if base <= 0 or total <= 0:
        return tuple(0 for _ in weights)
    total = min(total, base)
    shares = [total * w // base for w in weights]
    left = total - sum(shares)
    order = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % base), i))
    for i in order:
        if left <= 0:
            break
        if weights[i] > shares[i]:
            shares[i] += 1
            left -= 1
    return tuple(shares)

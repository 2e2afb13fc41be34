"""One pager for the lists that count their rows (orders, a figure's orders, handovers, the outbox, a stock
level's history): a `Page` of items and `paginate(query, page, per_page)`.

A page number out of range is brought back in range (below 1: the first page, past the end: the last), so a
stale link shows the nearest page instead of an empty one. The pager controls are the macro of
templates/_components/pager.html.
"""

from dataclasses import dataclass

from sqlalchemy import func, select

from omnistore.core.extensions import db


@dataclass(frozen=True)
class Page:
    items: list
    page: int
    per_page: int
    total: int

    @property
    def pages(self):
        return page_count(self.total, self.per_page)

    @property
    def has_prev(self):  # newer: every list is newest first
        return self.page > 1

    @property
    def has_next(self):  # older
        return self.page < self.pages


def page_count(total, per_page):
    """How many pages `total` rows fill (at least one: an empty list is one empty page)."""
    return max(1, -(-total // per_page))


def clamp(page, total, per_page):
    """`page` brought into range for `total` rows (anything that is not a whole number: the first page)."""
    page = page if isinstance(page, int) and not isinstance(page, bool) else 1
    return min(max(page, 1), page_count(total, per_page))


def paginate(query, page, per_page, *, rows=False) -> Page:
    """One page of `query` (a select, already ordered) and the count of all its rows. The items are the
    first column's objects, or with `rows` the whole result rows."""
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    page = clamp(page, total, per_page)
    paged = query.limit(per_page).offset((page - 1) * per_page)
    items = list(db.session.execute(paged).all()) if rows else db.session.scalars(paged).all()
    return Page(items=items, page=page, per_page=per_page, total=total)

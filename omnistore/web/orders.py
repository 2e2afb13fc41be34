"""Orders of this store: the list and one order's page."""
from flask import Blueprint, render_template, request
from flask_login import current_user

from ..models.orders import ORDER_STATUSES
from ..services import orders as order_service
from .rendering import login_required, render_page_or_partial

bp = Blueprint("orders", __name__, url_prefix="/orders")


@bp.get("/")
@login_required
def index():
    status = request.args.get("status", "")
    page = request.args.get("page", 1, type=int) or 1
    result = order_service.list_orders_for_staff(
        current_user, status=status if status in ORDER_STATUSES else None, page=page
    )
    return render_page_or_partial(
        "orders/index.html", "orders/_list.html", result=result, status=status, statuses=ORDER_STATUSES
    )


@bp.get("/<number>")
@login_required
def detail(number):
    order = order_service.get_order_for_staff(number[:40], current_user)
    return render_template("orders/detail.html", order=order)

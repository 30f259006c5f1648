"""The rules of orders: placing and cancelling. Views validate and call these."""

from django.db import transaction

from sso_client.user import SSOUser

from . import products_client
from .models import Order, OrderLine


class OrderError(Exception):
    """A refusal the caller can fix (unknown product, order not cancellable)."""


class DependencyUnavailable(Exception):
    """Another site this action needs is down; nothing was written."""


def order_place(*, user: SSOUser, lines: list[dict], bearer_token: str) -> Order:
    """Place an order for `user`, each line priced by products at this moment."""
    priced = []
    for line in lines:
        try:
            price = products_client.product_price(sku=line["sku"], bearer_token=bearer_token)
        except products_client.ProductNotFound as e:
            raise OrderError(f"Unknown product: {line['sku']}") from e
        except products_client.ProductsUnavailable as e:
            raise DependencyUnavailable("The product catalogue is unavailable; try again shortly.") from e
        priced.append(OrderLine(sku=line["sku"], quantity=line["quantity"], unit_price=price))
    with transaction.atomic():
        order = Order.objects.create(owner_sub=user.sub, owner_username=user.username)
        for line in priced:
            line.order = order
        OrderLine.objects.bulk_create(priced)
    return order


def order_cancel(*, order: Order) -> Order:
    """Cancel a pending order."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        if order.status != Order.Status.PENDING:
            raise OrderError("Only a pending order can be cancelled.")
        order.status = Order.Status.CANCELLED
        order.save(update_fields=["status"])
    return order

"""The orders API: people see and place their own orders; staff see all."""

import re

from django.db.models import QuerySet
from rest_framework import exceptions, mixins, pagination, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from . import services
from .models import Order
from .serializers import OrderPlaceSerializer, OrderSerializer


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "A service this request needs is unavailable; try again shortly."
    default_code = "service_unavailable"
    # DRF's handler sends it as Retry-After: like every 503 here, the answer says when to try again (with the
    # same Idempotency-Key, the retry places the order once).
    wait = 5


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


class Unprocessable(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "The request cannot be processed."
    default_code = "unprocessable"


class OrderPages(pagination.PageNumberPagination):
    """20 orders a page, newest first; `?page_size=` asks for up to 100."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


# Printable ASCII without spaces, as UUIDs and the keys client libraries generate are.
IDEMPOTENCY_KEY = re.compile(r"[!-~]{1,255}")


def idempotency_key(request: Request) -> str:
    """The request's Idempotency-Key header ("" without one); 400 when it is not a key."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return ""
    if not IDEMPOTENCY_KEY.fullmatch(key):
        raise exceptions.ValidationError(
            {"detail": "Idempotency-Key must be 1 to 255 printable characters without spaces.", "code": "invalid_key"}
        )
    return key


class OrderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    """Your orders, newest first and a page at a time (`?page=2`, `?page_size=` up to 100; the answer's
    `results`, with `next` and `previous` links); staff see everyone's.

    POST `sku` and `quantity` (or `lines`) to place one. Send an `Idempotency-Key` header (a new random
    value, e.g. a UUID, for each order you mean to place) and retry with the same key when an answer is
    lost or is an error: the order is placed once, and every retry gets the first answer (201 and the same
    body). The same key with different lines is refused with 422. A key stays bound to its order for as long
    as the order exists."""

    pagination_class = OrderPages

    def get_queryset(self) -> QuerySet:
        orders = Order.objects.prefetch_related("lines")
        if self.request.user.is_staff:
            return orders
        return orders.filter(owner_sub=self.request.user.sub)

    def get_serializer_class(self):
        return OrderPlaceSerializer if self.action == "create" else OrderSerializer

    def create(self, request: Request) -> Response:
        serializer = OrderPlaceSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        key = idempotency_key(request)
        try:
            order = services.order_place(
                user=request.user, lines=serializer.validated_data["lines"], idempotency_key=key
            )
        except services.OutOfStock as e:
            raise Conflict(str(e), code="out_of_stock") from e
        except services.IdempotencyKeyReused as e:
            raise Unprocessable(str(e), code="idempotency_key_reused") from e
        except services.OrderError as e:
            raise exceptions.ValidationError({"detail": str(e), "code": "invalid_order"}) from e
        except services.DependencyUnavailable as e:
            raise ServiceUnavailable(str(e)) from e
        # Built before the commit from what was saved: no query here that a database gone since could fail.
        return Response(order.placed_answer, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        """Cancel one of your pending orders; its stock goes back to products."""
        order = self.get_object()
        if order.owner_sub != request.user.sub:
            raise exceptions.PermissionDenied("Only the owner can cancel an order.")
        try:
            order = services.order_cancel(order=order)
        except services.OrderError as e:
            raise exceptions.ValidationError({"detail": str(e), "code": "not_cancellable"}) from e
        except services.DependencyUnavailable as e:
            raise ServiceUnavailable(str(e)) from e
        return Response(OrderSerializer(order).data)

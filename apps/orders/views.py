"""The orders API: people see and place their own orders; staff see all."""

from django.db.models import QuerySet
from rest_framework import exceptions, mixins, status, viewsets
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


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


class OrderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    """Your orders. POST `sku` and `quantity` (or `lines`) to place one; staff see everyone's."""

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
        try:
            order = services.order_place(user=request.user, lines=serializer.validated_data["lines"])
        except services.OutOfStock as e:
            raise Conflict(str(e), code="out_of_stock") from e
        except services.OrderError as e:
            raise exceptions.ValidationError({"detail": str(e), "code": "invalid_order"}) from e
        except services.DependencyUnavailable as e:
            raise ServiceUnavailable(str(e)) from e
        return Response(OrderSerializer(order).data, status=status.HTTP_201_CREATED)

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

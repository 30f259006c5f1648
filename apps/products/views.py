"""The products API: anyone with products access reads; catalogue managers and staff write; services with
scope stock:reserve reserve, confirm and release stock."""

from rest_framework import exceptions, pagination, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from sso_client.authentication import ServiceTokenAuthentication
from sso_client.permissions import HasRole, HasScope, IsSSOAuthenticated, IsStaff, ReadOnly
from sso_client.step_up import requires_mfa

from . import services
from .models import Product
from .serializers import ConfirmSerializer, ProductSerializer, ReleaseSerializer, ReserveSerializer

RESERVE_SCOPE = "stock:reserve"


class ProductPages(pagination.PageNumberPagination):
    """50 products a page; `?page_size=` asks for up to 200."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class ProductViewSet(viewsets.ModelViewSet):
    """The product catalogue, a page at a time (`?page=2`, `?page_size=` up to 200; the answer's `results`,
    with `next` and `previous` links). Reading needs products access; writing, role `catalog_manager` or
    staff."""

    queryset = Product.objects.all()
    serializer_class = ProductSerializer
    pagination_class = ProductPages
    lookup_field = "sku"
    permission_classes = [IsSSOAuthenticated & (ReadOnly | HasRole("catalog_manager") | IsStaff)]

    @requires_mfa(minutes=10)
    def destroy(self, request: Request, *args, **kwargs) -> Response:
        """Deleting a product cannot be undone: it needs a second factor used within the last ten minutes."""
        return super().destroy(request, *args, **kwargs)


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


class StockServiceView(APIView):
    """Stock endpoints for services: service tokens with scope stock:reserve only. A person's access token is
    refused here whatever their roles, and a service token is refused everywhere else."""

    authentication_classes = [ServiceTokenAuthentication]
    permission_classes = [HasScope(RESERVE_SCOPE)]

    def initial(self, request: Request, *args, **kwargs) -> None:
        # Only POST exists here, so other methods are refused before authentication: a browser that opens the
        # URL gets 405, not a redirect to sign in (a person's cookie is no credential here, so it would loop).
        if request.method not in ("POST", "OPTIONS"):
            raise exceptions.MethodNotAllowed(request.method)
        super().initial(request, *args, **kwargs)


class ReserveView(StockServiceView):
    """POST `quantity`, your `reference` and the `order` it belongs to: that much is taken out of stock at the
    current price. 409 when there is not enough; repeating a reservation returns it again rather than taking
    the stock twice. Confirm the order once you have saved it: a reservation neither confirmed nor released
    within the grace period (PRODUCTS_RESERVATION_GRACE_SECONDS) goes back into stock."""

    serializer_class = ReserveSerializer

    def post(self, request: Request, sku: str) -> Response:
        serializer = ReserveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            reservation, created = services.stock_reserve(
                sku=sku,
                quantity=data["quantity"],
                client=request.user.sub,
                reference=data["reference"],
                order_reference=data.get("order", ""),
            )
        except services.ProductNotFound as e:
            raise exceptions.NotFound() from e
        except services.OutOfStock as e:
            raise Conflict(f"Not enough stock of {sku}: {e.available} left.", code="out_of_stock") from e
        except services.ReferenceInUse as e:
            raise Conflict("That reference already holds a different quantity.", code="reference_in_use") from e
        body = {
            "sku": sku,
            "quantity": reservation.quantity,
            "unit_price": str(reservation.unit_price),
            "reference": reservation.reference,
            "order": reservation.order_reference,
        }
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class ReleaseView(StockServiceView):
    """POST your `reference`: what you reserved under it goes back into stock. Releasing twice, or a
    reference that holds nothing, releases nothing."""

    serializer_class = ReleaseSerializer

    def post(self, request: Request, sku: str) -> Response:
        serializer = ReleaseSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        reference = serializer.validated_data["reference"]
        try:
            released = services.stock_release(sku=sku, client=request.user.sub, reference=reference)
        except services.ProductNotFound as e:
            raise exceptions.NotFound() from e
        return Response({"sku": sku, "reference": reference, "released": released})


class ConfirmView(StockServiceView):
    """POST the `order` you saved: every live reservation of it is confirmed and stays until you release it.
    `confirmed` counts them; `released` counts the order's lines put back after the grace period with nothing of
    them held now (your order no longer holds that stock; a line you released and reserved again is held).
    Confirming twice is harmless."""

    serializer_class = ConfirmSerializer

    def post(self, request: Request) -> Response:
        serializer = ConfirmSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        order = serializer.validated_data["order"]
        confirmed, released = services.reservations_confirm(client=request.user.sub, order_reference=order)
        return Response({"order": order, "confirmed": confirmed, "released": released})

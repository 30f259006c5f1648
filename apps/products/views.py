"""The products API: anyone with products access reads; catalogue managers and staff write."""

from rest_framework import viewsets

from sso_client.permissions import HasRole, IsSSOAuthenticated, IsStaff, ReadOnly

from .models import Product
from .serializers import ProductSerializer


class ProductViewSet(viewsets.ModelViewSet):
    """The product catalogue. Reading needs products access; writing, role `catalog_manager` or staff."""

    queryset = Product.objects.all()
    serializer_class = ProductSerializer
    lookup_field = "sku"
    permission_classes = [IsSSOAuthenticated & (ReadOnly | HasRole("catalog_manager") | IsStaff)]

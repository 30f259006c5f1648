"""The products site's URLs."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from .views import ProductViewSet, ReleaseView, ReserveView

router = DefaultRouter()
router.register("api/products", ProductViewSet, basename="product")

urlpatterns = [
    *router.urls,
    # For services only (a service token with scope stock:reserve), so not among the catalogue's actions.
    path("api/products/<str:sku>/reserve/", ReserveView.as_view(), name="product-reserve"),
    path("api/products/<str:sku>/release/", ReleaseView.as_view(), name="product-release"),
    path("", include("sso_client.urls")),
]

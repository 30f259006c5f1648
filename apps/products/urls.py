"""The products site's URLs: its home, the catalogue API, the stock endpoints for services and sso_client's."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from sso_client.views import AppHomeView

from .views import ConfirmView, ProductViewSet, ReleaseView, ReserveView

# The site's own home at `/` replaces the router's generic API root.
router = DefaultRouter()
router.include_root_view = False
router.register("api/products", ProductViewSet, basename="product")

home = AppHomeView.as_view(
    name="Products",
    description="The product catalogue: names, prices and stock. Everyone with access reads it; catalogue "
    "managers and staff edit it.",
    resources=(
        ("The catalogue", "product-list", "Every product; open one to see it (or, as a catalogue manager, edit it)."),
        ("Who am I", "sso_whoami", "What your token tells this app about you."),
    ),
)

urlpatterns = [
    path("", home, name="home"),
    *router.urls,
    # For services only (a service token with scope stock:reserve), so not among the catalogue's actions.
    path("api/products/<str:sku>/reserve/", ReserveView.as_view(), name="product-reserve"),
    path("api/products/<str:sku>/release/", ReleaseView.as_view(), name="product-release"),
    path("api/products/reservations/confirm/", ConfirmView.as_view(), name="reservations-confirm"),
    path("", include("sso_client.urls")),
]

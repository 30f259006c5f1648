"""The orders site's URLs: its home, the orders API, the script page and sso_client's endpoints."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from sso_client.views import AppHomeView

from .script_page import script_page
from .views import OrderViewSet

# The site's own home at `/` replaces the router's generic API root.
router = DefaultRouter()
router.include_root_view = False
router.register("api/orders", OrderViewSet, basename="order")

home = AppHomeView.as_view(
    name="Orders",
    description="Place orders for products from the catalogue and follow them. Orders reserves the stock at "
    "products as itself, so an order is placed only when every line is in stock.",
    resources=(
        ("Your orders", "order-list", "List them, and place a new one with the form at the bottom of the page."),
        ("The script page", "script_page", "The same sign-on from JavaScript, with a Bearer token."),
        ("Who am I", "sso_whoami", "What your token tells this app about you."),
    ),
)

urlpatterns = [
    path("", home, name="home"),
    *router.urls,
    path("script/", script_page, name="script_page"),
    path("", include("sso_client.urls")),
]

"""The orders site's URLs."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from .script_page import script_page
from .views import OrderViewSet

router = DefaultRouter()
router.register("api/orders", OrderViewSet, basename="order")

urlpatterns = [*router.urls, path("script/", script_page, name="script_page"), path("", include("sso_client.urls"))]

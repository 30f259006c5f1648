"""The products site's URLs."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from .views import ProductViewSet

router = DefaultRouter()
router.register("api/products", ProductViewSet, basename="product")

urlpatterns = [*router.urls, path("", include("sso_client.urls"))]

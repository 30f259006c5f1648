"""Demo data for `make run`: the relying apps (each an OpenID Connect client too), alice, bob and carol, and the
service client `orders`.
Refused when the origins are HTTPS (production): it would create a superuser with a published password."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from issuer.models import RelyingApp, ServiceClient
from issuer.services.service_clients import service_client_secret_set


def _client_fields(origin: str) -> dict:
    """A demo app as a first-party confidential client of sso_client's any-domain mode (its /sso/ URLs)."""
    return {
        "redirect_uris": f"{origin}/sso/callback/",
        "post_logout_redirect_uris": f"{origin}/",
        "backchannel_logout_uri": f"{origin}/sso/backchannel-logout/",
        "client_type": RelyingApp.ClientType.CONFIDENTIAL,
        "is_first_party": True,
    }


class Command(BaseCommand):
    help = "Create (or update) the relying apps, the demo accounts alice, bob and carol, and the service client orders."

    def handle(self, *args, **options) -> None:
        if settings.HTTPS:
            raise CommandError("seed_demo is for development: it is refused when the origins are HTTPS.")
        password = settings.DEMO_PASSWORD
        User = get_user_model()
        with transaction.atomic():
            orders, _ = RelyingApp.objects.update_or_create(
                audience="orders",
                defaults={
                    "name": "Orders",
                    "origin": settings.ORDERS_URL,
                    "client_id": "orders",
                    **_client_fields(settings.ORDERS_URL),
                },
            )
            products, _ = RelyingApp.objects.update_or_create(
                audience="products",
                defaults={
                    "name": "Products",
                    "origin": settings.PRODUCTS_URL,
                    "client_id": "products",
                    **_client_fields(settings.PRODUCTS_URL),
                },
            )
            # Like the passwords, a client secret is set only when there is none (DEMO_CLIENT_SECRET; each site
            # reads it as SSO_CLIENT_SECRET).
            for app in (orders, products):
                if not app.client_secret_hash:
                    app.set_client_secret(settings.DEMO_CLIENT_SECRET)
                    app.save(update_fields=["client_secret_hash"])
            catalog_manager, _ = Group.objects.get_or_create(name="catalog_manager")
            accounts = {
                "alice": {"is_staff": True, "is_superuser": True, "apps": [orders, products], "groups": []},
                "bob": {"is_staff": False, "is_superuser": False, "apps": [orders, products], "groups": []},
                "carol": {"is_staff": False, "is_superuser": False, "apps": [products], "groups": [catalog_manager]},
            }
            for username, spec in accounts.items():
                user = User.objects.filter(username=username).first()
                if user is None:
                    user = User(username=username, email=f"{username}@example.com")
                    user.set_password(password)
                user.is_staff, user.is_superuser, user.is_active = spec["is_staff"], spec["is_superuser"], True
                user.save()
                user.groups.set(spec["groups"])
                user.relying_apps.set(spec["apps"])
            # orders calls products as itself to reserve stock. Like the passwords, the secret is set only
            # when the client is created (DEMO_SERVICE_SECRET; orders reads ORDERS_SERVICE_CLIENT_SECRET).
            service, created = ServiceClient.objects.update_or_create(
                client_id="orders",
                defaults={"name": "Orders (reserves stock at products)", "scopes": "stock:reserve", "is_active": True},
            )
            service.audiences.set([products])
            if created:
                service_client_secret_set(client=service, raw_secret=settings.DEMO_SERVICE_SECRET)
        self.stdout.write(
            "Demo accounts: alice (staff, every app), bob (orders, products), carol (products, catalog_manager); "
            "service client: orders (stock:reserve at products); OpenID Connect clients: orders, products"
        )

"""Issuer fixtures: the relying apps and demo-like users, and a signing key generated for this run."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.cache import cache
from rest_framework.test import APIClient

from issuer.models import RelyingApp
from issuer.signing import keys

PASSWORD = "correct horse battery staple"
# The real hasher costs ~0.3 s a password by design; tests that measure it say so themselves.
FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fast_hasher(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS


@pytest.fixture(autouse=True)
def _mail_in_the_foreground(settings):
    # Tests read Django's test outbox right after the request; the background sender is tested on its own.
    settings.SSO_PASSWORD_RESET_MAIL_IN_BACKGROUND = False


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    keys._loaded_keys.clear()
    yield
    cache.clear()


@pytest.fixture
def apps(db):
    orders = RelyingApp.objects.create(name="Orders", audience="orders", origin="http://localhost:8001")
    products = RelyingApp.objects.create(name="Products", audience="products", origin="http://localhost:8002")
    return {"orders": orders, "products": products}


@pytest.fixture
def users(apps):
    User = get_user_model()
    manager = Group.objects.create(name="catalog_manager")
    alice = User.objects.create_user("alice", "alice@example.com", PASSWORD, is_staff=True, is_superuser=True)
    bob = User.objects.create_user("bob", "bob@example.com", PASSWORD)
    carol = User.objects.create_user("carol", "carol@example.com", PASSWORD)
    carol.groups.add(manager)
    bob.relying_apps.set([apps["orders"], apps["products"]])
    carol.relying_apps.set([apps["products"]])
    return {"alice": alice, "bob": bob, "carol": carol}


@pytest.fixture
def api():
    return APIClient()


def obtain(api, username: str, password: str = PASSWORD, **extra):
    return api.post("/api/token/", {"username": username, "password": password, **extra}, format="json")

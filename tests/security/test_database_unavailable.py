"""A database outage met inside a middleware, not a view (the admin session checked, a session saved), is a
503 with Retry-After like one met in a view: Django turns a middleware's exception into a 500 before the
outage middleware sees it, so the 500 must not reach the client."""

import logging

import pytest
from django.db import OperationalError
from django.test import Client

from webguard import unavailable

# The sites' other middleware reads the database (the registered clients' origins, for CSP): it answers here.
pytestmark = pytest.mark.django_db

FAILING = "tests.security.test_database_unavailable.FailingMiddleware"


class FailingMiddleware:
    """Fails the way a middleware touching the database does while it is down, before or after the view."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        where = request.headers.get("X-Fail")
        if where == "before":
            raise OperationalError("could not connect to server: Connection refused")
        response = self.get_response(request)
        if where == "after":
            raise OperationalError("server closed the connection unexpectedly")
        if where == "other":
            raise ValueError("not the database")
        return response


@pytest.fixture
def client(settings):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, FAILING]
    unavailable.outage.ok()
    yield Client(raise_request_exception=False)
    unavailable.outage.ok()


@pytest.mark.parametrize("where", ["before", "after"])
def test_an_outage_in_a_middleware_is_a_503_with_retry_after(client, where, caplog):
    response = client.get("/.well-known/openid-configuration", HTTP_X_FAIL=where, HTTP_ACCEPT="application/json")
    assert [r for r in caplog.records if r.name == "django.request"] == [], "no 500 line with a traceback"
    assert [(r.name, r.getMessage().split()[:2]) for r in caplog.records if r.levelno >= logging.WARNING] == [
        ("webguard.unavailable", ["database", "unavailable"])
    ], "the outage, logged once"
    assert response.status_code == 503
    assert response["Retry-After"] == str(unavailable.RETRY_AFTER_SECONDS)
    assert response.json() == {"detail": unavailable.DETAIL, "code": "service_unavailable"}
    assert "Connection refused" not in response.content.decode() and "Traceback" not in response.content.decode()


def test_a_browser_gets_the_short_page(client):
    response = client.get("/login/", HTTP_X_FAIL="before", HTTP_ACCEPT="text/html")
    assert response.status_code == 503 and b"Temporarily unavailable" in response.content


def test_any_other_error_stays_a_500_and_the_site_recovers(client, caplog):
    assert client.get("/.well-known/openid-configuration", HTTP_X_FAIL="other").status_code == 500
    assert [r.exc_info[0] for r in caplog.records if r.name == "django.request"] == [ValueError], "still logged"
    assert client.get("/.well-known/openid-configuration", HTTP_X_FAIL="before").status_code == 503
    assert client.get("/.well-known/openid-configuration").status_code == 200
    assert not unavailable.outage.is_down

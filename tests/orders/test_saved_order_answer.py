"""A saved order is answered 201 whatever the database does after the commit (issue 16, defect 3): the answer
is built from the rows just written, before the commit, so no query after it can turn a committed order into
an error (and a client's retry into a second order)."""

import pytest
from django.db import OperationalError, connection

from apps.orders import products_client, services, views
from apps.orders.models import Order
from tests.orders.conftest import place

pytestmark = pytest.mark.django_db


class Database:
    """The orders database as a test drops it: from `drop()` until `restore()`, every query fails."""

    def __init__(self) -> None:
        self.dropped = False

    def gone(self, execute, sql, params, many, context):
        raise OperationalError("server closed the connection unexpectedly")

    def drop(self) -> None:
        if not self.dropped:
            connection.execute_wrappers.append(self.gone)
            self.dropped = True

    def restore(self) -> None:
        if self.dropped:
            connection.execute_wrappers.remove(self.gone)
            self.dropped = False

    def drop_after(self, monkeypatch, owner, name: str) -> None:
        """Drop it the moment `owner.name` first returns."""
        original = getattr(owner, name)
        calls = []

        def then_drop(*args, **kwargs):
            result = original(*args, **kwargs)
            if not calls:
                self.drop()
            calls.append(name)
            return result

        monkeypatch.setattr(owner, name, then_drop)


@pytest.fixture
def database():
    database = Database()
    yield database
    database.restore()


def test_the_database_dropping_right_after_the_commit_does_not_turn_the_order_into_an_error(bob, database, monkeypatch):
    database.drop_after(monkeypatch, views.services, "order_place")
    bob.raise_request_exception = False
    response = place(bob, ("mug-blue", 2), ("sticker-pack", 1))
    assert database.dropped
    assert response.status_code == 201, "the order is saved; its client must be told so"
    body = response.json()
    assert body["lines"] == [
        {"sku": "mug-blue", "quantity": 2, "unit_price": "9.50"},
        {"sku": "sticker-pack", "quantity": 1, "unit_price": "3.20"},
    ]
    assert body["total"] == "22.20" and body["status"] == "pending"


def test_the_answer_is_the_order_as_stored(bob):
    body = place(bob, ("mug-blue", 2)).json()
    assert bob.get(f"/api/orders/{body['id']}/").json() == body


def test_a_database_gone_before_the_confirmation_is_recorded_leaves_it_to_the_retry(
    bob, products, database, monkeypatch, caplog
):
    database.drop_after(monkeypatch, products_client, "reservations_confirm")
    bob.raise_request_exception = False
    response = place(bob, ("mug-blue", 1))
    database.restore()
    assert response.status_code == 201
    assert "event=confirm_unrecorded" in caplog.text
    order = Order.objects.get(pk=response.json()["id"])
    assert order.confirmed_at is None, "products was told; orders could not write that down"
    assert services.orders_confirm() == 1
    order.refresh_from_db()
    assert order.confirmed_at is not None
    assert products.stock["mug-blue"] == 99, "confirming again reserved nothing more"

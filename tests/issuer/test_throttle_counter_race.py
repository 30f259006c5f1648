"""The throttle's counter row under concurrent sign-ons: another attempt may create it between this attempt's
read and its INSERT, and a successful sign-on may delete it again before this one locks it. Found under load
on PostgreSQL (one concurrent login in about sixty answered 500); here the race is replayed in order."""

import pytest
from django.db import IntegrityError

from issuer.models import ThrottleCounter
from issuer.services import throttles

pytestmark = pytest.mark.django_db


def test_a_counter_created_and_deleted_by_others_meanwhile_is_counted_not_a_500(monkeypatch):
    real_create = ThrottleCounter.objects.create
    raced = []

    def create_lost_to_a_racer_whose_row_is_gone(**fields):
        if not raced:
            raced.append(True)
            raise IntegrityError("duplicate key value violates unique constraint")  # and the row is deleted since
        return real_create(**fields)

    monkeypatch.setattr(ThrottleCounter.objects, "create", create_lost_to_a_racer_whose_row_is_gone)
    count, _ends = throttles.counter_increment(scope="login-username", identity="bob", window_seconds=600)
    assert raced and count == 1
    assert ThrottleCounter.objects.get(scope="login-username").count == 1


def test_a_counter_that_never_settles_fails_closed(monkeypatch):
    def always_lost(**fields):
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(ThrottleCounter.objects, "create", always_lost)
    assert throttles.attempt_begin(username="bob", ip="192.0.2.7") is not None, "refused, not a 500"

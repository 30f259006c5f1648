"""The issuer's one source of the current time, so tests move the clock instead of sleeping."""

from datetime import datetime

from django.utils import timezone


def now() -> datetime:
    return timezone.now()

"""Health probes every site answers: `/healthz` (the process answers) and `/readyz` (it can serve: its
database and cache answer, plus the site's own checks, SSO_READINESS_CHECKS). Cheap enough for a load
balancer to call every second: one `SELECT 1`, one cache read, and reads of what the process already holds;
no password hashing and no call to another site. The public sees only "ok" or "unavailable"; which check
failed is told to operators only (the audience of /metrics), since it maps the deployment for an attacker."""

import logging
from collections.abc import Callable
from functools import cache

import redis
from django.conf import settings
from django.core.cache import cache as django_cache
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.module_loading import import_string

from .metrics import operator_allowed

logger = logging.getLogger(__name__)

PROBE_KEY = "webguard:readiness-probe"


def database_answers() -> str | None:
    """None when the site's database answers `SELECT 1`, else what is wrong."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return "database unavailable"
    return None


def cache_answers() -> str | None:
    """None when the site's cache answers a read, else what is wrong. A miss is an answer."""
    try:
        django_cache.get(PROBE_KEY)
    except (redis.RedisError, OSError):
        return "cache unavailable"
    return None


@cache
def _checks() -> tuple[Callable[[], str | None], ...]:
    return tuple(import_string(path) for path in settings.SSO_READINESS_CHECKS)


# What the last probe of this process found: a probe every second logs a change, not every failure.
_last_problems: list[str] = []


def _log_change(problems: list[str]) -> None:
    global _last_problems
    if problems == _last_problems:
        return
    _last_problems = problems
    if problems:
        logger.warning("operations event=not_ready problems=%s", ",".join(p.replace(" ", "_") for p in problems))
    else:
        logger.info("operations event=ready")


def healthz(request: HttpRequest) -> HttpResponse:
    """The process answers: nothing else is looked at, so a restart is the only cure for a failure here."""
    return HttpResponse("ok\n", content_type="text/plain; charset=utf-8")


def readyz(request: HttpRequest) -> HttpResponse:
    """200 when every readiness check passes, else 503; the failed checks for operators only."""
    problems = [problem for check in _checks() if (problem := check()) is not None]
    _log_change(problems)
    status = 503 if problems else 200
    if operator_allowed(request):
        return JsonResponse({"ready": not problems, "problems": problems}, status=status)
    return HttpResponse(
        "unavailable\n" if problems else "ok\n", status=status, content_type="text/plain; charset=utf-8"
    )

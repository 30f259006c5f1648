"""The audit trail: one row and one log line per auth event. It records; no rule reads it to decide."""

import logging

from django.contrib.auth.models import AbstractBaseUser

from ..models import AuditEvent
from .rows import row_insert

logger = logging.getLogger(__name__)


def log_safe(text: str) -> str:
    """Attacker-chosen text (a username) escaped onto one log line: a raw newline would forge a log event."""
    return text.encode("unicode_escape").decode("ascii")


def audit_record(
    *,
    kind: str,
    user: AbstractBaseUser | None = None,
    username: str = "",
    sid: str = "",
    ip: str | None = None,
    detail: str = "",
) -> None:
    # One INSERT compiled once (issuer.services.rows): every refresh records one.
    row_insert(
        AuditEvent(
            kind=kind,
            user=user,
            username=(username or getattr(user, "username", ""))[:150],
            sid=sid,
            ip_address=ip,
            detail=detail[:200],
        )
    )
    audit_logged(kind=kind, username=username or getattr(user, "username", ""), sid=sid, ip=ip)


def audit_logged(*, kind: str, username: str, sid: str = "", ip: str | None = None) -> None:
    """The log line of an audit event whose row was written otherwise (with the rotation: rows.session_rotate)."""
    logger.info("auth event=%s user=%s sid=%s ip=%s", kind, log_safe(username), sid or "-", ip or "-")

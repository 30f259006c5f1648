"""JSON log lines (SSO_LOG_FORMAT=json), one object a line: timestamp, level, logger, message, request_id, and
the `key=value` pairs of an event line ("auth event=token_rejected reason=%s") as fields of their own, so a log
pipeline can filter on `event` without parsing messages. The message itself is kept whole.

The pairs are read from the line's format string and its arguments, never from the formatted message: the keys
are the code's, and a value is one argument whatever it holds. Parsed from the message, a username such as
"mallory ip=192.0.2.1" would add (or replace) an `ip` field of its own choosing."""

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

PLACEHOLDER = re.compile(r"%(?:%|[-#0 +]*\d*(?:\.\d+)?[a-zA-Z])")
KEY = re.compile(r"[a-z_][a-z0-9_]*")
RESERVED = frozenset({"timestamp", "level", "logger", "message", "request_id", "exception"})


def event_fields(template: Any, args: Any) -> dict[str, str]:
    """The `key=value` pairs of a %-style format string with its arguments; none when they do not agree."""
    if not isinstance(template, str) or not isinstance(args, tuple):
        return {}
    fields: dict[str, str] = {}
    remaining = list(args)
    for token in template.split():
        needed = sum(1 for placeholder in PLACEHOLDER.findall(token) if placeholder != "%%")
        if needed > len(remaining):
            return {}
        taken, remaining = remaining[:needed], remaining[needed:]
        key, sep, value = token.partition("=")
        if not sep or not KEY.fullmatch(key) or key in RESERVED:
            continue
        try:
            fields.setdefault(key, value % tuple(taken) if "%" in value else value)
        except (TypeError, ValueError):
            return {}
    return fields


class JsonFormatter(logging.Formatter):
    """A record as one JSON object. Needs webguard.request_id.RequestIdFilter on the handler for `request_id`."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
            **event_fields(record.msg, record.args),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)

"""JSON log lines (SSO_LOG_FORMAT=json), one object a line: timestamp, level, logger, message, request_id, and
the `key=value` pairs of an event line ("auth event=token_rejected reason=expired") as fields of their own, so
a log pipeline can filter on `event` without parsing messages. The message itself is kept whole."""

import json
import logging
import re
from datetime import UTC, datetime

# A pair of an event line. A value runs to the next ` key=` ("reason=session revoked via=cookie").
PAIR = re.compile(r"(?:^|\s)([a-z_][a-z0-9_]*)=(.*?)(?=\s+[a-z_][a-z0-9_]*=|$)")
RESERVED = frozenset({"timestamp", "level", "logger", "message", "request_id", "exception"})


class JsonFormatter(logging.Formatter):
    """A record as one JSON object. Needs webguard.request_id.RequestIdFilter on the handler for `request_id`."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        line = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
            "request_id": getattr(record, "request_id", None),
        }
        for key, value in PAIR.findall(message):
            if key not in RESERVED:
                line.setdefault(key, value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)

"""Password-reset tokens kept out of logs. The one secret a URL path can carry is a reset link's token
(/password-reset/<token>/); whoever reads a log line holding it, within its 15 minutes, could set the
person's password. gunicorn's access log masks it (gunicorn.conf.py), and so do Django's own request loggers
(`django.request` logs refused requests with their path, `django.server` is runserver's request log), through
ResetTokenFilter, which settings/issuer.py attaches to them."""

import logging
import re

# The token segment, not the fixed pages that share the prefix.
RESET_LINK = re.compile(r"(/password-reset/)(?!(?:sent|set|done)/)[^/?#\s\"']+")


def mask_reset_tokens(text: str) -> str:
    return RESET_LINK.sub(r"\1[token]", text)


class ResetTokenFilter(logging.Filter):
    """Rewrites a record's message with any reset token masked; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_reset_tokens(message)
        if masked != message:
            record.msg, record.args = masked, ()
        return True

"""The one reader of `Authorization: Bearer <token>` (RFC 6750 section 2.1), for every DRF authentication
class in the project: the relying apps' and the issuer's own."""

from rest_framework import authentication
from rest_framework.request import Request


class MalformedBearerHeader(Exception):
    """A Bearer header that is not exactly one ASCII token; `code` is the error code for the client."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def bearer_token(request: Request) -> str | None:
    """The token of a Bearer header; None when the request has no Bearer credentials (no header, or another
    scheme: DRF's contract lets the next authentication class try). Raises MalformedBearerHeader."""
    parts = authentication.get_authorization_header(request).split()
    if not parts or parts[0].lower() != b"bearer":
        return None
    if len(parts) != 2:
        raise MalformedBearerHeader("bad_authorization_header")
    try:
        return parts[1].decode("ascii")
    except UnicodeDecodeError as e:
        raise MalformedBearerHeader("token_not_valid") from e


def has_authorization_header(request: Request) -> bool:
    """Whether the request names any scheme at all (then a cookie is never read beside it)."""
    return bool(authentication.get_authorization_header(request).split())
